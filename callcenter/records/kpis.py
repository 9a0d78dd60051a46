"""Call KPIs (话务指标) over a period, from the call records.

The formulas are stated once, in `call_kpis` (../shared/DOMAIN.md "KPIs"); the leaders'
dashboard, the supervision desk's wallboard and (later) the weekly brief all use it.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from callcenter.models import CallRecord
from infra.db import UnitOfWork

# GB/T 33358: a call counts as answered in time when answered within 15 seconds.
SERVICE_LEVEL_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class CallCounts:
    """Calls offered in a period, counted (the inputs of the KPIs)."""

    offered: int = 0
    answered: int = 0  # answered by an operator (talking now, or ended after an answer)
    answered_in_time: int = 0  # of those, answered within SERVICE_LEVEL_SECONDS
    abandoned: int = 0  # the caller hung up before an answer
    overflow: int = 0  # waited too long and got busy (call-back)
    wait_seconds: float = 0.0  # summed over the answered calls: offered → answered
    talked: int = 0  # answered calls that have ended (their talk time is known)
    talk_seconds: float = 0.0  # summed over those


@dataclass(frozen=True, slots=True)
class CallKpis:
    counts: CallCounts
    answer_rate: float | None  # 接通率
    service_level: float | None  # 15秒接通率
    abandon_rate: float | None  # 放弃率
    average_wait: float | None  # 平均等待, seconds
    average_talk: float | None  # 平均通话, seconds


def _ratio(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def call_kpis(c: CallCounts) -> CallKpis:
    """Work out the call KPIs; None where there is nothing to divide by (no calls).

    接通率 = answered ÷ offered; 15秒接通率 = answered within 15 s ÷ answered;
    放弃率 = abandoned ÷ offered; 平均等待 = mean of offered → answered over the answered calls;
    平均通话 = mean talk time over the answered calls that have ended.
    """
    return CallKpis(
        counts=c,
        answer_rate=_ratio(c.answered, c.offered),
        service_level=_ratio(c.answered_in_time, c.answered),
        abandon_rate=_ratio(c.abandoned, c.offered),
        average_wait=_ratio(c.wait_seconds, c.answered),
        average_talk=_ratio(c.talk_seconds, c.talked),
    )


def _sum_if(
    condition: sa.ColumnElement[bool], value: sa.ColumnElement[Any] | int = 1
) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)


def count_calls(uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> CallCounts:
    """Count the calls offered in [start, end) (aware datetimes) by what became of them."""
    r = CallRecord
    answered = r.answered_at.is_not(None)
    in_time = sa.and_(answered, r.wait_seconds <= SERVICE_LEVEL_SECONDS)
    talked = sa.and_(answered, r.talk_seconds.is_not(None))
    query = sa.select(
        sa.func.count(),
        _sum_if(answered),
        _sum_if(in_time),
        _sum_if(r.outcome == "abandoned"),
        _sum_if(r.outcome == "overflow"),
        _sum_if(answered, sa.func.coalesce(r.wait_seconds, 0.0)),
        _sum_if(talked),
        _sum_if(talked, sa.func.coalesce(r.talk_seconds, 0.0)),
    ).where(r.offered_at >= start, r.offered_at < end)
    with uow:
        row = uow.session.execute(query).one()
    offered, n_answered, n_in_time, abandoned, overflow, wait, n_talked, talk = row
    return CallCounts(
        offered=int(offered),
        answered=int(n_answered),
        answered_in_time=int(n_in_time),
        abandoned=int(abandoned),
        overflow=int(overflow),
        wait_seconds=float(wait),
        talked=int(n_talked),
        talk_seconds=float(talk),
    )


def call_figures(uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> CallKpis:
    """The call KPIs of the calls offered in [start, end)."""
    return call_kpis(count_calls(uow, start, end))
