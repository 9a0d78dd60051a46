"""Gather, build and keep the weekly brief (周报).

`gather` reads one ISO week into a `reports.brief.content.Brief`; `build` renders it (HTML,
PDF, DOCX); `store` keeps the bytes in `weekly_briefs`, which is what the Monday job and
`hotline report weekly --store` do. The numbers come from `reports.kpis` (the same code as
GET /api/reports/kpis), so the brief and the API always agree.
"""

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import CHANNEL_LABELS
from dispatch.tickets.domain import REQUEST_TYPE_LABELS as TYPE_LABELS
from dispatch.tickets.domain import STATUS_LABELS
from dispatch.tickets.domain import Satisfaction
from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from infra.db import UnitOfWork
from infra.models import Unit
from infra.settings import Settings
from kernel.masking import mask_free_text
from reports import kpis as k
from reports.brief.content import Brief
from reports.brief.content import CaseLine
from reports.brief.content import CategoryLine
from reports.brief.content import Change
from reports.brief.content import CountRow
from reports.brief.content import DayCount
from reports.brief.content import KpiLine
from reports.brief.content import NoticeLine
from reports.brief.content import UnitLine
from reports.models import WeeklyBrief
from reports.ranking import Level
from reports.ranking import rank_units
from reports.ranking import shortfall_text
from reports.services import local_midnight
from reports.services import week_text
from reports.topics.queries import hot_topics

# The KPIs the brief shows, in its order.
BRIEF_KPIS = (
    "answer_rate",
    "service_level_15s",
    "abandon_rate",
    "direct_resolution_rate",
    "on_time_sign_rate",
    "reply_rate",
    "on_time_reply_rate",
    "closure_rate",
    "overdue_rate",
    "response_rate",
    "follow_up_rate",
    "resolution_rate",
    "satisfaction_rate",
    "return_rate",
    "reopen_rate",
)
FORMATS = ("html", "pdf", "docx")
HOTLINE_NAME = "12345政务服务便民热线"
CASE_LIMIT = 3
PROBLEM_LIMIT = 20
SUMMARY_CHARS = 140


@dataclass(frozen=True, slots=True)
class Sources:
    """What gathering needs: a unit of work per read, the clocks, and the settings."""

    uow: Callable[[], UnitOfWork]
    ctx: DispatchContext
    settings: Settings


def week_periods(ctx: DispatchContext, monday: dt.date) -> tuple[k.Period, k.Period]:
    """This ISO week and the one before, as KPI periods judged now."""
    now = ctx.utcnow()

    def period(day: dt.date) -> k.Period:
        return k.Period(
            local_midnight(ctx, day), local_midnight(ctx, day + dt.timedelta(days=7)), now
        )

    return period(monday), period(monday - dt.timedelta(days=7))


def gather(src: Sources, monday: dt.date) -> Brief:
    """Read one ISO week (Monday `monday`) and the week before into a Brief."""
    ctx, settings = src.ctx, src.settings
    week, before = week_periods(ctx, monday)
    now_report = k.compute(src.uow(), week, group=k.GroupBy.UNIT)
    before_report = k.compute(src.uow(), before)
    floor = settings.reports.satisfaction_floor
    weights = dict(settings.reports.ranking_weights)
    min_sample = settings.reports.ranking_min_sample
    ranked = rank_units(now_report, weights, floor, min_sample, Level.TOP)
    now_k, before_k = now_report.overall.kpis(), before_report.overall.kpis()
    now_c, before_c = now_report.overall.counts, before_report.overall.counts
    with src.uow() as uow:
        session = uow.session
        channels = _breakdown(session, Ticket.channel, week, before, CHANNEL_LABELS)
        types = _breakdown(session, Ticket.request_type, week, before, TYPE_LABELS)
        daily = _daily(session, ctx, monday)
        categories = _categories(session, week, before, now_c["accepted"])
        topics = hot_topics(session, week.start, week.end)
        notices = _notices(session, ctx, week)
        problems = _problems(session, ctx, week)
        cases = _cases(session, ctx, week)
    units = [
        UnitLine(
            rank=r.rank or 0,
            unit_id=r.unit_id,
            unit=r.unit,
            dispatched=r.figures.counts["dispatched"],
            on_time_sign_rate=r.kpis["on_time_sign_rate"],
            reply_rate=r.kpis["reply_rate"],
            on_time_reply_rate=r.kpis["on_time_reply_rate"],
            overdue=r.figures.counts["overdue"],
            overdue_rate=r.kpis["overdue_rate"],
            response_rate=r.kpis["response_rate"],
            resolution_rate=r.kpis["resolution_rate"],
            satisfaction_rate=r.kpis["satisfaction_rate"],
            score=r.score,
            below_floor=r.below_floor,
            valid_follow_ups=r.figures.counts["valid_follow_ups"],
            short=shortfall_text(r),
        )
        for r in ranked
    ]
    below = sorted((u for u in units if u.below_floor), key=lambda u: u.satisfaction_rate or 0)
    kpi_lines = [
        KpiLine(
            name=name,
            label=k.FORMULAS[name].label,
            formula=k.FORMULAS[name].text,
            now=now_k[name],
            before=before_k[name],
            part=now_c[k.FORMULAS[name].part],
            whole=now_c[k.FORMULAS[name].whole],
        )
        for name in BRIEF_KPIS
    ]
    iso = monday.isocalendar()
    sunday = monday + dt.timedelta(days=6)
    brief = Brief(
        week=week_text(monday),
        title=f"{HOTLINE_NAME}工作周报（{iso.year}年第{iso.week}周）",
        range_text=f"{monday.year}年{monday.month}月{monday.day}日—{sunday.month}月{sunday.day}日",
        monday=monday,
        generated_at=ctx.now().astimezone(ctx.policy.calendar.tz),
        hotline=HOTLINE_NAME,
        headline=[],
        accepted=Change(now_c["accepted"], before_c["accepted"]),
        dispatched=Change(now_c["dispatched"], before_c["dispatched"]),
        resolved_directly=Change(now_c["resolved_directly"], before_c["resolved_directly"]),
        calls_offered=Change(now_c["calls_offered"], before_c["calls_offered"]),
        calls_answered=Change(now_c["calls_answered"], before_c["calls_answered"]),
        average_wait_seconds=Change(
            now_report.overall.average_wait_seconds, before_report.overall.average_wait_seconds
        ),
        average_talk_seconds=Change(
            now_report.overall.average_talk_seconds, before_report.overall.average_talk_seconds
        ),
        channels=channels,
        request_types=types,
        kpis=kpi_lines,
        daily=daily,
        categories=categories,
        topics=topics,
        units=units,
        satisfaction_floor=floor,
        below_floor=[_floor_name(u) for u in below],
        notices=notices,
        problems=problems,
        cases=cases,
        weights=weights,
        min_sample=min_sample,
    )
    brief.headline.extend(headline(brief))
    return brief


def _floor_name(u: UnitLine) -> str:
    """A unit named below the floor; one not ranked says on how few follow-ups."""
    if u.rank:
        return u.unit
    return f"{u.unit}（样本不足，有效回访{u.valid_follow_ups}件）"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _ring(now: float | None, before: float | None) -> str:
    """环比 of a count: 增长12.5% / 下降3.0% / 持平 / 无可比数据."""
    if now is None or not before:
        return "上周无可比数据"
    change = (now - before) / before
    if abs(change) < 0.0005:
        return "环比持平"
    return f"环比{'增长' if change > 0 else '下降'}{abs(change) * 100:.1f}%"


def headline(b: Brief) -> list[str]:
    """The opening paragraph: the week in four sentences, with its changes."""
    by_key = {line.name: line for line in b.kpis}
    accepted = int(b.accepted.now or 0)
    sentences = [
        f"本周（{b.range_text}）共受理群众诉求{accepted}件，"
        f"{_ring(b.accepted.now, b.accepted.before)}；"
        f"其中直接办结{int(b.resolved_directly.now or 0)}件，直办率"
        f"{_pct(by_key['direct_resolution_rate'].now)}；派单{int(b.dispatched.now or 0)}件，"
        f"{_ring(b.dispatched.now, b.dispatched.before)}。",
        f"热线呼入{int(b.calls_offered.now or 0)}次，接通率{_pct(by_key['answer_rate'].now)}，"
        f"15秒接通率{_pct(by_key['service_level_15s'].now)}。",
        f"承办单位按时办结率{_pct(by_key['on_time_reply_rate'].now)}，超期率"
        f"{_pct(by_key['overdue_rate'].now)}；回访满意率{_pct(by_key['satisfaction_rate'].now)}，"
        f"解决率{_pct(by_key['resolution_rate'].now)}，响应率{_pct(by_key['response_rate'].now)}。",
    ]
    if b.categories:
        top = b.categories[0]
        sentences.append(f"诉求最集中的是“{top.name}”类，{top.count}件，占{_pct(top.share)}。")
    if b.below_floor:
        sentences.append(
            f"满意率低于{b.satisfaction_floor * 100:.0f}%的单位：{'、'.join(b.below_floor)}。"
        )
    if b.notices:
        sentences.append(
            f"本周通报{len(b.notices)}个单位、{sum(n.count for n in b.notices)}件超期未办结工单。"
        )
    return sentences


def _breakdown(
    session: Session,
    column: Any,
    week: k.Period,
    before: k.Period,
    labels: Mapping[Any, str],
) -> list[CountRow]:
    now, prev = k.accepted_by(session, column, week), k.accepted_by(session, column, before)
    return [
        CountRow(key.value, label, now.get(key, 0), prev.get(key, 0))
        for key, label in labels.items()
    ]


def _daily(session: Session, ctx: DispatchContext, monday: dt.date) -> list[DayCount]:
    days = [local_midnight(ctx, monday + dt.timedelta(days=i)) for i in range(8)]
    counts = k.daily(session, days)
    return [
        DayCount(monday + dt.timedelta(days=i), accepted, sent)
        for i, (accepted, sent) in enumerate(counts)
    ]


def _categories(
    session: Session, week: k.Period, before: k.Period, total: int, limit: int = 8
) -> list[CategoryLine]:
    now, prev = k.accepted_by_category(session, week), k.accepted_by_category(session, before)
    return [
        CategoryLine(name, n, k.ratio(n, total), prev.get(name, 0))
        for name, n in k.ranked_categories(now)[:limit]
    ]


def _unit_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(sorted(ids))))
    return {uid: name for uid, name in rows}


def _notices(session: Session, ctx: DispatchContext, week: k.Period) -> list[NoticeLine]:
    """通报: tickets noticed in the week, and those noticed earlier that are still open."""
    still_open = Ticket.status.in_([TicketStatus.DISPATCHED, TicketStatus.SIGNED])
    rows = session.execute(
        sa.select(Ticket.id, Ticket.created_at, Ticket.lead_unit_id)
        .where(
            Ticket.noticed_at < week.end,
            sa.or_(Ticket.noticed_at >= week.start, still_open),
        )
        .order_by(Ticket.id)
    ).all()
    per_unit: dict[int, list[str]] = {}
    for tid, created, unit_id in rows:
        if unit_id is not None:
            per_unit.setdefault(unit_id, []).append(ctx.prefix_number(tid, created))
    names = _unit_names(session, set(per_unit))
    lines = [
        NoticeLine(uid, names.get(uid, str(uid)), len(numbers), tuple(numbers[:10]))
        for uid, numbers in per_unit.items()
    ]
    lines.sort(key=lambda n: (-n.count, n.unit))
    return lines


def _case(
    ctx: DispatchContext,
    t: Ticket,
    unit: str | None,
    why: str,
    summary: str = "",
) -> CaseLine:
    # A brief travels (PDF, e-mail): the caller's name and long numbers never ride along.
    text = " ".join((mask_free_text(summary, [t.citizen_name]) or "").split())
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 1] + "…"
    return CaseLine(
        ticket_id=t.id,
        number=ctx.ticket_number(t),
        title=mask_free_text(t.title, [t.citizen_name]),
        unit=unit,
        status=STATUS_LABELS[t.status],
        why=why,
        summary=text,
    )


def _why_problem(t: Ticket) -> str:
    parts = []
    if t.reopen_count:
        parts.append(f"重办{t.reopen_count}次")
    if t.lead_unit_count > 1:
        parts.append(f"经{t.lead_unit_count}个承办单位")
    return "、".join(parts) or "问题工单"


def _problems(session: Session, ctx: DispatchContext, week: k.Period) -> list[CaseLine]:
    """问题工单 open at the end of the week, or marked during it."""
    done = [TicketStatus.CLOSED, TicketStatus.RESOLVED, TicketStatus.MERGED]
    tickets = list(
        session.scalars(
            sa.select(Ticket)
            .where(
                Ticket.problem.is_(True),
                Ticket.created_at < week.end,
                sa.or_(Ticket.status.not_in(done), week.holds(Ticket.escalated_at)),
            )
            .order_by(Ticket.reopen_count.desc(), Ticket.id)
            .limit(PROBLEM_LIMIT)
        )
    )
    names = _unit_names(session, {t.lead_unit_id for t in tickets if t.lead_unit_id})
    return [
        _case(ctx, t, names.get(t.lead_unit_id) if t.lead_unit_id else None, _why_problem(t))
        for t in tickets
    ]


def _cases(session: Session, ctx: DispatchContext, week: k.Period) -> list[CaseLine]:
    """典型案例: the week's best-rated solved follow-ups, then its dissatisfied ones.

    Read from the week's `follow_up` events (as 满意率 is), so a dissatisfied case stays
    here when the ticket is reopened; the unit is the one the follow-up judged.
    """
    e = TicketEventRecord
    reached = e.data["reached"].as_boolean().is_(True)
    level = e.data["satisfaction"].as_string()
    follow_ups = sa.and_(e.event == TicketEvent.FOLLOW_UP, week.holds(e.at), reached)
    good = session.execute(
        sa.select(e.ticket_id, e.unit_id, e.reason)
        .join(Ticket, Ticket.id == e.ticket_id)
        .where(
            follow_ups,
            e.data["solved"].as_boolean().is_(True),
            level == Satisfaction.VERY_SATISFIED.value,
            Ticket.reply_text.is_not(None),
        )
        .order_by(Ticket.reopen_count, e.at.desc(), e.id)
        .limit(CASE_LIMIT)
    ).all()
    bad = session.execute(
        sa.select(e.ticket_id, e.unit_id, e.reason, e.data)
        .where(
            follow_ups,
            level.in_([Satisfaction.DISSATISFIED.value, Satisfaction.VERY_DISSATISFIED.value]),
        )
        .order_by(e.at.desc(), e.id)
        .limit(CASE_LIMIT)
    ).all()
    ids = {row.ticket_id for row in (*good, *bad)}
    tickets = {t.id: t for t in session.scalars(sa.select(Ticket).where(Ticket.id.in_(ids)))}
    names = _unit_names(session, {row.unit_id for row in (*good, *bad) if row.unit_id})
    cases = [
        _case(
            ctx,
            tickets[row.ticket_id],
            names.get(row.unit_id),
            "办理到位，群众非常满意",
            tickets[row.ticket_id].reply_text or "",
        )
        for row in good
    ]
    for row in bad:
        t = tickets[row.ticket_id]
        why = "群众不满意" + ("，问题未解决" if row.data.get("solved") is False else "")
        cases.append(_case(ctx, t, names.get(row.unit_id), why, row.reason or t.reply_text or ""))
    return cases


# ---------------------------------------------------------------- build and keep


def build(src: Sources, monday: dt.date, fmt: str) -> bytes:
    """Gather the week and render it in one format (html, pdf, docx)."""
    from reports.brief.render import render

    if fmt not in FORMATS:
        raise ValueError(f"不支持的格式：“{fmt}”，可选 html、pdf、docx")
    return render(gather(src, monday), fmt)


def store(
    src: Sources,
    monday: dt.date,
    *,
    trigger: str,
    user_id: int | None = None,
    formats: tuple[str, ...] = FORMATS,
) -> list[dict[str, Any]]:
    """Build the week's brief once and keep it in every format; return what was kept."""
    from reports.brief.render import render

    started = time.perf_counter()
    brief = gather(src, monday)
    gathered = time.perf_counter() - started
    kept = []
    with src.uow() as uow:
        for fmt in formats:
            t0 = time.perf_counter()
            content = render(brief, fmt)
            row = WeeklyBrief(
                week=brief.week,
                format=fmt,
                trigger=trigger,
                created_at=src.ctx.utcnow(),
                created_by_id=user_id,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                seconds=round(gathered + time.perf_counter() - t0, 3),
                content=content,
            )
            uow.session.add(row)
            uow.session.flush()
            kept.append(brief_view(row))
        uow.commit()
    return kept


def brief_view(row: WeeklyBrief) -> dict[str, Any]:
    return {
        "id": row.id,
        "week": row.week,
        "format": row.format,
        "trigger": row.trigger,
        "created_at": row.created_at.isoformat(),
        "size": row.size,
        "sha256": row.sha256,
        "seconds": row.seconds,
    }


def latest(
    uow: UnitOfWork, week: str | None = None, trigger: str | None = None
) -> list[dict[str, Any]]:
    """The newest kept brief of each (week, format), newest week first (or of one week; or
    only those kept by one trigger, such as "schedule")."""
    with uow:
        query = sa.select(WeeklyBrief).order_by(WeeklyBrief.id.desc())
        if week is not None:
            query = query.where(WeeklyBrief.week == week)
        if trigger is not None:
            query = query.where(WeeklyBrief.trigger == trigger)
        seen: set[tuple[str, str]] = set()
        out = []
        for row in uow.session.scalars(query.limit(500)):
            if (row.week, row.format) not in seen:
                seen.add((row.week, row.format))
                out.append(brief_view(row))
        return out


def content(uow: UnitOfWork, brief_id: int) -> tuple[WeeklyBrief, bytes] | None:
    with uow:
        row = uow.session.get(WeeklyBrief, brief_id)
        if row is None:
            return None
        body = row.content
        # Leaving the unit of work rolls back, which would expire the row: keep it loaded.
        uow.session.expunge(row)
        return row, body
