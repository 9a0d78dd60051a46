"""Weekly figures for the leaders' dashboard and (later) the weekly brief (周报).

Pure reads over `dispatch.models.Ticket`: no writes, no audit rows, no personal data. Every
function takes the week's local start (Monday 00:00 in the calendar zone) as an aware
datetime; a week is the half-open interval [start, start + 7 local days).

Each KPI formula is stated once, in the docstring of the function that builds it (see
../shared/DOMAIN.md "KPIs"); the summary and the unit ranking both use these builders, the
ranking over "tickets dispatched in the week" instead of "events in the week".
"""

import datetime as dt
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.orm import Session

from dispatch.domain import SATISFIED_LEVELS
from dispatch.domain import Channel
from dispatch.domain import RequestType
from dispatch.domain import TicketStatus
from dispatch.models import Ticket
from dispatch.models import Unit
from dispatch.services import DispatchContext
from hotline.db import UnitOfWork

UNCATEGORISED = "未分类"
# Units below this satisfaction rate are named in the ranking (and in the weekly brief).
SATISFACTION_FLOOR = 0.85
_WEEK_TEXT = re.compile(r"^(\d{4})-W(\d{2})$")
# Weeks outside these years are refused: the arithmetic around them would overflow.
MIN_YEAR, MAX_YEAR = 1970, 9998

Condition = sa.ColumnElement[bool]


# ---------------------------------------------------------------- weeks


class Period(NamedTuple):
    """A half-open interval of time [start, end) in aware UTC datetimes."""

    start: dt.datetime
    end: dt.datetime

    def holds(self, column: QueryableAttribute[Any]) -> Condition:
        """Return the condition "column falls in the period"."""
        return sa.and_(column >= self.start, column < self.end)


def parse_week(text: str) -> dt.date:
    """Return the Monday of an ISO week written as YYYY-Www (2026-W47).

    :raises ValueError: with a message for people (简体中文) when the text is not such a week.
    """
    match = _WEEK_TEXT.match(text.strip())
    if match is None:
        raise ValueError(f"周次格式不正确：“{text}”，应为“2026-W47”这样的年份加周序号")
    year, week = int(match[1]), int(match[2])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"年份超出范围：{year}，应在{MIN_YEAR}至{MAX_YEAR}年之间")
    try:
        return dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        weeks = dt.date(year, 12, 28).isocalendar().week
        raise ValueError(f"周次不存在：{year}年只有第1至{weeks}周") from None


def week_text(monday: dt.date) -> str:
    """Return the ISO week of a date as YYYY-Www."""
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def current_monday(ctx: DispatchContext) -> dt.date:
    """Return the Monday of the week containing today in the calendar's time zone."""
    today = ctx.utcnow().astimezone(ctx.policy.calendar.tz).date()
    return today - dt.timedelta(days=today.weekday())


def local_midnight(ctx: DispatchContext, day: dt.date) -> dt.datetime:
    """Return 00:00 local time on `day` as an aware UTC datetime."""
    tz = ctx.policy.calendar.tz
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def _local_day(ctx: DispatchContext, moment: dt.datetime) -> dt.date:
    return moment.astimezone(ctx.policy.calendar.tz).date()


def week_period(ctx: DispatchContext, start: dt.datetime, weeks_later: int = 0) -> Period:
    """Return the week starting at `start` (or `weeks_later` weeks after it) as a Period."""
    monday = _local_day(ctx, start) + dt.timedelta(weeks=weeks_later)
    return Period(local_midnight(ctx, monday), local_midnight(ctx, monday + dt.timedelta(days=7)))


# ---------------------------------------------------------------- KPI formulas (stated once)


@dataclass(frozen=True)
class Ratio:
    """A share as two conditions over tickets: those counted above and below the line."""

    part: Condition
    whole: Condition


@dataclass(frozen=True)
class Share:
    """A counted share; `value` is None when there is nothing to divide by."""

    part: int
    whole: int

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None


def accepted(period: Period) -> Condition:
    """受理量 accepted = tickets created in the period."""
    return period.holds(Ticket.created_at)


def resolved_directly(period: Period) -> Condition:
    """直办量 resolved directly = tickets with status resolved and resolved_at in the period."""
    return sa.and_(Ticket.status == TicketStatus.RESOLVED, period.holds(Ticket.resolved_at))


def direct_resolution(period: Period) -> Ratio:
    """直办率 direct resolution = resolved directly ÷ accepted, both in the period."""
    return Ratio(resolved_directly(period), accepted(period))


def dispatched(period: Period) -> Condition:
    """派单量 dispatched = tickets with dispatched_at in the period."""
    return period.holds(Ticket.dispatched_at)


def sign_on_time(population: Condition) -> Ratio:
    """及时签收率 = tickets signed with signed_at ≤ sign_due_at ÷ tickets of the population."""
    return Ratio(sa.and_(population, Ticket.signed_at <= Ticket.sign_due_at), population)


def reply_on_time(population: Condition) -> Ratio:
    """按时回复率 = replied with replied_at ≤ reply_due_at ÷ replied, within the population."""
    replied = sa.and_(population, Ticket.replied_at.is_not(None))
    return Ratio(sa.and_(replied, Ticket.replied_at <= Ticket.reply_due_at), replied)


def satisfaction(population: Condition) -> Ratio:
    """满意率 = follow-ups rated 非常满意, 满意 or 基本满意 ÷ follow-ups reaching the citizen."""
    reached = sa.and_(population, Ticket.follow_up_reached.is_(True))
    satisfied = Ticket.follow_up_satisfaction.in_(sorted(SATISFIED_LEVELS))
    return Ratio(sa.and_(reached, satisfied), reached)


def open_overdue(now: dt.datetime) -> Condition:
    """超期未回复 open overdue = status dispatched or signed and reply_due_at < now."""
    return sa.and_(
        Ticket.status.in_([TicketStatus.DISPATCHED, TicketStatus.SIGNED]),
        Ticket.reply_due_at < now,
    )


# ---------------------------------------------------------------- counting


def _count_if(condition: Condition) -> sa.ColumnElement[int]:
    """COUNT of the rows meeting `condition`: the same SQL on SQLite and PostgreSQL."""
    return sa.func.count(sa.case((condition, 1)))


def _counts(session: Session, conditions: Mapping[str, Condition]) -> dict[str, int]:
    """Count the tickets meeting each condition, in one pass over the matching rows."""
    columns = [_count_if(c).label(name) for name, c in conditions.items()]
    row = session.execute(sa.select(*columns).where(sa.or_(*conditions.values()))).one()
    return {name: int(row._mapping[name]) for name in conditions}


def _shares(counts: Mapping[Any, Any], names: Iterable[str]) -> dict[str, Share]:
    return {name: Share(counts[f"{name}_part"], counts[f"{name}_whole"]) for name in names}


def _ratio_conditions(ratios: Mapping[str, Ratio]) -> dict[str, Condition]:
    out: dict[str, Condition] = {}
    for name, ratio in ratios.items():
        out[f"{name}_part"] = ratio.part
        out[f"{name}_whole"] = ratio.whole
    return out


def _grouped(
    session: Session, column: QueryableAttribute[Any], condition: Condition
) -> dict[Any, int]:
    rows = session.execute(
        sa.select(column, sa.func.count()).where(condition).group_by(column)
    ).all()
    return {key: int(n) for key, n in rows}


# ---------------------------------------------------------------- figures


def _week_figures(session: Session, period: Period) -> dict[str, Any]:
    ratios = {
        "direct_resolution": direct_resolution(period),
        "reply_on_time": reply_on_time(period.holds(Ticket.replied_at)),
        "satisfaction": satisfaction(period.holds(Ticket.followed_up_at)),
    }
    counts = _counts(
        session,
        {
            "accepted": accepted(period),
            "resolved_directly": resolved_directly(period),
            "dispatched": dispatched(period),
            **_ratio_conditions(ratios),
        },
    )
    shares = _shares(counts, ratios)
    by_channel = _grouped(session, Ticket.channel, accepted(period))
    by_type = _grouped(session, Ticket.request_type, accepted(period))
    return {
        "accepted": counts["accepted"],
        "by_channel": {c: by_channel.get(c, 0) for c in Channel},
        "by_request_type": {r: by_type.get(r, 0) for r in RequestType},
        "resolved_directly": counts["resolved_directly"],
        "direct_resolution_share": shares["direct_resolution"].value,
        "dispatched": counts["dispatched"],
        "replied": shares["reply_on_time"].whole,
        "replied_on_time": shares["reply_on_time"].part,
        "replied_on_time_share": shares["reply_on_time"].value,
        "followed_up_reached": shares["satisfaction"].whole,
        "satisfied": shares["satisfaction"].part,
        "satisfaction_rate": shares["satisfaction"].value,
    }


def _change(now: Any, before: Any) -> Any:
    """Difference of two figures: numbers subtract (None if either is None); dicts per key."""
    if isinstance(now, dict):
        return {key: _change(now[key], before[key]) for key in now}
    if now is None or before is None:
        return None
    return now - before


def week_summary(uow: UnitOfWork, ctx: DispatchContext, week_start: dt.datetime) -> dict[str, Any]:
    """The week's key figures, the week before's, and the change (this week − last week)."""
    week = week_period(ctx, week_start)
    previous = week_period(ctx, week_start, -1)
    with uow:
        current_figures = _week_figures(uow.session, week)
        previous_figures = _week_figures(uow.session, previous)
        now = ctx.utcnow()
        overdue = _counts(uow.session, {"open_overdue": open_overdue(now)})["open_overdue"]
    return {
        "week": current_figures,
        "previous": previous_figures,
        "change": _change(current_figures, previous_figures),
        "open_overdue": overdue,
        "as_of": now,
    }


def daily_counts(uow: UnitOfWork, ctx: DispatchContext, week_start: dt.datetime) -> list[int]:
    """Accepted per local day of the week, Monday first: tickets created on that local day."""
    monday = _local_day(ctx, week_start)
    midnights = [local_midnight(ctx, monday + dt.timedelta(days=i)) for i in range(8)]
    days = [Period(midnights[i], midnights[i + 1]) for i in range(7)]
    with uow:
        counts = _counts(uow.session, {str(i): accepted(day) for i, day in enumerate(days)})
    return [counts[str(i)] for i in range(7)]


def _first_level(category: str | None) -> str:
    head = (category or "").split("/", 1)[0].strip()
    return head or UNCATEGORISED


def top_categories(
    uow: UnitOfWork, ctx: DispatchContext, week_start: dt.datetime, limit: int = 8
) -> list[dict[str, Any]]:
    """Category share = accepted with that first-level category ÷ accepted, in the week."""
    week = week_period(ctx, week_start)
    with uow:
        by_category = _grouped(uow.session, Ticket.category, accepted(week))
    total = sum(by_category.values())
    first: dict[str, int] = {}
    for category, n in by_category.items():
        name = _first_level(category)
        first[name] = first.get(name, 0) + n
    ranked = sorted(first.items(), key=lambda kv: (-kv[1], kv[0] == UNCATEGORISED, kv[0]))
    return [
        {"name": name, "count": n, "share": Share(n, total).value} for name, n in ranked[:limit]
    ]


def _score(shares: Iterable[float | None]) -> float | None:
    """Ranking score = mean of the unit's available shares (None when it has none)."""
    known = [s for s in shares if s is not None]
    return sum(known) / len(known) if known else None


def unit_ranking(
    uow: UnitOfWork,
    ctx: DispatchContext,
    week_start: dt.datetime,
    floor: float = SATISFACTION_FLOOR,
) -> list[dict[str, Any]]:
    """Per lead unit, over tickets dispatched in the week: sign, reply and satisfaction shares."""
    # A reassigned ticket counts for its current lead unit (the one that owes the reply).
    population = dispatched(week_period(ctx, week_start))
    ratios = {
        "sign_on_time": sign_on_time(population),
        "reply_on_time": reply_on_time(population),
        "satisfaction": satisfaction(population),
    }
    columns = [_count_if(c).label(name) for name, c in _ratio_conditions(ratios).items()]
    query = (
        sa.select(Unit.id, Unit.name, sa.func.count().label("dispatched"), *columns)
        .join(Unit, Unit.id == Ticket.lead_unit_id)
        .where(population)
        .group_by(Unit.id, Unit.name)
    )
    with uow:
        rows = uow.session.execute(query).all()
    ranking = []
    for row in rows:
        shares = {k: s.value for k, s in _shares(row._mapping, ratios).items()}
        rate = shares["satisfaction"]
        ranking.append(
            {
                "unit_id": row.id,
                "unit": row.name,
                "dispatched": int(row.dispatched),
                "sign_on_time_share": shares["sign_on_time"],
                "replied_on_time_share": shares["reply_on_time"],
                "satisfaction_share": rate,
                "score": _score(shares.values()),
                "below_floor": rate is not None and rate < floor,
            }
        )
    ranking.sort(
        key=lambda r: (r["score"] is None, -(r["score"] or 0), -r["dispatched"], r["unit"])
    )
    return ranking
