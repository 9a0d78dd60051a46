"""系统管理 → 话机账号: admins issue and rotate SIP passwords, shown once, kept as HA1, audited."""

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from callcenter.edge.credentials import ha1
from callcenter.models import SipAccount
from hotline.bootstrap import Container
from tests.conftest import World
from tests.integration.agents_ui.test_admin_pages import audit
from tests.integration.agents_ui.test_admin_pages import sign_in

PAGE = "/admin/sip-accounts/"


def shown_password(html: str) -> str:
    match = re.search(r'<code class="secret" id="new-sip-password">([^<]+)</code>', html)
    assert match, "the password is shown"
    return match.group(1)


def account(container: Container, name: str) -> SipAccount:
    with container.uow() as uow:
        row = uow.session.scalars(sa.select(SipAccount).where(SipAccount.name == name)).one()
        uow.session.expunge(row)
        return row


@pytest.mark.redis
def test_admin_issues_and_rotates_a_seat_password_shown_once_kept_as_ha1(
    client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    form = {"csrf": csrf, "name": "s05", "kind": "seat", "note": "三楼"}
    made = client.post(PAGE, data=form)
    assert made.status_code == 302 and "shown=" in made.headers["Location"]
    html = client.get(made.headers["Location"]).data.decode()
    password = shown_password(html)
    assert "只显示这一次" in html and 'id="copy-key"' in html
    row = account(container, "s05")
    assert row.ha1 == ha1("s05", "hotline", password) and password not in row.ha1
    again = client.get(made.headers["Location"]).data.decode()
    assert password not in again and "已显示过" in again  # once
    twice = client.post(PAGE, data=form | {"name": "S05"})
    assert twice.status_code == 422 and "已有同名话机账号" in twice.data.decode()
    rotated = client.post(f"{PAGE}{row.id}/rotate", data={"csrf": csrf}, follow_redirects=True)
    new_password = shown_password(rotated.data.decode())
    assert new_password != password
    assert account(container, "s05").ha1 == ha1("s05", "hotline", new_password)
    assert client.get("/acd/sip_ha1?user=s05").data.decode() == ha1("s05", "hotline", new_password)
    client.post(f"{PAGE}{row.id}/disable", data={"csrf": csrf})
    assert client.get("/acd/sip_ha1?user=s05").data.decode() == "-"
    for action in ("sip_account_issue", "sip_account_rotate", "sip_account_disable"):
        [(user_id, details)] = audit(container, action)
        assert user_id is not None and details["name"] == "s05"


def test_operators_cannot_open_the_sip_accounts_page(client: FlaskClient, world: World) -> None:
    sign_in(client, world, "operator")
    assert client.get(PAGE).status_code == 403
