"""A seat takes calls only while someone is at it: sign-out and a console gone quiet.

People used `make demo`, signed out (or closed the browser) and left their seat 就绪: calls
then rang an empty seat for the whole ring time before trying the next one.
"""

import time
import uuid
from typing import Any

import pytest
from flask import Flask

from agents_ui.realtime import NAMESPACE
from agents_ui.realtime import socketio
from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.conftest import World

pytestmark = pytest.mark.redis


@pytest.fixture
def quick(real_redis: Any) -> Acd:
    """An ACD whose consoles must be heard from every 0.3 s (the setting's least is 5 s)."""
    return Acd(
        real_redis,
        AcdConfig(console_grace_seconds=0.3),
        prefix=f"p{uuid.uuid4().hex[:8]}:",
    )


def test_a_console_seat_whose_console_went_quiet_is_not_rung(quick: Acd) -> None:
    quick.login("s01", "u1", user_id=1, console=True)
    quick.ready("s01")
    time.sleep(0.45)  # the browser was closed: nothing renews the seat

    decision = quick.route("call-1", "13812345678")

    assert decision.action == "wait"
    seat = quick.seat("s01")
    assert (seat["state"], seat["reason"]) == ("offline", "console_lost")


def test_a_console_that_keeps_saying_it_is_there_keeps_its_seat(quick: Acd) -> None:
    quick.login("s01", "u1", user_id=1, console=True)
    quick.ready("s01")
    for _ in range(5):
        time.sleep(0.1)
        assert quick.alive("s01")

    assert quick.route("call-1", "13812345678").seat == "s01"


def test_seats_without_a_console_are_not_watched(quick: Acd) -> None:
    quick.login("bench", "a1")  # a softphone signed in directly (benches, desk seats)
    quick.ready("bench")
    time.sleep(0.45)

    assert quick.route("call-1", "13812345678").seat == "bench"


def test_the_sweep_takes_out_quiet_seats_in_every_state_but_a_call(quick: Acd) -> None:
    for seat in ("s01", "s02", "s03", "s04"):
        quick.login(seat, f"u-{seat}", console=True)
    quick.not_ready("s01", quick_reason())
    quick.ready("s02")
    quick.ready("s03")
    assert quick.route("call-1", "1391").seat in ("s02", "s03")
    ringing = quick.call("call-1")["seat"]
    time.sleep(0.45)

    gone = quick.sweep_absent()

    assert sorted(gone) == sorted({"s01", "s02", "s03", "s04"} - {ringing})
    assert quick.seat(ringing)["state"] == "ringing"  # its call decides, not the sweep
    assert quick.sweep_absent() == []
    assert quick.alive("s01") is False  # an offline seat is not revived: sign in again


def quick_reason() -> Any:
    from callcenter.acd.engine import NotReadyReason

    return NotReadyReason.BREAK


def test_signing_out_of_the_web_app_signs_the_seat_out(
    api: Api, container: Container, real_redis: Any
) -> None:
    api.post("/api/cti/seat", {"seat": "s01"})
    api.post("/api/cti/state", {"state": "ready"})

    assert api.post("/api/auth/logout").status_code == 200

    seat = container.acd.seat("s01")
    assert (seat["state"], seat["reason"]) == ("offline", "signed_out")
    assert container.acd.route("call-1", "13812345678").action == "wait"


def test_signing_out_during_a_call_takes_the_seat_out_when_the_call_ends(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    api.post("/api/cti/seat", {"seat": "s02"})
    api.post("/api/cti/state", {"state": "ready"})
    client.get("/acd/route?call_id=c1&from=13812345678")
    client.get("/acd/answered?call_id=c1&seat=s02")

    api.post("/api/auth/logout")
    assert container.acd.seat("s02")["state"] == "talking"  # the caller is not cut off
    client.get("/acd/ended?call_id=c1&by=caller")

    seat = container.acd.seat("s02")
    assert (seat["state"], seat["reason"]) == ("offline", "signed_out")  # no wrap-up, no call
    assert container.acd.route("c2", "13812345678").action == "wait"


def test_the_sign_out_page_signs_the_seat_out(
    app: Flask, container: Container, real_redis: Any, world: World
) -> None:
    browser = app.test_client()
    login = browser.get("/login")
    csrf = _csrf(login.get_data(as_text=True))
    browser.post("/login", data={"username": "operator", "password": world.password, "csrf": csrf})
    page = browser.get("/console").get_data(as_text=True)
    token = _meta_csrf(page)
    headers = {"X-CSRF-Token": token}
    assert browser.post("/api/cti/seat", json={"seat": "s03"}, headers=headers).status_code == 200
    browser.post("/api/cti/state", json={"state": "ready"}, headers=headers)

    browser.post("/logout", data={"csrf": token})

    assert container.acd.seat("s03")["state"] == "offline"


def test_the_console_keeps_its_seat_alive_over_its_live_connection(
    app: Flask, api: Api, container: Container, real_redis: Any, world: World
) -> None:
    browser = app.test_client()
    browser.post("/api/auth/login", json={"username": "operator", "password": world.password})
    live = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=browser)
    api.post("/api/cti/seat", {"seat": "s04"})
    real_redis.delete(f"{container.acd.prefix}alive:s04")  # the grace ran out, say

    me = live.emit("seat_alive", {}, namespace=NAMESPACE, callback=True)

    assert (me["seat"], me["state"]) == ("s04", "not_ready")
    assert real_redis.pttl(f"{container.acd.prefix}alive:s04") > 0
    live.disconnect(namespace=NAMESPACE)


def test_nobody_takes_over_a_seat_someone_is_at(
    api: Api, container: Container, real_redis: Any
) -> None:
    api.post("/api/cti/seat", {"seat": "s05"}, as_="operator")

    taken = api.post("/api/cti/seat", {"seat": "s05"}, as_="lead")

    assert taken.status_code == 409
    assert taken.get_json()["message"] == "该坐席已由其他话务员签入"
    assert container.acd.seat("s05")["agent"] == f"u{api.world.users['operator']}"


def test_a_seat_left_behind_can_be_taken_and_its_old_operator_is_told(
    api: Api, container: Container, real_redis: Any
) -> None:
    api.post("/api/cti/seat", {"seat": "s06"}, as_="operator")
    real_redis.delete(f"{container.acd.prefix}alive:s06")
    container.acd.sweep_absent()

    assert api.post("/api/cti/seat", {"seat": "s06"}, as_="lead").status_code == 200

    assert api.get("/api/cti/me", as_="operator").get_json()["seat"] is None
    assert api.get("/api/cti/me", as_="lead").get_json()["seat"] == "s06"


def test_the_hall_shows_a_seat_whose_console_is_gone(
    api: Api, container: Container, real_redis: Any
) -> None:
    api.post("/api/cti/seat", {"seat": "s07"})
    api.post("/api/cti/state", {"state": "ready"})
    real_redis.delete(f"{container.acd.prefix}alive:s07")

    hall = api.get("/api/cti/hall", as_="lead").get_json()

    [s07] = [s for s in hall["seats"] if s["seat"] == "s07"]
    assert (s07["state"], s07["state_label"]) == ("offline", "离线（工作台已断开）")


def _csrf(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _meta_csrf(html: str) -> str:
    marker = '<meta name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_a_deactivated_operator_takes_no_more_calls_even_with_the_console_open(
    app: Flask, api: Api, container: Container, real_redis: Any, world: World
) -> None:
    console = app.test_client()
    console.post("/api/auth/login", json={"username": "operator", "password": world.password})
    live = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=console)
    api.post("/api/cti/seat", {"seat": "s07"})
    api.post("/api/cti/state", {"state": "ready"})
    admin = app.test_client()
    admin.post("/api/auth/login", json={"username": "admin", "password": world.password})
    with admin.session_transaction() as s:
        csrf = s["csrf"]

    admin.post(f"/admin/users/{world.users['operator']}/active", data={"active": "0", "csrf": csrf})

    assert container.acd.seat("s07")["state"] == "offline"
    # The console's live connection still holds the old session: it keeps nothing alive.
    real_redis.delete(f"{container.acd.prefix}alive:s07")
    me = live.emit("seat_alive", {}, namespace=NAMESPACE, callback=True)
    assert (me["seat"], me["state"]) == (None, "offline")
    assert not real_redis.exists(f"{container.acd.prefix}alive:s07")
    assert not live.is_connected(NAMESPACE)  # the ended session's socket is closed
