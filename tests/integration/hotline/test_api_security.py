"""Roles, units, masking, audit, sessions and CSRF."""

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from hotline.bootstrap import Container
from infra.models import AuditEntry
from tests.conftest import Api
from tests.conftest import World


def _audit(container: Container, action: str) -> list[tuple[int | None, int | None, dict, str]]:
    """Return (user_id, ticket_id, details, request_id) of the audit rows for `action`."""
    with container.uow() as uow:
        rows = uow.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action))
        return [(r.user_id, r.ticket_id, r.details, r.request_id or "") for r in rows]


def test_no_credentials_is_401(api: Api) -> None:
    resp = api.get("/api/tickets", as_=None)
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "unauthorized", "message": "请先登录", "details": {}}


@pytest.mark.parametrize("header", ["Bearer hl_not-a-real-token", "Bearer ", "Basic abc", "hl_x"])
def test_bad_authorization_header_is_401(client: FlaskClient, world: World, header: str) -> None:
    resp = client.get("/api/tickets", headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("user", "action", "body"),
    [
        ("zjj", "dispatch", {"lead_unit_id": 1}),
        ("leader", "dispatch", {"lead_unit_id": 1}),
        ("operator", "uphold", {"note": "x"}),
        ("operator", "review", {"approve": True}),
        ("operator", "remind", {}),
        ("lead", "sign", {}),
        ("admin", "reply", {"text": "x"}),
    ],
)
def test_roles_are_checked_for_every_action(api: Api, user: str, action: str, body: dict) -> None:
    t = api.create()
    resp = api.post(f"/api/tickets/{t['id']}/actions/{action}", body, as_=user)
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "forbidden"


@pytest.mark.parametrize("user", ["zjj", "leader"])
def test_units_and_leaders_cannot_accept_tickets(api: Api, user: str) -> None:
    resp = api.post(
        "/api/tickets", {"request_type": "help", "title": "x", "content": "y"}, as_=user
    )
    assert resp.status_code == 403


def test_liaison_sees_only_its_units_tickets(api: Api) -> None:
    mine = api.dispatched("zjj")
    theirs = api.dispatched("cgj")
    api.create()  # not dispatched: no unit sees it
    listed = api.get("/api/tickets", as_="zjj").get_json()
    assert [t["id"] for t in listed["items"]] == [mine["id"]]
    assert api.get(f"/api/tickets/{mine['id']}", as_="zjj").status_code == 200
    resp = api.get(f"/api/tickets/{theirs['id']}", as_="zjj")
    assert resp.status_code == 403
    assert resp.get_json()["message"] == "该工单不属于本单位，无权查看"
    # acting on another unit's ticket is refused and changes nothing
    resp = api.post(f"/api/tickets/{theirs['id']}/actions/sign", {}, as_="zjj")
    assert resp.status_code == 403
    assert api.get(f"/api/tickets/{theirs['id']}").get_json()["status"] == "dispatched"
    # asking for another unit's list by filter still yields only own tickets
    filtered = api.get(f"/api/tickets?unit_id={api.world.units['cgj']}", as_="zjj").get_json()
    assert filtered["total"] == 0


def test_assisting_unit_reads_but_cannot_act(api: Api) -> None:
    t = api.create()
    t = api.act(
        t["id"],
        "dispatch",
        {"lead_unit_id": api.world.units["zjj"], "assist_unit_ids": [api.world.units["cgj"]]},
    )
    view = api.get(f"/api/tickets/{t['id']}", as_="cgj").get_json()
    assert view["allowed_actions"] == []
    resp = api.post(f"/api/tickets/{t['id']}/actions/sign", {}, as_="cgj")
    assert resp.status_code == 403
    assert api.get(f"/api/tickets/{t['id']}", as_="zjj").get_json()["allowed_actions"] == [
        "sign",
        "return",
    ]


def test_units_see_caller_identity_masked(api: Api) -> None:
    t = api.dispatched(
        "zjj", citizen_name="张三丰", caller_phone="13812345678", contact_phone="02712345678"
    )
    unit_view = api.get(f"/api/tickets/{t['id']}", as_="zjj").get_json()
    assert unit_view["citizen_name"] == "张**"
    assert unit_view["caller_phone"] == "138****5678"
    assert unit_view["contact_phone"] == "027****5678"
    assert unit_view["identity_masked"] is True
    listed = api.get("/api/tickets", as_="zjj").get_json()["items"][0]
    assert (listed["citizen_name"], listed["caller_phone"]) == ("张**", "138****5678")
    leader_view = api.get(f"/api/tickets/{t['id']}", as_="leader").get_json()
    assert leader_view["caller_phone"] == "138****5678"


def test_disclosure_allowed_shows_identity_to_the_unit(api: Api) -> None:
    t = api.dispatched("zjj", disclosure_allowed=True)
    view = api.get(f"/api/tickets/{t['id']}", as_="zjj").get_json()
    assert (view["citizen_name"], view["caller_phone"]) == ("张三", "13812345678")


def test_confidential_ticket_never_shows_identity_to_units(api: Api) -> None:
    t = api.dispatched("zjj", confidential=True, disclosure_allowed=True, request_type="report")
    view = api.get(f"/api/tickets/{t['id']}", as_="zjj").get_json()
    # no digit of the phone, no surname (issue 17: 172****9251 let units guess the rest)
    assert (view["citizen_name"], view["caller_phone"]) == ("**", "***********")


def test_viewing_unmasked_personal_data_is_audited(api: Api, container: Container) -> None:
    t = api.dispatched("zjj")
    before = _audit(container, "view_personal_data")  # the operator's create and dispatch
    assert {r[0] for r in before} == {api.world.users["operator"]}
    api.get(f"/api/tickets/{t['id']}", as_="zjj")  # masked: no audit row
    assert _audit(container, "view_personal_data") == before
    view = api.get(f"/api/tickets/{t['id']}", as_="supervisor").get_json()
    assert view["caller_phone"] == "13812345678"
    rows = _audit(container, "view_personal_data")[len(before) :]
    assert [(r[0], r[1]) for r in rows] == [(api.world.users["supervisor"], t["id"])]
    assert rows[0][3]  # the request id ties the row to the access log
    api.get("/api/tickets", as_="operator")
    listed = _audit(container, "list_personal_data")
    assert listed[0][2] == {"ticket_ids": [t["id"]]}


def test_session_login_needs_csrf_for_writes(client: FlaskClient, world: World) -> None:
    resp = client.post("/api/auth/login", json={"username": "operator", "password": "wrong pw"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "用户名或密码错误"
    resp = client.post("/api/auth/login", json={"username": "operator", "password": world.password})
    assert resp.status_code == 200
    csrf = resp.get_json()["csrf_token"]
    body = {"request_type": "help", "title": "井盖缺失", "content": "路口井盖丢失"}
    resp = client.post("/api/tickets", json=body)
    assert resp.status_code == 403
    assert "CSRF" in resp.get_json()["message"]
    assert client.get("/api/tickets").get_json()["total"] == 0  # nothing was written
    resp = client.post("/api/tickets", json=body, headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 201
    assert client.get("/api/me").get_json()["user"]["role"] == "operator"
    client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert client.get("/api/me").status_code == 401


def test_passwords_are_stored_hashed(container: Container, world: World) -> None:
    from infra.models import User

    with container.uow() as uow:
        stored = uow.session.scalar(sa.select(User.password_hash).where(User.username == "zjj"))
    assert stored is not None
    assert world.password not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))


def test_inactive_user_token_is_refused(api: Api, container: Container) -> None:
    from infra.models import User

    with container.uow() as uow:
        uow.session.execute(sa.update(User).where(User.username == "zjj").values(active=False))
        uow.commit()
    assert api.get("/api/tickets", as_="zjj").status_code == 401


def test_login_page_form_works_and_checks_csrf(client: FlaskClient, world: World) -> None:
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert "登录" in client.get("/login").get_data(as_text=True)
    resp = client.post(
        "/login", data={"username": "lead", "password": world.password, "csrf": "forged"}
    )
    assert resp.status_code == 400
    with client.session_transaction() as sess:
        token = sess["csrf"]
    resp = client.post(
        "/login", data={"username": "lead", "password": world.password, "csrf": token}
    )
    assert resp.status_code == 302
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "班长" in home and "工单" in home


def test_a_forged_page_form_gets_a_readable_page_not_json(
    client: FlaskClient, world: World
) -> None:
    client.post("/api/auth/login", json={"username": "admin", "password": world.password})
    resp = client.post("/password", data={"current": "x", "new": "y", "again": "y"})
    assert resp.status_code == 403
    assert resp.content_type.startswith("text/html")
    assert "CSRF" in resp.get_data(as_text=True)
    api_resp = client.post("/api/tickets", json={})
    assert api_resp.status_code == 403 and api_resp.get_json()["error"] == "forbidden"
