"""A supervisor works the supervision desk (督办工作台) in a real browser."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import Api
from tests.conftest import Clock
from tests.e2e.conftest import shot

pytestmark = pytest.mark.slow
Open = Callable[[str], Any]


def overdue_ticket(api: Api, clock: Clock) -> dict[str, Any]:
    """An urgent ticket whose 24-hour reply clock has run out (now Tuesday 11:00)."""
    late = api.signed("zjj", title="路灯全部不亮", request_type="help", urgency="urgent")
    clock.advance(hours=25)
    return late


def open_desk(signed_in: Open, live_server: str) -> Any:
    page = signed_in("supervisor")
    page.goto(f"{live_server}/supervise")
    page.locator("#live-status.on").wait_for()
    return page


def test_reminding_an_overdue_ticket_counts_each_reminder(
    signed_in: Open, api: Api, clock: Clock, live_server: str
) -> None:
    late = overdue_ticket(api, clock)
    near = api.signed("cgj", title="占道经营", request_type="help", urgency="urgent")
    clock.advance(hours=19)  # near's warning share (18 of 24 hours) has passed
    replied = api.signed("gdgs", title="频繁停电")
    api.act(replied["id"], "reply", {"text": "已更换变压器"}, as_="gdgs")
    reviewed = api.signed("zjj", title="楼道堆放杂物")
    api.act(reviewed["id"], "reply", {"text": "已清理"}, as_="zjj")
    api.act(reviewed["id"], "review", {"approve": True}, as_="lead")
    page = open_desk(signed_in, live_server)
    overdue = page.locator("#overdue")
    expect(overdue.locator("tbody tr[data-ticket-id]")).to_have_count(2)
    assert overdue.locator("tr[data-ticket-id]").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.ticketId))"
    ) == [late["id"], near["id"]]
    shot(page, "supervisor")

    row = overdue.locator(f'tr[data-ticket-id="{late["id"]}"]')
    row.get_by_role("button", name="催办").click()
    page.locator("#toast.show", has_text=f"已催办：{late['number']}").wait_for()
    expect(row.locator('[data-col="remind_count"]')).to_have_text("1")
    # The region was replaced: the new row's button still works.
    row.get_by_role("button", name="催办").click()
    expect(row.locator('[data-col="remind_count"]')).to_have_text("2")
    assert api.get(f"/api/tickets/{late['id']}").get_json()["remind_count"] == 2
    assert api.get(f"/api/tickets/{near['id']}").get_json()["remind_count"] == 0


def test_supervising_an_overdue_ticket_records_when(
    signed_in: Open, api: Api, clock: Clock, live_server: str
) -> None:
    late = overdue_ticket(api, clock)
    page = open_desk(signed_in, live_server)
    row = page.locator(f'#overdue tr[data-ticket-id="{late["id"]}"]')
    expect(row.locator('[data-col="supervised_at"]')).to_have_text("—")
    row.get_by_role("button", name="督办").click()
    page.locator("#toast.show", has_text=f"已督办：{late['number']}").wait_for()
    expect(row.locator('[data-col="supervised_at"]')).to_have_text("2026-11-17 11:00")
    ticket = api.get(f"/api/tickets/{late['id']}").get_json()
    assert ticket["supervised_at"] == dt.datetime(2026, 11, 17, 3, 0, tzinfo=dt.UTC).isoformat()
    assert ticket["events"][-1]["event"] == "supervise"
    assert (
        ticket["events"][-1]["reason"] == "该工单已超期或临近时限，请单位负责人督促办理并尽快回复。"
    )


def test_refused_action_is_shown_next_to_its_row(
    signed_in: Open, api: Api, clock: Clock, live_server: str
) -> None:
    late = overdue_ticket(api, clock)
    page = open_desk(signed_in, live_server)
    # A stale page: its CSRF token no longer matches the session.
    page.evaluate("() => document.querySelector('meta[name=csrf-token]').content = 'stale'")
    row = page.locator(f'#overdue tr[data-ticket-id="{late["id"]}"]')
    row.get_by_role("button", name="催办").click()
    expect(row.get_by_role("alert")).to_have_text("缺少或错误的 CSRF 令牌，请刷新页面后重试")
    assert api.get(f"/api/tickets/{late['id']}").get_json()["remind_count"] == 0


def test_review_queue_shows_a_replied_ticket_and_opens_it(
    signed_in: Open, api: Api, live_server: str
) -> None:
    t = api.signed("zjj", title="小区噪音扰民")
    api.act(t["id"], "reply", {"text": "已约谈商户"}, as_="zjj")
    page = open_desk(signed_in, live_server)
    row = page.locator(f'#review-queue tr[data-ticket-id="{t["id"]}"]')
    expect(row).to_contain_text("小区噪音扰民")
    expect(row.locator(".status")).to_have_text("待审核")
    row.get_by_role("link", name="审核回复").click()
    page.wait_for_url(f"{live_server}/tickets/{t['id']}")
    expect(page.locator('form[data-action="review"]')).to_be_visible()


def test_a_live_refresh_breaks_no_content_security_rule(
    signed_in: Open, api: Api, live_server: str
) -> None:
    """The desk re-reads itself after every change; parsing the fresh copy (whose <style>
    carries another response's nonce) must not trip the page's CSP (the journeys saw it)."""
    page = open_desk(signed_in, live_server)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    before = page.locator("#live-region dd").first.inner_text()
    api.create(title="楼道灯不亮")  # 今日受理 goes up by one
    expect(page.locator("#live-region dd").first).not_to_have_text(before)  # refreshed live
    page.evaluate("() => Hotline.refresh('#live-region')")  # and once more, awaited
    expect(page.locator("#live-region")).to_contain_text("实时看板")
    assert errors == []
