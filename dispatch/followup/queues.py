"""The people's side of automated follow-up (回访): the queues, a ticket's tries, retry.

`dispatch.followup.survey` moves tries along by itself; this module is what operators and leads
read and do: the human follow-up queue (人工回访: tickets handed over after the tries ran
out, or with no number to call), the tickets still in automated follow-up (自动回访), a
ticket's tries, and putting a handed-over ticket back into automated follow-up.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.followup.models import FollowUpAttempt
from dispatch.followup.survey import OPEN
from dispatch.followup.survey import SCHEDULED
from dispatch.followup.survey import SMS
from dispatch.followup.survey import VOICE
from dispatch.followup.survey import announce
from dispatch.followup.survey import answers_meaning
from dispatch.followup.survey import attempts_view
from dispatch.followup.survey import new_try
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import SATISFACTION_LABELS
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from dispatch.tickets.reads import check_can_read
from infra.audit import audit_act
from infra.db import UnitOfWork
from infra.models import Unit
from kernel.actor import Actor
from kernel.errors import Conflict
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES

log = logging.getLogger(__name__)

MANUAL = "manual"  # 人工回访: handed over to people
AUTO = "auto"  # 自动回访: automated tries in progress (or about to start)
ALL = "all"
QUEUES: Final = (MANUAL, AUTO, ALL)

CHANNEL_LABELS: Final[Mapping[str, str]] = {VOICE: "语音", SMS: "短信"}


@dataclass(frozen=True, slots=True)
class QueueQuery:
    queue: str = MANUAL
    page: int = 1
    page_size: int = 20


def answers_label(answers: Mapping[str, Any] | None) -> str:
    """What the keys pressed (or the SMS reply) mean, e.g. "已解决 / 满意"; "" when none."""
    if not answers:
        return ""
    solved, satisfaction = answers_meaning(answers)
    parts = [
        "" if solved is None else ("已解决" if solved else "未解决"),
        SATISFACTION_LABELS[satisfaction] if satisfaction else "",
    ]
    return " / ".join(p for p in parts if p)


def _tries(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    rows = attempts_view(session, ticket_id)
    for row in rows:
        row["channel_label"] = CHANNEL_LABELS.get(row["channel"], row["channel"])
        row["answers_label"] = answers_label(row["answers"])
    return rows


def _summary(tries: list[dict[str, Any]]) -> dict[str, Any]:
    last = tries[-1] if tries else None
    finished = [t for t in tries if t["status"] not in OPEN]
    outcome = finished[-1] if finished else None
    upcoming = [t["scheduled_at"] for t in tries if t["status"] == SCHEDULED]
    return {
        "count": len(tries),
        "last_status": last["status"] if last else None,
        "last_status_label": last["status_label"] if last else None,
        # the latest try that ended: what happened last time
        "last_outcome": outcome["status"] if outcome else None,
        "last_outcome_label": outcome["status_label"] if outcome else None,
        "last_answers_label": outcome["answers_label"] if outcome else "",
        "next_scheduled_at": min(upcoming) if upcoming else None,
    }


def _counts(session: Session) -> dict[str, int]:
    manual = sa.case((Ticket.followup_handover_at.is_not(None), 1), else_=0)
    total, handed = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(manual), 0)).where(
            Ticket.status == TicketStatus.REVIEWED
        )
    ).one()
    return {MANUAL: int(handed), AUTO: int(total) - int(handed), ALL: int(total)}


def list_queue(
    uow: UnitOfWork, ctx: DispatchContext, actor: Actor, query: QueueQuery
) -> dict[str, Any]:
    """One page of tickets waiting for follow-up (待回访), with their tries and the counts.

    `manual`: handed over to people, longest waiting first; `auto`: automated tries in
    progress, next try first; `all`: both, oldest review first. The hotline sees the number
    to call, and that view is audited.

    :raises PermissionDenied: anyone but the hotline's operators, leads, supervisors, admins.
    """
    if actor.role not in HOTLINE_ROLES:
        raise PermissionDenied("当前角色无权查看回访队列", {"role": actor.role.value})
    if query.queue not in QUEUES:
        raise ValueError(query.queue)
    with uow:
        session = uow.session
        select = sa.select(Ticket).where(Ticket.status == TicketStatus.REVIEWED)
        if query.queue == MANUAL:
            select = select.where(Ticket.followup_handover_at.is_not(None)).order_by(
                Ticket.followup_handover_at, Ticket.id
            )
        elif query.queue == AUTO:
            next_try = (
                sa.select(sa.func.min(FollowUpAttempt.scheduled_at))
                .where(FollowUpAttempt.ticket_id == Ticket.id, FollowUpAttempt.status.in_(OPEN))
                .correlate(Ticket)
                .scalar_subquery()
            )
            select = select.where(Ticket.followup_handover_at.is_(None)).order_by(
                sa.func.coalesce(next_try, Ticket.reviewed_at), Ticket.id
            )
        else:
            select = select.order_by(Ticket.reviewed_at, Ticket.id)
        page = session.scalars(
            select.limit(query.page_size).offset((query.page - 1) * query.page_size)
        ).all()
        unit_ids = {t.lead_unit_id for t in page if t.lead_unit_id}
        units: dict[int, str] = (
            {
                uid: name
                for uid, name in session.execute(
                    sa.select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids))
                )
            }
            if unit_ids
            else {}
        )
        items = []
        for t in page:
            tries = _tries(session, t.id)
            items.append(
                {
                    "id": t.id,
                    "number": ctx.ticket_number(t),
                    "title": t.title,
                    "lead_unit": {"id": t.lead_unit_id, "name": units.get(t.lead_unit_id)}
                    if t.lead_unit_id
                    else None,
                    "reviewed_at": t.reviewed_at.isoformat() if t.reviewed_at else None,
                    "handed_over_at": t.followup_handover_at.isoformat()
                    if t.followup_handover_at
                    else None,
                    "phone": t.contact_phone or t.caller_phone,
                    "tries": _summary(tries),
                    "attempts": tries,
                }
            )
        shown = [item["id"] for item in items if item["phone"]]
        if shown:
            audit_act(session, actor, "list_personal_data", None, {"ticket_ids": shown})
        counts = _counts(session)
        uow.commit()
    return {
        "queue": query.queue,
        "items": items,
        "total": counts[query.queue],
        "page": query.page,
        "page_size": query.page_size,
        "counts": counts,
    }


def ticket_tries(
    uow: UnitOfWork, ctx: DispatchContext, actor: Actor, ticket_id: int, *, with_phone: bool = True
) -> dict[str, Any]:
    """A ticket's follow-up tries for whoever may read the ticket.

    The hotline sees the number each try called (audited) when `with_phone`; units and
    leaders see the tries without it.

    :raises NotFound: no such ticket.
    :raises PermissionDenied: a liaison whose unit has no part in the ticket.
    """
    with uow:
        session = uow.session
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("工单不存在", {"ticket_id": ticket_id})
        check_can_read(actor, ticket)
        tries = _tries(session, ticket_id)
        if with_phone and actor.role in HOTLINE_ROLES and tries:
            phones = dict(
                session.execute(
                    sa.select(FollowUpAttempt.id, FollowUpAttempt.phone).where(
                        FollowUpAttempt.ticket_id == ticket_id
                    )
                ).all()
            )
            for row in tries:
                row["phone"] = phones.get(row["id"], "")
            if any(row["phone"] for row in tries):
                audit_act(session, actor, "view_personal_data", ticket_id, {"via": "followups"})
        view = {
            "ticket_id": ticket.id,
            "number": ctx.ticket_number(ticket),
            "status": ticket.status.value,
            "waiting": ticket.status is TicketStatus.REVIEWED,
            "handed_over_at": ticket.followup_handover_at.isoformat()
            if ticket.followup_handover_at
            else None,
            "items": tries,
        }
        uow.commit()
    return view


def retry(
    uow: UnitOfWork,
    ctx: DispatchContext,
    actor: Actor,
    ticket_id: int,
    *,
    channel: str = VOICE,
) -> dict[str, Any]:
    """Put a handed-over ticket back into automated follow-up: a fresh round from try 1.

    The hand-over mark is cleared and try 1 of the new round is scheduled now; the next
    sweep hands it to the channel (within call hours). The sweep alone would not start a
    new round: it starts one only for tickets without tries since their review.

    :raises PermissionDenied: not a team lead, supervisor or admin.
    :raises NotFound: no such ticket.
    :raises Conflict: the ticket is not waiting for follow-up, is already in automated
        follow-up, or has no number to call.
    """
    if actor.role not in SUPERVISE_ROLES:
        raise PermissionDenied("只有班长、督办和管理员可以重新发起自动回访", {})
    now = ctx.utcnow()
    with uow:
        session = uow.session
        ticket = session.get(Ticket, ticket_id, with_for_update=True)
        if ticket is None:
            raise NotFound("工单不存在", {"ticket_id": ticket_id})
        if ticket.status is not TicketStatus.REVIEWED:
            raise Conflict("工单不在待回访状态", {"status": ticket.status.value})
        if ticket.followup_handover_at is None:
            raise Conflict("工单正在自动回访中", {"ticket_id": ticket_id})
        phone = ticket.contact_phone or ticket.caller_phone
        if not phone:
            raise Conflict("工单没有联系电话，只能人工回访", {"ticket_id": ticket_id})
        ticket.followup_handover_at = None
        attempt = new_try(
            ticket.id, 1, channel, phone, at=now, now=now,
            detail=f"{actor.name or '班长'}重新发起自动回访",
        )  # fmt: skip
        session.add(attempt)
        audit_act(session, actor, "followup_retry", ticket_id, {"channel": channel})
        session.flush()
        view = {"ticket_id": ticket.id, "attempt_id": attempt.id, "scheduled_at": now.isoformat()}
        announce(uow, ctx, [ticket.id], "followup_retry")
        uow.commit()
    return view
