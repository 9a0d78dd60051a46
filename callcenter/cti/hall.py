"""The supervisors' side of the CTI: the hall's live view (坐席监控), a supervisor's not-ready,
and the leader duty schedule (领导接听).

The hall is read from the ACD in Redis: every seat with its agent, state and current call,
and the waiting calls, oldest first. Callers' numbers are shown masked (the last 4 digits),
so reading the hall writes no audit row. Whenever the hall changes, the supervisors' pages
hear `hall.changed` (room `hall`, no data in it) and fetch `GET /api/cti/hall` again.
"""

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

import redis
import sqlalchemy as sa
from flask import Blueprint
from flask import Response
from flask import jsonify
from werkzeug.exceptions import ServiceUnavailable

from callcenter import duty
from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdError
from callcenter.acd.engine import AgentState
from callcenter.acd.engine import NotReadyReason
from callcenter.records.sync import close_record
from callcenter.records.sync import sync_record
from callcenter.wiring import container
from infra.audit import audit_act
from infra.http import current_actor
from infra.http import login_required
from infra.http import parse_body
from infra.models import User
from kernel.errors import NotFound
from kernel.errors import RuleViolation
from kernel.roles import SUPERVISE_ROLES
from kernel.roles import Role

log = logging.getLogger(__name__)

bp = Blueprint("hall", __name__, url_prefix="/api/cti")

HALL_ROOM = "hall"  # joined by SUPERVISE_ROLES (agents_ui.realtime)
HALL_EVENT = "hall.changed"
# Who keeps the leaders' duty schedule; team leads see it on the hall page.
DUTY_ROLES = (Role.SUPERVISOR, Role.ADMIN)

STATE_LABELS = {
    AgentState.OFFLINE: "离线",
    AgentState.READY: "就绪",
    AgentState.NOT_READY: "示忙",
    AgentState.RINGING: "振铃",
    AgentState.TALKING: "通话中",
    AgentState.WRAP_UP: "话后整理",
}
# The same words as the operator's console.
REASON_LABELS = {
    NotReadyReason.BREAK: "小休",
    NotReadyReason.MEAL: "就餐",
    NotReadyReason.TRAINING: "培训",
    NotReadyReason.AFTER_CALL_WORK: "话后整理",
    NotReadyReason.MISSED: "未接来电",
    NotReadyReason.SUPERVISOR: "班长设置",
    NotReadyReason.UNREACHABLE: "话机未连通",
    NotReadyReason.HEADSET: "耳机断开",
}
# Set by the ACD: the seat's softphone is gone, its console is gone, its operator signed out.
OFFLINE_REASONS = {
    "seat_lost": "话机断开",
    "console_lost": "工作台已断开",
    "signed_out": "已退出登录",
}
_SEAT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_DIGITS = re.compile(r"(\d+)")


def mask_caller(number: str) -> str:
    """Hide all but the last 4 characters of a caller's number: *******5678."""
    if len(number) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 4) + number[-4:]


def state_label(state: str, reason: str) -> str:
    """示忙（小休）, 通话中, 离线（话机断开）...: what a person reads for an agent state."""
    try:
        label = STATE_LABELS[AgentState(state)]
    except ValueError:
        return state
    if reason and state == AgentState.NOT_READY:
        try:
            label += f"（{REASON_LABELS[NotReadyReason(reason)]}）"
        except ValueError:
            label += f"（{reason}）"
    elif reason and state == AgentState.OFFLINE:
        label += f"（{OFFLINE_REASONS.get(reason, reason)}）"
    return label


def _natural(name: str) -> list[Any]:
    # s2 before s10
    return [int(p) if p.isdigit() else p for p in _DIGITS.split(name)]


def _user_id(seat: dict[str, str]) -> int | None:
    raw = seat.get("user_id") or seat.get("agent", "").removeprefix("u")
    return int(raw) if raw.isdigit() else None


def _read(
    acd: Acd,
) -> tuple[float, list[tuple[str, dict[str, str]]], list[str], dict[str, dict[str, str]]]:
    """The hall's raw state: now, every seat's hash, the queue, the hashes of the calls.

    One round trip for all seats and one for all calls (the keys of `Acd.seat` and `Acd.call`):
    the hall may have hundreds of seats, and every supervisor's page reads it every few seconds.
    """
    names = sorted((_text(s) for s in acd.r.smembers(acd.keys.seats)), key=_natural)
    pipe = acd.r.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(acd.keys.seat(name))
    seats = [(name, _hash(h)) for name, h in zip(names, pipe.execute(), strict=True)]
    queue = acd.queue()
    call_ids = list(dict.fromkeys([*queue, *(s["call"] for _, s in seats if s.get("call"))]))
    pipe = acd.r.pipeline(transaction=False)
    for call_id in call_ids:
        pipe.hgetall(acd.keys.call(call_id))
    calls = {call_id: _hash(h) for call_id, h in zip(call_ids, pipe.execute(), strict=True)}
    return acd.clock(), seats, queue, calls


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _hash(raw: Any) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _seconds(now: float, since: str | None) -> int | None:
    try:
        return max(0, int(now - float(since))) if since else None
    except ValueError:
        return None


def hall_snapshot(acd: Acd, names: Callable[[set[int]], dict[int, str]]) -> dict[str, Any]:
    """Every seat (name, agent, state, time in state, current call) and the queue, oldest first.

    `names` gives users' display names by id. Callers' numbers are masked.

    :raises redis.RedisError: the ACD's Redis cannot be reached.
    """
    now, raw_seats, raw_queue, calls = _read(acd)
    ids = {uid for _, s in raw_seats if (uid := _user_id(s)) is not None}
    who = names(ids) if ids else {}
    seats = []
    for name, s in raw_seats:
        state = s.get("state") or AgentState.OFFLINE.value
        reason = s.get("reason", "") if state in (AgentState.NOT_READY, AgentState.OFFLINE) else ""
        call_id = s.get("call") or None
        caller = calls.get(call_id, {}).get("caller", "") if call_id else ""
        uid = _user_id(s)
        seats.append(
            {
                "seat": name,
                "agent": s.get("agent", ""),
                "agent_name": who.get(uid, s.get("agent", "")) if uid is not None else "",
                "state": state,
                "reason": reason,
                "state_label": state_label(state, reason),
                "seconds_in_state": _seconds(now, s.get("since")),
                "call_id": call_id,
                "caller": mask_caller(caller) if caller else None,
                # a supervisor's not-ready, or the operator's sign-out, waiting for the call's end
                "not_ready_pending": s.get("pending") == "not_ready",
                "offline_pending": s.get("pending") == "offline",
            }
        )
    queue = [
        {
            "position": i,
            "call_id": call_id,
            "caller": mask_caller(calls[call_id].get("caller", "")) or None,
            "wait_seconds": _seconds(now, calls[call_id].get("arrived")),
        }
        for i, call_id in enumerate(raw_queue, start=1)
    ]
    online = [s for s in seats if s["state"] != AgentState.OFFLINE]
    return {
        "v": 1,
        "as_of": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
        "seats": seats,
        "queue": queue,
        "counts": {
            "seats_online": len(online),
            "ready": sum(1 for s in online if s["state"] == AgentState.READY),
            "in_call": sum(
                1 for s in online if s["state"] in (AgentState.RINGING, AgentState.TALKING)
            ),
            "queued": len(queue),
            "longest_wait": max((q["wait_seconds"] or 0 for q in queue), default=None),
        },
    }


def user_names(ids: set[int]) -> dict[int, str]:
    """Users' display names by id, through the per-process name cache."""

    def fetch(wanted: set[int]) -> dict[int, str]:
        with container().uow() as uow:
            rows = uow.session.execute(
                sa.select(User.id, User.display_name).where(User.id.in_(wanted))
            )
            return {uid: name for uid, name in rows}

    return container().dispatch.names.lookup("user", ids, fetch)


def current_hall() -> dict[str, Any]:
    """The hall now, as the API gives it; ServiceUnavailable (503) when Redis is down."""
    try:
        acd = container().acd
        if acd.sweep_absent():  # consoles gone quiet: show (and route) the hall as it is
            notify_hall()
        return hall_snapshot(acd, user_names)
    except redis.RedisError as exc:
        log.warning("hall view: the ACD's Redis cannot be reached: %s", exc)
        raise ServiceUnavailable("话务服务暂不可用（无法连接 Redis），请稍后重试") from exc


def notify_hall() -> None:
    """Tell the supervisors' hall pages that the hall changed; never raises.

    The event carries no data: each page fetches the hall again with its own rights.
    """
    try:
        container().dispatch.publish(HALL_EVENT, {"v": 1}, [HALL_ROOM])
    except Exception:  # noqa: BLE001 - a missed push must not disturb a call or a request
        log.exception("could not push %s", HALL_EVENT)


# ---------------------------------------------------------------- routes


@bp.get("/hall")
@login_required(*SUPERVISE_ROLES)
def hall() -> Response:
    """Every seat and the queue, for the supervisors' live view."""
    return jsonify(current_hall())


@bp.post("/seats/<seat>/not_ready")
@login_required(*SUPERVISE_ROLES)
def force_not_ready(seat: str) -> Response:
    """强制示忙: now, or when the seat's current call ends (`outcome` "pending")."""
    acd = container().acd
    if not _SEAT.match(seat) or not acd.r.sismember(acd.keys.seats, seat):
        raise NotFound("坐席不存在", {"seat": seat})
    agent = acd.seat(seat).get("agent", "")
    try:
        outcome = acd.not_ready(seat, NotReadyReason.SUPERVISOR)
    except AcdError as exc:
        raise RuleViolation("该坐席未签入，不能示忙", {"seat": seat}) from exc
    actor = current_actor()
    with container().uow() as uow:
        audit_act(
            uow.session,
            actor,
            "force_not_ready",
            None,
            {"seat": seat, "agent": agent, "outcome": outcome},
        )
        uow.commit()
    notify_hall()
    return jsonify({"seat": seat, "outcome": outcome})


@bp.post("/seats/<seat>/reset")
@login_required(*SUPERVISE_ROLES)
def reset_seat(seat: str) -> Response:
    """复位: free a seat the ACD believes is ringing or talking when it is not (the reports of
    the call's end were lost). The call is ended (`end_reason` supervisor_reset) and its record
    follows; the seat is not ready (班长设置), or offline if its operator had signed out."""
    c = container()
    acd = c.acd
    if not _SEAT.match(seat) or not acd.r.sismember(acd.keys.seats, seat):
        raise NotFound("坐席不存在", {"seat": seat})
    before = acd.seat(seat)
    try:
        call_id = acd.reset(seat)
    except AcdError as exc:
        raise RuleViolation("该坐席不在通话中，无需复位", {"seat": seat}) from exc
    call = acd.call(call_id) if call_id else {}
    if call_id:
        # The record gets its final state: from the ACD's hash, or (the hash expired after a
        # day stuck) closed as it stands.
        if call:
            sync_record(c.uow(), call_id, call, c.dispatch.publish)
        else:
            at = dt.datetime.fromtimestamp(acd.clock(), dt.UTC)
            close_record(c.uow(), call_id, "supervisor_reset", at, c.dispatch.publish)
    after = acd.seat(seat)
    outcome = {
        "seat": seat,
        "call_id": call_id or None,
        "call_state": call.get("state") or None,
        "state": after.get("state", ""),
    }
    with c.uow() as uow:
        audit_act(
            uow.session,
            current_actor(),
            "reset_seat",
            None,
            {"agent": before.get("agent", ""), "was": before.get("state", ""), **outcome},
        )
        uow.commit()
    log.warning("seat %s reset by a supervisor (call %s)", seat, call_id or "-")
    state = {"call_id": call_id, "state": outcome["call_state"], "reason": "supervisor_reset"}
    _tell_operator(before, "call.state", state)
    notify_hall()
    return jsonify(outcome)


def _tell_operator(seat: dict[str, str], event: str, payload: dict[str, Any]) -> None:
    """Tell the operator signed in at the seat (their console follows); never raises."""
    user_id = _user_id(seat)
    if user_id is None or not payload.get("call_id"):
        return
    try:
        container().dispatch.publish(event, payload, [f"user:{user_id}"])
    except Exception:  # noqa: BLE001 - a missed push must not undo the reset
        log.exception("could not push %s", event)


@bp.get("/duties")
@login_required(*SUPERVISE_ROLES)
def list_duties() -> Response:
    """The leaders' duty windows not over yet, earliest first."""
    c = container()
    return jsonify({"items": duty.list_duties(c.uow(), c.dispatch.utcnow())})


@bp.post("/duties")
@login_required(*DUTY_ROLES)
def add_duty() -> tuple[Response, int]:
    cmd = parse_body(duty.AddDuty)
    c = container()
    view = duty.add_duty(
        c.uow(), current_actor(), cmd, c.dispatch.utcnow(), c.dispatch.policy.calendar.tz
    )
    return jsonify(view), 201


@bp.delete("/duties/<int:duty_id>")
@login_required(*DUTY_ROLES)
def delete_duty(duty_id: int) -> Response:
    duty.delete_duty(container().uow(), current_actor(), duty_id)
    return jsonify({"id": duty_id, "deleted": True})
