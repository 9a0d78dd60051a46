"""What each lifecycle action does to a locked ticket: the handlers behind `perform_action`.

A handler checks its action's guards and changes the ticket; `record_event` writes the
event row of the change. They run inside the caller's transaction and commit nothing.
"""

import datetime as dt
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload

from dispatch.tickets import commands as c
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.context import id_from_number
from dispatch.tickets.domain import STATUS_LABELS
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import AssignmentRole
from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Assignment
from dispatch.tickets.models import Attachment
from dispatch.tickets.models import ExtensionRequest
from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from infra.models import Unit
from kernel.actor import Actor
from kernel.errors import NotFound
from kernel.errors import RuleViolation
from kernel.errors import ValidationError
from kernel.worktime import Deadline
from kernel.worktime import Duration
from kernel.worktime import DurationUnit

E = TicketEvent
S = TicketStatus

Handler = Callable[["Step"], None]


@dataclass(slots=True)
class Step:
    """What one action handler works with."""

    session: Session
    ctx: DispatchContext
    actor: Actor
    ticket: Ticket
    cmd: Any
    now: dt.datetime
    event: TicketEvent
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    unit_id: int | None = None


def load_for_update(session: Session, ticket_id: int) -> Ticket:
    # Lock the ticket row and load everything the handlers and the returned view touch: the
    # two small collections joined into the locking SELECT, the event history in one more.
    ticket = (
        session.execute(
            sa.select(Ticket)
            .where(Ticket.id == ticket_id)
            .with_for_update(of=Ticket)
            .options(
                joinedload(Ticket.assignments),
                joinedload(Ticket.extensions),
                selectinload(Ticket.events),
                selectinload(Ticket.attachments),
            )
        )
        .unique()
        .scalar_one_or_none()
    )
    if ticket is None:
        raise NotFound("工单不存在", {"ticket_id": ticket_id})
    return ticket


def _deadline_fields(ticket: Ticket, prefix: str, deadline: Deadline | None) -> None:
    setattr(ticket, f"{prefix}_due_at", deadline.due if deadline else None)
    setattr(ticket, f"{prefix}_warn_at", deadline.warn_at if deadline else None)


def _start_clocks(step: Step, *, sign: bool = True, reply: bool = True) -> None:
    t, policy = step.ticket, step.ctx.policy
    sign_len, reply_len = policy.durations(t.request_type, t.urgency)
    share = policy.settings.warning_share
    t.dispatched_at = step.now
    if sign:
        _deadline_fields(t, "sign", policy.calendar.deadline(step.now, sign_len, share))
        t.signed_at = None
    if reply:
        t.reply_started_at = step.now
        _deadline_fields(t, "reply", policy.calendar.deadline(step.now, reply_len, share))
        t.replied_at = None
        # 响应: contact the citizen within sla.contact_within, and never after the reply is due.
        contact = policy.calendar.deadline(step.now, policy.contact_within, share)
        t.contact_due_at = min(contact.due, t.reply_due_at) if t.reply_due_at else contact.due
        t.contacted_at = None
    # The deadlines of the round this starts go on its event: the KPIs are read from the
    # events alone (reports.kpis), and a later round replaces these columns.
    step.data.update(
        {
            name: value.astimezone(dt.UTC).isoformat() if value else None
            for name, value in (
                ("sign_due_at", t.sign_due_at),
                ("reply_due_at", t.reply_due_at),
                ("contact_due_at", t.contact_due_at),
            )
        }
    )


def _assign(step: Step, lead_unit_id: int, assist_unit_ids: Iterable[int]) -> None:
    assists = list(dict.fromkeys(assist_unit_ids))
    if lead_unit_id in assists:
        raise ValidationError({"assist_unit_ids": "协办单位不能与主办单位相同"})
    wanted = [lead_unit_id, *assists]
    found = {u.id: u for u in step.session.scalars(sa.select(Unit).where(Unit.id.in_(wanted)))}
    errors = {}
    if lead_unit_id not in found or not found[lead_unit_id].active:
        errors["lead_unit_id"] = "单位不存在"
    missing = [u for u in assists if u not in found or not found[u].active]
    if missing:
        errors["assist_unit_ids"] = f"单位不存在：{missing}"
    if errors:
        raise ValidationError(errors, "派单单位有误")
    for a in step.ticket.assignments:
        if a.active:
            a.active = False
            a.ended_at = step.now
    step.ticket.assignments.append(
        Assignment(unit_id=lead_unit_id, role=AssignmentRole.LEAD, assigned_at=step.now)
    )
    for unit_id in assists:
        step.ticket.assignments.append(
            Assignment(unit_id=unit_id, role=AssignmentRole.ASSIST, assigned_at=step.now)
        )
    step.ticket.lead_unit_id = lead_unit_id
    step.ticket.lead_unit_count += 1
    step.unit_id = lead_unit_id
    step.data.update(lead_unit_id=lead_unit_id, assist_unit_ids=assists)


def _lead_assignment(ticket: Ticket) -> Assignment:
    for a in ticket.assignments:
        if a.active and a.role is AssignmentRole.LEAD:
            return a
    raise RuleViolation("工单没有主办单位", {"ticket_id": ticket.id})


def _resolve_directly(step: Step) -> None:
    cmd: c.ResolveDirectly = step.cmd
    step.ticket.resolution = cmd.answer
    step.ticket.resolved_at = step.now
    step.reason = cmd.answer


def _dispatch(step: Step) -> None:
    cmd: c.DispatchTo = step.cmd
    _assign(step, cmd.lead_unit_id, cmd.assist_unit_ids)
    _start_clocks(step)
    step.reason = cmd.note or None


def _sign(step: Step) -> None:
    step.ticket.signed_at = step.now
    step.reason = step.cmd.note or None


def _return(step: Step) -> None:
    cmd: c.Return = step.cmd
    lead = _lead_assignment(step.ticket)
    if lead.upheld:
        raise RuleViolation("热线已审定由本单位办理，不能再次退回", {"ticket_id": step.ticket.id})
    cal = step.ctx.policy.calendar
    limit = cal.add(lead.assigned_at, step.ctx.policy.return_window)
    if step.now > limit:
        raise RuleViolation(
            f"已超过退回时限（派单后{step.ctx.policy.return_window.amount}个工作日内）",
            {"return_deadline": limit.isoformat()},
        )
    step.reason = cmd.reason
    step.data["reason_code"] = cmd.reason_code.value


def _reassign(step: Step) -> None:
    cmd: c.Reassign = step.cmd
    if cmd.lead_unit_id == step.ticket.lead_unit_id:
        raise ValidationError({"lead_unit_id": "改派单位不能与原主办单位相同"})
    step.data["from_unit_id"] = step.ticket.lead_unit_id
    _assign(step, cmd.lead_unit_id, cmd.assist_unit_ids)
    _start_clocks(step)
    step.reason = cmd.note or None


def _uphold(step: Step) -> None:
    cmd: c.Uphold = step.cmd
    lead = _lead_assignment(step.ticket)
    lead.upheld = True
    # The unit must sign again, on a fresh sign-for clock; its reply clock keeps running.
    sign_len, _ = step.ctx.policy.durations(step.ticket.request_type, step.ticket.urgency)
    policy = step.ctx.policy
    _deadline_fields(
        step.ticket,
        "sign",
        policy.calendar.deadline(step.now, sign_len, policy.settings.warning_share),
    )
    step.ticket.signed_at = None
    step.reason = cmd.note
    step.unit_id = lead.unit_id
    due = step.ticket.sign_due_at
    step.data["sign_due_at"] = due.astimezone(dt.UTC).isoformat() if due else None


def _extend(step: Step) -> None:
    cmd: c.Extend = step.cmd
    t = step.ticket
    if t.extensions:
        raise RuleViolation("每张工单只能申请一次延期", {"ticket_id": t.id})
    limit = step.ctx.policy.max_extension_days
    if cmd.days > limit:
        raise ValidationError({"days": f"延期不能超过{limit}个工作日"})
    if t.reply_due_at is not None and step.now > t.reply_due_at:
        raise RuleViolation(
            "工单已超期，不能再申请延期", {"reply_due_at": t.reply_due_at.isoformat()}
        )
    t.extensions.append(
        ExtensionRequest(
            unit_id=step.actor.unit_id or 0,
            requested_by_id=step.actor.user_id,
            days=cmd.days,
            reason=cmd.reason,
            requested_at=step.now,
        )
    )
    step.reason = cmd.reason
    step.data["days"] = cmd.days


def _decide_extension(step: Step) -> None:
    cmd: c.DecideExtension = step.cmd
    t = step.ticket
    pending = [x for x in t.extensions if x.approved is None]
    if not pending:
        raise RuleViolation("没有待审批的延期申请", {"ticket_id": t.id})
    request = pending[0]
    request.approved = cmd.approve
    request.decided_by_id = step.actor.user_id
    request.decided_at = step.now
    request.decision_note = cmd.note or None
    step.data.update(extension_id=request.id, days=request.days, approved=cmd.approve)
    step.reason = cmd.note or None
    if cmd.approve and t.reply_due_at is not None and t.reply_started_at is not None:
        cal = step.ctx.policy.calendar
        due = cal.add(t.reply_due_at, Duration(request.days, DurationUnit.WORK_DAYS))
        total = cal.working_seconds_between(t.reply_started_at, due)
        t.reply_due_at = due
        t.reply_warn_at = cal.add_working_seconds(
            t.reply_started_at, total * step.ctx.policy.settings.warning_share
        )
        t.extended_days += request.days
        step.data["reply_due_at"] = due.astimezone(dt.UTC).isoformat()


def _reply(step: Step) -> None:
    cmd: c.Reply = step.cmd
    t = step.ticket
    if cmd.contacted_at is not None:
        if cmd.contacted_at.tzinfo is None:
            raise ValidationError(
                {"contacted_at": "时间必须带时区，例如 2026-11-20T10:00:00+08:00"}
            )
        # The form states minutes: the minute of the dispatch itself means just after it.
        dispatched = t.dispatched_at
        floor = dispatched.replace(second=0, microsecond=0) if dispatched else None
        if cmd.contacted_at > step.now or (floor and cmd.contacted_at < floor):
            raise ValidationError({"contacted_at": "联系时间必须在派单之后、回复之前"})
    # 响应: the unit's contact is the time it states or, when it states none, this reply (a
    # reply that reaches the citizen is at the latest the contact); the round's earliest
    # counts. The event keeps what was stated (None: nothing) and the round's deadline.
    stated = cmd.contacted_at.astimezone(dt.UTC) if cmd.contacted_at is not None else None
    if stated is not None and t.dispatched_at is not None:
        stated = max(stated, t.dispatched_at.astimezone(dt.UTC))
    contact = stated or step.now
    t.contacted_at = min(t.contacted_at, contact) if t.contacted_at else contact
    step.data["contacted_at"] = stated.isoformat() if stated else None
    step.data["contact_due_at"] = (
        t.contact_due_at.astimezone(dt.UTC).isoformat() if t.contact_due_at else None
    )
    if cmd.attachment_ids:
        known = set(
            step.session.scalars(
                sa.select(Attachment.id).where(
                    Attachment.ticket_id == t.id, Attachment.id.in_(cmd.attachment_ids)
                )
            )
        )
        missing = [i for i in cmd.attachment_ids if i not in known]
        if missing:
            raise ValidationError({"attachment_ids": f"附件不属于该工单：{missing}"})
        step.data["attachment_ids"] = list(cmd.attachment_ids)
    t.replied_at = step.now
    t.reply_text = cmd.text
    step.reason = cmd.text


def _review(step: Step) -> None:
    cmd: c.Review = step.cmd
    if cmd.approve:
        step.ticket.reviewed_at = step.now
    else:
        # The reply was not good enough: it no longer counts as a reply.
        step.ticket.replied_at = None
    step.reason = cmd.note or None


def _follow_up(step: Step) -> None:
    cmd: c.FollowUp = step.cmd
    t = step.ticket
    t.followed_up_at = step.now
    t.follow_up_reached = cmd.reached
    t.follow_up_solved = cmd.solved if cmd.reached else None
    t.follow_up_satisfaction = cmd.satisfaction if cmd.reached else None
    t.follow_up_note = cmd.note or None
    step.reason = cmd.note or None
    step.data.update(
        reached=cmd.reached,
        solved=t.follow_up_solved,
        satisfaction=t.follow_up_satisfaction.value if t.follow_up_satisfaction else None,
    )


def _close(step: Step) -> None:
    cmd: c.Close = step.cmd
    if step.ticket.status is S.REVIEWED and not cmd.note:
        raise ValidationError({"note": "未回访直接办结时必须说明原因"})
    step.ticket.closed_at = step.now
    step.reason = cmd.note or None


def _reopen(step: Step) -> None:
    cmd: c.Reopen = step.cmd
    t = step.ticket
    t.reopen_count += 1
    if cmd.lead_unit_id is not None and cmd.lead_unit_id != t.lead_unit_id:
        _assign(step, cmd.lead_unit_id, [])
    else:
        lead = _lead_assignment(t)
        step.unit_id = lead.unit_id
    # The reply deadline in force of the round this ends: the KPIs find a round due in a
    # period, once a reopening has replaced the ticket's clocks, by this.
    ended = t.reply_due_at
    step.data["ended_reply_due_at"] = ended.astimezone(dt.UTC).isoformat() if ended else None
    # A reopened ticket starts a fresh round: new clocks, the last round's outcome cleared
    # (it stays in the event rows).
    _start_clocks(step)
    t.reviewed_at = t.followed_up_at = t.closed_at = None
    t.follow_up_reached = t.follow_up_solved = None
    t.follow_up_satisfaction = None
    t.followup_handover_at = None  # a new round of follow-up tries
    step.reason = cmd.reason
    step.data["reopen_count"] = t.reopen_count


def _remind(step: Step) -> None:
    step.ticket.remind_count += 1
    step.reason = step.cmd.note or None


def _supervise(step: Step) -> None:
    step.ticket.supervised_at = step.now
    step.reason = step.cmd.note or None


def _merge(step: Step) -> None:
    cmd: c.Merge = step.cmd
    t = step.ticket
    number = (cmd.master_number or "").upper()
    field_name = "master_number" if number else "master_id"
    master_id = id_from_number(number) if number else cmd.master_id
    if master_id == t.id:
        raise ValidationError({field_name: "不能合并到自身"})
    if master_id is None or master_id < 1:
        raise ValidationError({field_name: "没有这个工单号"}, "合并目标不存在")
    try:
        master = load_for_update(step.session, master_id)
    except NotFound:
        if not number:
            raise
        raise ValidationError({field_name: "没有这个工单号"}, "合并目标不存在") from None
    if number and step.ctx.ticket_number(master) != number:
        # the id inside a number alone must not find a ticket: the whole number must match
        raise ValidationError({field_name: "没有这个工单号"}, "合并目标不存在")
    if master.status in (S.MERGED, S.RESOLVED):
        raise RuleViolation(
            f"主工单状态为「{STATUS_LABELS[master.status]}」，不能作为合并目标",
            {"master_id": master.id},
        )
    for a in t.assignments:
        if a.active:
            a.active = False
            a.ended_at = step.now
    t.merged_into_id = master.id
    step.reason = cmd.note or None
    step.data["master_id"] = master.id
    master.updated_at = step.now
    record_event(
        step.session,
        master,
        step.actor,
        E.MERGE,
        master.status,
        master.status,
        step.now,
        reason=cmd.note or None,
        data={"merged_ticket_id": t.id},
    )


HANDLERS: dict[Action, Handler] = {
    Action.RESOLVE_DIRECTLY: _resolve_directly,
    Action.DISPATCH: _dispatch,
    Action.SIGN: _sign,
    Action.RETURN: _return,
    Action.REASSIGN: _reassign,
    Action.UPHOLD: _uphold,
    Action.EXTEND: _extend,
    Action.DECIDE_EXTENSION: _decide_extension,
    Action.REPLY: _reply,
    Action.REVIEW: _review,
    Action.FOLLOW_UP: _follow_up,
    Action.CLOSE: _close,
    Action.REOPEN: _reopen,
    Action.REMIND: _remind,
    Action.SUPERVISE: _supervise,
    Action.MERGE: _merge,
}


def record_event(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    event: TicketEvent,
    from_status: TicketStatus | None,
    to_status: TicketStatus,
    at: dt.datetime,
    *,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    unit_id: int | None = None,
) -> None:
    ticket.events.append(
        TicketEventRecord(
            event=event,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor.user_id,
            actor_role=actor.role.value,
            unit_id=unit_id,
            at=at,
            reason=reason,
            data=data or {},
        )
    )
