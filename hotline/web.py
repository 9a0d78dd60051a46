"""Core routes: login for the API, the current user, health and the OpenAPI document."""

from typing import Any
from typing import cast

import sqlalchemy as sa
from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from hotline.bootstrap import Container
from hotline.openapi import build_openapi
from infra.commands import LoginRequest
from infra.errors import error_response
from infra.http import TooManyAttempts
from infra.http import Unauthorized
from infra.http import container as core
from infra.http import csrf_token
from infra.http import current_actor
from infra.http import end_this_and_other_sessions
from infra.http import login_required
from infra.http import parse_body
from infra.http import sign_in
from kernel.roles import ROLE_LABELS


def container() -> Container:
    """The app's container, as the composition root built it."""
    return cast(Container, core())


bp = Blueprint("hotline", __name__)


@bp.post("/api/auth/login")
def login() -> Response:
    # JSON only: a form or text/plain body is what another site's page can send without
    # a preflight (login CSRF).
    if request.mimetype != "application/json":
        return error_response(
            415, "unsupported_media_type", "请求体须为 JSON（Content-Type: application/json）"
        )
    cmd = parse_body(LoginRequest)
    try:
        who = sign_in(cmd.username, cmd.password, via="api", permanent=True)
    except TooManyAttempts as exc:
        response = error_response(429, exc.code, exc.message, exc.details)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if who is None:
        raise Unauthorized("用户名或密码错误")
    return jsonify(
        {
            "user": _user_json(
                who.user_id, who.username, who.display_name, who.role.value, who.unit_id
            ),
            "csrf_token": csrf_token(),
        }
    )


@bp.post("/api/auth/logout")
@login_required()
def logout() -> Response:
    from callcenter.cti.console import sign_out_seat

    user_id = current_actor().user_id
    if user_id is not None:
        # Every session of the user ends, the browser's too: a copied cookie is worth nothing.
        end_this_and_other_sessions(user_id)
        sign_out_seat(user_id)  # nobody is at the seat any more
    return jsonify({"ok": True})


@bp.get("/api/me")
@login_required()
def me() -> Response:
    actor = current_actor()
    return jsonify(
        {
            "user": _user_json(actor.user_id, None, actor.name, actor.role.value, actor.unit_id),
            "csrf_token": csrf_token(),
        }
    )


def _user_json(
    uid: int | None, username: str | None, name: str, role: str, unit_id: int | None
) -> dict[str, Any]:
    from kernel.roles import Role

    out: dict[str, Any] = {
        "id": uid,
        "display_name": name,
        "role": role,
        "role_label": ROLE_LABELS[Role(role)],
        "unit_id": unit_id,
    }
    if username is not None:
        out["username"] = username
    return out


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    c = container()
    checks: dict[str, str] = {}
    try:
        with c.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        c.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    processes = _processes(c.redis) if checks["redis"] == "ok" else {}
    processes["edge"] = _edge(c.settings.telephony)
    if c.settings.telephony.headsets:
        processes["media"] = _media(c.settings.telephony)
    if c.settings.telephony.announcer:
        processes["announcer"] = _announcer(c.settings.telephony)
    if checks["redis"] == "ok":
        processes["seats"] = _seats(c.acd)
    running = all(p["status"] == "ok" for p in processes.values())
    body = {
        "status": "ok" if healthy and running else "degraded",
        "checks": checks,
        "processes": processes,
    }
    # 503 when this web process cannot serve; a background kind that is down is named
    # (status "degraded") without taking the web app out of a load balancer.
    return jsonify(body), (200 if healthy else 503)


LIVE_SECONDS = 120  # a heartbeat older than this is a process that is gone


def _processes(conn: Any) -> dict[str, dict[str, Any]]:
    """Which background process kinds are alive, from their heartbeats in Redis."""
    import time

    from rq import Worker
    from rq.cron_scheduler_registry import get_registry_key

    now = time.time()
    out: dict[str, dict[str, Any]] = {}
    try:
        workers = [
            w
            for w in Worker.all(connection=conn)
            if w.last_heartbeat is not None and now - w.last_heartbeat.timestamp() <= LIVE_SECONDS
        ]
        out["worker"] = {"alive": len(workers), "status": "ok" if workers else "down"}
        schedulers = conn.zrangebyscore(get_registry_key(), now - LIVE_SECONDS, "+inf")
        out["scheduler"] = {"alive": len(schedulers), "status": "ok" if schedulers else "down"}
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        out["worker"] = out["scheduler"] = {"alive": 0, "status": f"error: {type(exc).__name__}"}
    return out


def _edge(tel: Any) -> dict[str, Any]:
    """Whether the SIP edge (Kamailio) answers on its UDP port."""
    from callcenter.edge.kamailio import edge_answers

    up = edge_answers(tel.sip_host, tel.sip_port)
    return {"alive": int(up), "status": "ok" if up else "down"}


def _announcer(tel: Any) -> dict[str, Any]:
    """Whether the queue announcer (what waiting callers hear) answers on its control port."""
    from callcenter.edge.announcer import announcer_answers

    up = announcer_answers(tel.announcer)
    return {"alive": int(up), "status": "ok" if up else "down"}


def _media(tel: Any) -> dict[str, Any]:
    """Whether rtpengine, the browser headsets' media relay, answers on its control socket."""
    from callcenter.edge.media import rtpengine_answers

    up = rtpengine_answers(tel.rtpengine)
    return {"alive": int(up), "status": "ok" if up else "down"}


def _seats(acd: Any) -> dict[str, Any]:
    """The seat softphones heard from lately (`/acd/seat_sync`) and how many are registered."""
    try:
        heard = acd.softphones()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return {"alive": 0, "registered": 0, "status": f"error: {type(exc).__name__}"}
    registered = sum(heard.values())
    return {"alive": len(heard), "registered": registered, "status": "ok" if registered else "down"}


@bp.get("/api/openapi.json")
def openapi() -> Response:
    return jsonify(build_openapi())
