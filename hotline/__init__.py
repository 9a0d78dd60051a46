"""The composition root of the 12345 hotline: settings, database, auth, app factory, CLI."""
