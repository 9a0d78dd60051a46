"""系统管理 → 开放接口: admins make, limit and revoke Open311 API keys (session + CSRF)."""

import hashlib
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from dispatch.open311.models import ApiKey
from hotline.bootstrap import Container
from tests.conftest import World
from tests.integration.agents_ui.test_admin_pages import audit
from tests.integration.agents_ui.test_admin_pages import sign_in

PAGE = "/admin/api-keys/"


def keys(container: Container) -> list[ApiKey]:
    with container.uow() as uow:
        rows = uow.session.scalars(sa.select(ApiKey).order_by(ApiKey.id)).all()
        uow.session.expunge_all()
        return list(rows)


def shown_key(html: str) -> str:
    match = re.search(r'<code class="secret" id="new-api-key">([^<]+)</code>', html)
    assert match, "the new key is shown"
    return match.group(1)


def create(client: FlaskClient, csrf: str, **fields: str) -> Any:
    form = {
        "csrf": csrf,
        "name": "市民通APP",
        "contact": "王工 0571-88888888",
        "rate_per_minute": "",
    }
    form.update(fields)
    return client.post(PAGE, data=form, follow_redirects=True)


@pytest.mark.redis
def test_admin_makes_a_key_shown_once_and_only_its_hash_is_kept(
    client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    resp = create(client, csrf, rate_per_minute="120")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    html = resp.data.decode()
    key = shown_key(html)
    assert len(key) >= 43 and "只显示这一次" in html
    assert 'id="copy-key"' in html  # a copy button beside it
    [row] = keys(container)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.key_prefix == key[:6] and row.rate_per_minute == 120
    assert (row.name, row.contact, row.created_by_id) == (
        "市民通APP",
        "王工 0571-88888888",
        world.users["admin"],
    )
    # The list shows the prefix, never the key again.
    page = client.get(PAGE).data.decode()
    assert key not in page and f"{key[:6]}…" in page and "从未使用" in page
    # The key works at once, and its use is noted.
    assert client.get("/open311/v2/services.json", query_string={"api_key": key}).status_code == 200
    assert keys(container)[0].last_used_at is not None
    [(user_id, details)] = audit(container, "api_key_create")
    assert user_id == world.users["admin"] and details["prefix"] == key[:6]
    assert key not in str(details)


@pytest.mark.redis
def test_a_blank_rate_takes_the_default_and_bad_input_is_explained(
    client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    resp = create(client, csrf, name="  ", rate_per_minute="abc")
    assert resp.status_code == 422
    html = resp.data.decode()
    assert "请填写调用方名称" in html and "请填写 1 到 10000 之间的整数" in html
    assert keys(container) == []
    assert create(client, csrf).status_code == 200
    assert keys(container)[0].rate_per_minute == container.settings.open311.rate_per_minute


@pytest.mark.redis
def test_admin_changes_the_rate_and_revokes_a_key_which_stops_working(
    client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    key = shown_key(create(client, csrf).data.decode())
    key_id = keys(container)[0].id
    resp = client.post(f"{PAGE}{key_id}/rate", data={"csrf": csrf, "rate_per_minute": "0"})
    assert resp.status_code == 422 and "1 到 10000" in resp.data.decode()
    resp = client.post(f"{PAGE}{key_id}/rate", data={"csrf": csrf, "rate_per_minute": "5"})
    assert resp.status_code == 302
    assert keys(container)[0].rate_per_minute == 5
    assert "已修改调用频率" in client.get(PAGE).data.decode()
    resp = client.post(f"{PAGE}{key_id}/revoke", data={"csrf": csrf})
    assert resp.status_code == 302
    row = keys(container)[0]
    assert not row.active and row.revoked_at is not None
    assert "已吊销" in client.get(PAGE).data.decode()
    refused = client.get("/open311/v2/services.json", query_string={"api_key": key})
    assert refused.status_code == 403
    assert client.post(f"{PAGE}{key_id}/revoke", data={"csrf": csrf}).status_code == 302
    assert client.post(f"{PAGE}999/revoke", data={"csrf": csrf}).status_code == 404
    assert [d["to"] for _, d in audit(container, "api_key_rate")] == [5]
    assert len(audit(container, "api_key_revoke")) == 1  # the second revoke changed nothing


@pytest.mark.parametrize("username", ["operator", "lead", "supervisor", "leader", "zjj"])
def test_other_roles_get_403(client: FlaskClient, world: World, username: str) -> None:
    csrf = sign_in(client, world, username)
    assert client.get(PAGE).status_code == 403
    assert create(client, csrf).status_code == 403
    assert client.post(f"{PAGE}1/revoke", data={"csrf": csrf}).status_code == 403


def test_signed_out_visitors_go_to_the_sign_in_page(client: FlaskClient) -> None:
    resp = client.get(PAGE)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.redis
def test_forms_need_the_csrf_token(
    client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    assert create(client, "wrong").status_code == 403
    assert keys(container) == []
    create(client, csrf)
    key_id = keys(container)[0].id
    assert client.post(f"{PAGE}{key_id}/revoke", data={}).status_code == 403
    assert client.post(f"{PAGE}{key_id}/rate", data={"rate_per_minute": "9"}).status_code == 403
    assert keys(container)[0].active and keys(container)[0].rate_per_minute == 60
    assert audit(container, "api_key_revoke") == []


def test_the_admin_tabs_link_the_page(client: FlaskClient, world: World) -> None:
    sign_in(client, world)
    html = client.get("/admin/").data.decode()
    assert f'href="{PAGE}"' in html and "开放接口" in html
    page = client.get(PAGE).data.decode()
    assert re.search(r'href="/admin/api-keys/"\s+aria-current="page"', page)


@pytest.mark.redis
def test_reloading_the_page_after_making_a_key_makes_no_second_one(
    client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    """The POST answered with the key page, so F5 sent the form again: a second key."""
    csrf = sign_in(client, world)
    made = client.post(PAGE, data={"csrf": csrf, "name": "市民通APP", "contact": ""})
    assert made.status_code == 302  # post/redirect/get
    shown = made.headers["Location"]
    first = client.get(shown)
    key = shown_key(first.data.decode())

    again = client.get(shown)  # F5 on the page the redirect led to

    html = again.data.decode()
    assert key not in html and "已显示过" in html
    assert len(keys(container)) == 1
    cookie = client.get_cookie("session")
    assert cookie is None or key not in cookie.value  # never kept in the session cookie


@pytest.mark.redis
def test_a_second_live_key_of_the_same_name_is_refused(
    client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    create(client, csrf, name="市民通APP")

    again = create(client, csrf, name=" 市民通app ")

    assert again.status_code == 422
    assert "已有同名调用方的有效密钥" in again.data.decode()
    assert len(keys(container)) == 1
    client.post(f"{PAGE}{keys(container)[0].id}/revoke", data={"csrf": csrf})
    assert create(client, csrf, name="市民通APP").status_code == 200  # after revoking: fine
    assert len(keys(container)) == 2
