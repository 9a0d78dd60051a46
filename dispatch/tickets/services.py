"""Ticket use cases: accept, act on, read and list tickets.

Every status change goes through `perform_action`, which checks the role, the unit, the
transition table and the action's guards, then writes the change and its event row in one
transaction. Nothing is written when any check fails.
"""

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from dispatch.tickets import commands as c
from dispatch.tickets import idempotency
from dispatch.tickets.domain import ACTION_EVENTS
from dispatch.tickets.domain import CREATE_ROLES
from dispatch.tickets.domain import READ_ALL_ROLES
from dispatch.tickets.domain import STATUS_LABELS
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import AssignmentRole
from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.domain import allowed_actions
from dispatch.tickets.domain import check_role
from dispatch.tickets.domain import is_problem_ticket
from dispatch.tickets.domain import next_status
from dispatch.tickets.models import Assignment
from dispatch.tickets.models import Attachment
from dispatch.tickets.models import ExtensionRequest
from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from infra.audit import audit_act
from infra.commands import Command
from infra.db import UnitOfWork
from infra.models import Unit
from infra.settings import SlaSettings
from kernel.actor import Actor
from kernel.errors import Conflict
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import RuleViolation
from kernel.errors import ValidationError
from kernel.masking import identity_visible
from kernel.masking import mask_free_text
from kernel.masking import mask_name
from kernel.masking import mask_phone
from kernel.roles import HOTLINE_ROLES
from kernel.roles import Role
from kernel.units import UnitKind
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Deadline
from kernel.worktime import Duration
from kernel.worktime import DurationUnit
from kernel.worktime import Light
from kernel.worktime import WorkCalendar
from kernel.worktime import light

log = logging.getLogger(__name__)

E = TicketEvent
S = TicketStatus
LIVE_CLOCK_STATUSES = (S.DISPATCHED, S.SIGNED)


SlaRules = Callable[[], Mapping[tuple[str, str], tuple[str | None, str | None]]]


def _no_rules() -> Mapping[tuple[str, str], tuple[str | None, str | None]]:
    return {}


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The clocks of DOMAIN.md: settings, with the admin's rules on top, on a work calendar."""

    calendar: WorkCalendar
    settings: SlaSettings
    # (request type or "*", urgency) -> (sign, reply) edited by admins (dispatch.policy).
    rules: SlaRules = _no_rules

    def durations(self, request_type: RequestType, urgency: Urgency) -> tuple[Duration, Duration]:
        """Return the (sign, reply) clock lengths for this request type and urgency.

        Most specific first: the admin's rule for the type, the config's override for the
        type, the admin's rule for the urgency, the config's default for the urgency.
        """
        rules = self.rules()
        default = self.settings.clocks[urgency.value]
        override = self.settings.overrides.get(request_type.value, {}).get(urgency.value)
        layers = [
            rules.get((request_type.value, urgency.value), (None, None)),
            (override.sign, override.reply) if override else (None, None),
            rules.get(("*", urgency.value), (None, None)),
            (default.sign, default.reply),
        ]
        sign = next(layer[0] for layer in layers if layer[0])
        reply = next(layer[1] for layer in layers if layer[1])
        return Duration.parse(sign), Duration.parse(reply)

    @property
    def return_window(self) -> Duration:
        return Duration.parse(self.settings.return_window)

    @property
    def contact_within(self) -> Duration:
        return Duration.parse(self.settings.contact_within)

    @property
    def max_extension_days(self) -> int:
        return Duration.parse(self.settings.max_extension).amount


Publish = Callable[[str, dict[str, Any], list[str]], None]


def _no_publish(event: str, payload: dict[str, Any], rooms: list[str]) -> None:
    """Default publisher: nobody listens (CLI, tests without Socket.IO)."""


@dataclass(slots=True)
class DispatchContext:
    policy: SlaPolicy
    # Pushes live updates (Socket.IO); called only after the change is committed.
    publish: Publish = field(default=_no_publish)
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    number_prefix: str = "JC"
    # Whether an actor outside CREATE_ROLES may accept requests now: a leader taking calls
    # in one of their duty windows (领导接听). The composition root knows the schedule.
    on_duty: Callable[[Actor], bool] = field(default=lambda actor: False)

    names: "NameCache" = field(default_factory=lambda: NameCache())

    def may_accept(self, actor: Actor) -> bool:
        return actor.role in CREATE_ROLES or self.on_duty(actor)

    def ticket_number(self, ticket: Ticket) -> str:
        """Return the 工单号: prefix, local date of acceptance, zero-padded id.

        Derived rather than stored: unique because the id is, and free to compute.
        """
        return self.prefix_number(ticket.id, ticket.created_at)

    def prefix_number(self, ticket_id: int, created_at: dt.datetime) -> str:
        day = created_at.astimezone(self.policy.calendar.tz)
        return f"{self.number_prefix}{day:%Y%m%d}{ticket_id:07d}"

    def utcnow(self) -> dt.datetime:
        """Return the current time in UTC, whatever zone the injected clock uses."""
        return self.now().astimezone(dt.UTC)

    def today(self) -> dt.date:
        """Return today's date in the hotline's time zone (dates people see are local)."""
        return self.now().astimezone(self.policy.calendar.tz).date()


# ---------------------------------------------------------------- accept


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
        _record(session, ticket, actor, E.CREATE, None, S.ACCEPTED, now)
        event = E.CREATE
        first = _first_step(cmd, auto)
        if first is not None:
            # One transaction: a ticket whose dispatch or merge fails is not left behind.
            event, handler, step_cmd, field_name = first
            step = _Step(session, ctx, actor, ticket, step_cmd, now, event)
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
            _record(
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
) -> tuple[TicketEvent, "Handler", Command, str] | None:
    if cmd.dispatch is not None:
        return E.DISPATCH, _dispatch, cmd.dispatch, "dispatch"
    if auto is not None:
        to = c.DispatchTo(lead_unit_id=auto.lead_unit_id, note=auto.reason)
        return E.DISPATCH, _dispatch, to, "dispatch"
    if cmd.merge_into is not None:
        return E.MERGE, _merge, c.Merge(master_id=cmd.merge_into), "merge_into"
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


# ---------------------------------------------------------------- transitions

Handler = Callable[["_Step"], None]


@dataclass(slots=True)
class _Step:
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

    `once` is the request's idempotency key (dispatch.idempotency): if the user already sent
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
        ticket = _load_for_update(session, ticket_id)
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
        units_before = _active_unit_ids(ticket)
        step = _Step(session, ctx, actor, ticket, cmd, ctx.utcnow(), event)
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
        _record(
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
        units = sorted(_active_unit_ids(ticket) | units_before)
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


def _load_for_update(session: Session, ticket_id: int) -> Ticket:
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


def _active_unit_ids(ticket: Ticket, role: AssignmentRole | None = None) -> set[int]:
    return {a.unit_id for a in ticket.assignments if a.active and (role is None or a.role is role)}


def lead_unit_ids(ticket: Ticket) -> set[int]:
    """Return the ticket's active lead unit (as a set: empty before dispatch)."""
    return _active_unit_ids(ticket, AssignmentRole.LEAD)


def _check_lead_unit(session: Session, actor: Actor, ticket: Ticket) -> None:
    if actor.unit_id is None or actor.unit_id not in _active_unit_ids(ticket, AssignmentRole.LEAD):
        raise PermissionDenied("该工单不由本单位主办，无权操作", {"ticket_id": ticket.id})


def _event_for(action: Action, cmd: Command) -> TicketEvent:
    if isinstance(cmd, c.DecideExtension):
        return E.APPROVE_EXTENSION if cmd.approve else E.DENY_EXTENSION
    if isinstance(cmd, c.Review):
        return E.APPROVE_REPLY if cmd.approve else E.REJECT_REPLY
    (event,) = ACTION_EVENTS[action]
    return event


def _deadline_fields(ticket: Ticket, prefix: str, deadline: Deadline | None) -> None:
    setattr(ticket, f"{prefix}_due_at", deadline.due if deadline else None)
    setattr(ticket, f"{prefix}_warn_at", deadline.warn_at if deadline else None)


def _start_clocks(step: _Step, *, sign: bool = True, reply: bool = True) -> None:
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


def _assign(step: _Step, lead_unit_id: int, assist_unit_ids: Iterable[int]) -> None:
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


def _resolve_directly(step: _Step) -> None:
    cmd: c.ResolveDirectly = step.cmd
    step.ticket.resolution = cmd.answer
    step.ticket.resolved_at = step.now
    step.reason = cmd.answer


def _dispatch(step: _Step) -> None:
    cmd: c.DispatchTo = step.cmd
    _assign(step, cmd.lead_unit_id, cmd.assist_unit_ids)
    _start_clocks(step)
    step.reason = cmd.note or None


def _sign(step: _Step) -> None:
    step.ticket.signed_at = step.now
    step.reason = step.cmd.note or None


def _return(step: _Step) -> None:
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


def _reassign(step: _Step) -> None:
    cmd: c.Reassign = step.cmd
    if cmd.lead_unit_id == step.ticket.lead_unit_id:
        raise ValidationError({"lead_unit_id": "改派单位不能与原主办单位相同"})
    step.data["from_unit_id"] = step.ticket.lead_unit_id
    _assign(step, cmd.lead_unit_id, cmd.assist_unit_ids)
    _start_clocks(step)
    step.reason = cmd.note or None


def _uphold(step: _Step) -> None:
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


def _extend(step: _Step) -> None:
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


def _decide_extension(step: _Step) -> None:
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


def _reply(step: _Step) -> None:
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


def _review(step: _Step) -> None:
    cmd: c.Review = step.cmd
    if cmd.approve:
        step.ticket.reviewed_at = step.now
    else:
        # The reply was not good enough: it no longer counts as a reply.
        step.ticket.replied_at = None
    step.reason = cmd.note or None


def _follow_up(step: _Step) -> None:
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


def _close(step: _Step) -> None:
    cmd: c.Close = step.cmd
    if step.ticket.status is S.REVIEWED and not cmd.note:
        raise ValidationError({"note": "未回访直接办结时必须说明原因"})
    step.ticket.closed_at = step.now
    step.reason = cmd.note or None


def _reopen(step: _Step) -> None:
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


def _remind(step: _Step) -> None:
    step.ticket.remind_count += 1
    step.reason = step.cmd.note or None


def _supervise(step: _Step) -> None:
    step.ticket.supervised_at = step.now
    step.reason = step.cmd.note or None


def _merge(step: _Step) -> None:
    cmd: c.Merge = step.cmd
    t = step.ticket
    number = (cmd.master_number or "").upper()
    field_name = "master_number" if number else "master_id"
    master_id = _id_from_number(number) if number else cmd.master_id
    if master_id == t.id:
        raise ValidationError({field_name: "不能合并到自身"})
    if master_id is None or master_id < 1:
        raise ValidationError({field_name: "没有这个工单号"}, "合并目标不存在")
    try:
        master = _load_for_update(step.session, master_id)
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
    _record(
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


def _record(
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


# ---------------------------------------------------------------- reading


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
    if actor.role is Role.LIAISON and actor.unit_id in _active_unit_ids(ticket):
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
        units = _unit_names(session, {t.lead_unit_id for t in rows if t.lead_unit_id}, ctx.names)
        items = [ticket_view(session, ctx, actor, t, units=units, audit=False) for t in rows]
        if not flt.with_identity:
            for item in items:
                item["citizen_name"] = item["caller_phone"] = None
                item["identity_masked"] = True
        shown = [t.id for t in rows if flt.with_identity and _shows_identity(actor, t)]
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
    if flt.text and _id_from_number(flt.text) < 0:
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
                Ticket.id == _id_from_number(flt.text),
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


_NUMBER = re.compile(r"^[A-Za-z]*\d{8}(\d{7,})$")


def _id_from_number(text: str) -> int:
    """Return the ticket id inside a ticket number, or -1 when the text is not one."""
    match = _NUMBER.match(text.strip())
    return int(match.group(1)) if match else -1


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


class NameCache:
    """Unit and user display names by id, kept for a minute.

    Views name every unit and actor they mention; names change rarely, and a renamed unit
    showing its old name for a minute is harmless, while a query per view is not.
    """

    TTL = 60.0

    def __init__(self) -> None:
        self._names: dict[tuple[str, int], tuple[str, float]] = {}

    def lookup(
        self, kind: str, ids: set[int], fetch: Callable[[set[int]], dict[int, str]]
    ) -> dict[int, str]:
        now = time.monotonic()
        found: dict[int, str] = {}
        missing: set[int] = set()
        for i in ids:
            hit = self._names.get((kind, i))
            if hit is not None and hit[1] > now:
                found[i] = hit[0]
            else:
                missing.add(i)
        if missing:
            fetched = fetch(missing)
            if len(self._names) > 50_000:
                self._names.clear()
            for i, name in fetched.items():
                self._names[(kind, i)] = (name, now + self.TTL)
            found.update(fetched)
        return found


def _unit_names(session: Session, ids: set[int], cache: NameCache | None = None) -> dict[int, str]:
    if not ids:
        return {}

    def fetch(wanted: set[int]) -> dict[int, str]:
        rows = session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(wanted)))
        return {uid: name for uid, name in rows}

    return cache.lookup("unit", ids, fetch) if cache else fetch(ids)


def _shows_identity(actor: Actor, t: Ticket) -> bool:
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
        units = _unit_names(session, {t.lead_unit_id} if t.lead_unit_id else set(), ctx.names)
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
    if audit and actor.user_id is not None and visible and _shows_identity(actor, t):
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
    names = _unit_names(session, unit_ids, ctx.names)
    actor_ids = {e.actor_id for e in t.events if e.actor_id}
    actor_ids |= {a.uploaded_by_id for a in t.attachments if a.uploaded_by_id}
    users = _user_names(session, actor_ids, ctx.names)
    reply_running = t.status in LIVE_CLOCK_STATUSES
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
        "clocks": {
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
                reply_running,
                now,
            ),
        },
        "assignments": [
            {
                "unit": {"id": a.unit_id, "name": names.get(a.unit_id)},
                "role": a.role.value,
                "active": a.active,
                "upheld": a.upheld,
                "assigned_at": a.assigned_at.isoformat(),
                "ended_at": a.ended_at.isoformat() if a.ended_at else None,
            }
            for a in t.assignments
        ],
        "extensions": [
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
        ],
        "events": [
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
        ],
        "attachments": [
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
        ],
        "allowed_actions": [a.value for a in _allowed_for(actor, t)],
        # The hotline sees, before dispatching, what the unit will read (单位看到的内容).
        "unit_sees": unit_sees(t) if actor.role in HOTLINE_ROLES else None,
    }


def _allowed_for(actor: Actor, t: Ticket) -> list[Action]:
    actions = allowed_actions(t.status, actor.role)
    if actor.role is Role.LIAISON and actor.unit_id not in _active_unit_ids(t, AssignmentRole.LEAD):
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


# ---------------------------------------------------------------- units


def list_units(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Return every active unit with its catalogue entry, parents before children."""
    with uow:
        units = uow.session.scalars(
            sa.select(Unit).where(Unit.active).order_by(Unit.parent_id.nulls_first(), Unit.id)
        ).all()
        return [
            {
                "id": u.id,
                "code": u.code,
                "name": u.name,
                "kind": u.kind.value,
                "parent_id": u.parent_id,
                "responsibility": u.responsibility,
                "keywords": list(u.keywords),
                "phone": u.phone,
            }
            for u in units
        ]
