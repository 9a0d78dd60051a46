"""Sign-in in the browser: the lock message, the forced password change, no CSP breakage."""

from typing import Any

import pytest

from hotline.bootstrap import Container
from tests.e2e.conftest import shot

WIDTHS = [(1366, 768), (390, 844)]


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_a_locked_account_reads_why_in_chinese(
    browser: Any, live_server: str, world: Any, real_redis: Any, width: int, height: int
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    for _ in range(6):
        page.get_by_label("用户名").fill("zjj")
        page.get_by_label("密码").fill("wrong-password")
        page.get_by_role("button", name="登录").click()
    alert = page.get_by_role("alert").inner_text()
    assert "密码错误次数过多" in alert and "联系系统管理员解锁" in alert
    shot(page, f"login-locked-{width}")
    context.close()


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_after_an_admins_reset_every_page_leads_to_the_password_change(
    browser: Any,
    live_server: str,
    world: Any,
    container: Container,
    real_redis: Any,
    width: int,
    height: int,
) -> None:
    from dispatch.admin import service as admin

    temporary = admin.reset_password(container.uow(), world.users["admin"], world.users["zjj"])
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(f"{live_server}/login?next=/unit")
    page.get_by_label("用户名").fill("zjj")
    page.get_by_label("密码").fill(temporary)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/password")
    assert "管理员告知的密码" in page.get_by_role("alert").first.inner_text()
    shot(page, f"forced-password-{width}")
    page.get_by_label("管理员告知的密码").fill(temporary)
    page.get_by_label("新密码", exact=True).fill("Lantern-river-7")
    page.get_by_label("再次输入新密码").fill("Lantern-river-7")
    page.get_by_role("button", name="保存").click()
    assert "密码已修改" in page.get_by_role("status").first.inner_text()
    page.goto(f"{live_server}/unit")
    assert page.url.endswith("/unit")
    assert violations == []
    context.close()
