"""Breakdowns of 受理量 (accepted tickets): per channel, request type or category, and per day.

Counted as the KPIs count them (reports.kpis.counts).
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from reports.kpis.counts import ROUND_STARTS
from reports.kpis.counts import Period
from reports.kpis.counts import accepted
from reports.kpis.counts import is_merged
from reports.kpis.definitions import first_level


def accepted_by(session: Session, column: Any, p: Period) -> dict[Any, int]:
    """Accepted tickets of the period per value of `column` (channel, request type …)."""
    rows = session.execute(sa.select(column, sa.func.count()).where(accepted(p)).group_by(column))
    return {key: int(n) for key, n in rows}


def accepted_by_category(session: Session, p: Period) -> dict[str, int]:
    """Accepted tickets of the period per first-level category (未分类 for none)."""
    out: dict[str, int] = {}
    for category, n in accepted_by(session, Ticket.category, p).items():
        name = first_level(category)
        out[name] = out.get(name, 0) + n
    return out


def daily(session: Session, midnights: list[dt.datetime]) -> list[tuple[int, int]]:
    """(受理量, 派单量) per day between consecutive local midnights, as the KPIs count them."""
    days = [Period(a, b, b) for a, b in zip(midnights, midnights[1:], strict=False)]
    whole = Period(midnights[0], midnights[-1], midnights[-1])
    row = session.execute(
        sa.select(*(sa.func.count(sa.case((accepted(d), 1))) for d in days)).where(accepted(whole))
    ).one()
    e = TicketEventRecord
    starts = session.execute(
        sa.select(e.at).where(
            e.event.in_(ROUND_STARTS), whole.holds(e.at), sa.not_(is_merged(e.ticket_id))
        )
    ).scalars()
    sent = [0] * len(days)
    for moment in starts:
        for i, d in enumerate(days):
            if d.has(moment):
                sent[i] += 1
                break
    return [(int(row[i]), sent[i]) for i in range(len(days))]
