"""A team lead works the human follow-up queue (人工回访) in a real browser."""

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from hotline.bootstrap import Container
from tests.conftest import Api
from tests.conftest import Clock
from tests.e2e.conftest import shot
from tests.integration.dispatch.test_followup import SETTINGS
from tests.integration.dispatch.test_followup import Harness
from tests.integration.dispatch.test_followup import reviewed

pytestmark = pytest.mark.slow
Open = Callable[[str], Any]


def test_a_lead_follows_up_a_handed_over_ticket(
    signed_in: Open, api: Api, container: Container, clock: Clock, live_server: str
) -> None:
    fu = Harness(container, clock, dataclasses.replace(SETTINGS, tries=2))
    called = reviewed(api, title="小区电梯停运", caller_phone="13912340000")
    nobody = reviewed(api, title="路灯不亮", caller_phone=None, citizen_name=None, anonymous=True)
    waiting = reviewed(api, title="楼道堆放杂物", caller_phone="13700001111")
    fu.sweep()  # nobody: straight to people; the other two: try 1 queued
    by_ticket = {task["ticket_id"]: task["attempt_id"] for task in fu.tasks}
    fu.report(type="result", attempt_id=by_ticket[called["id"]], outcome="no_answer")
    clock.advance(days=1)
    fu.sweep()
    fu.report(type="result", attempt_id=fu.tasks[-1]["attempt_id"], outcome="busy")
    assert fu.ticket(called["id"]).followup_handover_at is not None

    page = signed_in("lead")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="回访").click()
    page.locator("#live-status.on").wait_for()
    tabs = page.get_by_role("navigation", name="回访队列")
    expect(tabs.get_by_role("link", name="人工回访")).to_contain_text("2")
    expect(tabs.get_by_role("link", name="自动回访")).to_contain_text("1")
    rows = page.locator("#followups-table tbody tr")
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("rs => rs.map(r => Number(r.dataset.ticketId))") == [
        nobody["id"],
        called["id"],
    ]
    row = page.locator(f'#followups-table tr[data-ticket-id="{called["id"]}"]')
    expect(row).to_contain_text("第1次 语音 · 无人接听")
    expect(row).to_contain_text("第2次 语音 · 占线/拒接")
    # The number is dialled from the lead's own seat, not a tel: link the PC cannot follow.
    expect(row.locator(".phone .number")).to_have_text("13912340000")
    expect(row.get_by_role("button", name="用坐席拨打")).to_be_visible()
    assert row.locator('a[href^="tel:"]').count() == 0
    shot(page, "followup-queue")

    tabs.get_by_role("link", name="自动回访").click()
    auto = page.locator(f'#followups-table tr[data-ticket-id="{waiting["id"]}"]')
    # its first try got no result in time (the survey process never reported): try 2 waits
    expect(auto.locator("td").nth(4)).to_have_text("2 / 3")
    expect(auto.locator("td").nth(5)).to_have_text("待拨打")
    expect(auto.locator("td").nth(6)).to_have_text("超时无结果")

    page.go_back()
    page.locator("#live-status.on").wait_for()
    row.get_by_role("link", name=called["number"]).click()
    tries = page.locator("#followup-tries")
    expect(tries.locator("li")).to_have_count(2)
    expect(tries.locator('li[data-try="2"]')).to_contain_text("第2次 语音 · 占线/拒接")
    expect(tries).to_contain_text("已转人工回访")
    shot(page, "ticket-followup-tries")

    panel = page.locator('details[data-panel="follow_up"]')
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    form = panel.locator("form")
    form.get_by_label("已解决").check()
    form.get_by_label("满意度").select_option("satisfied")
    form.get_by_label("回访记录").fill("电话联系诉求人，电梯已修复")
    form.get_by_role("button", name="回访").click()
    page.locator("#toast.show", has_text="已回访").wait_for()
    view = api.get(f"/api/tickets/{called['id']}").get_json()
    assert view["status"] == "followed_up"
    assert view["follow_up"]["note"] == "电话联系诉求人，电梯已修复"

    page.goto(page.url.split("/tickets/")[0] + "/followups")
    expect(page.locator("#followups-table tbody tr")).to_have_count(1)
    expect(page.locator(f'#followups-table tr[data-ticket-id="{called["id"]}"]')).to_have_count(0)
    expect(tabs.get_by_role("link", name="人工回访")).to_contain_text("1")


def test_a_lead_puts_a_ticket_back_into_automated_follow_up(
    signed_in: Open, api: Api, container: Container, clock: Clock, live_server: str
) -> None:
    fu = Harness(container, clock, dataclasses.replace(SETTINGS, tries=1))
    t = reviewed(api, title="噪音扰民")
    fu.sweep()
    fu.report(type="result", attempt_id=fu.tasks[0]["attempt_id"], outcome="no_answer")

    page = signed_in("lead")
    page.goto(f"{live_server}/followups")
    page.locator("#live-status.on").wait_for()
    row = page.locator(f'#followups-table tr[data-ticket-id="{t["id"]}"]')
    row.get_by_role("button", name="重新自动回访").click()
    page.locator("#toast.show", has_text="已重新发起自动回访").wait_for()
    expect(page.locator("#followups-empty")).to_be_visible()
    expect(page.get_by_role("link", name="自动回访")).to_contain_text("1")
    assert fu.ticket(t["id"]).followup_handover_at is None


def test_an_operator_sees_the_queue_without_the_retry_button(
    signed_in: Open, api: Api, container: Container, clock: Clock, live_server: str
) -> None:
    fu = Harness(container, clock, dataclasses.replace(SETTINGS, tries=1))
    t = reviewed(api)
    fu.sweep()
    fu.report(type="result", attempt_id=fu.tasks[0]["attempt_id"], outcome="failed")
    page = signed_in("operator")
    page.goto(f"{live_server}/followups")
    row = page.locator(f'#followups-table tr[data-ticket-id="{t["id"]}"]')
    expect(row).to_contain_text("呼叫失败")
    expect(row.get_by_role("button", name="重新自动回访")).to_have_count(0)
