"""Supervisors watch the hall (坐席监控), keep the leaders' duty schedule and read the call
figures, in a real browser."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from hotline.bootstrap import Container
from tests.conftest import Api
from tests.e2e.conftest import kamailio
from tests.e2e.conftest import shot
from tests.integration.callcenter.test_call_kpis import monday_calls

pytestmark = pytest.mark.redis
Open = Callable[[str], Any]


def sign_in(api: Api, who: str, seat: str) -> None:
    assert api.post("/api/cti/seat", {"seat": seat}, as_=who).status_code == 200
    assert api.post("/api/cti/state", {"state": "ready"}, as_=who).status_code == 200


def open_hall(signed_in: Open) -> Any:
    page = signed_in("supervisor")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="坐席监控").click()
    page.locator("#live-status.on").wait_for()
    return page


def test_supervisor_watches_the_hall_and_forces_seats_not_ready(
    signed_in: Open, live_server: str, api: Api, container: Container, real_redis: Any
) -> None:
    sign_in(api, "operator", "s01")
    sign_in(api, "lead", "s02")
    assert kamailio(live_server, "route?call_id=h1&from=13812345678").startswith("ring s01")
    assert kamailio(live_server, "answered?call_id=h1&seat=s01") == "ok"

    page = open_hall(signed_in)

    talking = page.locator('#hall-seats tr[data-seat="s01"]')
    expect(talking.locator('[data-col="agent"]')).to_have_text("operator用户")
    expect(talking.locator('[data-col="state"]')).to_have_text("通话中")
    expect(talking.locator('[data-col="caller"]')).to_have_text("*******5678")
    # no SIP call id in front of people: the masked caller says which call it is
    expect(page.locator("#hall-seats")).not_to_contain_text("h1")
    idle = page.locator('#hall-seats tr[data-seat="s02"]')
    expect(idle.locator('[data-col="state"]')).to_have_text("就绪")
    expect(idle.get_by_role("button", name="监听")).to_have_count(0)  # not in a call

    idle.get_by_role("button", name="强制示忙").click()
    expect(page.locator("#hall-notice")).to_have_text("坐席 s02 已示忙")
    expect(idle.locator('[data-col="state"]')).to_have_text("示忙（班长设置）")
    assert container.acd.seat("s02")["reason"] == "supervisor"

    # Nobody is free: a new caller waits, and the page hears of it.
    assert kamailio(live_server, "route?call_id=h2&from=13900001111").startswith("wait")
    waiting = page.locator('#hall-queue tr[data-call-id="h2"]')
    expect(waiting.locator('[data-col="caller"]')).to_have_text("*******1111")
    expect(page.locator('[data-count="queued"]')).to_have_text("1")
    shot(page, "hall")

    talking.get_by_role("button", name="强制示忙").click()
    expect(page.locator("#hall-notice")).to_have_text("坐席 s01 正在通话，通话结束后示忙")
    expect(talking.locator('[data-col="state"]')).to_have_text("通话中通话结束后示忙")
    assert container.acd.seat("s01")["state"] == "talking"
    kamailio(live_server, "ended?call_id=h1")
    expect(talking.locator('[data-col="state"]')).to_have_text("示忙（班长设置）")
    expect(talking.locator('[data-col="caller"]')).to_have_text("—")


def test_supervisor_resets_a_stuck_seat_once_they_confirm(
    signed_in: Open, live_server: str, api: Api, container: Container, real_redis: Any
) -> None:
    sign_in(api, "operator", "s01")
    assert kamailio(live_server, "route?call_id=h3&from=13812345678").startswith("ring s01")
    assert kamailio(live_server, "answered?call_id=h3&seat=s01") == "ok"
    page = open_hall(signed_in)
    row = page.locator('#hall-seats tr[data-seat="s01"]')
    expect(row.locator('[data-col="state"]')).to_have_text("通话中")

    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    row.get_by_role("button", name="复位").click()
    expect(page.locator("#hall-notice")).to_be_hidden()
    assert container.acd.seat("s01")["state"] == "talking"  # 取消: nothing happened
    assert "结束该坐席在系统中的当前通话记录" in asked[0] and "不会挂断" in asked[0]

    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="复位").click()
    expect(page.locator("#hall-notice")).to_have_text("坐席 s01 已复位：通话记录已结束，坐席已示忙")
    expect(row.locator('[data-col="state"]')).to_have_text("示忙（班长设置）")
    expect(row.get_by_role("button", name="复位")).to_have_count(0)
    assert container.acd.call("h3")["end_reason"] == "supervisor_reset"


def test_a_spy_button_says_why_it_was_refused(
    signed_in: Open, live_server: str, api: Api, real_redis: Any
) -> None:
    sign_in(api, "operator", "s03")
    kamailio(live_server, "route?call_id=h3&from=13812345678")
    kamailio(live_server, "answered?call_id=h3&seat=s03")
    page = open_hall(signed_in)  # the supervisor is signed in to no seat

    row = page.locator('#hall-seats tr[data-seat="s03"]')
    row.get_by_role("button", name="监听").click()

    expect(page.locator("#hall-alert")).to_have_text("监听 s03：请先签入坐席")
    expect(page.locator("#hall-notice")).to_be_hidden()


def test_a_supervisor_at_a_seat_listens_in_and_leaves(
    signed_in: Open, live_server: str, api: Api, container: Container, real_redis: Any
) -> None:
    from callcenter.acd.keys import command_channel

    sign_in(api, "operator", "s03")
    kamailio(live_server, "route?call_id=h4&from=13812345678")
    kamailio(live_server, "answered?call_id=h4&seat=s03")
    assert api.post("/api/cti/seat", {"seat": "s09"}, as_="supervisor").status_code == 200
    # The supervisor's softphone (hotline seat s09) listens for its commands.
    phone = real_redis.pubsub(ignore_subscribe_messages=True)
    phone.subscribe(command_channel(container.acd.prefix, "s09"))

    def heard() -> dict[str, Any]:
        for _ in range(50):
            message = phone.get_message(timeout=0.2)
            if message:
                return json.loads(message["data"])  # type: ignore[no-any-return]
        raise AssertionError("the supervisor's softphone heard nothing")

    page = open_hall(signed_in)
    page.locator('#hall-seats tr[data-seat="s03"]').get_by_role("button", name="监听").click()

    expect(page.locator("#hall-spy")).to_contain_text("正在监听 s03")
    command = heard()
    assert {k: command[k] for k in ("action", "seat", "mode")} == {
        "action": "spy",
        "seat": "s03",
        "mode": "monitor",
    }
    page.get_by_role("button", name="退出监听 s03").click()
    expect(page.locator("#hall-notice")).to_have_text("已退出监听 s03")
    expect(page.locator("#hall-spy")).to_be_hidden()
    assert heard()["action"] == "spy_end"
    phone.close()


def test_supervisor_adds_and_deletes_a_leader_duty(
    signed_in: Open, api: Api, real_redis: Any
) -> None:
    page = open_hall(signed_in)
    form = page.locator("#duty-form")
    form.get_by_label("领导").select_option(label="leader用户")
    form.get_by_label("开始时间").fill("2026-11-16T14:00")
    form.get_by_label("结束时间").fill("2026-11-16T12:00")
    form.get_by_role("button", name="添加值班").click()
    expect(form.locator('[data-error-for="ends_at"]')).to_have_text("结束时间应晚于开始时间")
    expect(form.get_by_label("结束时间")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("结束时间").fill("2026-11-16T16:00")
    form.get_by_label("备注").fill("市长热线接听日")
    form.get_by_role("button", name="添加值班").click()

    expect(page.locator("#hall-notice")).to_have_text(
        "已安排 leader用户 值班：2026-11-16 14:00 至 2026-11-16 16:00"
    )
    row = page.locator("#duty-list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_text(
        re.compile("leader用户.*2026-11-16 14:00.*2026-11-16 16:00.*市长热线接听日.*待开始")
    )
    assert api.get("/api/cti/duties", as_="supervisor").get_json()["items"][0]["note"] == (
        "市长热线接听日"
    )

    # The same leader cannot be on two overlapping windows.
    form.get_by_label("领导").select_option(label="leader用户")
    form.get_by_label("开始时间").fill("2026-11-16T15:00")
    form.get_by_label("结束时间").fill("2026-11-16T17:00")
    form.get_by_role("button", name="添加值班").click()
    expect(form.locator(".form-error")).to_have_text(
        "与leader用户已有的值班时段重叠（11月16日 14:00—11月16日 16:00）"
    )
    shot(page, "leader-duty")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="删除").click()
    expect(page.locator("#hall-notice")).to_have_text("已删除值班安排")
    expect(page.locator("#duty-list tbody tr")).to_have_count(0)
    expect(page.locator("#no-duties")).to_be_visible()
    assert api.get("/api/cti/duties", as_="supervisor").get_json()["items"] == []


def test_leader_and_supervisor_read_the_call_figures(
    signed_in: Open, api: Api, container: Container, real_redis: Any
) -> None:
    monday_calls(container)
    sign_in(api, "operator", "s01")

    page = signed_in("leader")  # the leader's home is the dashboard
    calls = page.locator("#call-kpis")

    def cell(key: str, period: str) -> Any:
        return calls.locator(f'tr[data-call-kpi="{key}"] [data-period="{period}"]')

    expect(cell("offered", "today")).to_have_text("7")
    expect(cell("answer_rate", "today")).to_have_text("57.1%")
    expect(cell("service_level", "today")).to_have_text("75.0%")
    expect(cell("abandon_rate", "today")).to_have_text("14.3%")
    expect(cell("average_wait", "today")).to_have_text("11秒")
    expect(cell("average_talk", "today")).to_have_text("2分00秒")
    expect(cell("offered", "period")).to_have_text("8")  # with Tuesday 00:00
    expect(calls.locator('[data-live="seats_online"] dd')).to_have_text("1")
    expect(calls.locator('[data-live="queued"] dd')).to_have_text("0")
    shot(page, "wallboard-calls")

    desk = signed_in("supervisor")
    board = desk.locator("#call-figures")
    expect(board.locator('[data-call-figure="answer_rate"]')).to_have_text("57.1%")
    expect(board.locator('[data-call-figure="seats_online"]')).to_have_text("1")
    expect(board.locator('[data-call-figure="ready"]')).to_have_text("1")
