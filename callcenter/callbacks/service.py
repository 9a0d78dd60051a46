"""漏接回拨: call-back tasks for the callers the hotline did not answer.

A call whose record ends abandoned (the caller hung up while waiting, or while seats rang
that nobody answered) or overflow (turned away busy after `telephony.max_wait_seconds`)
opens a task for the caller's number, or adds to the number's task still open. When the
number gets through to an operator later, its task is closed as `called_again`.

That hook (`note_call`) runs inside the transaction that writes the call record
(`callcenter.records.sync.sync_record`), so a task is never lost and never made twice:

- the record row is read `FOR UPDATE`, and only the step that moves it to its final outcome
  counts the call (a repeated report of the same end finds it final already);
- one open task per number: the writers for one number are serialised (a transaction-scoped
  advisory lock on PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises every writer), and the
  task row itself is locked, so a second missed call finds the first one's task.

Operators work the tasks: claim (认领), dial from their own seat's softphone (回拨), record
the result (reached, no_answer: open again for another try, wrong_number). Team leads and
above may cancel. Every change is pushed as `callback.changed` to the room `hotline` once
committed; the payload names the task, never the number.
"""

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from typing import Any
from typing import Literal

import sqlalchemy as sa
from pydantic import StringConstraints
from sqlalchemy.orm import Session

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdError
from callcenter.acd.engine import AgentState
from callcenter.acd.engine import NotReadyReason
from callcenter.acd.seatlink import send_to_seat
from callcenter.models import CallbackTask
from callcenter.models import CallRecord
from dispatch.tickets.context import Publish
from dispatch.tickets.models import Ticket
from infra.commands import Command
from infra.db import UnitOfWork
from infra.ids import RowId
from infra.models import User
from kernel.actor import Actor
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import RuleViolation
from kernel.errors import ValidationError
from kernel.roles import SUPERVISE_ROLES

log = logging.getLogger(__name__)

EVENT = "callback.changed"
ROOM = "hotline"  # every hotline user (agents_ui.realtime)

MISSED = ("abandoned", "overflow")
ANSWERED = ("talking", "answered")
# Outcomes a record has before its final one (None: no record yet).
_BEFORE_FINAL = (None, "queued", "ringing")
ACTIVE = ("open", "claimed")
STATUSES = ("open", "claimed", "done", "cancelled")

REASON_LABELS = {"abandoned": "排队放弃", "overflow": "忙线溢出"}
STATUS_LABELS = {"open": "待回拨", "claimed": "已认领", "done": "已完成", "cancelled": "已取消"}
RESULT_LABELS = {
    "reached": "已联系上",
    "no_answer": "未接通",
    "wrong_number": "号码错误",
    "called_again": "来电已接通",
}
# Numbers worth calling back: digits, maybe a leading +. Anonymous callers ("anonymous",
# "unknown", empty) have none.
_CALLABLE = re.compile(r"^\+?[0-9]{3,20}$")
MAX_NOTE = 1000


class FinishCallback(Command):
    """记录结果: reached (已联系上), no_answer (未接通: stays open for another try),
    wrong_number (号码错误); a note, and the ticket made from the call-back if any."""

    result: Literal["reached", "no_answer", "wrong_number"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE)] = ""
    ticket_id: RowId | None = None


class CancelCallback(Command):
    """取消 a task nobody needs to call back (team lead, supervisor, admin)."""

    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE)] = ""


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to a task: pushed after commit."""

    task_id: int
    status: str
    change: str  # opened, added, closed, claimed, dialled, finished, retry, cancelled


def callable_number(caller: str) -> bool:
    """Whether a caller's number can be called back (not empty, not anonymous)."""
    return bool(_CALLABLE.match(caller.strip()))


# ---------------------------------------------------------------- the record hook


def note_call(session: Session, record: CallRecord, before: str | None) -> Change | None:
    """Open, add to or close the caller's task as the call's record reaches its outcome.

    Call inside the transaction that writes the record, after the row is locked and
    changed; `before` is the record's outcome before this change (None: a new record).
    Only the step into a final outcome counts, so repeated reports of one end add nothing.
    """
    if not callable_number(record.caller):
        return None
    if before in MISSED and record.outcome in ANSWERED:
        # Taken back: the ACD had given the call up as missed for want of reports (the web
        # app was away), and the seat's own report says it was answered.
        return _answered(session, record)
    if before not in _BEFORE_FINAL:
        return None
    if record.outcome in MISSED:
        return _missed(session, record)
    if record.outcome in ANSWERED:
        return _answered(session, record)
    return None


def _missed(session: Session, record: CallRecord) -> Change:
    session.flush()  # the record's id, for the task's reference to it
    at = record.ended_at or record.offered_at
    caller = record.caller.strip()
    task = _active_task(session, caller)
    if task is None:
        task = CallbackTask(
            caller=caller,
            reason=record.outcome,
            first_call_id=record.id,
            last_call_id=record.id,
            missed_calls=1,
            status="open",
            created_at=at,
            updated_at=at,
            attempts=0,
            note="",
        )
        session.add(task)
        session.flush()
        log.info("call-back task %s opened for call %s", task.id, record.call_id)
        return Change(task.id, task.status, "opened")
    task.missed_calls += 1
    task.last_call_id = record.id
    task.reason = record.outcome  # the latest missed call's reason
    task.updated_at = max(task.updated_at, at)
    return Change(task.id, task.status, "added")


def _answered(session: Session, record: CallRecord) -> Change | None:
    task = _active_task(session, record.caller.strip())
    if task is None:
        return None
    at = record.answered_at or record.offered_at
    task.status = "done"
    task.result = "called_again"
    task.done_at = at
    task.updated_at = max(task.updated_at, at)
    task.note = _append(task.note, f"{RESULT_LABELS['called_again']}（通话 {record.call_id}）")
    return Change(task.id, task.status, "closed")


def _active_task(session: Session, caller: str) -> CallbackTask | None:
    """The number's open or claimed task, locked; writers for one number wait in turn."""
    if session.get_bind().dialect.name == "postgresql":
        # No partial unique index ("one open task per number") in the model: a lock per
        # number for the rest of the transaction does the same for everyone who writes.
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(caller))))
    return session.scalar(
        sa.select(CallbackTask)
        .where(CallbackTask.caller == caller, CallbackTask.status.in_(ACTIVE))
        .order_by(CallbackTask.id)
        .limit(1)
        .with_for_update()
    )


def _lock_key(caller: str) -> int:
    digest = hashlib.blake2b(f"callback:{caller}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def announce(publish: Publish, change: Change) -> None:
    """Push `callback.changed`; the change is committed, so a failed push is only logged."""
    payload = {"v": 1, "task_id": change.task_id, "status": change.status, "change": change.change}
    try:
        publish(EVENT, payload, [ROOM])
    except Exception:  # noqa: BLE001 - a missed push must not fail the request or the call
        log.exception("could not push %s for task %s", EVENT, change.task_id)


# ---------------------------------------------------------------- reading


def list_tasks(
    uow: UnitOfWork, statuses: tuple[str, ...] = ACTIVE, page: int = 1, per_page: int = 20
) -> dict[str, Any]:
    """Tasks in `statuses`, newest first, one page; `open_count` counts the open and claimed."""
    with uow:
        s = uow.session
        where = CallbackTask.status.in_(statuses)
        total = s.scalar(sa.select(sa.func.count()).select_from(CallbackTask).where(where)) or 0
        tasks = list(
            s.scalars(
                sa.select(CallbackTask)
                .where(where)
                .order_by(CallbackTask.created_at.desc(), CallbackTask.id.desc())
                .offset((page - 1) * per_page)
                .limit(per_page)
            )
        )
        open_count = (
            s.scalar(
                sa.select(sa.func.count())
                .select_from(CallbackTask)
                .where(CallbackTask.status.in_(ACTIVE))
            )
            or 0
        )
        items = _views(s, tasks)
    return {
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "open_count": open_count,
    }


def get_task(uow: UnitOfWork, task_id: int) -> dict[str, Any]:
    """One task as the API shows it.

    :raises NotFound: no such task.
    """
    with uow:
        task = uow.session.get(CallbackTask, task_id)
        if task is None:
            raise NotFound("回拨任务不存在", {"task_id": task_id})
        return _views(uow.session, [task])[0]


def _views(session: Session, tasks: list[CallbackTask]) -> list[dict[str, Any]]:
    call_ids = {i for t in tasks for i in (t.first_call_id, t.last_call_id) if i is not None}
    offered: dict[int, dt.datetime] = {}
    if call_ids:
        rows = session.execute(
            sa.select(CallRecord.id, CallRecord.offered_at).where(CallRecord.id.in_(call_ids))
        )
        offered = {call_id: at for call_id, at in rows}
    user_ids = {i for t in tasks for i in (t.claimed_by_id, t.done_by_id) if i is not None}
    names: dict[int, str] = {}
    if user_ids:
        rows_ = session.execute(sa.select(User.id, User.display_name).where(User.id.in_(user_ids)))
        names = {user_id: name for user_id, name in rows_}

    def person(user_id: int | None) -> dict[str, Any] | None:
        return None if user_id is None else {"id": user_id, "name": names.get(user_id, "")}

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    out = []
    for t in tasks:
        first = offered.get(t.first_call_id) if t.first_call_id else None
        last = offered.get(t.last_call_id) if t.last_call_id else None
        out.append(
            {
                "id": t.id,
                "caller": t.caller,
                "reason": t.reason,
                "reason_label": REASON_LABELS.get(t.reason, t.reason),
                "missed_calls": t.missed_calls,
                "first_missed_at": iso(first or t.created_at),
                "last_missed_at": iso(last or t.updated_at),
                "status": t.status,
                "status_label": STATUS_LABELS.get(t.status, t.status),
                "claimed_by": person(t.claimed_by_id),
                "claimed_at": iso(t.claimed_at),
                "attempts": t.attempts,
                "result": t.result,
                "result_label": RESULT_LABELS.get(t.result or "", ""),
                "note": t.note,
                "done_by": person(t.done_by_id),
                "done_at": iso(t.done_at),
                "ticket_id": t.ticket_id,
                "created_at": iso(t.created_at),
                "updated_at": iso(t.updated_at),
            }
        )
    return out


# ---------------------------------------------------------------- working a task


def _load_for_update(session: Session, task_id: int) -> CallbackTask:
    task = session.scalar(
        sa.select(CallbackTask).where(CallbackTask.id == task_id).with_for_update()
    )
    if task is None:
        raise NotFound("回拨任务不存在", {"task_id": task_id})
    return task


def _take(task: CallbackTask, actor: Actor, now: dt.datetime) -> bool:
    """Claim an open task for the actor; True if it was claimed now.

    :raises RuleViolation: the task is closed, or another operator has it.
    """
    if task.status not in ACTIVE:
        raise RuleViolation(
            f"该回拨任务{STATUS_LABELS.get(task.status, task.status)}，不能再操作",
            {"task_id": task.id, "status": task.status},
        )
    if task.status == "claimed":
        if task.claimed_by_id != actor.user_id:
            raise RuleViolation(
                "该回拨任务已由其他话务员认领",
                {"task_id": task.id, "claimed_by_id": task.claimed_by_id},
            )
        return False
    task.status = "claimed"
    task.claimed_by_id = actor.user_id
    task.claimed_at = now
    task.updated_at = now
    return True


def claim(
    uow: UnitOfWork, actor: Actor, task_id: int, now: dt.datetime, publish: Publish
) -> dict[str, Any]:
    """认领: the actor takes the task (again by the same operator: no change).

    :raises NotFound: no such task.
    :raises RuleViolation: closed, or claimed by someone else.
    """
    with uow:
        task = _load_for_update(uow.session, task_id)
        if _take(task, actor, now):
            change = Change(task.id, task.status, "claimed")
            uow.after_commit(lambda: announce(publish, change))
        uow.commit()
        return _views(uow.session, [task])[0]


def seat_of(acd: Acd, user_id: int) -> str | None:
    """The seat the user is signed in at (set by `POST /api/cti/seat`)."""
    raw = acd.r.get(acd.keys.user(user_id))
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def dial(
    uow: UnitOfWork,
    acd: Acd,
    actor: Actor,
    task_id: int,
    now: dt.datetime,
    publish: Publish,
    synced: Callable[[str], None] = lambda call_id: None,
) -> dict[str, Any]:
    """回拨: the actor's own seat softphone calls the task's number; claims an open task.

    A seat that is ready (or in 话后整理) is set not ready (话后处理) first, so that no queue
    call rings there during the call-back; the operator says 就绪 when done. `synced` is
    told the seat's last call when its 话后整理 ended here, to bring its record up to date.

    :raises NotFound: no such task.
    :raises RuleViolation: no seat, the seat is in a call or its softphone is not running,
        the task is closed or someone else's.
    """
    assert actor.user_id is not None
    with uow:
        task = _load_for_update(uow.session, task_id)
        claimed = _take(task, actor, now)
        seat, wrapped = dial_from_seat(acd, actor.user_id, task.caller, synced)
        task.updated_at = now
        change = Change(task.id, task.status, "claimed" if claimed else "dialled")
        uow.after_commit(lambda: announce(publish, change))
        uow.commit()
        view = _views(uow.session, [task])[0]
    if wrapped:
        synced(wrapped)
    return view | {"seat": seat, "seat_state": acd.seat(seat).get("state", "")}


def dial_from_seat(
    acd: Acd, user_id: int, number: str, synced: Callable[[str], None] = lambda call_id: None
) -> tuple[str, str | None]:
    """The user's own seat softphone calls `number` (回拨, 人工回访).

    A seat that is ready (or in 话后整理) is set not ready (话后处理) first, so that no queue
    call rings there during the call; the operator says 就绪 when done. Returns the seat and
    the call whose 话后整理 this ended (its record wants its real wrap-up time), if any.

    :raises RuleViolation: no seat, the seat is in a call or offline, or its softphone is
        not running (then the seat is left as it was).
    """
    seat = seat_of(acd, user_id)
    if seat is None:
        raise RuleViolation("请先在受理工作台签入坐席，再拨打", {"seat": None})
    before = acd.seat(seat)
    state = before.get("state", AgentState.OFFLINE.value)
    if state in (AgentState.RINGING, AgentState.TALKING):
        raise RuleViolation("坐席正在通话中，不能拨打", {"seat": seat, "state": state})
    if state == AgentState.OFFLINE:
        raise RuleViolation("坐席已签出，请先签入", {"seat": seat, "state": state})
    if state in (AgentState.READY, AgentState.WRAP_UP):
        try:
            acd.not_ready(seat, NotReadyReason.AFTER_CALL_WORK)
        except AcdError as exc:  # a queue call got there first
            raise RuleViolation("坐席正在通话中，不能拨打", {"seat": seat}) from exc
    wrapped = before.get("last_call") if state == AgentState.WRAP_UP else None
    if not _send_dial(acd, seat, number):
        if state == AgentState.READY:
            acd.ready(seat)  # as it was: nothing was dialled
        elif wrapped:
            synced(wrapped)
        raise RuleViolation("坐席话机未连接（hotline seat 进程未运行）", {"seat": seat})
    return seat, wrapped


def _send_dial(acd: Acd, seat: str, number: str) -> bool:
    """Ask the seat's softphone to call the number; False when no softphone listens."""
    return send_to_seat(acd.r, acd.keys, seat, {"action": "dial", "target": number})


def finish(
    uow: UnitOfWork,
    actor: Actor,
    task_id: int,
    cmd: FinishCallback,
    now: dt.datetime,
    publish: Publish,
) -> dict[str, Any]:
    """记录结果: reached and wrong_number close the task; no_answer opens it again for
    another try (anyone may take it). Each result recorded counts as one attempt.

    :raises NotFound: no such task.
    :raises RuleViolation: closed, or claimed by someone else.
    :raises ValidationError: the ticket does not exist.
    """
    with uow:
        s = uow.session
        task = _load_for_update(s, task_id)
        _take(task, actor, now)
        if cmd.ticket_id is not None:
            if s.get(Ticket, cmd.ticket_id) is None:
                raise ValidationError({"ticket_id": "工单不存在"}, "关联的工单不存在")
            task.ticket_id = cmd.ticket_id
        label = RESULT_LABELS[cmd.result]
        task.attempts += 1
        task.result = cmd.result
        task.note = _append(task.note, f"{label}：{cmd.note}" if cmd.note else label)
        task.updated_at = now
        if cmd.result == "no_answer":
            task.status = "open"
            task.claimed_by_id = None
            task.claimed_at = None
            change = Change(task.id, task.status, "retry")
        else:
            task.status = "done"
            task.done_by_id = actor.user_id
            task.done_at = now
            change = Change(task.id, task.status, "finished")
        uow.after_commit(lambda: announce(publish, change))
        uow.commit()
        return _views(s, [task])[0]


def cancel(
    uow: UnitOfWork,
    actor: Actor,
    task_id: int,
    cmd: CancelCallback,
    now: dt.datetime,
    publish: Publish,
) -> dict[str, Any]:
    """取消 (team lead, supervisor, admin): the task is closed without a call.

    :raises PermissionDenied: an operator.
    :raises NotFound: no such task.
    :raises RuleViolation: already closed.
    """
    if actor.role not in SUPERVISE_ROLES:
        raise PermissionDenied("只有班长、督办、管理员可以取消回拨任务", {"role": actor.role.value})
    with uow:
        task = _load_for_update(uow.session, task_id)
        if task.status not in ACTIVE:
            raise RuleViolation(
                f"该回拨任务{STATUS_LABELS.get(task.status, task.status)}，不能取消",
                {"task_id": task.id, "status": task.status},
            )
        task.status = "cancelled"
        task.done_by_id = actor.user_id
        task.done_at = now
        task.updated_at = now
        task.note = _append(task.note, f"已取消：{cmd.note}" if cmd.note else "已取消")
        change = Change(task.id, task.status, "cancelled")
        uow.after_commit(lambda: announce(publish, change))
        uow.commit()
        return _views(uow.session, [task])[0]


def _append(note: str, line: str) -> str:
    # Each attempt's result is one line: the task keeps its history.
    return f"{note}\n{line}" if note else line
