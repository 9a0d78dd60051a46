"""Leader duty (领导接听): the windows in which a leader takes citizens' calls at a seat.

Supervisors and admins keep the schedule. A leader may sign in to a seat only inside one of
their windows, and a ticket accepted during a call a leader answered on duty is tagged
领导接听. The web routes are in `callcenter.cti.hall`; this module has no Flask.
"""

import datetime as dt
from collections.abc import Callable
from typing import Annotated
from typing import Any

import sqlalchemy as sa
from pydantic import AwareDatetime
from pydantic import StringConstraints
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from dispatch.tickets.models import Ticket
from infra.audit import audit_act
from infra.commands import Command
from infra.db import Base
from infra.db import UnitOfWork
from infra.ids import RowId
from infra.models import User
from kernel.actor import Actor
from kernel.errors import NotFound
from kernel.errors import RuleViolation
from kernel.errors import ValidationError
from kernel.roles import Role

LEADER_CALL_TAG = "领导接听"
# A longer window is almost certainly a typing slip (a wrong day or month), and it would let
# the leader take calls for all that time.
MAX_DUTY = dt.timedelta(hours=24)
MAX_NOTE = 200


class LeaderDuty(Base):
    """One window in which a leader takes calls (UTC, half-open: [starts_at, ends_at))."""

    __tablename__ = "leader_duties"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ck_leader_duties_ends_after_start"),
        sa.Index("ix_leader_duties_user_id_starts_at", "user_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(sa.String(MAX_NOTE), default="")
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))


class AddDuty(Command):
    """Schedule a leader's duty (安排领导接听): who, from when, until when."""

    user_id: RowId
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE)] = ""


def _local(moment: dt.datetime, tz: dt.tzinfo) -> str:
    return f"{moment.astimezone(tz):%m月%d日 %H:%M}"


def duty_view(duty: LeaderDuty, leader: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": duty.id,
        "user_id": duty.user_id,
        "leader": leader,
        "starts_at": duty.starts_at.isoformat(),
        "ends_at": duty.ends_at.isoformat(),
        "note": duty.note,
        "on_duty": duty.starts_at <= now < duty.ends_at,
    }


def list_duties(uow: UnitOfWork, now: dt.datetime) -> list[dict[str, Any]]:
    """The windows not over yet (the current one included), earliest first."""
    with uow:
        rows = uow.session.execute(
            sa.select(LeaderDuty, User.display_name)
            .join(User, User.id == LeaderDuty.user_id)
            .where(LeaderDuty.ends_at > now)
            .order_by(LeaderDuty.starts_at, LeaderDuty.id)
        ).all()
        return [duty_view(duty, name, now) for duty, name in rows]


def list_leaders(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Active users with the leader role, by name: whom a duty can be given to."""
    with uow:
        rows = uow.session.execute(
            sa.select(User.id, User.display_name)
            .where(User.role == Role.LEADER, User.active.is_(True))
            .order_by(User.display_name, User.id)
        ).all()
        return [{"id": uid, "name": name} for uid, name in rows]


def add_duty(
    uow: UnitOfWork, actor: Actor, cmd: AddDuty, now: dt.datetime, tz: dt.tzinfo
) -> dict[str, Any]:
    """Add a window to a leader's schedule; audited.

    :raises ValidationError: not an active leader; the end not after the start, already past,
        or more than MAX_DUTY after it.
    :raises RuleViolation: the window overlaps another of the same leader's.
    """
    errors: dict[str, str] = {}
    if cmd.ends_at <= cmd.starts_at:
        errors["ends_at"] = "结束时间应晚于开始时间"
    elif cmd.ends_at - cmd.starts_at > MAX_DUTY:
        errors["ends_at"] = "一次值班不能超过24小时"
    elif cmd.ends_at <= now:
        errors["ends_at"] = "该时段已经结束"
    with uow:
        session = uow.session
        # Locking the leader's row makes two supervisors adding windows for the same leader
        # at once take turns, so the overlap check below cannot be raced (PostgreSQL; SQLite
        # writers are serialised anyway).
        leader = session.scalar(sa.select(User).where(User.id == cmd.user_id).with_for_update())
        if leader is None or leader.role is not Role.LEADER or not leader.active:
            errors["user_id"] = "只能为在职的领导安排值班"
        if errors:
            raise ValidationError(errors, "值班安排有误")
        assert leader is not None
        clash = session.scalar(
            sa.select(LeaderDuty)
            .where(
                LeaderDuty.user_id == cmd.user_id,
                LeaderDuty.starts_at < cmd.ends_at,
                LeaderDuty.ends_at > cmd.starts_at,
            )
            .order_by(LeaderDuty.starts_at)
            .limit(1)
        )
        if clash is not None:
            raise RuleViolation(
                f"与{leader.display_name}已有的值班时段重叠"
                f"（{_local(clash.starts_at, tz)}—{_local(clash.ends_at, tz)}）",
                {"duty_id": clash.id},
            )
        duty = LeaderDuty(
            user_id=cmd.user_id,
            starts_at=cmd.starts_at.astimezone(dt.UTC),
            ends_at=cmd.ends_at.astimezone(dt.UTC),
            note=cmd.note,
            created_by=actor.user_id,
        )
        session.add(duty)
        session.flush()
        view = duty_view(duty, leader.display_name, now)
        audit_act(
            session,
            actor,
            "add_leader_duty",
            None,
            {k: view[k] for k in ("id", "user_id", "starts_at", "ends_at")},
        )
        uow.commit()
    return view


def delete_duty(uow: UnitOfWork, actor: Actor, duty_id: int) -> None:
    """Remove a window from the schedule; audited. A leader signed in stays signed in.

    :raises NotFound: no such window.
    """
    with uow:
        duty = uow.session.get(LeaderDuty, duty_id)
        if duty is None:
            raise NotFound("值班安排不存在", {"duty_id": duty_id})
        audit_act(
            uow.session,
            actor,
            "delete_leader_duty",
            None,
            {
                "id": duty.id,
                "user_id": duty.user_id,
                "starts_at": duty.starts_at.isoformat(),
                "ends_at": duty.ends_at.isoformat(),
            },
        )
        uow.session.delete(duty)
        uow.commit()


def duty_at(session: Session, user_id: int, moment: dt.datetime) -> LeaderDuty | None:
    """The leader's window holding `moment`, if any."""
    return session.scalar(
        sa.select(LeaderDuty)
        .where(
            LeaderDuty.user_id == user_id,
            LeaderDuty.starts_at <= moment,
            LeaderDuty.ends_at > moment,
        )
        .limit(1)
    )


def on_duty_check(
    session_factory: Callable[[], Session], now: Callable[[], dt.datetime]
) -> Callable[[Actor], bool]:
    """Whether a leader is inside one of their duty windows now: only then do they sign in
    to a seat or accept requests (DispatchContext.on_duty)."""

    def on_duty(actor: Actor) -> bool:
        if actor.role is not Role.LEADER or actor.user_id is None:
            return False
        with session_factory() as session:
            return duty_at(session, actor.user_id, now().astimezone(dt.UTC)) is not None

    return on_duty


def tag_leader_call(
    session: Session, ticket: Ticket, user_id: int, answered_at: dt.datetime
) -> bool:
    """Tag the ticket 领导接听 when the leader was on duty when they took the call.

    Returns whether the tag was added now (False when off duty or already tagged). The tag
    list is replaced, not appended to: the ORM does not see changes inside a JSON list.
    """
    if LEADER_CALL_TAG in ticket.tags or duty_at(session, user_id, answered_at) is None:
        return False
    ticket.tags = [*ticket.tags, LEADER_CALL_TAG]
    return True
