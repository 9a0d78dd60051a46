"""The administrator creates a user and an Open311 API key: the key is shown once with a
copy button, refreshing the page makes no second key, and a name already taken is refused
in Chinese."""

import random
import re
from typing import Any

from playwright.sync_api import expect

from tests.journeys.conftest import Journey

INITIAL = "Zhaomin-2026"  # meets the password rules (issue 17)
OWN = "Lotus-bridge-88"


def usernames(page: Any) -> tuple[str, ...]:
    """The user list's 用户名 column: account names are data (liaison-zjj), not words."""
    return tuple(page.locator("#users tbody tr td:first-child").all_inner_texts())


def test_the_admin_creates_a_user_and_an_api_key(journey: Journey) -> None:
    n = random.randrange(1000, 10000)
    page = journey.sign_in("admin")
    expect(page.get_by_role("heading", name="新建用户")).to_be_visible()
    journey.seen(page, "admin-users", allow=usernames(page))

    username = f"op{n}"
    form = page.locator("#new-user")
    form.get_by_label("用户名").fill(username)
    form.get_by_label("姓名").fill("赵敏")
    form.get_by_label("角色").select_option(label="话务员")
    form.get_by_label("初始密码", exact=False).fill(INITIAL)
    form.get_by_role("button", name="创建用户").click()
    row = page.locator("#users tbody tr", has_text=username)
    expect(row).to_contain_text("赵敏")
    expect(row).to_contain_text("话务员")
    journey.seen(page, "admin-user-created", allow=usernames(page))
    # The new account works, and first asks for a password only its owner knows.
    newcomer = journey.sign_in(username, password=INITIAL)
    expect(newcomer).to_have_url(f"{journey.url}/password")
    expect(newcomer.get_by_role("alert")).to_contain_text("管理员告知的密码")
    journey.seen(newcomer, "first-sign-in-password")
    newcomer.get_by_label("管理员告知的密码").fill(INITIAL)
    newcomer.get_by_label("新密码", exact=True).fill(OWN)
    newcomer.get_by_label("再次输入新密码").fill(OWN)
    newcomer.get_by_role("button", name="保存").click()
    expect(newcomer.locator("p.ok")).to_contain_text("密码已修改")
    newcomer.goto(f"{journey.url}/")
    expect(newcomer).to_have_url(f"{journey.url}/console")

    page.get_by_role("link", name="开放接口").click()
    expect(page.get_by_role("heading", name="新建接口密钥")).to_be_visible()
    journey.seen(page, "admin-api-keys")
    name = f"市民通{n}"
    keys = page.locator("#api-keys tbody tr", has_text=name)
    create = page.locator("#new-key")
    create.get_by_label("调用方名称").fill(name)
    create.get_by_label("联系人及电话").fill("王工 0710-88880000")
    create.get_by_label("每分钟调用次数").fill("120")
    create.get_by_role("button", name="创建密钥").click()
    key = page.locator("#new-api-key").inner_text().strip()
    assert len(key) >= 32, key
    journey.soft(
        "the new key has a 复制 button",
        lambda: expect(page.get_by_role("button", name="复制")).to_be_visible(timeout=3000),
    )
    expect(keys).to_have_count(1)
    journey.seen(page, "admin-api-key-created")
    services = page.request.get(f"{journey.url}/open311/v2/services.json", params={"api_key": key})
    assert services.status == 200, services.status

    page.reload()  # F5 on the page that showed the key
    expect(page.get_by_role("heading", name="新建接口密钥")).to_be_visible()
    journey.soft("F5 makes no second key", lambda: expect(keys).to_have_count(1, timeout=3000))
    journey.soft("F5 does not show the key again", lambda: _absent(key, page.content()))
    journey.seen(page, "admin-api-keys-refreshed")

    # the same name again: refused, in Chinese, and no further key of that name
    count = keys.count()
    for refused in (400, 409, 422):  # whichever the form answers a refusal with
        journey.watcher(page).expect("/admin/api-keys", refused)
    create = page.locator("#new-key")
    create.get_by_label("调用方名称").fill(name)
    create.get_by_role("button", name="创建密钥").click()
    page.wait_for_load_state("load")
    error = page.locator("#new-key .field-error, #new-key [role=alert]").first
    journey.soft(
        "a name already taken is refused in Chinese",
        lambda: expect(error).to_have_text(re.compile(r"[\u4e00-\u9fff]{4}"), timeout=3000),
    )
    journey.soft(
        "a name already taken makes no key",
        lambda: expect(page.locator("#new-api-key")).to_have_count(0, timeout=3000),
    )
    journey.soft(
        "a name already taken adds no key to the list",
        lambda: expect(keys).to_have_count(count, timeout=3000),
    )
    journey.seen(page, "admin-api-key-duplicate")
    journey.assert_clean()


def _absent(secret: str, text: str) -> None:
    assert secret not in text, "the key is on the page again"


def test_the_admin_issues_a_desk_phones_password_and_disables_it(journey: Journey) -> None:
    """话机账号 on the demo: a password shown once with a working 复制 (a script the page's CSP
    must let run), the 停用 confirmation, and the edge refusing the disabled account."""
    n = random.randrange(1000, 10000)
    page = journey.sign_in("admin")
    page.get_by_role("link", name="话机账号").click()
    expect(page.get_by_role("heading", name="新建话机账号")).to_be_visible()
    name = f"s9{n}"
    form = page.locator("#new-sip")
    form.get_by_label("账号名", exact=False).fill(name)
    form.get_by_label("备注").fill("三楼备用坐席")
    form.get_by_role("button", name="创建并生成密码").click()
    secret = page.locator("#new-sip-password").inner_text().strip()
    assert len(secret) >= 16, secret
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="复制").click()
    expect(page.locator("#copy-key-status")).to_contain_text("复制")  # the script ran
    journey.seen(page, "admin-sip-password-issued", allow=(name,))

    row = page.locator("#sip-accounts tbody tr", has_text=name)
    page.once("dialog", lambda dialog: dialog.accept())  # 停用 asks first
    row.get_by_role("button", name=f"停用 {name}").click()
    expect(page.locator("#sip-accounts tbody tr", has_text=name)).to_contain_text("已停用")
    journey.seen(page, "admin-sip-account-disabled", allow=(name,))
    journey.assert_clean()
