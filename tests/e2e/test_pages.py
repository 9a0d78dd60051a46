"""People doing their main jobs in a real browser."""

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api
from tests.e2e.conftest import shot

pytestmark = pytest.mark.slow
Open = Callable[[str], Any]


@pytest.mark.parametrize(
    ("user", "path", "heading"),
    [
        ("operator", "/console", "受理工单"),
        ("zjj", "/unit", "本单位待办"),
        ("lead", "/supervise", "督办工作台"),
        ("supervisor", "/supervise", "督办工作台"),
        ("leader", "/dashboard", "领导看板"),
        ("admin", "/admin/", "系统管理"),
    ],
)
def test_each_role_lands_on_its_home(signed_in: Open, user: str, path: str, heading: str) -> None:
    page = signed_in(user)
    assert page.url.endswith(path)
    assert (
        heading in page.locator("h1, h2").first.inner_text()
        or page.get_by_role("heading", name=re.compile(heading)).count()
    )


def test_wrong_password_is_said_plainly(browser: Any, live_server: str, world: Any) -> None:
    page = browser.new_page(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page.goto(f"{live_server}/login")
    shot(page, "login")
    page.get_by_label("用户名").fill("operator")
    page.get_by_label("密码").fill("not the password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误"
    page.close()


def test_liaison_cannot_open_the_operator_console(signed_in: Open, live_server: str) -> None:
    page = signed_in("zjj")
    resp = page.goto(f"{live_server}/console")
    assert resp is not None and resp.status == 403
    assert "无权访问" in page.get_by_role("alert").inner_text()


def test_operator_accepts_and_dispatches_with_the_keyboard(
    signed_in: Open, api: Api, live_server: str
) -> None:
    page = signed_in("operator")
    page.get_by_label("来电号码").fill("13812345678")
    page.get_by_label("诉求人").fill("张三")
    page.get_by_label("诉求类型").select_option("complaint")
    page.get_by_label("标题").fill("小区电梯停运三天")
    page.get_by_label("诉求内容").fill("3号楼电梯停运三天，老人上下楼困难。")
    page.get_by_label("派单至", exact=True).select_option(label="住房和城乡建设局")
    shot(page, "operator-console")
    page.keyboard.press("Alt+S")
    created = page.locator("#created")
    created.get_by_text("已受理并派单").wait_for()
    tickets = api.get("/api/tickets").get_json()["items"]
    assert [(t["title"], t["status"]) for t in tickets] == [("小区电梯停运三天", "dispatched")]
    assert page.get_by_label("标题").input_value() == ""  # the form is ready for the next call


def test_server_validation_shows_next_to_the_fields(signed_in: Open, api: Api) -> None:
    page = signed_in("operator")
    page.get_by_label("来电号码").fill("call me")
    page.get_by_role("button", name="提交（Alt+S）").click()
    title_error = page.locator('[data-error-for="title"]')
    title_error.wait_for()
    assert title_error.inner_text() == "必填"
    phone_error = page.locator('[data-error-for="caller_phone"]')
    assert phone_error.inner_text() == "电话号码只能包含数字，国际号码以 + 开头"
    assert page.get_by_label("标题").get_attribute("aria-invalid") == "true"
    assert api.get("/api/tickets").get_json()["total"] == 0


def test_draft_survives_a_reload(signed_in: Open) -> None:
    page = signed_in("operator")
    page.get_by_label("标题").fill("路灯不亮")
    page.get_by_label("诉求内容").fill("滨江路路灯一周不亮")
    page.reload()
    assert page.get_by_label("标题").input_value() == "路灯不亮"
    assert page.get_by_text("已恢复上次未提交的草稿").is_visible()
    page.keyboard.press("Alt+N")
    page.reload()
    assert page.get_by_label("标题").input_value() == ""


def test_double_submit_makes_one_ticket(signed_in: Open, api: Api) -> None:
    page = signed_in("operator")
    page.get_by_label("诉求类型").select_option("help")
    page.get_by_label("标题").fill("井盖缺失")
    page.get_by_label("诉求内容").fill("路口井盖丢失")
    # Two submits in the same instant, as a double click or an impatient Enter would do.
    page.evaluate(
        "() => { const f = document.getElementById('ticket-form');"
        " f.requestSubmit(); f.requestSubmit(); }"
    )
    page.locator("#created").get_by_text("已受理").wait_for()
    assert api.get("/api/tickets").get_json()["total"] == 1


def test_liaison_signs_and_replies_while_the_operator_watches_live(
    signed_in: Open, api: Api, live_server: str
) -> None:
    t = api.dispatched("zjj", title="小区噪音扰民", citizen_name="李四", caller_phone="13900001111")
    operator = signed_in("operator")
    operator.goto(f"{live_server}/tickets/{t['id']}")
    operator.locator("#live-status.on").wait_for()

    liaison = signed_in("zjj")
    row = liaison.locator(f'tr[data-ticket-id="{t["id"]}"]')
    assert "李*" in row.inner_text() and "139****1111" in row.inner_text()  # masked for units
    shot(liaison, "liaison-inbox")
    row.get_by_role("link").click()
    liaison.get_by_role("button", name="签收").click()
    operator.locator(".meta .status", has_text="办理中").wait_for()  # no reload on that page

    liaison.locator(".meta .status", has_text="办理中").wait_for()
    # after 签收 the page opens 回复, what the unit does next
    liaison.locator('details[data-panel="reply"][open]').wait_for()
    liaison.get_by_label("办理结果").fill("已约谈商户，夜间停止施工。")
    shot(liaison, "liaison-reply")
    liaison.get_by_role("button", name="回复").click()
    operator.locator(".meta .status", has_text="待审核").wait_for()
    assert "已约谈商户" in operator.locator("#live-region").inner_text()
    shot(operator, "ticket-detail")


def test_a_live_update_keeps_what_the_person_is_filling_in(
    signed_in: Open, api: Api, live_server: str
) -> None:
    t = api.signed("zjj")
    liaison = signed_in("zjj")
    liaison.goto(f"{live_server}/tickets/{t['id']}")
    liaison.locator("#live-status.on").wait_for()
    form = liaison.locator('form[data-action="reply"]')
    form.get_by_label("办理结果").fill("已约谈商户，夜间停止施工。")
    # The hotline presses the unit meanwhile: the page updates live (催办 in its history).
    api.act(t["id"], "remind", {"note": "请尽快回复"}, as_="lead")
    liaison.locator("#live-region").get_by_text("请尽快回复").wait_for()
    assert liaison.locator('details[data-panel="reply"]').get_attribute("open") is not None
    assert form.get_by_label("办理结果").input_value() == "已约谈商户，夜间停止施工。"
    form.get_by_role("button", name="回复").click()
    liaison.locator(".meta .status", has_text="待审核").wait_for()
    sent = api.get(f"/api/tickets/{t['id']}").get_json()
    assert sent["reply_text"] == "已约谈商户，夜间停止施工。"


def test_action_errors_show_in_the_form(signed_in: Open, api: Api, live_server: str) -> None:
    t = api.signed("zjj")
    api.act(t["id"], "reply", {"text": "已处理"}, as_="zjj")
    page = signed_in("lead")
    page.goto(f"{live_server}/tickets/{t['id']}")
    form = page.locator('form[data-action="review"]')
    form.get_by_label("退回重办").check()
    form.get_by_role("button", name="审核").click()
    form.locator(".form-error").get_by_text("退回重新办理时必须填写审核意见").wait_for()
    assert api.get(f"/api/tickets/{t['id']}").get_json()["status"] == "replied"


def test_ticket_list_filters_by_light(
    signed_in: Open, api: Api, clock: Any, live_server: str
) -> None:
    late = api.signed("zjj", title="超期的工单", request_type="help", urgency="urgent")
    clock.advance(hours=25)
    api.dispatched("cgj", title="刚派的工单")
    page = signed_in("supervisor")
    page.goto(f"{live_server}/tickets?light=red")
    rows = page.locator("#live-region tr")
    assert rows.count() == 1
    assert "超期的工单" in rows.first.inner_text()
    assert late["number"] in rows.first.inner_text()
    shot(page, "ticket-list")


def test_change_password(signed_in: Open, world: Any, live_server: str) -> None:
    page = signed_in("operator")
    page.goto(f"{live_server}/password")
    page.get_by_label("当前密码").fill(world.password)
    page.get_by_label("新密码", exact=True).fill("short")
    page.get_by_label("再次输入新密码").fill("short")
    page.get_by_role("button", name="保存").click()
    assert page.locator("#new-error").inner_text() == "密码至少10位"
    assert "不能包含用户名" in page.locator("#new-rule").inner_text()
    shot(page, "change-password")
    page.get_by_label("当前密码").fill(world.password)
    page.get_by_label("新密码", exact=True).fill("A much better pw")
    page.get_by_label("再次输入新密码").fill("A much better pw")
    page.get_by_role("button", name="保存").click()
    assert "密码已修改" in page.get_by_role("status").first.inner_text()


def test_typing_the_callers_number_shows_their_past_tickets(signed_in: Open, api: Api) -> None:
    api.create(title="上次反映的路灯问题", caller_phone="13711112222")
    api.create(title="别人的工单", caller_phone="13800000000")
    page = signed_in("operator")
    page.get_by_label("来电号码").fill("13711112222")
    page.get_by_label("诉求人").focus()  # leaving the field looks the number up
    pop = page.locator("#screen-pop")
    pop.get_by_text("该号码共有 1 张历史工单").wait_for()
    assert "上次反映的路灯问题" in pop.inner_text()
    assert "别人的工单" not in pop.inner_text()


def _png_bytes() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def test_liaison_replies_with_a_photo_and_a_broken_one_is_refused(
    signed_in: Open, api: Api, live_server: str
) -> None:
    t = api.signed("zjj", title="路面塌陷")
    page = signed_in("zjj")
    page.goto(f"{live_server}/tickets/{t['id']}")
    # signed: 回复 is what the unit does next, and it is open
    assert page.locator("details.action[open]").get_attribute("data-panel") == "reply"
    form = page.locator('form[data-action="reply"]')
    form.get_by_label("办理结果").fill("已回填并压实，见照片。")
    form.locator("input[type=file]").set_input_files(
        [{"name": "坏图.png", "mimeType": "image/png", "buffer": _png_bytes()[:30]}]
    )
    form.get_by_role("button", name="回复").click()
    error = form.locator('[data-error-for="file"]')
    error.wait_for()
    assert "图片已损坏或不完整" in error.inner_text()
    assert api.get(f"/api/tickets/{t['id']}").get_json()["status"] == "signed"

    form.locator("input[type=file]").set_input_files(
        [{"name": "现场.png", "mimeType": "image/png", "buffer": _png_bytes()}]
    )
    form.get_by_role("button", name="回复").click()
    page.locator(".meta .status", has_text="待审核").wait_for()
    link = page.get_by_role("link", name="现场.png")
    assert link.is_visible()
    view = api.get(f"/api/tickets/{t['id']}").get_json()
    assert [a["filename"] for a in view["attachments"]] == ["现场.png"]
    assert view["events"][-1]["data"]["attachment_ids"] == [view["attachments"][0]["id"]]


def test_unit_is_told_live_of_new_work_and_reminders(signed_in: Open, api: Api) -> None:
    page = signed_in("zjj")
    page.locator("#live-status.on").wait_for()
    assert page.locator("#unit-count").inner_text().startswith("0 张")
    t = api.dispatched("zjj", title="新派来的工单")
    page.locator("#toast", has_text=f"新工单：工单 {t['number']}").wait_for()
    page.locator(f'tr[data-ticket-id="{t["id"]}"]').wait_for()  # the inbox grew by itself
    page.locator("#unit-count", has_text="1 张").wait_for()  # and so did its count
    api.act(t["id"], "remind", {"note": "请尽快签收"}, as_="supervisor")
    page.locator("#toast", has_text=f"催办：工单 {t['number']}").wait_for()


def test_team_lead_reviews_the_reply_and_closes_after_the_follow_up(
    signed_in: Open, api: Api, live_server: str
) -> None:
    t = api.signed("zjj", title="楼道堆放杂物")
    api.act(t["id"], "reply", {"text": "已清理楼道杂物。"}, as_="zjj")
    lead = signed_in("lead")
    lead.goto(f"{live_server}/tickets/{t['id']}")
    review = lead.locator('form[data-action="review"]')
    review.get_by_label("通过").check()
    review.get_by_role("button", name="审核").click()
    lead.locator(".meta .status", has_text="待回访").wait_for()

    operator = signed_in("operator")
    operator.goto(f"{live_server}/tickets/{t['id']}")
    follow = operator.locator('form[data-action="follow_up"]')
    follow.get_by_label("已解决").check()
    follow.get_by_label("满意度").select_option(label="满意")
    follow.get_by_label("回访记录").fill("市民表示楼道已清理干净。")
    follow.get_by_role("button", name="回访").click()
    operator.locator(".meta .status", has_text="已回访").wait_for()

    lead.locator(".meta .status", has_text="已回访").wait_for()  # live on the lead's page
    lead.locator('details[data-panel="close"]').evaluate("d => { d.open = true; }")
    lead.locator('form[data-action="close"]').get_by_role("button", name="办结").click()
    lead.locator(".meta .status", has_text="已办结").wait_for()
    view = api.get(f"/api/tickets/{t['id']}").get_json()
    assert view["status"] == "closed"
    assert view["follow_up"]["satisfaction"] == "satisfied"


def test_every_signed_in_page_is_live(signed_in: Open, live_server: str) -> None:
    page = signed_in("admin")
    for path in ("/admin/", "/dashboard", "/supervise", "/tickets"):
        page.goto(f"{live_server}{path}")
        page.locator("#live-status.on").wait_for()
