"""The ACD's HTTP face for Kamailio: plain-text answers its config can split on spaces.

Only Kamailio and the seat softphones may call it: every request must come over loopback and
carry the instance's ACD secret (`X-Hotline-Acd-Secret`, `callcenter.edge.credentials`), so a
reverse proxy on the same host, or any other local process, gets 403. It also tells Kamailio
the digest HA1 of our SIP user agents (`/acd/sip_ha1`).
"""

import hmac
import json
import logging
from typing import Annotated
from typing import Any
from typing import Literal

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request
from pydantic import Field
from pydantic import StringConstraints

from callcenter.acd import headset
from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdError
from callcenter.acd.engine import Decision
from callcenter.acd.engine import ReportedCall
from callcenter.acd.seatlink import send_to_seat
from callcenter.acd.transfers import take_transfer
from callcenter.cti.hall import notify_hall
from callcenter.cti.targets import allowed as allowed_target
from callcenter.edge.credentials import ACD_SECRET_HEADER
from callcenter.edge.credentials import acd_secret
from callcenter.edge.credentials import ha1_of
from callcenter.lines import line_of_call
from callcenter.records.sync import close_forgotten
from callcenter.records.sync import record_or_defer
from callcenter.wiring import container
from infra.commands import Command
from infra.http import parse_body

log = logging.getLogger(__name__)

bp = Blueprint("acd", __name__, url_prefix="/acd")

_LOOPBACK = ("127.", "::1")


def _trusted() -> None:
    """Refuse anyone but Kamailio and the seats: loopback and the shared secret."""
    if not (request.remote_addr or "").startswith(_LOOPBACK):
        abort(403)
    sent = request.headers.get(ACD_SECRET_HEADER, "")
    if not hmac.compare_digest(sent.encode(), acd_secret(container().settings).encode()):
        abort(403)


def _acd() -> Acd:
    _trusted()
    return container().acd


def _text(body: str) -> Response:
    return Response(body + "\n", mimetype="text/plain")


def _decision(d: Decision) -> Response:
    if d.action == "ring":
        return _text(f"ring {d.seat} {d.agent or '-'}")
    if d.action == "wait":
        return _text(f"wait {d.retry_ms}")
    return _text(d.action)


def _arg(name: str) -> str:
    value = request.args.get(name, "").strip()
    if not value or len(value) > 200:
        abort(400)
    return value


def _record(acd: Acd, call_id: str) -> None:
    """Bring the call's record (CDR) up to date; the call goes on even if this fails (the
    database away: the record is written later, `record_or_defer`)."""
    record_or_defer(container().uow, acd, call_id, container().dispatch.publish)
    notify_hall()


@bp.get("/sip_ha1")
def sip_ha1() -> Response:
    """The digest HA1 of one of our SIP user agents, for Kamailio's auth; "-" for none (an
    unknown or disabled name never matches a response)."""
    _trusted()
    user = request.args.get("user", "")[:64]
    realm = container().settings.telephony.sip_realm
    if user.lower().startswith(headset.PREFIX):  # a console's headset: its sign-in's password
        acd = _acd()
        found = headset.ha1(acd.r, acd.keys, user)
    else:
        found = ha1_of(container().uow(), user, realm) if user else None
    return Response(found or "-", mimetype="text/plain")


@bp.get("/line")
def line() -> Response:
    """Whether a number other than the hotline's is one of its merged lines: "line" or "no"
    (Kamailio asks before treating a call to it as a citizen's call)."""
    _trusted()
    found = line_of_call(container().uow(), request.args.get("number", "")[:20], "")
    return _text("line" if found is not None else "no")


@bp.get("/transfer_target")
def transfer_target() -> Response:
    """Whether a caller coming back from the PSTN gateway may reach `number`: "ok" for a
    unit's phone in the directory or a listed number, "no" otherwise."""
    _trusted()
    number = request.args.get("number", "")[:20]
    ok = allowed_target(container().settings.telephony, container().uow(), number)
    return _text("ok" if ok else "no")


@bp.get("/route")
def route() -> Response:
    """A call to the hotline number, new or asking again: ring SEAT AGENT | wait MS | overflow."""
    acd = _acd()
    call_id = _arg("call_id")
    skill = ""
    caller = request.args.get("from", "")[:64]
    if not acd.r.exists(acd.keys.call(call_id)):  # a new call: which line it came in on
        line = line_of_call(
            container().uow(), request.args.get("to", "")[:20], request.args.get("div", "")[:20]
        )
        if line is not None:
            skill = line.skill
            acd.r.hset(acd.keys.call(call_id), mapping={"line": line.name})
        # transferred here by an operator, to one seat or to the team lead on duty
        grant = take_transfer(acd.r, acd.prefix, request.args.get("xfer", ""), caller=caller)
        if grant is not None:
            skill = grant["skill"]
            key = acd.keys.call(call_id)
            acd.r.hset(key, mapping={"transferred_from": grant.get("from", "")[:100]})
            if grant.get("line"):  # the line the caller first dialled stays theirs
                acd.r.hset(key, mapping={"line": grant["line"][:50]})
    decision = acd.route(call_id, caller, skill)
    if decision.action != "wait" or not acd.r.hexists(acd.keys.call(call_id), "recorded"):
        _record(acd, call_id)
        acd.r.hset(acd.keys.call(call_id), "recorded", "1")
    if decision.action == "ring" and decision.seat:
        _screen_pop(acd, call_id, decision.seat)
    _close_forgotten(acd)
    return _decision(decision)


def _close_forgotten(acd: Acd) -> None:
    """Calls the edge stopped asking about still get a final record (abandoned, by edge)."""
    try:
        closed = close_forgotten(container().uow, acd, container().dispatch.publish)
    except Exception:  # noqa: BLE001 - the next sweep tries again; this call goes on
        log.exception("could not close the calls the edge forgot")
        return
    for call_id in closed:
        log.warning("call %s: the edge stopped asking; closed as abandoned", call_id)


def _tell_seat(acd: Acd, seat: str, event: str, payload: dict[str, Any]) -> None:
    """Push a call event to the operator signed in at the seat; the call goes on regardless."""
    user_id = acd.seat(seat).get("user_id")
    if not user_id:
        return
    try:
        container().dispatch.publish(event, payload | {"seat": seat}, [f"user:{user_id}"])
    except Exception:  # noqa: BLE001 - a missed push must not disturb the call
        log.exception("could not push %s of call %s", event, payload.get("call_id"))


def _screen_pop(acd: Acd, call_id: str, seat: str) -> None:
    """Tell the operator signed in at the seat who is calling, before they answer."""
    from callcenter.cti.console import caller_info

    call = acd.call(call_id)
    caller = caller_info(call.get("caller", ""))
    line = {"line": call["line"]} if call.get("line") else {}
    if call.get("transferred_from"):
        line["transferred_from"] = call["transferred_from"]
    _tell_seat(acd, seat, "call.offered", {"call_id": call_id} | caller | line)


@bp.get("/no_answer")
def no_answer() -> Response:
    """A seat did not take its call: `cause=missed` (it rang out: the operator's miss) or
    `cause=unreachable` (the edge could not reach the softphone: set aside, no miss, and the
    softphone is asked to register again)."""
    acd = _acd()
    call_id = _arg("call_id")
    seat = _arg("seat")
    unreachable = request.args.get("cause") == "unreachable"
    try:
        decision = acd.no_answer(call_id, seat, unreachable=unreachable)
    except AcdError as exc:
        return _text(f"error {exc}")
    if unreachable:
        log.warning("call %s: the edge could not reach seat %s", call_id, seat)
        _ask_to_register(acd, [seat])
    _record(acd, call_id)
    return _decision(decision)


@bp.get("/edge_started")
def edge_started() -> Response:
    """The SIP edge (re)started and knows no registration: every seat's softphone is asked
    to register again now rather than at its next refresh."""
    acd = _acd()
    seats = acd.seats()
    log.warning("the SIP edge started; asking %d seats to register again", len(seats))
    heard = _ask_to_register(acd, seats)
    return _text(f"ok {heard}")


def _ask_to_register(acd: Acd, seats: list[str]) -> int:
    """Publish `reregister` to each seat's command channel; how many softphones heard it."""
    heard = 0
    message = json.dumps({"action": "reregister"})
    for seat in seats:
        try:
            heard += int(send_to_seat(acd.r, acd.keys, seat, message))
        except Exception:  # noqa: BLE001 - the refresh (60 s) still brings the seat back
            log.exception("could not ask seat %s to register again", seat)
    return heard


@bp.get("/answered")
def answered() -> Response:
    acd = _acd()
    call_id = _arg("call_id")
    seat = _arg("seat")
    try:
        acd.answered(call_id, seat)
    except AcdError as exc:
        return _text(f"error {exc}")
    _record(acd, call_id)
    _tell_seat(acd, seat, "call.state", {"call_id": call_id, "state": "talking"})
    return _text("ok")


@bp.get("/ended")
def ended() -> Response:
    """BYE or CANCEL seen by Kamailio; repeated reports of one end are harmless (one end,
    whoever reports it: the edge, or the seat's own journal through `/acd/seat_sync`)."""
    acd = _acd()
    call_id = _arg("call_id")
    final = acd.call(call_id).get("state") in _FINAL
    try:
        outcome = acd.ended(call_id, request.args.get("by", ""))
    except AcdError as exc:
        return _text(f"error {exc}")
    _record(acd, call_id)
    seat = acd.call(call_id).get("seat")
    if seat and not final:
        _tell_seat(acd, seat, "call.state", {"call_id": call_id, "state": outcome})
    return _text(outcome)


_FINAL = ("ended", "abandoned", "overflow")
_Time = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SyncedCall(Command):
    """One of the seat's calls: when it was answered and ended, and who ended it."""

    call_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    answered_at: _Time | None = None
    ended_at: _Time | None = None
    by: Literal["seat", "caller", ""] = ""


class SeatSync(Command):
    """What a seat's softphone holds (`callcenter.acd.seatsync.CallJournal.snapshot`)."""

    seat: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    as_of: _Time
    registered: bool = False
    calls: Annotated[list[SyncedCall], Field(max_length=200)] = []


@bp.post("/seat_sync")
def seat_sync() -> Response:
    """A seat's softphone reports its calls (at once on each answer and end, and every few
    seconds): what the edge could not report while this app was away is applied now, once.
    A seat that says it is registered takes calls again if the edge had set it aside."""
    acd = _acd()
    body = parse_body(SeatSync)
    return _text(f"ok {apply_seat_sync(acd, body.seat, body)}")


def apply_seat_sync(acd: Acd, seat: str, body: SeatSync) -> int:
    """Apply seat `seat`'s report (its own calls only); how many calls it changed."""
    calls = [ReportedCall(c.call_id, c.answered_at, c.ended_at, c.by) for c in body.calls]
    changed = acd.seat_sync(seat, calls, as_of=body.as_of)
    for call_id in changed:
        state = acd.call(call_id).get("state", "")
        log.warning(
            "call %s: seat %s reported what the ACD had missed; now %s", call_id, seat, state
        )
        _record(acd, call_id)
        _tell_seat(acd, seat, "call.state", {"call_id": call_id, "state": state})
    acd.heard_from(seat, registered=body.registered)
    if body.registered and acd.reachable(seat):
        log.info("seat %s is registered again: back in the pool", seat)
        notify_hall()
    return len(changed)


SEAT_EVENTS = {
    "transfer_failed": "转接失败",
    "transferred": "已转接",
    "conference_up": "三方通话已接通",
    "conference_failed": "三方通话未接通",
    "conference_down": "第三方已挂断",
    "spy_started": "已接入",
    "spy_failed": "接入失败",
    "spy_ended": "已退出监听",
    "headset_up": "网页耳机已接通",
    "headset_lost": "网页耳机已断开，坐席已置忙",
}


@bp.get("/seat_event")
def seat_event() -> Response:
    """What a seat softphone did on the operator's behalf (转接, 三方通话, 监听): tell them."""
    acd = _acd()
    seat = _arg("seat")
    event = _arg("event")
    if event not in SEAT_EVENTS:
        abort(400)
    args = request.args
    apply_seat_event(acd, seat, event, args.get("call_id", ""), args.get("detail", ""))
    return _text("ok")


def apply_seat_event(acd: Acd, seat: str, event: str, call_id: str, detail: str) -> None:
    """Tell the operator at seat `seat` what its softphone did (`event` one of SEAT_EVENTS)."""
    payload = {
        "event": event,
        "text": SEAT_EVENTS[event],
        "detail": detail[:200],
        "call_id": call_id[:200],
    }
    if event == "headset_lost" and headset.lost(acd, seat):
        notify_hall()
    if event != "headset_up":  # the console saw its headset answer: nothing to tell
        _tell_seat(acd, seat, "call.event", payload)
    if payload["call_id"] and event in ("transferred", "conference_up"):
        _record(acd, payload["call_id"])
