"""CTI for the operator's browser: sign in to a seat, set the agent state, hear of calls.

The seat's state lives in the ACD (Redis); this API is the browser's way to it. When the ACD
gives a call to a seat, the operator signed in there gets `call.offered` on Socket.IO (their
own room `user:<id>`) with the caller's number and where it is from (phonenumbers), so the
console can show the caller's earlier tickets before answering (screen pop).
"""

import logging
from typing import Annotated
from typing import Any
from typing import Literal

import phonenumbers
import sqlalchemy as sa
from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import send_file
from phonenumbers import carrier
from phonenumbers import geocoder
from pydantic import StringConstraints

from callcenter.acd import headset
from callcenter.acd.engine import AcdError
from callcenter.acd.engine import NotReadyReason
from callcenter.acd.seatlink import send_to_seat
from callcenter.acd.spytoken import issue_spy_token
from callcenter.acd.transfers import LEAD_SKILL
from callcenter.acd.transfers import issue_transfer
from callcenter.cti.hall import notify_hall
from callcenter.cti.targets import LEAD
from callcenter.cti.targets import SEAT
from callcenter.cti.targets import allowed as allowed_target
from callcenter.cti.targets import seat_targets
from callcenter.cti.targets import transfer_targets
from callcenter.duty import LEADER_CALL_TAG
from callcenter.duty import tag_leader_call
from callcenter.lines import list_lines
from callcenter.lines import skills_of
from callcenter.models import CallRecord
from callcenter.records.sync import recordings_root
from callcenter.records.sync import sync_record
from callcenter.wiring import container
from dispatch.tickets.models import Ticket
from infra.audit import audit_act
from infra.commands import Command
from infra.http import current_actor
from infra.http import login_required
from infra.http import parse_body
from infra.ids import RowId
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import RuleViolation
from kernel.errors import ValidationError
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES
from kernel.roles import Role

log = logging.getLogger(__name__)
bp = Blueprint("cti", __name__, url_prefix="/api/cti")
SEAT_ROLES = (*sorted(HOTLINE_ROLES), Role.LEADER)  # leaders take calls on duty (领导接听)

SeatName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class SeatLogin(Command):
    """Sign in to a seat (签入坐席)."""

    seat: SeatName
    skills: list[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,20}$")]] = []


class AgentStateChange(Command):
    """就绪, 示忙 with a reason, or 签出."""

    state: Annotated[str, StringConstraints(pattern=r"^(ready|not_ready|logout)$")]
    # The operator's own reasons only: 未接来电, 班长设置, 话机未连通 and 耳机断开 are the
    # ACD's and a supervisor's to set, and not-ready time by reason must not be forged.
    reason: Literal["break", "meal", "training", "after_call_work"] | None = None


class CallCommand(Command):
    """A softphone button: 接听, 挂断, 保持, 恢复, 静音, 取消静音, 按键, 转接, 三方通话."""

    action: Annotated[
        str,
        StringConstraints(
            pattern=r"^(answer|hangup|hold|unhold|mute|unmute|dtmf|transfer|conference"
            r"|conference_end)$"
        ),
    ]
    digits: Annotated[str, StringConstraints(pattern=r"^[0-9*#]{1,20}$")] | None = None
    # 转接 / 三方通话: a listed number or a unit's phone; 转接 only: another seat signed in
    # (`seat:S`) or the team lead on duty (`lead`) (`callcenter.cti.targets`)
    target: (
        Annotated[str, StringConstraints(pattern=r"^([0-9]{1,20}|seat:[A-Za-z0-9_-]{1,32}|lead)$")]
        | None
    ) = None


class SpyCommand(Command):
    """监听 (monitor), 耳语 (whisper) or 强插 (barge) on another seat's call; 退出 ends it."""

    seat: SeatName
    mode: Annotated[str, StringConstraints(pattern=r"^(monitor|whisper|barge|end)$")]


class DialCitizen(Command):
    """Call a ticket's citizen back from the operator's own seat (人工回访)."""

    ticket_id: RowId


class LinkTicket(Command):
    """The ticket accepted during a call: written on the call's record."""

    call_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    ticket_id: RowId


def caller_info(number: str) -> dict[str, Any]:
    """Where a caller's number is from: 江苏省连云港市 中国移动 (empty when unknown)."""
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return {"number": number, "location": "", "carrier": ""}
    return {
        "number": number,
        "location": geocoder.description_for_number(parsed, "zh"),
        "carrier": carrier.name_for_number(parsed, "zh"),
    }


def _seat_of(user_id: int) -> str | None:
    """The seat this user is signed in at (None once someone else has signed in there)."""
    acd = container().acd
    raw = container().redis.get(acd.keys.user(user_id))
    seat = raw.decode() if isinstance(raw, bytes) else raw
    if seat is None or acd.seat(seat).get("user_id") != str(user_id):
        return None
    return seat


@bp.post("/seat")
@login_required(*SEAT_ROLES)
def sign_in_seat() -> Response:
    """签入坐席 from the console, which must then keep the seat alive (`seat.alive`)."""
    cmd = parse_body(SeatLogin)
    actor = current_actor()
    assert actor.user_id is not None
    if actor.role is Role.LEADER and not container().dispatch.on_duty(actor):
        # 领导接听: only inside one of their duty windows
        raise RuleViolation("当前不在领导接听值班时段", {"user_id": actor.user_id})
    acd = container().acd
    held = acd.seat(cmd.seat)
    if (
        held.get("user_id") not in (None, "", str(actor.user_id))
        and held.get("state") not in (None, "", "offline")
        and acd.r.exists(acd.keys.alive(cmd.seat))
    ):
        raise RuleViolation("该坐席已由其他话务员签入", {"seat": cmd.seat})
    previous = _seat_of(actor.user_id)
    if previous is not None and previous != cmd.seat:
        try:
            acd.logout(previous)
        except AcdError as exc:
            raise RuleViolation(
                f"坐席 {previous} 正在通话，请结束通话后再换坐席", {"seat": previous}
            ) from exc
    # The lines this operator takes (系统管理 → 热线号码); a line's skill is not theirs to claim.
    lines = list_lines(container().uow())
    mine = set(skills_of(container().uow(), actor.user_id))
    # 值班班长: a team lead at a seat takes the calls transferred to the lead on duty
    if actor.role == Role.TEAM_LEAD:
        mine.add(LEAD_SKILL)
    claimed = {line.skill for line in lines} | {LEAD_SKILL}
    skills = tuple(sorted(mine | {k for k in cmd.skills if k not in claimed}))
    try:
        acd.login(cmd.seat, f"u{actor.user_id}", skills, user_id=actor.user_id, console=True)
    except AcdError as exc:
        raise RuleViolation("该坐席正在通话，不能签入", {"seat": cmd.seat}) from exc
    container().redis.set(acd.keys.user(actor.user_id), cmd.seat)
    _end_headset(cmd.seat)  # a headset left over from an earlier shift; this one calls anew
    notify_hall()
    return jsonify(_me(actor.user_id))


@bp.post("/alive")
@login_required(*SEAT_ROLES)
def keep_alive() -> Response:
    """The console is still there: the seat keeps taking calls for another grace period.

    The console page says so over its live connection (`seat.alive`); this is the same for
    clients without one. A seat nobody keeps alive goes offline (`telephony.console_grace_seconds`).
    """
    actor = current_actor()
    assert actor.user_id is not None
    seat = _seat_of(actor.user_id)
    if seat is not None:
        container().acd.alive(seat)
    return jsonify(_me(actor.user_id))


def seat_alive(user_id: int) -> dict[str, Any]:
    """Keep the user's seat alive (their console is there); return the seat's state."""
    seat = _seat_of(user_id)
    if seat is not None:
        container().acd.alive(seat)
    return _me(user_id)


def sign_out_seat(user_id: int) -> None:
    """The operator left the web app: sign their seat out (when its call ends, if in one).

    Never raises: signing out of the web app must work whatever the ACD's state.
    """
    try:
        seat = _seat_of(user_id)
        acd = container().acd
        container().redis.delete(acd.keys.user(user_id))
        if seat is None:
            return
        try:
            outcome = acd.logout(seat, signed_out=True)
        except AcdError:
            return  # already offline
        log.info("seat %s signed out with its operator (%s)", seat, outcome)
        _end_headset(seat)
    except Exception:  # noqa: BLE001 - Redis down: the console's grace takes the seat out
        log.exception("could not sign out the seat of user %s", user_id)
        return
    notify_hall()


@bp.post("/state")
@login_required(*SEAT_ROLES)
def change_state() -> Response:
    cmd = parse_body(AgentStateChange)
    actor = current_actor()
    assert actor.user_id is not None
    seat = _my_seat()
    acd = container().acd
    before = acd.seat(seat)
    if before.get("state", "offline") == "offline" and cmd.state != "logout":
        raise RuleViolation("坐席已离线，请重新签入坐席", {"seat": seat})
    try:
        if cmd.state == "ready":
            acd.ready(seat)
        elif cmd.state == "not_ready":
            acd.not_ready(seat, NotReadyReason(cmd.reason or NotReadyReason.BREAK))
        else:
            acd.logout(seat)
            container().redis.delete(acd.keys.user(actor.user_id))
            _end_headset(seat)
    except AcdError as exc:
        raise RuleViolation("通话中不能切换状态", {"seat": seat}) from exc
    if before.get("state") == "wrap_up" and before.get("last_call"):
        # 话后整理 ended by hand: the last call's record gets its real wrap-up time
        call_id = before["last_call"]
        sync_record(container().uow(), call_id, acd.call(call_id))
    notify_hall()
    return jsonify(_me(actor.user_id))


@bp.post("/call")
@login_required(*SEAT_ROLES)
def call_command() -> tuple[Response, int]:
    """Send a softphone command to the seat process the operator is signed in at."""
    cmd = parse_body(CallCommand)
    if cmd.action == "dtmf" and not cmd.digits:
        raise ValidationError({"digits": "请输入按键（0-9、*、#）"}, "按键为空")
    seat = _my_seat()
    message = cmd.model_dump(exclude_none=True)
    if cmd.target and (cmd.target == LEAD or cmd.target.startswith(SEAT)):
        message |= _to_the_hall(seat, cmd)
    elif cmd.action in ("transfer", "conference"):
        tel = container().settings.telephony
        if not cmd.target or not allowed_target(tel, container().uow(), cmd.target):
            raise ValidationError(
                {"target": "请从转接号码列表中选择（紧急求助、专线或成员单位电话）"},
                "转接号码不在允许的列表中",
            )
    return jsonify({"seat": seat, "sent": _send(seat, message)}), 202


def _to_the_hall(own: str, cmd: CallCommand) -> dict[str, str]:
    """A transfer to another seat or to the team lead on duty: the target must be signed in
    now, and the operator in a call; the caller dials back in with a single-use token."""
    if cmd.action != "transfer":
        raise ValidationError({"target": "坐席和值班班长只能转接，不能三方通话"}, "不能三方通话")
    acd = container().acd
    found = {t.number: t for t in seat_targets(acd, container().uow(), own)}
    target = found.get(str(cmd.target))
    if target is None:
        what = "值班班长未签入坐席" if cmd.target == LEAD else "该坐席未签入或就是本坐席"
        raise ValidationError({"target": what}, "转接目标不可用")
    call_id = acd.seat(own).get("call", "")
    call = acd.call(call_id) if call_id else {}
    if call.get("state") != "talking" or call.get("seat") != own:
        raise RuleViolation("当前没有可转接的通话", {"seat": own})
    actor = current_actor()
    label = f"坐席 {own} {actor.name}".strip()
    skill = LEAD if cmd.target == LEAD else str(cmd.target)
    token = issue_transfer(
        acd.r,
        acd.prefix,
        skill=skill,
        caller=call.get("caller", ""),
        from_label=label,
        line=call.get("line", ""),
    )
    number = container().settings.telephony.number
    return {"dial": number, "xfer": token, "label": target.name}


@bp.post("/spy")
@login_required(*SUPERVISE_ROLES)
def spy() -> tuple[Response, int]:
    """Listen in on a seat's call from the supervisor's own seat (its softphone calls in)."""
    cmd = parse_body(SpyCommand)
    own = _my_seat()
    acd = container().acd
    target = acd.seat(cmd.seat)
    if not target:
        raise NotFound("坐席不存在", {"seat": cmd.seat})
    if cmd.seat == own:
        raise RuleViolation("不能监听自己的坐席", {"seat": cmd.seat})
    if cmd.mode != "end" and target.get("state") != "talking":
        raise RuleViolation("该坐席当前没有通话", {"seat": cmd.seat, "state": target.get("state")})
    actor = current_actor()
    if cmd.mode != "end":
        with container().uow() as uow:
            audit_act(
                uow.session,
                actor,
                f"spy_{cmd.mode}",
                None,
                {"seat": cmd.seat, "call_id": target.get("call", ""), "from_seat": own},
            )
            uow.commit()
    message: dict[str, Any] = {"action": "spy_end"}
    if cmd.mode != "end":
        # The seat listened to lets the supervisor's softphone in only with this token:
        # single-use, 30 s, for this supervisor's seat, that seat's call and this mode.
        assert actor.user_id is not None
        token = issue_spy_token(
            container().redis,
            acd.prefix,
            supervisor_id=actor.user_id,
            from_seat=own,
            seat=cmd.seat,
            call_id=str(target.get("call", "")),
            mode=cmd.mode,
        )
        message = {"action": "spy", "token": token} | cmd.model_dump()
    _send(own, message)
    return jsonify({"seat": own, "target": cmd.seat, "mode": cmd.mode}), 202


def _my_seat() -> str:
    actor = current_actor()
    assert actor.user_id is not None
    seat = _seat_of(actor.user_id)
    if seat is None:
        raise RuleViolation("请先签入坐席", {})
    return seat


def _end_headset(seat: str) -> None:
    """The seat hangs up the agent leg it holds, if any (its softphone may not be running)."""
    if container().settings.telephony.headsets:
        send_to_seat(container().redis, container().acd.keys, seat, {"action": "headset_end"})


def _send(seat: str, message: dict[str, Any]) -> str:
    """Hand a command to the seat's softphone process (`send_to_seat`); it must be running."""
    if not send_to_seat(container().redis, container().acd.keys, seat, message):
        raise RuleViolation("坐席话机未连接（hotline seat 进程未运行）", {"seat": seat})
    return str(message["action"])


@bp.get("/targets")
@login_required(*SEAT_ROLES)
def targets() -> Response:
    """转接 and 三方通话 targets: the centre's listed numbers, then the units' phones."""
    found = transfer_targets(container().settings.telephony, container().uow())
    actor = current_actor()
    assert actor.user_id is not None
    hall = seat_targets(container().acd, container().uow(), _seat_of(actor.user_id))
    return jsonify(
        {
            "targets": [
                {"number": t.number, "name": t.name, "group": t.group} for t in [*hall, *found]
            ]
        }
    )


@bp.post("/headset")
@login_required(*SEAT_ROLES)
def headset_credentials() -> Response:
    """The console's headset: its SIP name at the edge and a fresh password for this sign-in
    (the last browser to ask wins), and where the browser reaches the edge."""
    tel = container().settings.telephony
    if not tel.headsets:
        raise RuleViolation("本中心未启用网页耳机，请使用坐席话机", {})
    actor = current_actor()
    assert actor.user_id is not None
    seat = _my_seat()
    acd = container().acd
    password = headset.issue(acd.r, acd.keys, seat, actor.user_id, tel.sip_realm)
    name = headset.headset_name(seat)
    response = jsonify(
        {
            "seat": seat,
            "name": name,
            "uri": f"sip:{name}@{tel.sip_host}",
            "password": password,
            "ws_url": tel.headset_ws_url(),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/headset/ring")
@login_required(*SEAT_ROLES)
def headset_ring() -> tuple[Response, int]:
    """The headset is registered: the seat calls it and keeps that call (the agent leg)."""
    seat = _my_seat()
    return jsonify({"seat": seat, "sent": _send(seat, {"action": "headset"})}), 202


@bp.post("/headset/lost")
@login_required(*SEAT_ROLES)
def headset_lost() -> Response:
    """The console lost its headset (the edge unreachable, the call ended): no calls until
    the operator has it back and says 就绪. Without a seat (just signed out, the seat hung
    the headset up) there is nothing to take out."""
    actor = current_actor()
    assert actor.user_id is not None
    seat = _seat_of(actor.user_id)
    if seat is not None and headset.lost(container().acd, seat):
        notify_hall()
    return jsonify(_me(actor.user_id))


@bp.get("/calls/<path:call_id>/recording")
@login_required(*SEAT_ROLES)
def recording(call_id: str) -> Response:
    """The call's recording (WAV): for the agent who took it and for supervisors; audited."""
    actor = current_actor()
    with container().uow() as uow:
        record = uow.session.scalar(sa.select(CallRecord).where(CallRecord.call_id == call_id))
        if record is None or not record.recording:
            raise NotFound("该通话没有录音", {"call_id": call_id})
        if actor.role not in SUPERVISE_ROLES and record.agent != f"u{actor.user_id}":
            raise PermissionDenied("只能收听本人接听的通话录音", {"call_id": call_id})
        audit_act(
            uow.session,
            actor,
            "listen_recording",
            record.ticket_id,
            {"call_id": call_id},
        )
        uow.commit()
        name = record.recording
    root = recordings_root(container().settings).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("录音文件不存在", {"call_id": call_id})
    return send_file(path, mimetype="audio/wav", download_name=f"{path.stem}.wav")


@bp.post("/dial")
@login_required(*sorted(HOTLINE_ROLES))
def dial_citizen() -> tuple[Response, int]:
    """The operator's seat calls the ticket's citizen (the number never leaves the server).

    Used by the 人工回访 queue; audited as a use of the citizen's number.
    """
    from callcenter.callbacks.service import dial_from_seat

    cmd = parse_body(DialCitizen)
    actor = current_actor()
    assert actor.user_id is not None
    c = container()
    with c.uow() as uow:
        ticket = uow.session.get(Ticket, cmd.ticket_id)
        if ticket is None:
            raise NotFound("工单不存在", {"ticket_id": cmd.ticket_id})
        number = ticket.contact_phone or ticket.caller_phone
        if not number:
            raise RuleViolation("该工单没有联系电话", {"ticket_id": cmd.ticket_id})
        seat, wrapped = dial_from_seat(c.acd, actor.user_id, number)
        audit_act(uow.session, actor, "dial_citizen", ticket.id, {"seat": seat})
        uow.commit()
    if wrapped:
        sync_record(c.uow(), wrapped, c.acd.call(wrapped))
    notify_hall()  # the seat went not ready
    return jsonify({"ticket_id": cmd.ticket_id, "seat": seat}), 202


@bp.post("/link")
@login_required(*SEAT_ROLES)
def link_ticket() -> Response:
    """Link a ticket to the call it was accepted during (the call record's ticket_id)."""
    cmd = parse_body(LinkTicket)
    actor = current_actor()
    with container().uow() as uow:
        record = uow.session.scalar(sa.select(CallRecord).where(CallRecord.call_id == cmd.call_id))
        if record is None:
            raise NotFound("通话记录不存在", {"call_id": cmd.call_id})
        ticket = uow.session.get(Ticket, cmd.ticket_id)
        if ticket is None:
            raise NotFound("工单不存在", {"ticket_id": cmd.ticket_id})
        if record.agent != f"u{actor.user_id}":
            raise PermissionDenied("只能关联本人接听的来电", {"call_id": cmd.call_id})
        record.ticket_id = cmd.ticket_id
        taken_at = record.answered_at or record.offered_at
        if (
            actor.role is Role.LEADER
            and actor.user_id is not None
            and tag_leader_call(uow.session, ticket, actor.user_id, taken_at)
        ):
            audit_act(
                uow.session,
                actor,
                "tag_leader_call",
                ticket.id,
                {"call_id": cmd.call_id, "tag": LEADER_CALL_TAG},
            )
        uow.commit()
    return jsonify({"call_id": cmd.call_id, "ticket_id": cmd.ticket_id})


@bp.get("/me")
@login_required(*SEAT_ROLES)
def me() -> Response:
    actor = current_actor()
    assert actor.user_id is not None
    return jsonify(_me(actor.user_id))


def _me(user_id: int | None) -> dict[str, Any]:
    seat = _seat_of(user_id) if user_id is not None else None
    tel = container().settings.telephony
    grace = tel.console_grace_seconds
    if seat is None:
        return {"seat": None, "state": "offline", "grace_seconds": grace, "headsets": False}
    info = container().acd.seat(seat)
    return {
        "seat": seat,
        "state": info.get("state", "offline"),
        "reason": info.get("reason", ""),
        "grace_seconds": grace,
        "headsets": tel.headsets,  # the console runs its headset (a WebRTC phone)
    }
