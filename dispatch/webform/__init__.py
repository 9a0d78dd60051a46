"""网上诉求: the public web form's requests, and the common door Open311 shares (`intake`)."""
