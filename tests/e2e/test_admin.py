"""The administrator manages accounts in a real browser."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import shot

pytestmark = pytest.mark.slow
Open = Callable[[str], Any]


def test_admin_creates_a_liaison_for_a_unit_through_the_form(signed_in: Open) -> None:
    page = signed_in("admin")
    page.get_by_role("link", name="系统管理").click()
    assert page.get_by_role("heading", name="新建用户").is_visible()
    assert not page.get_by_label("所属单位").is_visible()  # only liaisons have a unit
    page.get_by_label("用户名").fill("cgj-zhao")
    page.get_by_label("姓名").fill("赵六")
    page.get_by_label("角色").select_option(label="联络员")
    page.get_by_label("所属单位").select_option(label="城市管理局")
    page.get_by_label("初始密码").fill("initial-pass-1")
    page.get_by_role("button", name="创建用户").click()
    assert page.get_by_role("status").first.inner_text() == (
        "已创建用户 cgj-zhao，请将初始密码告知本人并提醒其登录后修改。"
    )
    row = page.locator("#users tr", has_text="cgj-zhao")
    assert row.locator("td").all_inner_texts()[:5] == [
        "cgj-zhao",
        "赵六",
        "联络员",
        "城市管理局",
        "启用",
    ]
    shot(page, "admin-users")


def test_a_refused_user_shows_the_message_next_to_the_field(
    signed_in: Open, live_server: str
) -> None:
    page = signed_in("admin")
    page.goto(f"{live_server}/admin/")
    page.get_by_label("用户名").fill("zjj")
    page.get_by_label("初始密码").fill("initial-pass-1")
    page.get_by_role("button", name="创建用户").click()
    assert page.locator("#username-error").inner_text() == "用户名已存在"
    assert page.get_by_label("用户名").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("用户名").input_value() == "zjj"
    assert page.get_by_label("初始密码").input_value() == ""  # never sent back


def test_admin_edits_a_units_keywords_and_reads_the_settings(
    signed_in: Open, live_server: str
) -> None:
    page = signed_in("admin")
    page.goto(f"{live_server}/admin/units")
    page.get_by_role("link", name="编辑 城市管理局").click()
    form = page.locator("#edit-unit")
    form.get_by_label("关键词").fill("占道经营 噪音，油烟")
    form.get_by_label("单位名称").fill("")
    form.get_by_role("button", name="保存").click()
    assert page.locator("#edit-name-error").inner_text() == "请填写单位名称"
    shot(page, "admin-unit-edit")
    form.get_by_label("单位名称").fill("城市管理局")
    form.get_by_role("button", name="保存").click()
    assert page.get_by_role("status").first.inner_text() == "已保存单位 城市管理局"
    row = page.locator("#units tr", has_text="城市管理局")
    assert row.locator("td").nth(6).inner_text() == "3"
    shot(page, "admin-units")
    page.get_by_role("link", name="时限与日历").click()
    first = page.locator("#sla-clocks tbody tr").first
    assert "生效：签收 15分钟，回复 2小时" in first.inner_text()
    first.get_by_label("特急签收时限").fill("10m")
    first.get_by_role("button", name="保存").click()
    assert "已保存时限" in page.get_by_role("status").first.inner_text()
    first = page.locator("#sla-clocks tbody tr").first
    assert "生效：签收 10分钟，回复 2小时（已在此修改）" in first.inner_text()
    shot(page, "admin-settings")
