"""The ACD's HTTP face for Kamailio: plain-text answers its config can split on spaces.

Only processes on this machine (Kamailio, seat softphones) may call it: the SIP edge is
bound to loopback and asks over loopback.
"""

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request

from callcenter.acd import Acd
from callcenter.acd import AcdError
from callcenter.acd import Decision
from hotline.http import container

bp = Blueprint("acd", __name__, url_prefix="/acd")

_LOOPBACK = ("127.", "::1")


def _acd() -> Acd:
    if not (request.remote_addr or "").startswith(_LOOPBACK):
        abort(403)
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


@bp.get("/route")
def route() -> Response:
    """A call to the hotline number, new or asking again: ring SEAT AGENT | wait MS | overflow."""
    acd = _acd()
    return _decision(acd.route(_arg("call_id"), request.args.get("from", "")[:64]))


@bp.get("/no_answer")
def no_answer() -> Response:
    acd = _acd()
    try:
        return _decision(acd.no_answer(_arg("call_id"), _arg("seat")))
    except AcdError as exc:
        return _text(f"error {exc}")


@bp.get("/answered")
def answered() -> Response:
    acd = _acd()
    try:
        acd.answered(_arg("call_id"), _arg("seat"))
    except AcdError as exc:
        return _text(f"error {exc}")
    return _text("ok")


@bp.get("/ended")
def ended() -> Response:
    """BYE or CANCEL seen by Kamailio; repeated reports of one end are harmless."""
    acd = _acd()
    try:
        return _text(acd.ended(_arg("call_id")))
    except AcdError as exc:
        return _text(f"error {exc}")
