"""Attack: replay a stolen session cookie after the session should have ended (issue 17, #7).

Each test signs in, copies the session cookie the way a thief would (another browser, the
same cookie), makes the session end (sign-out, password change, admin reset, deactivation,
idle time) and replays the copy. The replay must be refused; a Socket.IO connection opened
with it too.
"""

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from agents_ui.realtime import NAMESPACE
from agents_ui.realtime import socketio
from tests.conftest import Clock
from tests.conftest import World

STRONG = "Xq7-river-Lantern"


def form_sign_in(client: FlaskClient, username: str, password: str) -> Any:
    """Sign in as a person does: the sign-in page, then its form with the page's token."""
    client.get("/login")
    with client.session_transaction() as s:
        csrf = s["csrf"]
    return client.post("/login", data={"username": username, "password": password, "csrf": csrf})


def csrf_of(client: FlaskClient) -> str:
    with client.session_transaction() as s:
        return str(s["csrf"])


def stolen_copy(app: Flask, victim: FlaskClient) -> FlaskClient:
    """Another browser holding the victim's session cookie."""
    cookie = victim.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def signed_in(app: Flask, world: World, username: str = "operator") -> FlaskClient:
    client = app.test_client()
    assert form_sign_in(client, username, world.password).status_code == 302
    assert client.get("/api/me").status_code == 200
    return client


def test_a_cookie_copied_before_sign_out_is_refused_after_it(
    app: Flask, world: World, real_redis: Any
) -> None:
    victim = signed_in(app, world)
    thief = stolen_copy(app, victim)

    victim.post("/logout", data={"csrf": csrf_of(victim)})

    resp = thief.get("/api/me")
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "unauthorized"
    assert thief.get("/tickets").status_code == 302  # pages send it to sign in


def test_an_api_session_copied_before_api_sign_out_is_refused_after_it(
    app: Flask, world: World, real_redis: Any
) -> None:
    victim = app.test_client()
    login = victim.post("/api/auth/login", json={"username": "lead", "password": world.password})
    assert login.status_code == 200
    thief = stolen_copy(app, victim)

    victim.post("/api/auth/logout", headers={"X-CSRF-Token": login.get_json()["csrf_token"]})

    assert thief.get("/api/me").status_code == 401


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(
    app: Flask, world: World, real_redis: Any
) -> None:
    here = signed_in(app, world)
    elsewhere = signed_in(app, world)

    resp = here.post(
        "/password",
        data={
            "csrf": csrf_of(here),
            "current": world.password,
            "new": STRONG,
            "again": STRONG,
        },
    )

    assert resp.status_code == 200 and "密码已修改" in resp.text
    assert elsewhere.get("/api/me").status_code == 401
    assert here.get("/api/me").status_code == 200


def test_an_admin_reset_ends_the_users_sessions_and_forces_a_new_password(
    app: Flask, world: World, real_redis: Any
) -> None:
    victim = signed_in(app, world, "zjj")
    thief = stolen_copy(app, victim)
    admin = signed_in(app, world, "admin")

    made = admin.post(f"/admin/users/{world.users['zjj']}/password", data={"csrf": csrf_of(admin)})
    shown = admin.get(made.headers["Location"]).text
    match = re.search(r'id="temporary-password">([^<]+)<', shown)
    assert match is not None
    temporary = match.group(1)

    assert thief.get("/api/me").status_code == 401
    assert victim.get("/unit").status_code == 302

    # Signed in with the temporary password: every page leads to 修改密码, the API says so.
    user = app.test_client()
    assert form_sign_in(user, "zjj", temporary).status_code == 302
    page = user.get("/unit")
    assert page.status_code == 302 and page.headers["Location"].endswith("/password")
    api = user.get("/api/tickets")
    assert api.status_code == 403
    assert api.get_json()["error"] == "password_change_required"
    assert "管理员告知的密码" in user.get("/password").text

    changed = user.post(
        "/password",
        data={"csrf": csrf_of(user), "current": temporary, "new": STRONG, "again": STRONG},
    )
    assert changed.status_code == 200
    assert user.get("/unit").status_code == 200
    assert user.get("/api/tickets").status_code == 200


def test_a_cookie_from_before_a_deactivation_stays_dead_after_reactivation(
    app: Flask, world: World, real_redis: Any
) -> None:
    victim = signed_in(app, world)
    thief = stolen_copy(app, victim)
    admin = signed_in(app, world, "admin")
    target = world.users["operator"]

    admin.post(f"/admin/users/{target}/active", data={"active": "0", "csrf": csrf_of(admin)})
    admin.post(f"/admin/users/{target}/active", data={"active": "1", "csrf": csrf_of(admin)})

    assert thief.get("/api/me").status_code == 401
    assert victim.get("/api/me").status_code == 401


@pytest.mark.parametrize(
    ("username", "idle", "ends"),
    [
        ("operator", 31, True),  # a seat: 30 minutes
        ("operator", 29, False),
        ("admin", 16, True),  # an admin: 15 minutes
        ("zjj", 31, False),  # a liaison: 2 hours
        ("zjj", 121, True),
    ],
)
def test_an_idle_session_ends(
    app: Flask,
    world: World,
    clock: Clock,
    real_redis: Any,
    username: str,
    idle: int,
    ends: bool,
) -> None:
    client = signed_in(app, world, username)

    clock.advance(minutes=idle)

    assert client.get("/api/me").status_code == (401 if ends else 200)


def test_a_used_session_still_ends_after_the_longest_lifetime(
    app: Flask, world: World, clock: Clock, real_redis: Any
) -> None:
    client = signed_in(app, world, "zjj")
    for _ in range(13):
        clock.advance(minutes=59)
        client.get("/api/me")

    assert client.get("/api/me").status_code == 401  # 12 hours however busy


def test_a_revoked_session_gets_no_live_connection(
    app: Flask, world: World, real_redis: Any
) -> None:
    victim = signed_in(app, world)
    thief = stolen_copy(app, victim)
    victim.post("/logout", data={"csrf": csrf_of(victim)})

    live = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=thief)

    assert not live.is_connected(NAMESPACE)


def test_an_open_live_connection_of_a_revoked_session_is_closed(
    app: Flask, world: World, real_redis: Any
) -> None:
    victim = signed_in(app, world)
    live = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=victim)
    assert live.is_connected(NAMESPACE)
    elsewhere = signed_in(app, world)
    elsewhere.post("/logout", data={"csrf": csrf_of(elsewhere)})

    answer = live.emit("seat_alive", {}, namespace=NAMESPACE, callback=True)

    assert answer == {"seat": None, "state": "offline"}
    assert not live.is_connected(NAMESPACE)


def test_a_user_an_admin_created_picks_their_own_password_first(
    app: Flask, world: World, real_redis: Any
) -> None:
    """The admin chose the initial password and knows it: it must not stay in use."""
    admin = signed_in(app, world, "admin")
    made = admin.post(
        "/admin/users",
        data={
            "csrf": csrf_of(admin),
            "username": "zhaomin",
            "display_name": "赵敏",
            "role": "operator",
            "password": STRONG,
        },
    )
    assert made.status_code == 302, made.text

    newcomer = app.test_client()
    assert form_sign_in(newcomer, "zhaomin", STRONG).status_code == 302
    page = newcomer.get("/console")
    assert page.status_code == 302 and page.headers["Location"].endswith("/password")
    assert newcomer.get("/api/tickets").get_json()["error"] == "password_change_required"

    first = newcomer.get("/password").text
    assert "管理员告知的密码" in first
    assert 'aria-label="主导航"' not in first  # no way anywhere else, nothing live that fails
    own = "Quiet-harbour-71"
    changed = newcomer.post(
        "/password",
        data={"csrf": csrf_of(newcomer), "current": STRONG, "new": own, "again": own},
    )
    assert changed.status_code == 200
    assert newcomer.get("/console").status_code == 200
