"""The write use cases on tickets: accept a request and act on a ticket.

Every status change goes through `perform_action`, which checks the role, the unit, the
transition table and the action's guards, then writes the change and its event row in one
transaction. Nothing is written when any check fails.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from dispatch.tickets import commands as c
from dispatch.tickets import idempotency
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.context import active_unit_ids
from dispatch.tickets.domain import ACTION_EVENTS
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import AssignmentRole
from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.domain import check_role
from dispatch.tickets.domain import is_problem_ticket
from dispatch.tickets.domain import next_status
from dispatch.tickets.models import Ticket
from dispatch.tickets.transitions import HANDLERS
from dispatch.tickets.transitions import Handler
from dispatch.tickets.transitions import Step
from dispatch.tickets.transitions import load_for_update
from dispatch.tickets.transitions import record_event
from dispatch.tickets.views import ticket_view
from infra.commands import Command
from infra.db import UnitOfWork
from infra.models import Unit
from kernel.actor import Actor
from kernel.errors import Conflict
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.roles import Role
from kernel.units import UnitKind

log = logging.getLogger(__name__)

E = TicketEvent
S = TicketStatus


@dataclass(frozen=True, slots=True)
class AutoDispatch:
    """The router's decision to dispatch a new ticket at once (智能派单), with its reasons."""

    lead_unit_id: int
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


def create_ticket(
    uow: UnitOfWork,
    ctx: DispatchContext,
    actor: Actor,
    cmd: c.CreateTicket,
    *,
    auto: AutoDispatch | None = None,
    prepare: Callable[[Session, Ticket], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Accept a request as a new ticket; return its view and whether it was created.

    `prepare` sets what the command does not carry (a public request's status-link token,
    its pin, its photo) on the new ticket, in the same transaction.

    Then, in the same transaction, dispatch it (`cmd.dispatch`, or the router's `auto`
    decision) or merge it into a master ticket (`cmd.merge_into`).
    A repeated `client_token` of the same user returns the ticket that user made the first
    time (a double submit); another user's same token makes a new ticket.

    :raises PermissionDenied: the role may not accept tickets.
    :raises ValidationError: a locality id is unknown or does not fit the others.
    """
    if not ctx.may_accept(actor):
        raise PermissionDenied("当前角色无权受理工单", {"role": actor.role.value})
    with uow:
        session = uow.session
        if cmd.client_token:
            existing = _ticket_by_token(session, actor, cmd.client_token)
            if existing is not None:
                return _audited_view(uow, ctx, actor, existing), False
        locality = _locality(session, cmd)
        now = ctx.utcnow()
        ticket = Ticket(
            **(
                cmd.model_dump(exclude={"tags", "dispatch", "auto_dispatch", "merge_into"})
                | locality
            ),
            tags=list(cmd.tags),
            status=S.ACCEPTED,
            created_by_id=actor.user_id,
            created_at=now,
            updated_at=now,
            # A new ticket has none yet: saying so spares the view three lazy loads.
            assignments=[],
            events=[],
            extensions=[],
            attachments=[],
        )
        session.add(ticket)
        if prepare is not None:
            session.flush()
            prepare(session, ticket)
        record_event(session, ticket, actor, E.CREATE, None, S.ACCEPTED, now)
        event = E.CREATE
        first = _first_step(cmd, auto)
        if first is not None:
            # One transaction: a ticket whose dispatch or merge fails is not left behind.
            event, handler, step_cmd, field_name = first
            step = Step(session, ctx, actor, ticket, step_cmd, now, event)
            try:
                handler(step)
            except ValidationError as exc:
                fields = {f"{field_name}.{k}": v for k, v in exc.field_errors.items()}
                raise ValidationError(fields, exc.message) from None
            except NotFound:
                raise ValidationError({field_name: "工单不存在"}, "合并目标不存在") from None
            if auto is not None:
                step.data.update(auto.data, auto=True)
            ticket.status = next_status(S.ACCEPTED, event)
            record_event(
                session,
                ticket,
                actor,
                event,
                S.ACCEPTED,
                ticket.status,
                now,
                reason=step.reason,
                data=step.data,
                unit_id=step.unit_id,
            )
        _announce(uow, ctx, ticket, event, set())
        try:
            uow.commit()
        except IntegrityError:
            # Two submits with the same token raced; the first one won.
            uow.session.rollback()
            existing = (
                _ticket_by_token(uow.session, actor, cmd.client_token) if cmd.client_token else None
            )
            if existing is None:
                raise
            return _audited_view(uow, ctx, actor, existing), False
        log.info("ticket %s accepted by user %s", ticket.id, actor.user_id)
        return _audited_view(uow, ctx, actor, ticket), True


def _ticket_by_token(session: Session, actor: Actor, token: str) -> Ticket | None:
    # A token is the creating user's own: another user's same token is another ticket.
    # (Outside channels have no user and send no token; agents_ui.intake keeps their forms.)
    return session.scalar(
        sa.select(Ticket).where(
            Ticket.client_token == token,
            Ticket.created_by_id == actor.user_id
            if actor.user_id is not None
            else Ticket.created_by_id.is_(None),
        )
    )


def _first_step(
    cmd: c.CreateTicket, auto: AutoDispatch | None
) -> tuple[TicketEvent, Handler, Command, str] | None:
    if cmd.dispatch is not None:
        return E.DISPATCH, HANDLERS[Action.DISPATCH], cmd.dispatch, "dispatch"
    if auto is not None:
        to = c.DispatchTo(lead_unit_id=auto.lead_unit_id, note=auto.reason)
        return E.DISPATCH, HANDLERS[Action.DISPATCH], to, "dispatch"
    if cmd.merge_into is not None:
        return E.MERGE, HANDLERS[Action.MERGE], c.Merge(master_id=cmd.merge_into), "merge_into"
    return None


_LOCALITY_LEVELS = (
    ("district_id", UnitKind.DISTRICT),
    ("street_id", UnitKind.STREET),
    ("community_id", UnitKind.COMMUNITY),
)


def _locality(session: Session, cmd: c.CreateTicket) -> dict[str, int | None]:
    """Check the locality ids against the unit tree and fill in the levels above them.

    A community alone also gives its street and district; a street and a district that do
    not belong together are refused.

    :raises ValidationError: an unknown unit, a unit of the wrong level, or levels that
        contradict each other.
    """
    given = {name: getattr(cmd, name) for name, _ in _LOCALITY_LEVELS}
    errors: dict[str, str] = {}
    found: dict[str, Unit] = {}
    for name, kind in _LOCALITY_LEVELS:
        unit_id = given[name]
        if unit_id is None:
            continue
        unit = session.get(Unit, unit_id)
        if unit is None or not unit.active:
            errors[name] = "单位不存在"
        elif unit.kind is not kind:
            errors[name] = "属地层级不符"
        else:
            found[name] = unit
    if errors:
        raise ValidationError(errors, "属地信息有误")
    result = dict(given)
    # Walk up from the lowest level given; each level above must match what was given.
    for index in range(len(_LOCALITY_LEVELS) - 1, 0, -1):
        name, _ = _LOCALITY_LEVELS[index]
        if name not in found:
            continue
        node: Unit | None = found[name]
        for upper, upper_kind in reversed(_LOCALITY_LEVELS[:index]):
            node = session.get(Unit, node.parent_id) if node and node.parent_id else None
            if node is None or node.kind is not upper_kind:
                break
            if result[upper] is None:
                result[upper] = node.id
            elif result[upper] != node.id:
                errors[name] = "与上级属地不一致"
                break
        break
    if errors:
        raise ValidationError(errors, "属地信息有误")
    return result


def perform_action(
    uow: UnitOfWork,
    ctx: DispatchContext,
    actor: Actor,
    ticket_id: int,
    action: Action,
    cmd: Command,
    *,
    before: Callable[[Session, Ticket], Command] | None = None,
    once: idempotency.Once | None = None,
) -> dict[str, Any]:
    """Apply one lifecycle action to a ticket and return the ticket's new view.

    `before` adds what the command refers to (a reply's files) in the same transaction,
    once the actor may act and the transition is possible, and returns the command to run.

    `once` is the request's idempotency key (dispatch.tickets.idempotency): if the user already sent
    this request with it, the first answer is returned and `once.replayed` set, and nothing
    runs again; otherwise a success's answer is stored in the action's transaction.

    :raises PermissionDenied: wrong role, or a liaison acting on another unit's ticket.
    :raises NotFound: no such ticket (or unit named in the command).
    :raises IllegalTransition: the action is not possible in the ticket's status.
    :raises RuleViolation: a guard failed (return window, one extension, ...).
    :raises Conflict: someone else changed the ticket at the same moment.
    :raises IdempotencyKeyReused: the key was used for another request.
    """
    check_role(action, actor.role)
    with uow:
        session = uow.session
        ticket = load_for_update(session, ticket_id)
        # Looked up under the ticket's lock: a concurrent send of the same key waits here,
        # then finds the first one's answer.
        fingerprint = once.fingerprint(ticket_id, action) if once is not None else None
        if once is not None and fingerprint is not None and actor.user_id is not None:
            stored = idempotency.find(session, actor.user_id, once, fingerprint, ctx.utcnow())
            if stored is not None:
                return stored  # type: ignore[no-any-return]
        if actor.role is Role.LIAISON:
            _check_lead_unit(session, actor, ticket)
        event = _event_for(action, cmd)
        to_status = next_status(ticket.status, event)
        if before is not None:
            cmd = before(session, ticket)
        units_before = active_unit_ids(ticket)
        step = Step(session, ctx, actor, ticket, cmd, ctx.utcnow(), event)
        from_status = ticket.status
        HANDLERS[action](step)
        ticket.status = to_status
        ticket.updated_at = step.now
        ticket.problem = ticket.problem or is_problem_ticket(
            ticket.reopen_count,
            ticket.lead_unit_count,
            reopens=ctx.policy.settings.problem_reopens,
            units=ctx.policy.settings.problem_units,
        )
        record_event(
            session,
            ticket,
            actor,
            event,
            from_status,
            to_status,
            step.now,
            reason=step.reason,
            data=step.data,
            unit_id=step.unit_id or ticket.lead_unit_id,
        )
        _announce(uow, ctx, ticket, event, units_before)
        if once is not None and fingerprint is not None and actor.user_id is not None:
            return _commit_once(uow, ctx, actor, actor.user_id, ticket, action, once, fingerprint)
        try:
            uow.commit()
        except StaleDataError:
            raise Conflict("工单已被他人同时修改，请刷新后重试", {"ticket_id": ticket_id}) from None
        log.info(
            "ticket %s: %s %s -> %s by user %s",
            ticket.id,
            event.value,
            from_status.value,
            to_status.value,
            actor.user_id,
        )
        return _audited_view(uow, ctx, actor, ticket)


def _commit_once(
    uow: UnitOfWork,
    ctx: DispatchContext,
    actor: Actor,
    user_id: int,
    ticket: Ticket,
    action: Action,
    once: idempotency.Once,
    fingerprint: str,
) -> dict[str, Any]:
    """Commit an action with its idempotency key and answer, in one transaction."""
    session = uow.session
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("工单已被他人同时修改，请刷新后重试", {"ticket_id": ticket.id}) from None
    view = ticket_view(session, ctx, actor, ticket, detail=True)
    now = ctx.utcnow()
    idempotency.remember(session, user_id, once, fingerprint, ticket.id, action, view, now)
    try:
        uow.commit()
    except IntegrityError:
        # The same key sent at the same moment for another ticket: the first one counts.
        session.rollback()
        stored = idempotency.find(session, user_id, once, fingerprint, now)
        if stored is None:
            raise
        return stored  # type: ignore[no-any-return]
    except StaleDataError:
        raise Conflict("工单已被他人同时修改，请刷新后重试", {"ticket_id": ticket.id}) from None
    log.info("ticket %s: %s by user %s (key %s)", ticket.id, action.value, user_id, once.key)
    return view


def _audited_view(
    uow: UnitOfWork, ctx: DispatchContext, actor: Actor, ticket: Ticket
) -> dict[str, Any]:
    """The ticket's view after a change, with its audit row committed when it shows identity.

    An action's answer is a view like any other: a 催办 that returns the caller's name and
    phone is a view of personal data, and the audit log must say who saw it.
    """
    view = ticket_view(uow.session, ctx, actor, ticket, detail=True)
    uow.commit()
    return view


def _announce(
    uow: UnitOfWork,
    ctx: DispatchContext,
    ticket: Ticket,
    event: TicketEvent,
    units_before: set[int],
) -> None:
    """Tell the hotline and every unit concerned, once committed, that the ticket changed.

    The payload carries no personal data: clients fetch the ticket with their own rights.
    Units that just lost the ticket (reassign, merge) are told too, so it leaves their lists.
    """

    def send() -> None:
        units = sorted(active_unit_ids(ticket) | units_before)
        payload = {
            "v": 1,
            "ticket_id": ticket.id,
            "number": ctx.ticket_number(ticket),
            "event": event.value,
            "status": ticket.status.value,
            "unit_ids": units,
        }
        rooms = ["hotline", *(f"unit:{u}" for u in units)]
        _safe_publish(ctx, "ticket.changed", payload, rooms)

    uow.after_commit(send)


def _safe_publish(
    ctx: DispatchContext, event: str, payload: dict[str, Any], rooms: list[str]
) -> None:
    # The change is committed: a failed push must not turn it into an error for the user.
    try:
        ctx.publish(event, payload, rooms)
    except Exception:  # noqa: BLE001
        log.exception("could not push %s for ticket %s", event, payload.get("ticket_id"))


def _check_lead_unit(session: Session, actor: Actor, ticket: Ticket) -> None:
    if actor.unit_id is None or actor.unit_id not in active_unit_ids(ticket, AssignmentRole.LEAD):
        raise PermissionDenied("该工单不由本单位主办，无权操作", {"ticket_id": ticket.id})


def _event_for(action: Action, cmd: Command) -> TicketEvent:
    if isinstance(cmd, c.DecideExtension):
        return E.APPROVE_EXTENSION if cmd.approve else E.DENY_EXTENSION
    if isinstance(cmd, c.Review):
        return E.APPROVE_REPLY if cmd.approve else E.REJECT_REPLY
    (event,) = ACTION_EVENTS[action]
    return event
