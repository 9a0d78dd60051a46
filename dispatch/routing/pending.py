"""待派单: tickets accepted but not given to any unit yet, wherever they came from.

A ticket stays 已受理 when the operator chose 仅受理, when smart dispatch was not sure enough
(from the console, the public form or Open311), or when routing was down. Nobody's name is on
it then: this list puts it in front of the team leads, oldest first, with the router's
suggestion, so that one click sends it. It shows no caller identity (nothing to audit).
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa

from dispatch.routing.assist import Assistant
from dispatch.routing.router import Draft
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import CHANNEL_LABELS
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from infra.db import UnitOfWork
from kernel.actor import Actor
from kernel.errors import PermissionDenied
from kernel.roles import HOTLINE_ROLES

# The most tickets the list shows at once (the count says how many wait in all).
MAX_ROWS = 200


def _check(actor: Actor) -> None:
    if actor.role not in HOTLINE_ROLES:
        raise PermissionDenied("只有热线工作人员可以查看待派单", {"role": actor.role.value})


def _waiting() -> sa.ColumnElement[bool]:
    return Ticket.status == TicketStatus.ACCEPTED


def count_pending(uow: UnitOfWork, actor: Actor) -> int:
    """How many tickets wait for a unit (the nav's live count)."""
    _check(actor)
    with uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).where(_waiting())) or 0)


def list_pending(
    uow: UnitOfWork,
    ctx: DispatchContext,
    assistant: Assistant,
    actor: Actor,
    limit: int = MAX_ROWS,
) -> dict[str, Any]:
    """The tickets waiting for a unit, oldest first, each with the unit routing suggests.

    :raises PermissionDenied: the actor is not hotline staff.
    """
    _check(actor)
    now = ctx.utcnow()
    with uow:
        session = uow.session
        total = int(session.scalar(sa.select(sa.func.count()).where(_waiting())) or 0)
        rows = session.scalars(
            sa.select(Ticket).where(_waiting()).order_by(Ticket.created_at, Ticket.id).limit(limit)
        ).all()
        items = [(_item(ctx, t, now), _draft(t)) for t in rows]
    # Routing reads its model through its own session: ask it after this transaction ends
    # (on SQLite a second writer would wait for this one).
    for item, draft in items:
        item["suggestion"] = _suggestion(assistant, draft)
    return {"items": [item for item, _ in items], "total": total}


def _item(ctx: DispatchContext, t: Ticket, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": t.id,
        "number": ctx.ticket_number(t),
        "title": t.title,
        "channel": t.channel.value,
        "channel_label": CHANNEL_LABELS[t.channel],
        "request_type": t.request_type.value,
        "urgency": t.urgency.value,
        "created_at": t.created_at.isoformat(),
        "waiting_minutes": max(0, int((now - t.created_at).total_seconds() // 60)),
    }


def _draft(t: Ticket) -> Draft:
    return Draft(
        title=t.title,
        content=t.content,
        address=t.address,
        caller_phone=None,
        district_id=t.district_id,
        street_id=t.street_id,
        community_id=t.community_id,
    )


def _suggestion(assistant: Assistant, draft: Draft) -> dict[str, Any] | None:
    """The router's top unit for the ticket as it stands (None when it cannot say)."""
    try:
        top = assistant.router.suggest(draft).top
    except Exception:  # noqa: BLE001 - advice only; the row still lists the ticket
        return None
    if top is None or top.unit_id is None:
        return None
    return {"unit_id": top.unit_id, "name": top.name, "confidence": top.confidence}
