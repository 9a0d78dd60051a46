# ruff: noqa: F811 - the browser fixtures, imported by name for pytest
"""系统管理 → 话机账号 in chromium: issue a seat's password, see it once, copy it."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import db_url  # noqa: F401 - SQLite, as the browser tests
from tests.e2e.conftest import engine  # noqa: F401
from tests.e2e.conftest import live_server  # noqa: F401
from tests.e2e.conftest import shot
from tests.e2e.conftest import signed_in  # noqa: F401

pytestmark = [pytest.mark.redis]


def test_admin_issues_a_seat_password_in_the_browser(
    signed_in: Callable[[str], Any], real_redis: Any
) -> None:
    page = signed_in("admin")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.get_by_role("link", name="系统管理").first.click()
    page.get_by_role("link", name="话机账号").click()
    page.get_by_label("账号名（坐席号、程序名或电话号码）").fill("s05")
    page.get_by_label("备注").fill("三楼东侧")
    page.get_by_role("button", name="创建并生成密码").click()
    secret = page.locator("#new-sip-password").inner_text()
    assert len(secret) >= 20
    assert page.get_by_text("密码只显示这一次").is_visible()
    shot(page, "admin_sip_accounts")
    page.reload()
    assert secret not in page.content()
    assert page.locator("#sip-accounts").get_by_text("s05").is_visible()
