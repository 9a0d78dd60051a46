"""Requests from outside the hotline: the public web form and the Open311 API.

Both come in the same way: a citizen's description (and maybe a place, a pin and one photo)
becomes a ticket on its channel, typed and routed by the same router the operators use, and
the citizen gets the ticket number with a private link to follow it. Nothing is half-made:
the photo is checked before anything is written, and the ticket, its first events and the
photo's row are one transaction.
"""

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from pydantic import StringConstraints
from pydantic import model_validator
from sqlalchemy.orm import Session

from dispatch.routing import assist
from dispatch.routing.router import Draft
from dispatch.tickets import commands as c
from dispatch.tickets.actions import create_ticket
from dispatch.tickets.attachments import AttachmentPolicy
from dispatch.tickets.attachments import check_file
from dispatch.tickets.attachments import file_batch
from dispatch.tickets.attachments import new_attachment
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.domain import Channel
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Attachment
from dispatch.tickets.models import Ticket
from infra.commands import Command
from infra.db import UnitOfWork
from infra.models import Unit
from kernel.actor import Actor
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import Role
from kernel.vocabulary import RequestType

S = TicketStatus

# What a citizen reads about their ticket: fewer states than the hotline works with.
PUBLIC_LABELS: dict[TicketStatus, str] = {
    S.ACCEPTED: "已受理",
    S.DISPATCHED: "办理中",
    S.SIGNED: "办理中",
    S.RETURNED: "办理中",
    S.REPLIED: "办理中",
    S.REVIEWED: "已答复",
    S.FOLLOWED_UP: "已答复",
    S.CLOSED: "已办结",
    S.RESOLVED: "已办结",
    S.MERGED: "已合并办理",
}
# Open311's two states: a request is closed once nobody owes the citizen any more work.
CLOSED_STATUSES = frozenset({S.CLOSED, S.RESOLVED, S.MERGED})
# The unit's answer is shown once the hotline has approved it (审核).
ANSWERED_STATUSES = frozenset({S.REVIEWED, S.FOLLOWED_UP, S.CLOSED})

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]


class PublicRequest(Command):
    """A citizen's request from the web form or an Open311 client."""

    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=5, max_length=4000)
    ]
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    name: c.Name | None = None
    phone: c.Phone | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    # Keep name and phone from the units (保密); the hotline still sees them.
    confidential: bool = False
    # The citizen agrees to publish the request on Open311 (without name, phone, the
    # address below street level or a precise pin); the default publishes nothing.
    publish: bool = False

    @model_validator(mode="after")
    def _pin_is_a_pair(self) -> "PublicRequest":
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("经纬度须同时填写")
        return self


@dataclass(frozen=True, slots=True)
class Photo:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Submitted:
    ticket_id: int
    number: str
    token: str
    view: dict[str, Any]


def channel_actor(name: str) -> Actor:
    """Who accepts an outside request: nobody signed in, acting as the front desk would."""
    return Actor(user_id=None, role=Role.OPERATOR, name=name)


def _title(req: PublicRequest) -> str:
    if req.title:
        return req.title
    first = req.description.splitlines()[0].strip()
    return first[:30] + ("…" if len(first) > 30 else "")


def check_photo(files: AttachmentPolicy, photo: Photo) -> str:
    """Return the photo's MIME type.

    :raises ValidationError: (field "file") empty, too large, broken, or not a JPG/PNG image.
    """
    content_type = check_file(files, photo.filename, photo.data)
    if not content_type.startswith("image/"):
        raise ValidationError({"file": "只接受 JPG、PNG 图片"}, "照片类型不受支持")
    return content_type


def public_photo(session: Session, ticket: Ticket, attachment_id: int) -> Attachment | None:
    """One of the ticket's images; None for anything else (documents a unit attached stay
    inside the hotline)."""
    row = session.get(Attachment, attachment_id)
    if row is None or row.ticket_id != ticket.id or not row.content_type.startswith("image/"):
        return None
    return row


def submit(
    uow: UnitOfWork,
    ctx: DispatchContext,
    assistant: assist.Assistant,
    files: AttachmentPolicy,
    req: PublicRequest,
    *,
    channel: Channel,
    actor_name: str,
    photo: Photo | None = None,
    api_key_id: int | None = None,
) -> Submitted:
    """Accept an outside request as a ticket, route it, keep its photo; return its number.

    :raises ValidationError: the photo is empty, too large or not a whole JPG/PNG image
        (field "file"), or a field of the request is wrong.
    """
    content_type = check_photo(files, photo) if photo is not None else None
    suggestion = assistant.router.suggest(
        Draft(title=req.title, content=req.description, address=req.address)
    )
    request_type = (
        RequestType(suggestion.request_types[0].value)
        if suggestion.request_types
        else RequestType.HELP
    )
    content = req.description
    if req.email:
        content += f"\n\n联系邮箱：{req.email}"
    cmd = c.CreateTicket(
        channel=channel,
        caller_phone=req.phone,
        contact_phone=req.phone,
        citizen_name=req.name or None,
        anonymous=not req.name,
        confidential=req.confidential,
        address=req.address,
        request_type=request_type,
        category=req.category,
        title=_title(req),
        content=content,
        auto_dispatch=True,
    )
    cmd, auto, _ = assist.plan_auto_dispatch(uow, ctx, assistant, cmd)
    token = secrets.token_urlsafe(24)

    actor = channel_actor(actor_name)
    # The photo is stored with the ticket's transaction: a refused request keeps no file.
    with file_batch(files, uow) as batch:

        def prepare(session: Session, ticket: Ticket) -> None:
            ticket.public_token = token
            ticket.publish = req.publish
            ticket.latitude = req.latitude
            ticket.longitude = req.longitude
            ticket.api_key_id = api_key_id
            if photo is not None and content_type is not None:
                session.add(
                    new_attachment(batch, ticket.id, photo.filename, photo.data, content_type)
                )

        view, _ = create_ticket(uow, ctx, actor, cmd, auto=auto, prepare=prepare)
    return Submitted(view["id"], view["number"], token, view)


def find_by_token(session: Session, ctx: DispatchContext, number: str, token: str) -> Ticket:
    """The ticket whose number and status-link token both match.

    :raises NotFound: either is wrong (the same answer, so a guess learns nothing).
    """
    ticket = (
        session.scalar(sa.select(Ticket).where(Ticket.public_token == token)) if token else None
    )
    if ticket is None or not secrets.compare_digest(ctx.ticket_number(ticket), number):
        raise NotFound("未找到该工单，请核对查询链接", {"number": number})
    return ticket


def public_view(session: Session, ctx: DispatchContext, ticket: Ticket) -> dict[str, Any]:
    """What the citizen (or an Open311 client) may read: no names, phones or unit staff."""
    return public_views(session, ctx, [ticket])[0]


def public_views(
    session: Session, ctx: DispatchContext, tickets: Sequence[Ticket]
) -> list[dict[str, Any]]:
    """`public_view` of many tickets in three queries, whatever their number."""
    unit_ids = {t.lead_unit_id for t in tickets if t.lead_unit_id}
    master_ids = {t.merged_into_id for t in tickets if t.merged_into_id}
    units: dict[int, str] = {}
    if unit_ids:
        named = sa.select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids))
        units = {unit_id: name for unit_id, name in session.execute(named)}
    masters = (
        {m.id: m for m in session.scalars(sa.select(Ticket).where(Ticket.id.in_(master_ids)))}
        if master_ids
        else {}
    )
    photos: dict[int, list[int]] = {}
    if tickets:
        rows = session.execute(
            sa.select(Attachment.ticket_id, Attachment.id)
            .where(
                Attachment.ticket_id.in_([t.id for t in tickets]),
                Attachment.content_type.like("image/%"),
            )
            .order_by(Attachment.id)
        )
        for ticket_id, photo_id in rows:
            photos.setdefault(ticket_id, []).append(photo_id)
    return [
        {
            "id": t.id,
            "number": ctx.ticket_number(t),
            "channel": t.channel.value,
            "status": t.status.value,
            "status_label": PUBLIC_LABELS[t.status],
            "closed": t.status in CLOSED_STATUSES,
            "title": t.title,
            "description": t.content,
            "category": t.category,
            "address": t.address,
            "latitude": t.latitude,
            "longitude": t.longitude,
            "agency_responsible": units.get(t.lead_unit_id) if t.lead_unit_id else None,
            "created_at": t.created_at.isoformat(),
            "updated_at": t.updated_at.isoformat(),
            "expected_at": _expected(t),
            "status_notes": _notes(
                ctx, t, masters.get(t.merged_into_id) if t.merged_into_id else None
            ),
            "photo_ids": photos.get(t.id, []),
        }
        for t in tickets
    ]


def _expected(ticket: Ticket) -> str | None:
    if ticket.status in CLOSED_STATUSES or ticket.reply_due_at is None:
        return None
    return ticket.reply_due_at.astimezone(dt.UTC).isoformat()


def _notes(ctx: DispatchContext, ticket: Ticket, master: Ticket | None) -> str:
    if ticket.status is S.RESOLVED:
        return ticket.resolution or "已由热线直接办结"
    if ticket.status is S.MERGED and master is not None:
        return f"与工单 {ctx.ticket_number(master)} 反映的是同一问题，已合并办理"
    if ticket.status in ANSWERED_STATUSES and ticket.reply_text:
        return ticket.reply_text
    if ticket.status is S.ACCEPTED:
        return "热线已受理，正在分派承办单位"
    return "承办单位正在办理"
