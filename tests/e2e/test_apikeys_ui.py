"""The administrator hands out and revokes an Open311 API key in a real browser."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import shot

pytestmark = [pytest.mark.slow, pytest.mark.redis]
Open = Callable[[str], Any]


def test_admin_makes_a_key_sees_it_once_and_revokes_it(
    signed_in: Open, live_server: str, real_redis: Any
) -> None:
    page = signed_in("admin")
    page.get_by_role("link", name="系统管理").click()
    page.get_by_role("link", name="开放接口").click()
    assert page.get_by_role("heading", name="新建接口密钥").is_visible()
    page.get_by_label("调用方名称").fill("市民通APP")
    page.get_by_label("联系人及电话").fill("王工 0571-88888888")
    page.get_by_label("每分钟调用次数").fill("120")
    page.get_by_role("button", name="创建密钥").click()
    key = page.locator("#new-api-key").inner_text()
    assert len(key) >= 43
    row = page.locator("#api-keys tr", has_text="市民通APP")
    cells = row.locator("td").all_inner_texts()
    assert cells[1:3] == ["王工 0571-88888888", f"{key[:6]}…"]
    assert row.get_by_label("市民通APP 每分钟调用次数").input_value() == "120"
    shot(page, "admin-api-keys")

    api = f"{live_server}/open311/v2/services.json"
    assert page.request.get(api, params={"api_key": key}).status == 200
    page.goto(f"{live_server}/admin/api-keys/")  # seen once: the page again shows no key
    assert page.locator("#new-api-key").count() == 0
    assert key not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="吊销 市民通APP").click()
    assert "已吊销该密钥" in page.get_by_role("status").first.inner_text()
    assert "已吊销" in page.locator("#api-keys tr", has_text="市民通APP").inner_text()
    assert page.request.get(api, params={"api_key": key}).status == 403
