"""The supervisors' hall view (坐席监控): seats, queue, a supervisor's not-ready, live pushes."""

from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from redis.backoff import NoBackoff
from redis.retry import Retry

from agents_ui.realtime import NAMESPACE
from callcenter.cti.hall import mask_caller
from callcenter.cti.hall import state_label
from hotline.bootstrap import Container
from infra.models import AuditEntry
from tests.conftest import Api
from tests.conftest import World
from tests.integration.agents_ui.test_realtime import live_client


def sign_in(api: Api, who: str, seat: str, ready: bool = True) -> None:
    assert api.post("/api/cti/seat", {"seat": seat}, as_=who).status_code == 200
    if ready:
        assert api.post("/api/cti/state", {"state": "ready"}, as_=who).status_code == 200


def acd(client: FlaskClient, step: str) -> str:
    """Report a call step as Kamailio does (loopback)."""
    return client.get(f"/acd/{step}").get_data(as_text=True).strip()


def hall(api: Api, as_: str = "supervisor") -> dict[str, Any]:
    resp = api.get("/api/cti/hall", as_=as_)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def seat_of(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    [seat] = [s for s in snapshot["seats"] if s["seat"] == name]
    return seat


def audit_rows(container: Container, action: str) -> list[tuple[int | None, dict[str, Any]]]:
    """(user id, details) of the audit rows of one action, oldest first."""
    with container.uow() as uow:
        rows = uow.session.execute(
            sa.select(AuditEntry.user_id, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        )
        return [(user_id, details) for user_id, details in rows]


def test_numbers_are_masked_but_their_last_four_digits() -> None:
    assert mask_caller("13812345678") == "*******5678"
    assert mask_caller("02588881234") == "*******1234"
    assert mask_caller("5678") == "****"
    assert mask_caller("") == ""


def test_states_read_in_chinese_with_the_reason() -> None:
    assert state_label("ready", "") == "就绪"
    assert state_label("not_ready", "meal") == "示忙（就餐）"
    assert state_label("not_ready", "supervisor") == "示忙（班长设置）"
    assert state_label("not_ready", "") == "示忙"
    assert state_label("wrap_up", "") == "话后整理"
    assert state_label("offline", "seat_lost") == "离线（话机断开）"


@pytest.mark.redis
def test_the_hall_shows_every_seat_its_agent_state_and_call_and_the_queue(
    api: Api, client: FlaskClient, real_redis: Any
) -> None:
    sign_in(api, "lead", "s10", ready=False)
    sign_in(api, "operator", "s9")
    assert acd(client, "route?call_id=c1&from=13812345678").startswith("ring s9")
    assert acd(client, "answered?call_id=c1&seat=s9") == "ok"
    # Nobody else is ready: the next two callers wait, the older first.
    assert acd(client, "route?call_id=c2&from=13900001111").startswith("wait")
    assert acd(client, "route?call_id=c3&from=02588881234").startswith("wait")

    snapshot = hall(api)

    assert [s["seat"] for s in snapshot["seats"]] == ["s9", "s10"]  # s9 before s10
    talking = seat_of(snapshot, "s9")
    assert talking["agent_name"] == "operator用户"
    assert (talking["state"], talking["state_label"]) == ("talking", "通话中")
    assert talking["call_id"] == "c1"
    assert talking["caller"] == "*******5678"
    assert talking["seconds_in_state"] >= 0 and talking["not_ready_pending"] is False
    idle = seat_of(snapshot, "s10")
    assert (idle["agent_name"], idle["state_label"]) == ("lead用户", "示忙")
    assert idle["call_id"] is None and idle["caller"] is None
    assert [(q["position"], q["call_id"], q["caller"]) for q in snapshot["queue"]] == [
        (1, "c2", "*******1111"),
        (2, "c3", "*******1234"),
    ]
    assert all(q["wait_seconds"] >= 0 for q in snapshot["queue"])
    counts = snapshot["counts"]
    assert (counts["seats_online"], counts["ready"], counts["in_call"]) == (2, 0, 1)
    assert counts["queued"] == 2
    assert "13812345678" not in str(snapshot) and "13900001111" not in str(snapshot)


@pytest.mark.redis
def test_forcing_a_ready_seat_not_ready_takes_effect_at_once_and_is_audited(
    api: Api, container: Container, real_redis: Any, world: World
) -> None:
    sign_in(api, "operator", "s01")

    resp = api.post("/api/cti/seats/s01/not_ready", as_="lead")

    assert resp.status_code == 200
    assert resp.get_json() == {"seat": "s01", "outcome": "ok"}
    seat = container.acd.seat("s01")
    assert (seat["state"], seat["reason"]) == ("not_ready", "supervisor")
    assert seat_of(hall(api), "s01")["state_label"] == "示忙（班长设置）"
    # The operator's console reads the same state.
    me = api.get("/api/cti/me").get_json()
    assert (me["state"], me["reason"]) == ("not_ready", "supervisor")
    [(user_id, details)] = audit_rows(container, "force_not_ready")
    assert user_id == world.users["lead"]
    assert details == {"seat": "s01", "agent": f"u{world.users['operator']}", "outcome": "ok"}


@pytest.mark.redis
def test_forcing_a_talking_seat_not_ready_waits_for_the_end_of_the_call(
    api: Api, client: FlaskClient, container: Container, real_redis: Any
) -> None:
    sign_in(api, "operator", "s02")
    acd(client, "route?call_id=c7&from=13812345678")
    acd(client, "answered?call_id=c7&seat=s02")

    resp = api.post("/api/cti/seats/s02/not_ready", as_="supervisor")

    assert resp.get_json() == {"seat": "s02", "outcome": "pending"}
    assert container.acd.seat("s02")["state"] == "talking"
    assert seat_of(hall(api), "s02")["not_ready_pending"] is True
    acd(client, "ended?call_id=c7")
    seat = container.acd.seat("s02")
    assert (seat["state"], seat["reason"]) == ("not_ready", "supervisor")
    assert seat_of(hall(api), "s02")["not_ready_pending"] is False
    assert audit_rows(container, "force_not_ready")[0][1]["outcome"] == "pending"


@pytest.mark.redis
@pytest.mark.parametrize("who", ["operator", "zjj", "leader"])
def test_only_team_leads_supervisors_and_admins_watch_the_hall(
    api: Api, real_redis: Any, who: str
) -> None:
    sign_in(api, "lead", "s03")
    for resp in (
        api.get("/api/cti/hall", as_=who),
        api.post("/api/cti/seats/s03/not_ready", as_=who),
    ):
        assert resp.status_code == 403
        assert resp.get_json()["error"] == "forbidden"
    assert api.get("/api/cti/hall", as_=None).status_code == 401
    assert api.get("/api/cti/hall", as_="admin").status_code == 200


@pytest.mark.redis
def test_unknown_or_signed_out_seats_are_refused(
    api: Api, container: Container, real_redis: Any
) -> None:
    for seat in ("nope", "s 1", "x" * 40):
        resp = api.post(f"/api/cti/seats/{seat}/not_ready", as_="lead")
        assert resp.status_code == 404, seat
        assert resp.get_json()["message"] == "坐席不存在"
    sign_in(api, "operator", "s04")
    api.post("/api/cti/state", {"state": "logout"})
    resp = api.post("/api/cti/seats/s04/not_ready", as_="lead")
    assert resp.status_code == 409
    assert resp.get_json()["message"] == "该坐席未签入，不能示忙"
    assert seat_of(hall(api), "s04")["state_label"] == "离线"
    assert audit_rows(container, "force_not_ready") == []


def unreachable_redis() -> redis.Redis:
    """A Redis client for a port nobody listens on, failing at once (no retries)."""
    return redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))


def test_the_hall_says_when_redis_cannot_be_reached(api: Api, container: Container) -> None:
    container._redis = unreachable_redis()
    try:
        resp = api.get("/api/cti/hall", as_="supervisor")
    finally:
        container._redis = None
    assert resp.status_code == 503
    assert resp.get_json()["message"] == "话务服务暂不可用（无法连接 Redis），请稍后重试"


def _hall_events(sio: Any) -> list[Any]:
    return [m["args"][0] for m in sio.get_received(NAMESPACE) if m["name"] == "hall.changed"]


@pytest.mark.redis
def test_supervisors_hear_that_the_hall_changed_and_nothing_more(
    app: Flask, api: Api, client: FlaskClient, world: World, real_redis: Any
) -> None:
    supervisor = live_client(app, world, "supervisor")
    lead = live_client(app, world, "lead")
    operator = live_client(app, world, "operator")

    sign_in(api, "operator", "s05", ready=False)
    assert _hall_events(supervisor) == [{"v": 1}]
    acd(client, "route?call_id=c8&from=13812345678")  # waits: nobody is ready
    api.post("/api/cti/seats/s05/not_ready", as_="supervisor")

    assert _hall_events(supervisor) == [{"v": 1}, {"v": 1}]
    assert len(_hall_events(lead)) == 3
    assert _hall_events(operator) == []


def open_page(app: Flask, world: World, username: str, path: str) -> tuple[int, str]:
    client = app.test_client()
    resp = client.post("/api/auth/login", json={"username": username, "password": world.password})
    assert resp.status_code == 200
    page = client.get(path)
    return page.status_code, page.get_data(as_text=True)


@pytest.mark.redis
def test_the_hall_page_is_linked_for_its_roles_and_the_duty_form_only_for_schedulers(
    app: Flask, world: World, real_redis: Any
) -> None:
    status, html = open_page(app, world, "lead", "/supervise/hall")
    assert status == 200
    assert '<a href="/supervise/hall" aria-current="page">坐席监控</a>' in html
    assert 'id="hall-data"' in html and "hall.js" in html
    assert 'id="duty-form"' not in html  # team leads see the schedule, not the form
    status, html = open_page(app, world, "supervisor", "/supervise/hall")
    assert 'id="duty-form"' in html
    assert f'<option value="{world.users["leader"]}">leader用户</option>' in html
    status, html = open_page(app, world, "supervisor", "/supervise")
    assert '<a href="/supervise/hall">坐席监控</a>' in html
    for who in ("operator", "zjj", "leader"):
        assert open_page(app, world, who, "/supervise/hall")[0] == 403
