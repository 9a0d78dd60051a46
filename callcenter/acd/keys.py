"""What the ACD's parties share by name: the Redis keys and channels, and protocol headers."""

ACD_SECRET_HEADER = "X-Hotline-Acd-Secret"  # what the ACD wants to see (callcenter.web)


def command_channel(prefix: str, seat: str) -> str:
    """The Redis channel on which the operator's browser commands seat `seat`."""
    return f"{prefix}seatcmd:{seat}"
