"""Automated follow-up (自动回访): every ticket the hotline approved gets asked, by a survey
call or an SMS, whether its problem was solved and how satisfied the citizen is.

The database is the truth; `sweep` (run by `hotline cron` every `followup.sweep_seconds`)
moves each try along:

    ticket 待回访 ──sweep──▶ try scheduled (within call hours)
        ──sweep──▶ queued: a task on the survey processes' Redis list, or an SMS sent
        ──survey process──▶ calling ──▶ answered → the answers are the ticket's follow-up
                                      ╰▶ no answer / busy / hung up / failed / expired
                                          → the next try `retry_after` later, or after
                                            `tries` tries the human follow-up queue.

A person may follow the ticket up at any time; open tries are then cancelled and a late
result only completes its try's row. Everything here is idempotent: running the sweep twice,
or a result arriving twice, changes nothing more.
"""

import datetime as dt
import logging
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.followup.models import FollowUpAttempt
from dispatch.tickets import commands as c
from dispatch.tickets.actions import perform_action
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import SATISFIED_LEVELS
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import Satisfaction
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from infra.db import UnitOfWork
from infra.settings import FollowUpSettings
from kernel.actor import Actor
from kernel.errors import DomainError
from kernel.masking import mask_free_text
from kernel.masking import mask_phone
from kernel.phones import InvalidPhone
from kernel.phones import normalize_phone
from kernel.roles import Role
from kernel.worktime import Duration
from kernel.worktime import DurationUnit

log = logging.getLogger(__name__)

VOICE = "voice"
SMS = "sms"
# The Redis list the survey processes (`hotline survey`) take their calls from.
TASKS_KEY = "survey:tasks"

SCHEDULED = "scheduled"
QUEUED = "queued"  # on the survey list, or the SMS sent and waiting for the reply
CALLING = "calling"
ANSWERED = "answered"
CANCELLED = "cancelled"
EXPIRED = "expired"
OPEN = frozenset({SCHEDULED, QUEUED, CALLING})
FAILED = frozenset({"no_answer", "busy", "failed", "hung_up", EXPIRED})

STATUS_LABELS: Mapping[str, str] = {
    SCHEDULED: "待拨打",
    QUEUED: "排队中",
    CALLING: "通话中",
    ANSWERED: "已回访",
    "no_answer": "无人接听",
    "busy": "占线/拒接",
    "failed": "呼叫失败",
    "hung_up": "中途挂断",
    EXPIRED: "超时无结果",
    CANCELLED: "已取消",
}

# The survey's keys (the same on the phone and in an SMS reply).
SOLVED_KEYS: Mapping[str, bool] = {"1": True, "2": False}
SATISFACTION_KEYS: Mapping[str, Satisfaction] = {
    "1": Satisfaction.VERY_SATISFIED,
    "2": Satisfaction.SATISFIED,
    "3": Satisfaction.BASICALLY_SATISFIED,
    "4": Satisfaction.DISSATISFIED,
    "5": Satisfaction.VERY_DISSATISFIED,
}

# The automated caller, as the lifecycle sees it: front desk for 回访, a lead for 办结.
FOLLOW_UP_ACTOR = Actor(user_id=None, role=Role.OPERATOR, name="自动回访")
CLOSE_ACTOR = Actor(user_id=None, role=Role.TEAM_LEAD, name="自动回访")


class SmsChannel(Protocol):
    """Sends a text message; returns the gateway's message id."""

    def send(self, phone: str, text: str) -> str: ...


class LogSms:
    """The SMS channel until a gateway is contracted: each message goes to the log
    (logger `hotline.sms`) and is kept in `sent` for tests and the demo."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self._log = logging.getLogger("hotline.sms")

    def send(self, phone: str, text: str) -> str:
        self.sent.append((phone, text))
        # Logs are read by more people and kept longer than the ticket's audited views: the
        # number is masked as a unit sees it (138****5678), and so is any number in the text.
        self._log.info("SMS to %s: %s", mask_phone(phone), mask_free_text(text))
        return f"log-{len(self.sent)}"


def sms_text(number: str) -> str:
    return (
        f"【12345热线】您反映的问题（工单{number}）已办理答复。请回复两位数字评价："
        "第一位 1已解决、2未解决；第二位 1非常满意、2满意、3基本满意、4不满意、5非常不满意。"
        "例如回复“11”。"
    )


def national(phone: str) -> str:
    """The digits to dial and to match an SMS sender by: "+86 138-1234-5678" → 13812345678."""
    try:
        return normalize_phone(phone).lstrip("+")
    except InvalidPhone:  # numbers kept before every entry was checked: dial what is there
        return re.sub(r"\D", "", phone)


def answers_meaning(answers: Mapping[str, Any]) -> tuple[bool | None, Satisfaction | None]:
    """What the pressed keys say: (solved?, satisfaction); None where a key is missing."""
    solved = SOLVED_KEYS.get(str(answers.get("solved", "")))
    satisfaction = SATISFACTION_KEYS.get(str(answers.get("satisfaction", "")))
    return solved, satisfaction


def parse_sms_reply(text: str) -> dict[str, str] | None:
    """Read a reply like "11", "1 2" or "１，３" into answers; None when it is not one."""
    digits = re.sub(r"\D", "", text.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if len(digits) != 2:
        return None
    answers = {"solved": digits[0], "satisfaction": digits[1]}
    solved, satisfaction = answers_meaning(answers)
    return answers if solved is not None and satisfaction is not None else None


@dataclass(frozen=True, slots=True)
class CallHours:
    """The local hours in which citizens are called or texted, every day."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> "CallHours":
        start, _, end = text.partition("-")
        return cls(_clock(start), _clock(end))

    def next_open(self, at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
        """The first moment at or after `at` (UTC) inside the hours; returned in UTC."""
        local = at.astimezone(tz)
        if self.start <= local.time() < self.end:
            return at
        day = local.date() if local.time() < self.start else local.date() + dt.timedelta(days=1)
        return dt.datetime.combine(day, self.start, tzinfo=tz).astimezone(dt.UTC)

    def is_open(self, at: dt.datetime, tz: dt.tzinfo) -> bool:
        return self.start <= at.astimezone(tz).time() < self.end


def span(text: str) -> dt.timedelta:
    """A calendar duration ("15m", "2h", "1d") as a timedelta (settings refuse wh/wd)."""
    d = Duration.parse(text)
    seconds = {DurationUnit.MINUTES: 60, DurationUnit.HOURS: 3600, DurationUnit.DAYS: 86400}
    if d.unit not in seconds:
        raise ValueError(f"{text!r}: calendar time only (m, h, d)")
    return dt.timedelta(seconds=d.amount * seconds[d.unit])


def _clock(text: str) -> dt.time:
    hour, _, minute = text.strip().partition(":")
    if int(hour) == 24:
        return dt.time.max
    return dt.time(int(hour), int(minute))


@dataclass(slots=True)
class SweepResult:
    scheduled: list[int] = field(default_factory=list)  # ticket ids with a first try
    queued: list[int] = field(default_factory=list)  # attempt ids handed to a channel
    expired: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    handed_over: list[int] = field(default_factory=list)  # ticket ids → 人工回访

    def as_dict(self) -> dict[str, list[int]]:
        return {
            "scheduled": self.scheduled,
            "queued": self.queued,
            "expired": self.expired,
            "cancelled": self.cancelled,
            "handed_over": self.handed_over,
        }


Push = Callable[[dict[str, Any]], object]


def sweep(
    uow: UnitOfWork,
    ctx: DispatchContext,
    settings: FollowUpSettings,
    *,
    push: Push,
    sms: SmsChannel,
) -> SweepResult:
    """Move every follow-up along one step (see the module's docstring).

    `push` puts a survey task on the survey processes' list; `sms` sends a text.
    """
    result = SweepResult()
    if not settings.enabled:
        return result
    now = ctx.utcnow()
    tz = ctx.policy.calendar.tz
    hours = CallHours.parse(settings.call_hours)
    with uow:
        session = uow.session
        _expire(session, ctx, settings, now, result)
        _cancel_settled(session, result)
        _schedule_new(session, settings, hours, tz, now, result)
        announce(uow, ctx, list(result.handed_over))
        uow.commit()
        if not hours.is_open(now, tz):
            return result
        due = session.scalars(
            sa.select(FollowUpAttempt)
            .where(FollowUpAttempt.status == SCHEDULED, FollowUpAttempt.scheduled_at <= now)
            .order_by(FollowUpAttempt.scheduled_at, FollowUpAttempt.id)
            .with_for_update(skip_locked=True)
        ).all()
        for attempt in due:
            ticket = session.get(Ticket, attempt.ticket_id)
            number = ctx.ticket_number(ticket) if ticket else ""
            # Committed before the hand-over: a task a survey process takes always finds
            # its row queued, and a crash between the two at worst expires the try.
            attempt.status = QUEUED
            attempt.queued_at = now
            uow.commit()
            try:
                if attempt.channel == SMS:
                    attempt.detail = sms.send(attempt.phone, sms_text(number))
                else:
                    push(
                        {
                            "attempt_id": attempt.id,
                            "ticket_id": attempt.ticket_id,
                            "phone": attempt.phone,
                            "ring_seconds": settings.ring_seconds,
                            "answer_seconds": settings.answer_seconds,
                        }
                    )
            except Exception as exc:  # noqa: BLE001 - a channel failure fails this try only
                log.exception("follow-up try %s could not be handed over", attempt.id)
                why = str(exc)[:300]
                if _finish_failed(session, ctx, settings, attempt, "failed", now, why):
                    result.handed_over.append(attempt.ticket_id)
                    announce(uow, ctx, [attempt.ticket_id])
            result.queued.append(attempt.id)
            uow.commit()
    return result


def _expire(
    session: Session,
    ctx: DispatchContext,
    settings: FollowUpSettings,
    now: dt.datetime,
    result: SweepResult,
) -> None:
    """Tries with no result in time failed: a survey process died, or nobody replied."""
    stale = now - span(settings.stale_after)
    sms_wait = now - span(settings.retry_after)
    rows = session.scalars(
        sa.select(FollowUpAttempt)
        .where(
            FollowUpAttempt.status.in_((QUEUED, CALLING)),
            sa.or_(
                sa.and_(FollowUpAttempt.channel == VOICE, FollowUpAttempt.queued_at < stale),
                sa.and_(FollowUpAttempt.channel == SMS, FollowUpAttempt.queued_at < sms_wait),
            ),
        )
        .with_for_update(skip_locked=True)
    ).all()
    for attempt in rows:
        detail = "短信未回复" if attempt.channel == SMS else "外呼进程未报告结果"
        status = "no_answer" if attempt.channel == SMS else EXPIRED
        if _finish_failed(session, ctx, settings, attempt, status, now, detail):
            result.handed_over.append(attempt.ticket_id)
        result.expired.append(attempt.id)


def _cancel_settled(session: Session, result: SweepResult) -> None:
    """Scheduled tries of tickets no longer waiting for follow-up (a person did it)."""
    rows = session.scalars(
        sa.select(FollowUpAttempt)
        .join(Ticket, Ticket.id == FollowUpAttempt.ticket_id)
        .where(FollowUpAttempt.status == SCHEDULED, Ticket.status != TicketStatus.REVIEWED)
    ).all()
    for attempt in rows:
        attempt.status = CANCELLED
        attempt.detail = "工单已不在待回访状态"
        result.cancelled.append(attempt.id)


def _schedule_new(
    session: Session,
    settings: FollowUpSettings,
    hours: CallHours,
    tz: dt.tzinfo,
    now: dt.datetime,
    result: SweepResult,
) -> None:
    """A first try for each ticket newly waiting for follow-up (this round of it)."""
    this_round = sa.and_(
        FollowUpAttempt.ticket_id == Ticket.id, FollowUpAttempt.created_at >= Ticket.reviewed_at
    )
    waiting = session.scalars(
        sa.select(Ticket)
        .where(
            Ticket.status == TicketStatus.REVIEWED,
            Ticket.followup_handover_at.is_(None),
            ~sa.exists().where(this_round),
        )
        .order_by(Ticket.reviewed_at)
        .limit(500)
    ).all()
    for ticket in waiting:
        phone = ticket.contact_phone or ticket.caller_phone
        if not phone:
            ticket.followup_handover_at = now  # no number to call: only a person can try
            result.handed_over.append(ticket.id)
            continue
        session.add(
            new_try(ticket.id, 1, settings.channel, phone, at=hours.next_open(now, tz), now=now)
        )
        result.scheduled.append(ticket.id)


def new_try(
    ticket_id: int,
    try_no: int,
    channel: str,
    phone: str,
    *,
    at: dt.datetime,
    now: dt.datetime,
    detail: str = "",
) -> FollowUpAttempt:
    """A try scheduled for `at` (the number in dialling form)."""
    return FollowUpAttempt(
        ticket_id=ticket_id,
        try_no=try_no,
        channel=channel,
        status=SCHEDULED,
        phone=national(phone),
        scheduled_at=at,
        created_at=now,
        detail=detail,
    )


def _finish_failed(
    session: Session,
    ctx: DispatchContext,
    settings: FollowUpSettings,
    attempt: FollowUpAttempt,
    status: str,
    now: dt.datetime,
    detail: str,
) -> bool:
    """End a try that reached nobody; schedule the next one or hand the ticket over.

    Returns whether the ticket was handed over to the human follow-up queue.
    """
    attempt.status = status
    attempt.ended_at = attempt.ended_at or now
    attempt.detail = detail or attempt.detail
    ticket = session.get(Ticket, attempt.ticket_id)
    if ticket is None or ticket.status is not TicketStatus.REVIEWED:
        return False
    if attempt.try_no >= settings.tries:
        ticket.followup_handover_at = now
        log.info("ticket %s: no answer after %s tries, to 人工回访", ticket.id, attempt.try_no)
        return True
    hours = CallHours.parse(settings.call_hours)
    at = hours.next_open(now + span(settings.retry_after), ctx.policy.calendar.tz)
    session.add(
        new_try(ticket.id, attempt.try_no + 1, attempt.channel, attempt.phone, at=at, now=now)
    )
    return False


def announce(
    uow: UnitOfWork, ctx: DispatchContext, ticket_ids: list[int], event: str = "followup_handover"
) -> None:
    """Once committed, tell the hotline's pages (回访) that these tickets' follow-up moved:
    handed over to people, or put back into automated tries."""

    def send() -> None:
        for ticket_id in ticket_ids:
            payload = {"v": 1, "ticket_id": ticket_id, "event": event}
            try:
                ctx.publish("ticket.changed", payload, ["hotline"])
            except Exception:  # noqa: BLE001 - committed; a lost push is not an error
                log.exception("could not push %s of ticket %s", event, ticket_id)

    if ticket_ids:
        uow.after_commit(send)


def record_survey_event(
    uow: UnitOfWork,
    ctx: DispatchContext,
    settings: FollowUpSettings,
    event: Mapping[str, Any],
) -> None:
    """Take a survey process's report: "calling" when it dials, "result" when it is over.

    A complete answer becomes the ticket's follow-up (and closes it when solved and
    satisfied, if `auto_close`); anything else fails the try.
    """
    now = ctx.utcnow()
    attempt_id = int(event["attempt_id"])
    with uow:
        session = uow.session
        attempt = session.get(FollowUpAttempt, attempt_id, with_for_update=True)
        if attempt is None or attempt.status not in OPEN:
            log.info("survey event for settled or unknown try %s ignored", attempt_id)
            return
        attempt.worker = str(event.get("worker") or "")[:64] or attempt.worker
        if event.get("type") == "calling":
            attempt.status = CALLING
            attempt.started_at = _when(event.get("at")) or now
            uow.commit()
            return
        attempt.sip_status = event.get("sip_status")
        attempt.answered_at = _when(event.get("answered_at"))
        attempt.ended_at = _when(event.get("ended_at")) or now
        attempt.answers = {str(k): str(v) for k, v in dict(event.get("answers") or {}).items()}
        outcome = str(event.get("outcome") or "failed")
        solved, satisfaction = answers_meaning(attempt.answers)
        if outcome != ANSWERED or solved is None or satisfaction is None:
            status = (
                outcome if outcome in FAILED else "hung_up" if outcome == ANSWERED else "failed"
            )
            detail = str(event.get("detail", ""))
            if _finish_failed(session, ctx, settings, attempt, status, now, detail):
                announce(uow, ctx, [attempt.ticket_id])
            uow.commit()
            return
        attempt.status = ANSWERED
        attempt.detail = str(event.get("detail") or "")
        ticket_id, try_no = attempt.ticket_id, attempt.try_no
        uow.commit()
    _apply_answers(uow, ctx, settings, ticket_id, try_no, solved, satisfaction, VOICE)


def record_sms_reply(
    uow: UnitOfWork,
    ctx: DispatchContext,
    settings: FollowUpSettings,
    phone: str,
    text: str,
) -> dict[str, Any]:
    """Take a citizen's SMS reply to the survey message; say what became of it.

    Returns {"matched": bool, "attempt_id", "ticket_id", "accepted": bool}: unmatched when
    no SMS survey is waiting for that number, not accepted when the text is not an answer
    (the survey keeps waiting; the citizen may reply again).
    """
    answers = parse_sms_reply(text)
    with uow:
        session = uow.session
        attempt = session.scalars(
            sa.select(FollowUpAttempt)
            .where(
                FollowUpAttempt.channel == SMS,
                FollowUpAttempt.status == QUEUED,
                FollowUpAttempt.phone == national(phone),
            )
            .order_by(FollowUpAttempt.queued_at.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if attempt is None:
            return {"matched": False, "attempt_id": None, "ticket_id": None, "accepted": False}
        view = {"matched": True, "attempt_id": attempt.id, "ticket_id": attempt.ticket_id}
        try_no = attempt.try_no
        if answers is None:
            return view | {"accepted": False}
        attempt.status = ANSWERED
        attempt.answers = answers
        attempt.answered_at = attempt.ended_at = ctx.utcnow()
        attempt.detail = f"短信回复：{text.strip()[:100]}"
        uow.commit()
    solved, satisfaction = answers_meaning(answers)
    assert solved is not None and satisfaction is not None  # parse_sms_reply checked
    _apply_answers(uow, ctx, settings, view["ticket_id"], try_no, solved, satisfaction, SMS)
    return view | {"accepted": True}


def _apply_answers(
    uow: UnitOfWork,
    ctx: DispatchContext,
    settings: FollowUpSettings,
    ticket_id: int,
    try_no: int,
    solved: bool,
    satisfaction: Satisfaction,
    channel: str,
) -> None:
    how = "语音" if channel == VOICE else "短信"
    note = f"自动回访（{how}，第{try_no}次尝试）"
    cmd = c.FollowUp(reached=True, solved=solved, satisfaction=satisfaction, note=note)
    try:
        perform_action(uow, ctx, FOLLOW_UP_ACTOR, ticket_id, Action.FOLLOW_UP, cmd)
    except DomainError as exc:
        # A person followed the ticket up (or reopened it) meanwhile: theirs stands.
        log.info("automated follow-up of ticket %s not recorded: %s", ticket_id, exc.message)
        return
    if settings.auto_close and solved and satisfaction in SATISFIED_LEVELS:
        close = c.Close(note="自动回访：问题已解决，诉求人满意")
        try:
            perform_action(uow, ctx, CLOSE_ACTOR, ticket_id, Action.CLOSE, close)
        except DomainError as exc:
            log.info("ticket %s not closed after its follow-up: %s", ticket_id, exc.message)


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def attempts_view(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """A ticket's follow-up tries, oldest first (for the ticket page and the queue)."""
    rows = session.scalars(
        sa.select(FollowUpAttempt)
        .where(FollowUpAttempt.ticket_id == ticket_id)
        .order_by(FollowUpAttempt.id)
    ).all()
    return [
        {
            "id": a.id,
            "try_no": a.try_no,
            "channel": a.channel,
            "status": a.status,
            "status_label": STATUS_LABELS.get(a.status, a.status),
            "scheduled_at": a.scheduled_at.isoformat(),
            "started_at": a.started_at.isoformat() if a.started_at else None,
            "ended_at": a.ended_at.isoformat() if a.ended_at else None,
            "sip_status": a.sip_status,
            "answers": a.answers,
            "detail": a.detail,
        }
        for a in rows
    ]
