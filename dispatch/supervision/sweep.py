"""The supervision sweep (督办巡检): acts on every open clock, once per deadline.

Run by `hotline cron` every `supervision.sweep_seconds` (rq job `sweep_supervision`):
- yellow light on a unit's clock → 催办 (reminder) to the lead unit's liaisons;
- a deadline passed → 督办单 (supervision order) to the unit, its head copied;
- still open `supervision.notice_after` past the reply deadline → 通报 (named in the brief);
- a problem ticket (问题工单: reopened or passed on too often) → 提级督办 (raised supervision).

Each action is a ticket event (actor "system") and is keyed by the deadline it acted on
(`Ticket.sign_reminded_due` …), so running the sweep twice does nothing more, and a new clock
(extension, reassignment, reopening) is watched afresh. Tickets are locked one batch at a
time and skipped when someone else holds them; the next sweep picks them up.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.tickets import idempotency
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from infra.db import UnitOfWork
from infra.models import Unit
from infra.models import User
from kernel.roles import Role
from kernel.worktime import Duration
from kernel.worktime import DurationUnit

log = logging.getLogger(__name__)

SYSTEM_ROLE = "system"
UNIT_CLOCK_STATUSES = (TicketStatus.DISPATCHED, TicketStatus.SIGNED)
# Supervision of a problem ticket is possible wherever work is still owed (dispatch.tickets.domain).
ESCALATABLE = (
    TicketStatus.DISPATCHED,
    TicketStatus.SIGNED,
    TicketStatus.RETURNED,
    TicketStatus.REPLIED,
    TicketStatus.REVIEWED,
    TicketStatus.FOLLOWED_UP,
)
CLOCK_LABELS = {"sign": "签收", "reply": "回复"}
BATCH = 200
# The least calendar time a duration of one unit can span (a working day is a day or more).
_LEAST_SECONDS = {
    DurationUnit.MINUTES: 60,
    DurationUnit.HOURS: 3600,
    DurationUnit.DAYS: 86400,
    DurationUnit.WORK_HOURS: 3600,
    DurationUnit.WORK_DAYS: 86400,
}


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to people outside the web pages (the unit, its head): who, what, which ticket."""

    kind: str  # remind, supervise, notice, escalate
    unit_id: int | None
    to: tuple[str, ...]  # recipients as people read them (联络员 …, 抄送 单位负责人 …)
    text: str
    ticket_id: int


class Notifier(Protocol):
    def send(self, notice: Notice) -> None: ...


class LogNotifier:
    """Writes each notice to the log (`hotline.notify`): the adapter until SMS is wired."""

    def __init__(self) -> None:
        self.log = logging.getLogger("hotline.notify")

    def send(self, notice: Notice) -> None:
        self.log.info("%s to %s: %s", notice.kind, "; ".join(notice.to), notice.text)


@dataclass(slots=True)
class SweepResult:
    reminded: list[int] = field(default_factory=list)
    supervised: list[int] = field(default_factory=list)
    noticed: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    skipped: int = 0  # locked by someone else, or changed since the candidates were read

    def as_dict(self) -> dict[str, Any]:
        return {
            "reminded": self.reminded,
            "supervised": self.supervised,
            "noticed": self.noticed,
            "escalated": self.escalated,
            "skipped": self.skipped,
        }


def _not_yet(mark: Any, due: Any) -> sa.ColumnElement[bool]:
    return sa.or_(mark.is_(None), mark != due)


def _candidates(session: Session, now: dt.datetime, notice_floor: dt.datetime) -> list[int]:
    """Ids of tickets some rule may act on (each is checked again under its lock)."""
    open_unit = Ticket.status.in_(UNIT_CLOCK_STATUSES)
    sign_running = Ticket.status == TicketStatus.DISPATCHED
    rules = [
        sa.and_(
            sign_running,
            Ticket.sign_warn_at <= now,
            _not_yet(Ticket.sign_reminded_due, Ticket.sign_due_at),
            _not_yet(Ticket.sign_ordered_due, Ticket.sign_due_at),
        ),
        sa.and_(
            sign_running,
            Ticket.sign_due_at <= now,
            _not_yet(Ticket.sign_ordered_due, Ticket.sign_due_at),
        ),
        sa.and_(
            open_unit,
            Ticket.reply_warn_at <= now,
            _not_yet(Ticket.reply_reminded_due, Ticket.reply_due_at),
            _not_yet(Ticket.reply_ordered_due, Ticket.reply_due_at),
        ),
        sa.and_(
            open_unit,
            Ticket.reply_due_at <= now,
            _not_yet(Ticket.reply_ordered_due, Ticket.reply_due_at),
        ),
        sa.and_(
            open_unit,
            Ticket.reply_due_at <= notice_floor,
            _not_yet(Ticket.noticed_due, Ticket.reply_due_at),
        ),
        sa.and_(
            Ticket.problem.is_(True),
            Ticket.status.in_(ESCALATABLE),
            Ticket.escalated_at.is_(None),
        ),
    ]
    query = sa.select(Ticket.id).where(sa.or_(*rules)).order_by(Ticket.id)
    return list(session.scalars(query))


def sweep(
    uow: UnitOfWork,
    ctx: DispatchContext,
    *,
    notice_after: Duration,
    notifier: Notifier | None = None,
    batch: int = BATCH,
) -> SweepResult:
    """Act on every open ticket whose clock calls for it; return what was done."""
    notifier = notifier or LogNotifier()
    now = ctx.utcnow()
    result = SweepResult()
    # 5 working days are never fewer than 5 calendar days: a cheap, safe pre-filter.
    floor = now - dt.timedelta(seconds=notice_after.amount * _LEAST_SECONDS[notice_after.unit])
    with uow:
        ids = _candidates(uow.session, now, floor)
    for start in range(0, len(ids), batch):
        _sweep_batch(uow, ctx, ids[start : start + batch], now, notice_after, notifier, result)
    with uow:  # the periodic cleanup of expired idempotency keys rides along
        idempotency.purge_expired(uow.session, now)
        uow.commit()
    if any((result.reminded, result.supervised, result.noticed, result.escalated)):
        log.info(
            "supervision sweep: %d reminded, %d supervised, %d noticed, %d escalated",
            len(result.reminded),
            len(result.supervised),
            len(result.noticed),
            len(result.escalated),
        )
    return result


@dataclass(slots=True)
class _Batch:
    session: Session
    ctx: DispatchContext
    now: dt.datetime
    notices: list[Notice] = field(default_factory=list)
    pushes: list[tuple[int, int | None, str]] = field(default_factory=list)
    units: dict[int, Unit] = field(default_factory=dict)
    liaisons: dict[int, list[str]] = field(default_factory=dict)

    def unit(self, unit_id: int | None) -> Unit | None:
        if unit_id is None:
            return None
        if unit_id not in self.units:
            found = self.session.get(Unit, unit_id)
            if found is None:
                return None
            self.units[unit_id] = found
        return self.units[unit_id]

    def liaison_names(self, unit_id: int | None) -> list[str]:
        if unit_id is None:
            return []
        if unit_id not in self.liaisons:
            rows = self.session.scalars(
                sa.select(User.display_name)
                .where(User.unit_id == unit_id, User.role == Role.LIAISON, User.active.is_(True))
                .order_by(User.id)
            )
            self.liaisons[unit_id] = list(rows)
        return self.liaisons[unit_id]


def _sweep_batch(
    uow: UnitOfWork,
    ctx: DispatchContext,
    ids: Sequence[int],
    now: dt.datetime,
    notice_after: Duration,
    notifier: Notifier,
    result: SweepResult,
) -> None:
    with uow:
        session = uow.session
        query = (
            sa.select(Ticket)
            .where(Ticket.id.in_(list(ids)))
            .order_by(Ticket.id)
            .with_for_update(skip_locked=True)
        )
        tickets = list(session.scalars(query))
        result.skipped += len(ids) - len(tickets)
        b = _Batch(session, ctx, now)
        for ticket in tickets:
            _act(b, ticket, notice_after, result)
        uow.commit()
    for notice in b.notices:
        try:
            notifier.send(notice)
        except Exception:  # noqa: BLE001 - the events are committed; a lost notice is logged
            log.exception("could not send %s notice for ticket %s", notice.kind, notice.ticket_id)
    for ticket_id, unit_id, kind in b.pushes:
        rooms = ["hotline", *([f"unit:{unit_id}"] if unit_id else [])]
        payload = {
            "v": 1,
            "ticket_id": ticket_id,
            "kind": kind,
            "unit_ids": [unit_id] if unit_id else [],
        }
        try:
            ctx.publish("supervision", payload, rooms)
        except Exception:  # noqa: BLE001
            log.exception("could not push the supervision of ticket %s", ticket_id)


def _act(b: _Batch, t: Ticket, notice_after: Duration, result: SweepResult) -> None:
    now = b.now
    if t.status in UNIT_CLOCK_STATUSES:
        clocks = (
            [("sign", t.sign_due_at, t.sign_warn_at)] if t.status == TicketStatus.DISPATCHED else []
        )
        clocks.append(("reply", t.reply_due_at, t.reply_warn_at))
        for clock, due, warn in clocks:
            if due is None:
                continue
            ordered = getattr(t, f"{clock}_ordered_due")
            reminded = getattr(t, f"{clock}_reminded_due")
            if due <= now and ordered != due:
                _supervise(b, t, clock, due)
                setattr(t, f"{clock}_ordered_due", due)
                _once(result.supervised, t.id)
            elif warn is not None and warn <= now < due and reminded != due and ordered != due:
                _remind(b, t, clock, due)
                setattr(t, f"{clock}_reminded_due", due)
                _once(result.reminded, t.id)
        due = t.reply_due_at
        if due is not None and t.noticed_due != due:
            if b.ctx.policy.calendar.add(due, notice_after) <= now:
                _notice(b, t, due, notice_after)
                _once(result.noticed, t.id)
    if t.problem and t.status in ESCALATABLE and t.escalated_at is None:
        _escalate(b, t)
        _once(result.escalated, t.id)


def _once(ids: list[int], ticket_id: int) -> None:
    if ticket_id not in ids:
        ids.append(ticket_id)


def _local(b: _Batch, moment: dt.datetime) -> str:
    local = moment.astimezone(b.ctx.policy.calendar.tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _record(b: _Batch, t: Ticket, event: TicketEvent, reason: str, data: dict[str, Any]) -> None:
    t.events.append(
        TicketEventRecord(
            event=event,
            from_status=t.status,
            to_status=t.status,
            actor_id=None,
            actor_role=SYSTEM_ROLE,
            unit_id=t.lead_unit_id,
            at=b.now,
            reason=reason,
            data={"auto": True, **data},
        )
    )
    t.updated_at = b.now


def _recipients(b: _Batch, t: Ticket, *, head: bool) -> tuple[str, ...]:
    unit = b.unit(t.lead_unit_id)
    names = "、".join(b.liaison_names(t.lead_unit_id)) or "（未设联络员）"
    to = [f"{unit.name if unit else '承办单位'}联络员：{names}"]
    if head and unit is not None:
        phone = f"（{unit.head_phone}）" if unit.head_phone else ""
        to.append(
            f"抄送 单位负责人：{unit.head_name}{phone}"
            if unit.head_name
            else "抄送 单位负责人：（未登记）"
        )
    return tuple(to)


def _remind(b: _Batch, t: Ticket, clock: str, due: dt.datetime) -> None:
    number = b.ctx.ticket_number(t)
    reason = f"系统催办：{CLOCK_LABELS[clock]}时限将于{_local(b, due)}到期"
    t.remind_count += 1
    _record(b, t, TicketEvent.REMIND, reason, {"clock": clock, "due": due.isoformat()})
    b.notices.append(
        Notice(
            "remind", t.lead_unit_id, _recipients(b, t, head=False), f"工单{number}：{reason}", t.id
        )
    )
    b.pushes.append((t.id, t.lead_unit_id, "remind"))


def order_number(b_now: dt.datetime, tz: dt.tzinfo, ticket_id: int, clock: str) -> str:
    """督办单号: DB, the local date, the ticket id and the clock (Q for 签收, H for 回复)."""
    day = b_now.astimezone(tz)
    return f"DB{day:%Y%m%d}{ticket_id:07d}{'Q' if clock == 'sign' else 'H'}"


def _supervise(b: _Batch, t: Ticket, clock: str, due: dt.datetime) -> None:
    number = b.ctx.ticket_number(t)
    order = order_number(b.now, b.ctx.policy.calendar.tz, t.id, clock)
    unit = b.unit(t.lead_unit_id)
    reason = f"督办单{order}：{CLOCK_LABELS[clock]}时限已于{_local(b, due)}届满，请立即办理并报告"
    cc = (
        {"name": unit.head_name, "phone": unit.head_phone}
        if unit is not None and unit.head_name
        else None
    )
    t.supervised_at = b.now
    _record(
        b,
        t,
        TicketEvent.SUPERVISE,
        reason,
        {"clock": clock, "due": due.isoformat(), "order": order, "cc": cc},
    )
    b.notices.append(
        Notice(
            "supervise",
            t.lead_unit_id,
            _recipients(b, t, head=True),
            f"工单{number}：{reason}",
            t.id,
        )
    )
    b.pushes.append((t.id, t.lead_unit_id, "supervise"))


def _notice(b: _Batch, t: Ticket, due: dt.datetime, after: Duration) -> None:
    number = b.ctx.ticket_number(t)
    reason = f"超过回复时限{_after_text(after)}仍未办结，列入周报通报"
    t.noticed_due = due
    t.noticed_at = b.now
    _record(b, t, TicketEvent.NOTICE, reason, {"due": due.isoformat()})
    b.notices.append(
        Notice(
            "notice", t.lead_unit_id, _recipients(b, t, head=True), f"工单{number}：{reason}", t.id
        )
    )
    b.pushes.append((t.id, t.lead_unit_id, "notice"))


def _after_text(after: Duration) -> str:
    unit = {"m": "分钟", "h": "小时", "d": "天", "wh": "个工作小时", "wd": "个工作日"}[
        after.unit.value
    ]
    return f"{after.amount}{unit}"


def _escalate(b: _Batch, t: Ticket) -> None:
    number = b.ctx.ticket_number(t)
    why = []
    if t.reopen_count:
        why.append(f"重办{t.reopen_count}次")
    if t.lead_unit_count > 1:
        why.append(f"经{t.lead_unit_count}个承办单位")
    reason = f"问题工单（{'、'.join(why) or '多次流转'}），提级督办"
    t.escalated_at = t.supervised_at = b.now
    _record(
        b,
        t,
        TicketEvent.SUPERVISE,
        reason,
        {"level": "raised", "reopen_count": t.reopen_count, "lead_unit_count": t.lead_unit_count},
    )
    b.notices.append(
        Notice(
            "escalate",
            t.lead_unit_id,
            _recipients(b, t, head=True),
            f"工单{number}：{reason}",
            t.id,
        )
    )
    b.pushes.append((t.id, t.lead_unit_id, "escalate"))
