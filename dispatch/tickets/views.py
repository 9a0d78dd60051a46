"""How a ticket reads to an actor: list and detail views, masked where the rules say so.

Also what a unit will read of a ticket or a draft once dispatched (单位看到的内容).
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.tickets.context import LIVE_CLOCK_STATUSES
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.context import NameCache
from dispatch.tickets.context import active_unit_ids
from dispatch.tickets.domain import STATUS_LABELS
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import AssignmentRole
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.domain import allowed_actions
from dispatch.tickets.models import Ticket
from infra.audit import audit_act
from infra.models import Unit
from kernel.actor import Actor
from kernel.masking import identity_visible
from kernel.masking import mask_free_text
from kernel.masking import mask_name
from kernel.masking import mask_phone
from kernel.roles import HOTLINE_ROLES
from kernel.roles import Role
from kernel.worktime import Deadline
from kernel.worktime import Light
from kernel.worktime import light

S = TicketStatus


def unit_names(session: Session, ids: set[int], cache: NameCache | None = None) -> dict[int, str]:
    """Return the display names of these units, through the cache when given."""
    if not ids:
        return {}

    def fetch(wanted: set[int]) -> dict[int, str]:
        rows = session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(wanted)))
        return {uid: name for uid, name in rows}

    return cache.lookup("unit", ids, fetch) if cache else fetch(ids)


def shows_identity(actor: Actor, t: Ticket) -> bool:
    """Whether this actor sees personal data of the caller on this ticket (what is audited)."""
    has_identity = bool(t.citizen_name or t.caller_phone or t.contact_phone)
    return has_identity and identity_visible(
        actor.role, confidential=t.confidential, disclosure_allowed=t.disclosure_allowed
    )


def _clock_view(
    start: dt.datetime | None,
    due: dt.datetime | None,
    warn_at: dt.datetime | None,
    done_at: dt.datetime | None,
    running: bool,
    now: dt.datetime,
) -> dict[str, Any] | None:
    if start is None or due is None or warn_at is None:
        return None
    deadline = Deadline(start=start, due=due, warn_at=warn_at)
    lit = light(deadline, now, done_at) if (running or done_at) else None
    return {
        "start": start.isoformat(),
        "due": due.isoformat(),
        "warn_at": warn_at.isoformat(),
        "done_at": done_at.isoformat() if done_at else None,
        "light": lit.value if lit else None,
        "running": running,
    }


def overall_light(ticket: Ticket, now: dt.datetime) -> Light | None:
    """Return the worst light of the ticket's running clocks, or None when none runs."""
    lights = []
    if ticket.status is S.DISPATCHED and ticket.sign_due_at and ticket.sign_warn_at:
        lights.append(
            light(
                Deadline(ticket.dispatched_at or now, ticket.sign_due_at, ticket.sign_warn_at), now
            )
        )
    if ticket.status in LIVE_CLOCK_STATUSES and ticket.reply_due_at and ticket.reply_warn_at:
        lights.append(
            light(
                Deadline(ticket.reply_started_at or now, ticket.reply_due_at, ticket.reply_warn_at),
                now,
            )
        )
    order = [Light.GREEN, Light.YELLOW, Light.RED]
    return max(lights, key=order.index) if lights else None


def ticket_view(
    session: Session,
    ctx: DispatchContext,
    actor: Actor,
    t: Ticket,
    *,
    detail: bool = False,
    units: dict[int, str] | None = None,
    audit: bool = True,
) -> dict[str, Any]:
    """Serialise a ticket for this actor: masked identity where the rules say so.

    A viewer who may not see the caller's identity gets it masked in the fields and in the
    free text too (title, content, notes), and on a confidential (保密) ticket no digit of
    the phone and no surname. A detail view that shows identity is audited (`audit`): every
    route that returns one, reads and action answers alike, comes through here.
    """
    now = ctx.utcnow()
    visible = identity_visible(
        actor.role, confidential=t.confidential, disclosure_allowed=t.disclosure_allowed
    )
    full = t.confidential
    text = _text_mask(t, visible)
    if units is None:
        units = unit_names(session, {t.lead_unit_id} if t.lead_unit_id else set(), ctx.names)
    lit = overall_light(t, now)
    view: dict[str, Any] = {
        "id": t.id,
        "number": ctx.ticket_number(t),
        "status": t.status.value,
        "status_label": STATUS_LABELS[t.status],
        "channel": t.channel.value,
        "request_type": t.request_type.value,
        "urgency": t.urgency.value,
        "category": t.category,
        "title": text(t.title),
        "caller_phone": t.caller_phone if visible else mask_phone(t.caller_phone, full=full),
        "citizen_name": t.citizen_name if visible else mask_name(t.citizen_name, full=full),
        "identity_masked": not visible,
        "lead_unit": {"id": t.lead_unit_id, "name": units.get(t.lead_unit_id)}
        if t.lead_unit_id
        else None,
        "light": lit.value if lit else None,
        "reply_due_at": t.reply_due_at.isoformat() if t.reply_due_at else None,
        "problem": t.problem,
        "created_at": t.created_at.isoformat(),
        "updated_at": t.updated_at.isoformat(),
    }
    if not detail:
        return view
    view.update(_detail_fields(session, ctx, t, actor, visible, now))
    # A person looking (not the follow-up sweep or the public form's system actor).
    if audit and actor.user_id is not None and visible and shows_identity(actor, t):
        audit_act(
            session,
            actor,
            "view_personal_data",
            t.id,
            {},
        )
    return view


def _text_mask(t: Ticket, visible: bool) -> Callable[[str | None], str | None]:
    """Return how this viewer reads the ticket's free text: as written, or masked."""
    if visible:
        return lambda value: value
    names = [t.citizen_name]

    def masked(value: str | None) -> str | None:
        return mask_free_text(value, names)

    return masked


def unit_sees(t: Ticket) -> dict[str, Any]:
    """What a unit will read of this ticket's caller and text once dispatched (单位看到的内容).

    The same rules as the ticket view, so the operator's preview cannot drift from it.
    """
    visible = identity_visible(
        Role.LIAISON, confidential=t.confidential, disclosure_allowed=t.disclosure_allowed
    )
    return unit_preview(
        title=t.title,
        content=t.content,
        address=t.address,
        citizen_name=t.citizen_name,
        caller_phone=t.caller_phone,
        contact_phone=t.contact_phone,
        confidential=t.confidential,
        disclosure_allowed=t.disclosure_allowed,
        visible=visible,
    )


def unit_preview(
    *,
    title: str | None,
    content: str | None,
    address: str | None,
    citizen_name: str | None,
    caller_phone: str | None,
    contact_phone: str | None,
    confidential: bool,
    disclosure_allowed: bool,
    visible: bool | None = None,
) -> dict[str, Any]:
    """The caller's fields and the free text as a unit reads them, for a draft or a ticket."""
    if visible is None:
        visible = identity_visible(
            Role.LIAISON, confidential=confidential, disclosure_allowed=disclosure_allowed
        )
    names = [citizen_name]

    def text(value: str | None) -> str | None:
        return value if visible else mask_free_text(value, names)

    def phone(value: str | None) -> str | None:
        return value if visible else mask_phone(value, full=confidential)

    return {
        "identity_masked": not visible,
        "citizen_name": citizen_name if visible else mask_name(citizen_name, full=confidential),
        "caller_phone": phone(caller_phone),
        "contact_phone": phone(contact_phone),
        "title": text(title),
        "content": text(content),
        "address": text(address),
    }


def _detail_fields(
    session: Session, ctx: DispatchContext, t: Ticket, actor: Actor, visible: bool, now: dt.datetime
) -> dict[str, Any]:
    unit_ids = {a.unit_id for a in t.assignments} | {
        u for u in (t.district_id, t.street_id, t.community_id) if u
    }
    unit_ids |= {e.unit_id for e in t.events if e.unit_id}
    unit_ids |= {a.unit_id for a in t.attachments if a.unit_id}
    names = unit_names(session, unit_ids, ctx.names)
    actor_ids = {e.actor_id for e in t.events if e.actor_id}
    actor_ids |= {a.uploaded_by_id for a in t.attachments if a.uploaded_by_id}
    users = _user_names(session, actor_ids, ctx.names)
    text = _text_mask(t, visible)
    return {
        "content": text(t.content),
        "contact_phone": t.contact_phone
        if visible
        else mask_phone(t.contact_phone, full=t.confidential),
        "anonymous": t.anonymous,
        "confidential": t.confidential,
        "disclosure_allowed": t.disclosure_allowed,
        "address": text(t.address),
        "locality": {
            level: {"id": uid, "name": names.get(uid)} if uid else None
            for level, uid in (
                ("district", t.district_id),
                ("street", t.street_id),
                ("community", t.community_id),
            )
        },
        "tags": list(t.tags),
        "resolution": text(t.resolution),
        "reply_text": text(t.reply_text),
        "contacted_at": t.contacted_at.isoformat() if t.contacted_at else None,
        "contact_due_at": t.contact_due_at.isoformat() if t.contact_due_at else None,
        "follow_up": {
            "at": t.followed_up_at.isoformat(),
            "reached": t.follow_up_reached,
            "solved": t.follow_up_solved,
            "satisfaction": t.follow_up_satisfaction.value if t.follow_up_satisfaction else None,
            "note": text(t.follow_up_note),
        }
        if t.followed_up_at
        else None,
        "reopen_count": t.reopen_count,
        "extended_days": t.extended_days,
        "remind_count": t.remind_count,
        "supervised_at": t.supervised_at.isoformat() if t.supervised_at else None,
        "noticed_at": t.noticed_at.isoformat() if t.noticed_at else None,
        "escalated_at": t.escalated_at.isoformat() if t.escalated_at else None,
        "merged_into_id": t.merged_into_id,
        "closed_at": t.closed_at.isoformat() if t.closed_at else None,
        "clocks": _clocks_view(t, now),
        "assignments": _assignments_view(t, names),
        "extensions": _extensions_view(t, text),
        "events": _events_view(t, names, users, text),
        "attachments": _attachments_view(t, names, users, text),
        "allowed_actions": [a.value for a in _allowed_for(actor, t)],
        # The hotline sees, before dispatching, what the unit will read (单位看到的内容).
        "unit_sees": unit_sees(t) if actor.role in HOTLINE_ROLES else None,
    }


def _clocks_view(t: Ticket, now: dt.datetime) -> dict[str, Any]:
    """The sign-for and reply clocks, each with its light."""
    return {
        "sign": _clock_view(
            t.dispatched_at,
            t.sign_due_at,
            t.sign_warn_at,
            t.signed_at,
            t.status is S.DISPATCHED,
            now,
        ),
        "reply": _clock_view(
            t.reply_started_at,
            t.reply_due_at,
            t.reply_warn_at,
            t.replied_at,
            t.status in LIVE_CLOCK_STATUSES,
            now,
        ),
    }


def _assignments_view(t: Ticket, names: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "unit": {"id": a.unit_id, "name": names.get(a.unit_id)},
            "role": a.role.value,
            "active": a.active,
            "upheld": a.upheld,
            "assigned_at": a.assigned_at.isoformat(),
            "ended_at": a.ended_at.isoformat() if a.ended_at else None,
        }
        for a in t.assignments
    ]


def _extensions_view(t: Ticket, text: Callable[[str | None], str | None]) -> list[dict[str, Any]]:
    return [
        {
            "id": x.id,
            "days": x.days,
            "reason": text(x.reason),
            "requested_at": x.requested_at.isoformat(),
            "approved": x.approved,
            "decided_at": x.decided_at.isoformat() if x.decided_at else None,
            "decision_note": text(x.decision_note),
        }
        for x in t.extensions
    ]


def _events_view(
    t: Ticket,
    names: dict[int, str],
    users: dict[int, str],
    text: Callable[[str | None], str | None],
) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "event": e.event.value,
            "from_status": e.from_status.value if e.from_status else None,
            "to_status": e.to_status.value,
            "actor": {"id": e.actor_id, "name": users.get(e.actor_id), "role": e.actor_role}
            if e.actor_id
            else None,
            "unit": {"id": e.unit_id, "name": names.get(e.unit_id)} if e.unit_id else None,
            "at": e.at.isoformat(),
            "reason": text(e.reason),
            "data": e.data,
        }
        for e in t.events
    ]


def _attachments_view(
    t: Ticket,
    names: dict[int, str],
    users: dict[int, str],
    text: Callable[[str | None], str | None],
) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "filename": text(a.filename),
            "content_type": a.content_type,
            "size": a.size,
            "unit": {"id": a.unit_id, "name": names.get(a.unit_id)} if a.unit_id else None,
            "uploaded_by": users.get(a.uploaded_by_id) if a.uploaded_by_id else None,
            "created_at": a.created_at.isoformat(),
            "url": f"/api/tickets/{t.id}/attachments/{a.id}",
        }
        for a in t.attachments
    ]


def _allowed_for(actor: Actor, t: Ticket) -> list[Action]:
    actions = allowed_actions(t.status, actor.role)
    if actor.role is Role.LIAISON and actor.unit_id not in active_unit_ids(t, AssignmentRole.LEAD):
        return []
    return actions


def _user_names(session: Session, ids: set[int], cache: NameCache) -> dict[int, str]:
    if not ids:
        return {}
    from infra.models import User

    def fetch(wanted: set[int]) -> dict[int, str]:
        rows = session.execute(sa.select(User.id, User.display_name).where(User.id.in_(wanted)))
        return {uid: name for uid, name in rows}

    return cache.lookup("user", ids, fetch)
