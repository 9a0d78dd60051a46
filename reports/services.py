"""Weeks, and the leaders' dashboard's figures of one week.

Pure reads: no writes, no audit rows, no personal data. Every function takes the week's
local start (Monday 00:00 in the calendar zone) as an aware datetime; a week is the
half-open interval [start, start + 7 local days). The KPIs themselves, and their formulas,
are `reports.kpis` (stated once there); this module picks the dashboard's few of them.
"""

import datetime as dt
import re
from typing import Any
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import Channel
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from infra.db import UnitOfWork
from infra.settings import ReportsSettings
from kernel.masking import mask_free_text
from kernel.vocabulary import RequestType
from reports import kpis
from reports.ranking import Level
from reports.ranking import Ranked
from reports.ranking import rank_units

UNCATEGORISED = "未分类"
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


# ---------------------------------------------------------------- the dashboard's figures


def open_overdue(now: dt.datetime) -> Condition:
    """超期未回复 open overdue = status dispatched or signed and reply_due_at < now."""
    return sa.and_(
        Ticket.status.in_([TicketStatus.DISPATCHED, TicketStatus.SIGNED]),
        Ticket.reply_due_at < now,
    )


def _kpi_period(ctx: DispatchContext, period: Period) -> kpis.Period:
    return kpis.Period(period.start, period.end, ctx.utcnow())


def _week_figures(uow: UnitOfWork, ctx: DispatchContext, period: Period) -> dict[str, Any]:
    p = _kpi_period(ctx, period)
    figures = kpis.compute(uow, p).overall
    counts, values = figures.counts, figures.kpis()
    with uow:
        by_channel = kpis.accepted_by(uow.session, Ticket.channel, p)
        by_type = kpis.accepted_by(uow.session, Ticket.request_type, p)
    return {
        "accepted": counts["accepted"],
        "by_channel": {c: by_channel.get(c, 0) for c in Channel},
        "by_request_type": {r: by_type.get(r, 0) for r in RequestType},
        "resolved_directly": counts["resolved_directly"],
        "direct_resolution_share": values["direct_resolution_rate"],
        "dispatched": counts["dispatched"],
        "due": counts["due"],
        "replied_on_time": counts["replied_on_time"],
        "on_time_reply_rate": values["on_time_reply_rate"],
        "followed_up_reached": counts["valid_follow_ups"],
        "satisfied": counts["satisfied"],
        "satisfaction_rate": values["satisfaction_rate"],
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
    current_figures = _week_figures(uow, ctx, week_period(ctx, week_start))
    previous_figures = _week_figures(uow, ctx, week_period(ctx, week_start, -1))
    now = ctx.utcnow()
    with uow:
        overdue = uow.session.scalar(
            sa.select(sa.func.count()).select_from(Ticket).where(open_overdue(now))
        )
    return {
        "week": current_figures,
        "previous": previous_figures,
        "change": _change(current_figures, previous_figures),
        "open_overdue": int(overdue or 0),
        "as_of": now,
    }


def daily_counts(uow: UnitOfWork, ctx: DispatchContext, week_start: dt.datetime) -> list[int]:
    """Accepted (reports.kpis.accepted) per local day of the week, Monday first."""
    monday = _local_day(ctx, week_start)
    midnights = [local_midnight(ctx, monday + dt.timedelta(days=i)) for i in range(8)]
    with uow:
        return [accepted for accepted, _ in kpis.daily(uow.session, midnights)]


def top_categories(
    uow: UnitOfWork, ctx: DispatchContext, week_start: dt.datetime, limit: int = 8
) -> list[dict[str, Any]]:
    """Category share = accepted with that first-level category ÷ accepted, in the week."""
    week = _kpi_period(ctx, week_period(ctx, week_start))
    with uow:
        first = kpis.accepted_by_category(uow.session, week)
    total = sum(first.values())
    ranked = kpis.ranked_categories(first)
    return [{"name": name, "count": n, "share": kpis.ratio(n, total)} for name, n in ranked[:limit]]


def unit_ranking(
    uow: UnitOfWork, ctx: DispatchContext, week_start: dt.datetime, settings: ReportsSettings
) -> list[Ranked]:
    """The week's top-level units ranked by the configured weighted score (reports.ranking)."""
    return rank_period(uow, _kpi_period(ctx, week_period(ctx, week_start)), settings, Level.TOP)


def rank_period(
    uow: UnitOfWork, period: kpis.Period, settings: ReportsSettings, level: Level
) -> list[Ranked]:
    """The period's units ranked as reports.ranking configures (docs/reports.md)."""
    report = kpis.compute(uow, period, group=kpis.GroupBy.UNIT)
    return rank_units(
        report,
        settings.ranking_weights,
        settings.satisfaction_floor,
        settings.ranking_min_sample,
        level,
    )


def example_tickets(
    uow: UnitOfWork, ctx: DispatchContext, ids: set[int] | tuple[int, ...]
) -> dict[int, dict[str, Any]]:
    """Number and title of each example ticket of a topic or hot spot, by id.

    Reports are read by leaders and travel (a brief is a PDF), so the title comes with the
    caller's name and long numbers masked, as a unit reads it (`mask_free_text`).
    """
    if not ids:
        return {}
    with uow:
        rows = uow.session.execute(
            sa.select(Ticket.id, Ticket.created_at, Ticket.title, Ticket.citizen_name).where(
                Ticket.id.in_(sorted(ids))
            )
        ).all()
    return {
        tid: {
            "id": tid,
            "number": ctx.prefix_number(tid, created),
            "title": mask_free_text(title, [name]),
        }
        for tid, created, title, name in rows
    }
