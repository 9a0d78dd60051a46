"""The admin's layer over config.yaml: SLA rules and calendar days kept in the database.

Every process reads them at most every `ttl` seconds (and at once after its own edits), so a
change reaches all web instances and workers within that time. Clocks already running keep
the deadlines they were given; new clocks use the new rules.
"""

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatch.tickets.models import CalendarOverride
from dispatch.tickets.models import SlaRule
from infra.db import READ_ONLY

log = logging.getLogger(__name__)

ANY_TYPE = "*"


@dataclass(frozen=True, slots=True)
class Overlay:
    # (request type or "*", urgency) -> (sign, reply); None keeps the layer below.
    sla: Mapping[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)
    days: Mapping[dt.date, bool] = field(default_factory=dict)


def load_overlay(engine: sa.Engine) -> Overlay | None:
    """Read both tables on a read-only connection; None (and a warning) if that fails.

    Called while a service may hold a write transaction in the same thread: the connection
    is marked read-only so that SQLite does not make it wait for that writer.
    """
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            session = Session(bind=conn)
            rules = {
                (r.request_type, r.urgency.value): (r.sign, r.reply)
                for r in session.scalars(sa.select(SlaRule))
            }
            days = {d.day: d.workday for d in session.scalars(sa.select(CalendarOverride))}
            session.close()
            return Overlay(sla=rules, days=days)
    except SQLAlchemyError:
        log.warning(
            "could not read SLA rules and calendar overrides; using config.yaml only", exc_info=True
        )
        return None


class OverlayCache:
    """The current overlay, reloaded when older than `ttl` seconds."""

    # After a failed load, try again this soon rather than a whole ttl later.
    RETRY = 2.0

    def __init__(self, load: Callable[[], Overlay | None], ttl: float = 30.0) -> None:
        self._load = load
        self._ttl = ttl
        self._value: Overlay | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> Overlay:
        now = time.monotonic()
        value = self._value
        if value is not None and now - self._loaded_at < self._ttl:
            return value
        with self._lock:
            if self._value is None or time.monotonic() - self._loaded_at >= self._ttl:
                loaded = self._load()
                self._value = loaded if loaded is not None else Overlay()
                self._loaded_at = time.monotonic()
                if loaded is None:
                    self._loaded_at -= self._ttl - self.RETRY
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None

    def sla(self) -> Mapping[tuple[str, str], tuple[str | None, str | None]]:
        return self.get().sla

    def days(self) -> Mapping[dt.date, bool]:
        return self.get().days
