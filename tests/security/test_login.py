"""Attacks on sign-in (issue 17, #8, #10, #11): brute force, open redirect, login CSRF, weak
passwords."""

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from hotline.bootstrap import Container
from infra.models import AuditEntry
from tests.conftest import World
from tests.security.test_sessions import csrf_of
from tests.security.test_sessions import form_sign_in
from tests.security.test_sessions import signed_in


def audit(container: Container, action: str) -> list[tuple[int | None, dict[str, Any]]]:
    with container.uow() as uow:
        rows = uow.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        return [(r.user_id, r.details) for r in rows]


def api_login(client: FlaskClient, username: str, password: str, **kw: Any) -> Any:
    return client.post("/api/auth/login", json={"username": username, "password": password}, **kw)


# ---------------------------------------------------------------- brute force


def test_a_hundred_wrong_passwords_get_429_and_lock_the_account(
    app: Flask, world: World, container: Container, real_redis: Any
) -> None:
    client = app.test_client()

    answers = [api_login(client, "operator", f"guess-{i}").status_code for i in range(100)]

    assert answers[:4] == [401] * 4
    assert set(answers[4:]) == {429}
    last = api_login(client, "operator", f"guess-{100}")
    assert last.get_json()["error"] == "too_many_attempts"
    assert int(last.headers["Retry-After"]) > 0
    # Locked: the right password does not get in either, not even from another address.
    other = app.test_client()
    right = api_login(other, "operator", world.password, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert right.status_code == 429
    assert len(audit(container, "login_failed")) == 5
    assert audit(container, "login_locked") == [
        (
            world.users["operator"],
            {"username": "operator", "via": "api", "failures": 5, "minutes": 30},
        )
    ]


def test_one_address_trying_many_accounts_must_wait(
    app: Flask, world: World, real_redis: Any
) -> None:
    client = app.test_client()

    answers = [api_login(client, f"user{i}", "wrong-password").status_code for i in range(25)]

    assert answers[:20] == [401] * 20
    assert set(answers[20:]) == {429}
    # Another address is not held up by this one.
    other = api_login(
        app.test_client(), "lead", world.password, environ_base={"REMOTE_ADDR": "10.0.0.8"}
    )
    assert other.status_code == 200


def test_the_sign_in_page_says_in_chinese_that_the_account_is_locked(
    app: Flask, world: World, real_redis: Any
) -> None:
    client = app.test_client()
    for _ in range(5):
        form_sign_in(client, "zjj", "wrong-password")

    page = form_sign_in(client, "zjj", world.password)

    assert page.status_code == 429
    assert "密码错误次数过多" in page.text and "联系系统管理员解锁" in page.text


def test_an_admin_unlocks_a_locked_account_and_it_is_audited(
    app: Flask, world: World, container: Container, real_redis: Any
) -> None:
    for _ in range(5):
        api_login(app.test_client(), "zjj", "wrong-password")
    assert api_login(app.test_client(), "zjj", world.password).status_code == 429
    admin = signed_in(app, world, "admin")
    assert "已锁定" in admin.get("/admin/").text

    resp = admin.post(f"/admin/users/{world.users['zjj']}/unlock", data={"csrf": csrf_of(admin)})

    assert resp.status_code == 302
    assert api_login(app.test_client(), "zjj", world.password).status_code == 200
    assert audit(container, "admin_unlock_user") == [
        (world.users["admin"], {"user_id": world.users["zjj"], "username": "zjj"})
    ]


def test_a_liaison_cannot_unlock_accounts(app: Flask, world: World, real_redis: Any) -> None:
    liaison = signed_in(app, world, "zjj")

    resp = liaison.post(
        f"/admin/users/{world.users['operator']}/unlock", data={"csrf": csrf_of(liaison)}
    )

    assert resp.status_code == 403


# ---------------------------------------------------------------- open redirect


@pytest.mark.parametrize(
    "next_",
    [
        "/\t/evil.example/login",
        "/%09/evil.example/login",
        "//evil.example/login",
        "/\\evil.example/login",
        "/%5Cevil.example",
        "/%2F%2Fevil.example",
        "https://evil.example/",
        "/\n/evil.example",
        " //evil.example",
        "javascript:alert(1)",
    ],
)
def test_sign_in_never_redirects_to_another_site(
    app: Flask, world: World, real_redis: Any, next_: str
) -> None:
    client = app.test_client()
    page = client.get("/login", query_string={"next": next_}).text
    assert "evil.example" not in page and "javascript" not in page
    csrf = csrf_of(client)

    resp = client.post(
        "/login",
        data={"username": "lead", "password": world.password, "csrf": csrf, "next": next_},
    )

    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil.example" not in location and "\\" not in location


def test_the_exact_reported_redirect_is_closed(app: Flask, world: World, real_redis: Any) -> None:
    client = app.test_client()
    client.get("/login?next=/%09/evil.example/login")

    resp = client.post(
        "/login?next=/%09/evil.example/login",
        data={
            "username": "lead",
            "password": world.password,
            "csrf": csrf_of(client),
            "next": "/\t/evil.example/login",
        },
    )

    assert resp.headers["Location"] == "/"


def test_a_local_next_is_still_followed(app: Flask, world: World, real_redis: Any) -> None:
    client = app.test_client()
    client.get("/login")

    resp = client.post(
        "/login",
        data={
            "username": "lead",
            "password": world.password,
            "csrf": csrf_of(client),
            "next": "/tickets?status=dispatched",
        },
    )

    assert resp.headers["Location"] == "/tickets?status=dispatched"


# ---------------------------------------------------------------- login CSRF


def test_a_sign_in_form_from_another_site_without_a_token_is_refused(
    app: Flask, world: World, real_redis: Any
) -> None:
    victim = app.test_client()  # no cookie yet: the attacker's page posts the form

    resp = victim.post("/login", data={"username": "lead", "password": world.password, "csrf": ""})

    assert resp.status_code == 400
    assert victim.get("/api/me").status_code == 401


def test_api_sign_in_takes_only_json(app: Flask, world: World, real_redis: Any) -> None:
    body = json.dumps({"username": "lead", "password": world.password})
    for mimetype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        client = app.test_client()
        resp = client.post(
            "/api/auth/login",
            data=body,
            headers={"Content-Type": mimetype, "Origin": "https://evil.example"},
        )
        assert resp.status_code == 415, mimetype
        assert resp.get_json()["error"] == "unsupported_media_type"
        assert client.get("/api/me").status_code == 401


# ---------------------------------------------------------------- password rules


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short-1", "密码至少10位"),
        ("alllowercaseletters", "至少3种"),
        ("Wang-2026-secure", "密码不能包含用户名"),
        ("P@ssw0rd2026", "密码过于常见"),
        ("Admin@12345", "密码过于常见"),
    ],
)
def test_weak_passwords_are_refused_with_a_message_beside_the_field(
    app: Flask, world: World, real_redis: Any, password: str, message: str
) -> None:
    admin = signed_in(app, world, "admin")

    resp = admin.post(
        "/admin/users",
        data={
            "csrf": csrf_of(admin),
            "username": "wang",
            "display_name": "王",
            "role": "operator",
            "password": password,
        },
    )

    assert resp.status_code == 422
    assert message in resp.text
    assert 'id="password-error"' in resp.text


def test_a_weak_new_password_is_refused_on_change(
    app: Flask, world: World, real_redis: Any
) -> None:
    client = signed_in(app, world, "operator")

    resp = client.post(
        "/password",
        data={
            "csrf": csrf_of(client),
            "current": world.password,
            "new": "operator-2026-A",
            "again": "operator-2026-A",
        },
    )

    assert resp.status_code == 422
    assert "密码不能包含用户名" in resp.text
    assert api_login(app.test_client(), "operator", world.password).status_code == 200
