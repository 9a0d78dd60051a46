"""Logging with the request id and ticket id on every line."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
ticket_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("ticket_id", default="-")

FORMAT = "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s ticket=%(ticket_id)s] %(message)s"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.ticket_id = ticket_id_var.get()
        return True


def configure_logging(level: str) -> None:
    """Send logs to stderr with request and ticket ids; safe to call more than once."""
    root = logging.getLogger()
    if not any(getattr(h, "_hotline", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(ContextFilter())
        handler._hotline = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
