"""Read-only ticket figures for the supervision desk: plain counts, no audit rows.

Nothing here returns personal data, so nothing here writes to the audit log; every query
runs in a transaction that is rolled back when the unit of work closes.
"""

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from dispatch.tickets.reads import light_clause
from infra.db import UnitOfWork
from kernel.worktime import Light

# Keys of `ticket_counts_today`, in the order the wallboard shows them.
COUNT_KEYS = ("created", "resolved", "dispatched", "red", "yellow")


def local_day_bounds(now: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC start (inclusive) and end (exclusive) of the local day holding `now`."""
    day = now.astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def ticket_counts_today(uow: UnitOfWork, ctx: DispatchContext) -> dict[str, int]:
    """Count today's tickets, today being the local day in the calendar's time zone.

    created: accepted today; resolved: resolved directly (直办) today; dispatched: last
    dispatched today; red / yellow: open tickets whose running clock is overdue / in its
    warning share now (the same rule as the ticket list's light filter).
    """
    now = ctx.utcnow()
    start, end = local_day_bounds(now, ctx.policy.calendar.tz)

    def today(column: QueryableAttribute[Any]) -> sa.ColumnElement[bool]:
        return sa.and_(column >= start, column < end)

    conditions: dict[str, sa.ColumnElement[bool]] = {
        "created": today(Ticket.created_at),
        "resolved": sa.and_(Ticket.status == TicketStatus.RESOLVED, today(Ticket.resolved_at)),
        "dispatched": today(Ticket.dispatched_at),
        "red": light_clause(Light.RED, now),
        "yellow": light_clause(Light.YELLOW, now),
    }
    with uow:
        return {
            key: uow.session.scalar(
                sa.select(sa.func.count()).select_from(Ticket).where(conditions[key])
            )
            or 0
            for key in COUNT_KEYS
        }


@dataclass(frozen=True, slots=True)
class SupervisionMarks:
    """How often a ticket was reminded (催办) and when it was last supervised (督办)."""

    remind_count: int
    supervised_at: dt.datetime | None


def supervision_marks(uow: UnitOfWork, ticket_ids: Collection[int]) -> dict[int, SupervisionMarks]:
    """Return the reminder count and supervision time of each of these tickets."""
    if not ticket_ids:
        return {}
    with uow:
        rows = uow.session.execute(
            sa.select(Ticket.id, Ticket.remind_count, Ticket.supervised_at).where(
                Ticket.id.in_(list(ticket_ids))
            )
        )
        return {tid: SupervisionMarks(count, at) for tid, count, at in rows}
