"""Live pushes over Socket.IO: who hears what, and only after commit."""

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from agents_ui.realtime import NAMESPACE
from agents_ui.realtime import socketio
from tests.conftest import Api
from tests.conftest import World


def live_client(app: Flask, world: World, username: str) -> Any:
    """A Socket.IO test client on /live, signed in as the user."""
    client: FlaskClient = app.test_client()
    resp = client.post("/api/auth/login", json={"username": username, "password": world.password})
    assert resp.status_code == 200
    sio = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=client)
    assert sio.is_connected(NAMESPACE)
    return sio


def _changes(sio: Any) -> list[dict[str, Any]]:
    return [m["args"][0] for m in sio.get_received(NAMESPACE) if m["name"] == "ticket.changed"]


def test_anonymous_socket_is_refused(app: Flask) -> None:
    sio = socketio.test_client(app, namespace=NAMESPACE)
    assert not sio.is_connected(NAMESPACE)


def test_units_hear_only_their_tickets_and_the_hotline_hears_all(
    app: Flask, api: Api, world: World
) -> None:
    operator = live_client(app, world, "operator")
    zjj = live_client(app, world, "zjj")
    cgj = live_client(app, world, "cgj")
    t = api.dispatched("zjj")
    api.act(t["id"], "sign", as_="zjj")

    heard = _changes(operator)
    assert [(m["ticket_id"], m["event"], m["status"]) for m in heard] == [
        (t["id"], "create", "accepted"),
        (t["id"], "dispatch", "dispatched"),
        (t["id"], "sign", "signed"),
    ]
    assert [m["event"] for m in _changes(zjj)] == ["dispatch", "sign"]
    assert _changes(cgj) == []
    assert "citizen_name" not in heard[0] and "caller_phone" not in heard[0]


def test_reassigned_unit_is_told_the_ticket_left(app: Flask, api: Api, world: World) -> None:
    t = api.dispatched("zjj")
    zjj = live_client(app, world, "zjj")
    cgj = live_client(app, world, "cgj")
    api.act(t["id"], "return", {"reason_code": "not_ours", "reason": "城管职责"}, as_="zjj")
    api.act(t["id"], "reassign", {"lead_unit_id": world.units["cgj"]}, as_="lead")
    assert [m["event"] for m in _changes(zjj)] == ["return", "reassign"]
    assert [m["event"] for m in _changes(cgj)] == ["reassign"]


def test_refused_action_pushes_nothing(app: Flask, api: Api, world: World) -> None:
    t = api.create()
    operator = live_client(app, world, "operator")
    api.act(t["id"], "close", {}, as_="lead", expect=409)
    assert _changes(operator) == []
