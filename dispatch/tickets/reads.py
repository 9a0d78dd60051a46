"""Reading tickets: who may read one, one ticket's detail, and the filtered, paged lists."""

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dispatch.tickets.context import LIVE_CLOCK_STATUSES
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.context import active_unit_ids
from dispatch.tickets.context import id_from_number
from dispatch.tickets.domain import READ_ALL_ROLES
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Assignment
from dispatch.tickets.models import Ticket
from dispatch.tickets.views import shows_identity
from dispatch.tickets.views import ticket_view
from dispatch.tickets.views import unit_names
from infra.audit import audit_act
from infra.db import UnitOfWork
from kernel.actor import Actor
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.masking import mask_phone
from kernel.roles import Role
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Light

log = logging.getLogger(__name__)

S = TicketStatus


@dataclass(frozen=True, slots=True)
class TicketFilter:
    statuses: tuple[TicketStatus, ...] = ()
    unit_id: int | None = None
    request_type: RequestType | None = None
    urgency: Urgency | None = None
    light: Light | None = None
    text: str | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    caller_phone: str | None = None
    problem: bool | None = None
    tz: dt.tzinfo = dt.UTC  # dates are local days in the hotline's time zone
    # "newest": most recently accepted first; "due": earliest reply deadline first (work lists).
    order: str = "newest"
    # False: the list shows no caller identity to anyone, so nothing personal is read or audited.
    with_identity: bool = True
    page: int = 1
    per_page: int = 20


def get_ticket(
    uow: UnitOfWork, ctx: DispatchContext, actor: Actor, ticket_id: int
) -> dict[str, Any]:
    """Return one ticket with its events, assignments and clocks, as this actor may see it.

    :raises NotFound: no such ticket.
    :raises PermissionDenied: a liaison whose unit has no part in the ticket.
    """
    with uow:
        ticket = uow.session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("工单不存在", {"ticket_id": ticket_id})
        check_can_read(actor, ticket)
        view = ticket_view(uow.session, ctx, actor, ticket, detail=True)
        uow.commit()  # the audit row, if any
        return view


def check_can_read(actor: Actor, ticket: Ticket) -> None:
    if actor.role in READ_ALL_ROLES:
        return
    if actor.role is Role.LIAISON and actor.unit_id in active_unit_ids(ticket):
        return
    raise PermissionDenied("该工单不属于本单位，无权查看", {"ticket_id": ticket.id})


def list_tickets(
    uow: UnitOfWork, ctx: DispatchContext, actor: Actor, flt: TicketFilter
) -> dict[str, Any]:
    """Return one page of tickets matching the filter; liaisons see only their unit's."""
    with uow:
        session = uow.session
        query = sa.select(Ticket)
        if actor.role is Role.LIAISON:
            _refuse_identity_search(uow, actor, flt)
            query = query.where(_unit_clause(actor.unit_id or -1))
        elif actor.role not in READ_ALL_ROLES:
            raise PermissionDenied("当前角色无权查看工单", {"role": actor.role.value})
        if flt.caller_phone:
            # Looking a caller up by number is itself a use of personal data.
            audit_act(
                session,
                actor,
                "search_personal_data",
                None,
                {"caller_phone": mask_phone(flt.caller_phone)},
            )
        query = _apply_filter(query, flt, ctx.utcnow())
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        ordering = (
            (Ticket.reply_due_at.asc().nulls_last(), Ticket.id.asc())
            if flt.order == "due"
            else (Ticket.created_at.desc(), Ticket.id.desc())
        )
        rows = session.scalars(
            query.order_by(*ordering).limit(flt.per_page).offset((flt.page - 1) * flt.per_page)
        ).all()
        units = unit_names(session, {t.lead_unit_id for t in rows if t.lead_unit_id}, ctx.names)
        items = [ticket_view(session, ctx, actor, t, units=units, audit=False) for t in rows]
        if not flt.with_identity:
            for item in items:
                item["citizen_name"] = item["caller_phone"] = None
                item["identity_masked"] = True
        shown = [t.id for t in rows if flt.with_identity and shows_identity(actor, t)]
        if shown:
            audit_act(
                session,
                actor,
                "list_personal_data",
                None,
                {"ticket_ids": shown},
            )
        uow.commit()
        return {"items": items, "total": total, "page": flt.page, "per_page": flt.per_page}


def identity_search_fields(flt: TicketFilter) -> list[str]:
    """Name the filters that could find a ticket by who called: a unit may use none of them.

    A phone filter answers "is this the caller?" one guess at a time (4,700 guesses took 30 s
    against a masked 172****9251), and a free-text search does the same with a name or a
    number inside the content. A ticket number names no one, so units may still search by it.
    """
    fields = []
    if flt.caller_phone:
        fields.append("caller_phone")
    if flt.text and id_from_number(flt.text) < 0:
        fields.append("q")
    return fields


def _refuse_identity_search(uow: UnitOfWork, actor: Actor, flt: TicketFilter) -> None:
    """Refuse, and audit, a unit's search by caller identity or free text."""
    fields = identity_search_fields(flt)
    if not fields:
        return
    audit_act(
        uow.session,
        actor,
        "identity_search_refused",
        None,
        {"fields": fields, "unit_id": actor.unit_id},
    )
    uow.commit()
    log.warning("unit %s: search by %s refused for user %s", actor.unit_id, fields, actor.user_id)
    raise PermissionDenied(
        "承办单位不能按来电人、电话号码或内容检索工单，请按工单号查找",
        {"fields": fields},
    )


def _unit_clause(unit_id: int) -> sa.ColumnElement[bool]:
    return Ticket.id.in_(
        sa.select(Assignment.ticket_id).where(Assignment.unit_id == unit_id, Assignment.active)
    )


def _apply_filter(
    query: sa.Select[Ticket], flt: TicketFilter, now: dt.datetime
) -> sa.Select[Ticket]:
    if flt.statuses:
        query = query.where(Ticket.status.in_(flt.statuses))
    if flt.unit_id is not None:
        query = query.where(_unit_clause(flt.unit_id))
    if flt.request_type is not None:
        query = query.where(Ticket.request_type == flt.request_type)
    if flt.urgency is not None:
        query = query.where(Ticket.urgency == flt.urgency)
    if flt.caller_phone:
        query = query.where(Ticket.caller_phone == flt.caller_phone)
    if flt.problem is not None:
        query = query.where(Ticket.problem == flt.problem)
    if flt.text:
        pattern = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(
                Ticket.title.like(pattern, escape="\\"),
                Ticket.content.like(pattern, escape="\\"),
                Ticket.id == id_from_number(flt.text),
            )
        )
    if flt.created_from is not None:
        query = query.where(Ticket.created_at >= _local_midnight(flt.created_from, flt.tz))
    if flt.created_to is not None:
        next_day = flt.created_to + dt.timedelta(days=1)
        query = query.where(Ticket.created_at < _local_midnight(next_day, flt.tz))
    if flt.light is not None:
        query = query.where(light_clause(flt.light, now))
    return query


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def light_clause(wanted: Light, now: dt.datetime) -> sa.ColumnElement[bool]:
    signing = Ticket.status == S.DISPATCHED
    running = Ticket.status.in_(LIVE_CLOCK_STATUSES)
    red = sa.or_(
        sa.and_(signing, Ticket.sign_due_at < now), sa.and_(running, Ticket.reply_due_at < now)
    )
    yellow = sa.and_(
        sa.not_(red),
        sa.or_(
            sa.and_(signing, Ticket.sign_warn_at <= now),
            sa.and_(running, Ticket.reply_warn_at <= now),
        ),
    )
    if wanted is Light.RED:
        return red
    if wanted is Light.YELLOW:
        return yellow
    return sa.and_(running, sa.not_(red), sa.not_(yellow))
