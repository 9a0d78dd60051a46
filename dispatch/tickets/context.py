"""The context every ticket use case takes: SLA policy, live-update publisher, clock, names.

Also the small facts about a ticket that the writes and the reads share: which units
hold it, and the ticket id inside a 工单号.
"""

import datetime as dt
import re
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from dispatch.tickets.domain import CREATE_ROLES
from dispatch.tickets.domain import AssignmentRole
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from infra.settings import SlaSettings
from kernel.actor import Actor
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Duration
from kernel.worktime import WorkCalendar

S = TicketStatus
LIVE_CLOCK_STATUSES = (S.DISPATCHED, S.SIGNED)


SlaRules = Callable[[], Mapping[tuple[str, str], tuple[str | None, str | None]]]


def _no_rules() -> Mapping[tuple[str, str], tuple[str | None, str | None]]:
    return {}


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The clocks of DOMAIN.md: settings, with the admin's rules on top, on a work calendar."""

    calendar: WorkCalendar
    settings: SlaSettings
    # (request type or "*", urgency) -> (sign, reply) edited by admins (dispatch.tickets.policy).
    rules: SlaRules = _no_rules

    def durations(self, request_type: RequestType, urgency: Urgency) -> tuple[Duration, Duration]:
        """Return the (sign, reply) clock lengths for this request type and urgency.

        Most specific first: the admin's rule for the type, the config's override for the
        type, the admin's rule for the urgency, the config's default for the urgency.
        """
        rules = self.rules()
        default = self.settings.clocks[urgency.value]
        override = self.settings.overrides.get(request_type.value, {}).get(urgency.value)
        layers = [
            rules.get((request_type.value, urgency.value), (None, None)),
            (override.sign, override.reply) if override else (None, None),
            rules.get(("*", urgency.value), (None, None)),
            (default.sign, default.reply),
        ]
        sign = next(layer[0] for layer in layers if layer[0])
        reply = next(layer[1] for layer in layers if layer[1])
        return Duration.parse(sign), Duration.parse(reply)

    @property
    def return_window(self) -> Duration:
        return Duration.parse(self.settings.return_window)

    @property
    def contact_within(self) -> Duration:
        return Duration.parse(self.settings.contact_within)

    @property
    def max_extension_days(self) -> int:
        return Duration.parse(self.settings.max_extension).amount


Publish = Callable[[str, dict[str, Any], list[str]], None]


def _no_publish(event: str, payload: dict[str, Any], rooms: list[str]) -> None:
    """Default publisher: nobody listens (CLI, tests without Socket.IO)."""


class NameCache:
    """Unit and user display names by id, kept for a minute.

    Views name every unit and actor they mention; names change rarely, and a renamed unit
    showing its old name for a minute is harmless, while a query per view is not.
    """

    TTL = 60.0

    def __init__(self) -> None:
        self._names: dict[tuple[str, int], tuple[str, float]] = {}

    def lookup(
        self, kind: str, ids: set[int], fetch: Callable[[set[int]], dict[int, str]]
    ) -> dict[int, str]:
        now = time.monotonic()
        found: dict[int, str] = {}
        missing: set[int] = set()
        for i in ids:
            hit = self._names.get((kind, i))
            if hit is not None and hit[1] > now:
                found[i] = hit[0]
            else:
                missing.add(i)
        if missing:
            fetched = fetch(missing)
            if len(self._names) > 50_000:
                self._names.clear()
            for i, name in fetched.items():
                self._names[(kind, i)] = (name, now + self.TTL)
            found.update(fetched)
        return found


@dataclass(slots=True)
class DispatchContext:
    policy: SlaPolicy
    # Pushes live updates (Socket.IO); called only after the change is committed.
    publish: Publish = field(default=_no_publish)
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    number_prefix: str = "JC"
    # Whether an actor outside CREATE_ROLES may accept requests now: a leader taking calls
    # in one of their duty windows (领导接听). The composition root knows the schedule.
    on_duty: Callable[[Actor], bool] = field(default=lambda actor: False)

    names: NameCache = field(default_factory=NameCache)

    def may_accept(self, actor: Actor) -> bool:
        return actor.role in CREATE_ROLES or self.on_duty(actor)

    def ticket_number(self, ticket: Ticket) -> str:
        """Return the 工单号: prefix, local date of acceptance, zero-padded id.

        Derived rather than stored: unique because the id is, and free to compute.
        """
        return self.prefix_number(ticket.id, ticket.created_at)

    def prefix_number(self, ticket_id: int, created_at: dt.datetime) -> str:
        day = created_at.astimezone(self.policy.calendar.tz)
        return f"{self.number_prefix}{day:%Y%m%d}{ticket_id:07d}"

    def utcnow(self) -> dt.datetime:
        """Return the current time in UTC, whatever zone the injected clock uses."""
        return self.now().astimezone(dt.UTC)

    def today(self) -> dt.date:
        """Return today's date in the hotline's time zone (dates people see are local)."""
        return self.now().astimezone(self.policy.calendar.tz).date()


def active_unit_ids(ticket: Ticket, role: AssignmentRole | None = None) -> set[int]:
    """Return the units the ticket is with now (of one role, when given)."""
    return {a.unit_id for a in ticket.assignments if a.active and (role is None or a.role is role)}


def lead_unit_ids(ticket: Ticket) -> set[int]:
    """Return the ticket's active lead unit (as a set: empty before dispatch)."""
    return active_unit_ids(ticket, AssignmentRole.LEAD)


_NUMBER = re.compile(r"^[A-Za-z]*\d{8}(\d{7,})$")


def id_from_number(text: str) -> int:
    """Return the ticket id inside a ticket number, or -1 when the text is not one."""
    match = _NUMBER.match(text.strip())
    return int(match.group(1)) if match else -1
