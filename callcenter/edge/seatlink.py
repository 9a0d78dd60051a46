"""`/seat-link/*`: a desk seat on an operator's PC talks to the hotline with its own credentials.

A seat on the server reads Redis and calls `/acd/*` with the instance's ACD secret; neither
may leave the server. A desk seat (`hotline seat NAME --server URL`) instead signs every
request with HTTP Basic: its name and the SIP password issued for it in 系统管理 → 话机账号,
checked against the HA1 the edge keeps (the password itself is never stored). Over the LAN
this must be HTTPS; plain HTTP is taken from loopback only. Wrong passwords count against
the name and the address like a sign-in (`LoginGuard`), and each refusal is audited.

What a seat may do here is what its softphone needs, and only for itself:

- `GET hello`: the edge's address and ports, and how often to report.
- `GET commands?wait=S`: the operator's commands, long-polled (`callcenter.acd.seatlink`).
- `POST sync`, `POST event`: its calls and what it did, as `/acd/seat_sync|seat_event`,
  under its own name whatever the body says.
- `POST note`: `recording` or `transfer_target` on a call ringing or talking at this seat.
- `GET agent`: the operator signed in at it (their 工号 prompt).
- `POST spy`: whether a listening-in token names exactly this seat, this call and mode.
- `PUT recordings/DAY/FILE.wav`: a recording it noted on one of its calls, once.
- `POST bye`: it stops; commands for it are refused from now on.
"""

import hmac
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from typing import Any
from typing import TypeVar

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request
from pydantic import StringConstraints

from callcenter.acd import seatlink
from callcenter.acd.engine import Acd
from callcenter.acd.headset import digest_ha1
from callcenter.acd.spytoken import take_spy_token
from callcenter.edge.credentials import NAME
from callcenter.edge.http import SEAT_EVENTS
from callcenter.edge.http import SeatSync
from callcenter.edge.http import apply_seat_event
from callcenter.edge.http import apply_seat_sync
from callcenter.models import SipAccount
from callcenter.records.sync import recordings_root
from callcenter.seat.prompts import recording_name
from callcenter.wiring import container
from infra.audit import record_audit
from infra.commands import Command
from infra.errors import error_response
from infra.http import login_guard
from infra.http import parse_body

log = logging.getLogger(__name__)
_View = TypeVar("_View", bound=Callable[..., Any])

bp = Blueprint("seatlink", __name__, url_prefix="/seat-link")

_LOOPBACK = ("127.", "::1")
REALM_HINT = 'Basic realm="hotline seats", charset="UTF-8"'
NOTES = ("recording", "transfer_target")
_LIVE = ("ringing", "talking")
_RECORDING = re.compile(r"^(\d{8})/([A-Za-z0-9._-]{1,120})\.wav$")
RECORDING_MAX_BYTES = 512 << 20  # a four-hour call at 16 kHz


class LinkError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.errorhandler(LinkError)
def _refused(exc: LinkError) -> Response:
    response = error_response(exc.status, exc.code, exc.message)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = REALM_HINT
    return response


def _seat() -> str:
    """The seat whose credentials signed this request; refuses anyone else (401, 403, 429)."""
    address = request.remote_addr or ""
    if not (request.is_secure or address.startswith(_LOOPBACK)):
        raise LinkError(403, "https_required", "坐席话机须经 HTTPS 连接")
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username or auth.password is None:
        raise LinkError(401, "unauthorized", "请用坐席话机账号与密码登录")
    name = auth.username
    guard = login_guard()
    guarded = f"seat-link:{name}"
    wait = guard.wait_seconds(guarded, address)
    if wait:
        raise LinkError(429, "too_many_attempts", f"密码错误次数过多，请 {wait} 秒后再试")
    if not (NAME.match(name) and _password_ok(name, auth.password)):
        guard.failed(guarded, address)
        _audit("seat_link.refused", name, {"address": address})
        log.warning("seat link: refused %r from %s", name[:64], address)
        raise LinkError(401, "unauthorized", "坐席话机账号或密码不正确")
    guard.succeeded(guarded)
    return name


def _password_ok(name: str, password: str) -> bool:
    realm = container().settings.telephony.sip_realm
    with container().uow() as uow:
        row = uow.session.query(SipAccount).filter(SipAccount.name == name).one_or_none()
        known = (row.ha1, row.realm, row.kind, row.active) if row is not None else None
    wanted = digest_ha1(name, realm, password)
    if known is None:
        hmac.compare_digest(wanted, wanted)  # the same work for an unknown name
        return False
    ha1, row_realm, kind, active = known
    ok = hmac.compare_digest(str(ha1), wanted)
    return ok and row_realm == realm and kind == "seat" and bool(active)


def _audit(action: str, seat: str, details: dict[str, Any]) -> None:
    try:
        with container().uow() as uow:
            record_audit(uow.session, None, action, None, {"seat": seat[:64]} | details)
            uow.commit()
    except Exception:  # noqa: BLE001 - the refusal stands without its audit row
        log.exception("seat link: could not audit %s", action)


def _acd() -> Acd:
    return container().acd


@bp.get("/hello")
def hello() -> Response:
    """Where the seat finds the edge: its host (the one this request came to when the edge
    listens on loopback only), ports and transport, and how often to report its calls."""
    seat = _seat()
    tel = container().settings.telephony
    host = tel.sip_host
    if host.startswith(_LOOPBACK) and not (request.remote_addr or "").startswith(_LOOPBACK):
        host = request.host.rsplit(":", 1)[0].strip("[]")
    return jsonify(
        seat=seat,
        sip_host=host,
        sip_port=tel.sip_port,
        tls_port=tel.tls_port,
        tls_required=tel.tls_required,
        acd_prefix=_acd().prefix,
    )


@bp.get("/commands")
def commands() -> Response:
    """The seat's commands, waiting up to `wait` seconds (at most 25) for the first."""
    seat = _seat()
    try:
        wait = int(request.args.get("wait", "0"))
    except ValueError:
        raise LinkError(400, "bad_request", "等待秒数须为整数") from None
    found = seatlink.take_commands(container().redis, _acd().keys, seat, wait)
    return jsonify(commands=found)


@bp.post("/bye")
def bye() -> Response:
    seat = _seat()
    seatlink.unlink(container().redis, _acd().keys, seat)
    return jsonify(ok=True)


@bp.post("/sync")
def sync() -> Response:
    seat = _seat()
    body = parse_body(SeatSync)
    return jsonify(changed=apply_seat_sync(_acd(), seat, body))


class SeatEvent(Command):
    event: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    call_id: Annotated[str, StringConstraints(max_length=200)] = ""
    detail: Annotated[str, StringConstraints(max_length=200)] = ""


@bp.post("/event")
def event() -> Response:
    seat = _seat()
    body = parse_body(SeatEvent)
    if body.event not in SEAT_EVENTS:
        raise LinkError(400, "bad_request", "未知的话机事件")
    apply_seat_event(_acd(), seat, body.event, body.call_id, body.detail)
    return jsonify(ok=True)


class CallNote(Command):
    call_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    value: Annotated[str, StringConstraints(max_length=200)] = ""  # "": remove the note


@bp.post("/note")
def note() -> Response:
    """A note on one of this seat's live calls; a recording's name is granted for upload."""
    seat = _seat()
    body = parse_body(CallNote)
    if body.name not in NOTES:
        raise LinkError(400, "bad_request", "话机不能写这一项")
    acd = _acd()
    call = acd.call(body.call_id)
    if call.get("seat") != seat or call.get("state") not in _LIVE:
        raise LinkError(403, "forbidden", "这通电话不在本坐席")
    key = acd.keys.call(body.call_id)
    if not body.value:
        acd.r.hdel(key, body.name)
        return jsonify(ok=True)
    if body.name == "recording":
        if not _RECORDING.match(body.value) or not _names_call(body.value, body.call_id):
            raise LinkError(400, "bad_request", "录音文件名与这通电话不符")
        seatlink.grant_upload(acd.r, acd.keys, seat, body.value)
    acd.r.hset(key, body.name, body.value)
    return jsonify(ok=True)


def _names_call(name: str, call_id: str) -> bool:
    """Whether `name` is the recording name the seat makes for `call_id` (on some day)."""
    return name.split("/", 1)[1] == recording_name(call_id, 0).split("/", 1)[1]


@bp.get("/agent")
def agent() -> Response:
    seat = _seat()
    return jsonify(agent=_acd().seat(seat).get("agent", ""))


class SpyCheck(Command):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    from_seat: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    call_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    mode: Annotated[str, StringConstraints(min_length=1, max_length=20)]


@bp.post("/spy")
def spy() -> Response:
    """Whether a supervisor may listen in on this seat's call (the token is used up)."""
    seat = _seat()
    body = parse_body(SpyCheck)
    acd = _acd()
    grant = take_spy_token(
        acd.r,
        acd.prefix,
        body.token,
        seat=seat,
        from_seat=body.from_seat,
        call_id=body.call_id,
        mode=body.mode,
    )
    return jsonify(ok=grant is not None)


def _max_body(limit: int) -> Callable[[_View], _View]:
    """Mark a view with its own body limit (the app's before_request applies it)."""

    def mark(view: _View) -> _View:
        view.max_body_bytes = limit  # type: ignore[attr-defined]
        return view

    return mark


@bp.put("/recordings/<day>/<file>")
@_max_body(RECORDING_MAX_BYTES)
def upload_recording(day: str, file: str) -> Response:
    """A recording the seat noted on one of its calls: a WAV file, stored once, whole."""
    seat = _seat()
    name = f"{day}/{file}"
    if not _RECORDING.match(name):
        raise LinkError(400, "bad_request", "录音文件名不正确")
    if request.mimetype not in ("audio/wav", "audio/x-wav"):
        raise LinkError(415, "unsupported_media_type", "录音须以 WAV 格式上传")
    size = request.content_length
    if size is None:
        raise LinkError(411, "length_required", "请注明录音文件大小")
    if size > RECORDING_MAX_BYTES:
        raise LinkError(413, "too_large", "录音文件过大")
    acd = _acd()
    if not seatlink.take_upload(acd.r, acd.keys, seat, name):
        raise LinkError(403, "forbidden", "本坐席没有这段录音可上传")
    try:
        _store_recording(name, size)
    except BaseException:  # refused or failed here: the seat may try again
        seatlink.grant_upload(acd.r, acd.keys, seat, name)
        raise
    log.info("seat link: %s uploaded recording %s (%d bytes)", seat, name, size)
    return jsonify(ok=True, name=name)


def _store_recording(name: str, size: int) -> None:
    """Write the body to the recordings folder (a temporary file linked into place, never
    over an existing one); raises LinkError for a body it will not keep."""
    target = recordings_root(container().settings) / name
    if target.exists():
        raise LinkError(409, "conflict", "这段录音已上传")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            written = _copy_body(out, size)
            out.flush()
            os.fsync(out.fileno())
        if written != size:
            raise LinkError(400, "bad_request", "录音文件不完整")
        if not _is_wav(Path(temp)):
            raise LinkError(400, "bad_request", "录音文件不是 WAV 格式")
        os.link(temp, target)  # fails if it appeared meanwhile: never overwrite
    except FileExistsError:
        raise LinkError(409, "conflict", "这段录音已上传") from None
    finally:
        Path(temp).unlink(missing_ok=True)


def _copy_body(out: Any, size: int) -> int:
    stream = request.stream
    written = 0
    while written < size:
        chunk = stream.read(min(1 << 16, size - written))
        if not chunk:
            break
        out.write(chunk)
        written += len(chunk)
    return written


def _is_wav(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(12)
    return len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"
