"""A seat stuck in a call whose end nobody reported, and whose softphone does not come back
(issue 18, item 5): the team lead sees it 通话中 on 坐席监控 in the real demo, presses 复位,
and the seat is free, the call's record final, the reset audited."""

import re
import uuid

import redis
from playwright.sync_api import expect

from callcenter.acd.engine import Acd
from tests.journeys.conftest import PHONE
from tests.journeys.conftest import Journey
from tests.journeys.test_operator import hall
from tests.journeys.test_operator import seat_state


def test_the_team_lead_resets_a_seat_stuck_in_a_call(journey: Journey) -> None:
    # The state a lost end report leaves behind, made through the ACD's own operations on
    # the demo's Redis: s09 has no softphone, so none of its reports will ever come.
    acd = Acd(redis.Redis.from_url(journey.demo.redis_url))
    call = f"stuck-{uuid.uuid4().hex[:8]}"
    acd.login("s09", "u-journey")
    acd.ready("s09")
    assert acd.route(call, "13912349999").seat == "s09"
    acd.answered(call, "s09")

    lead = journey.sign_in("lead1")
    assert seat_state(hall(journey, lead), "s09") == "talking"
    lead.get_by_role("navigation", name="主导航").get_by_role("link", name="坐席监控").click()
    row = lead.locator("#hall tr", has_text="s09")
    expect(row.locator("[data-col=state]")).to_contain_text("通话中")
    journey.seen(lead, "hall-stuck-seat")
    asked: list[str] = []

    def accept(dialog: object) -> None:
        asked.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept()  # type: ignore[attr-defined]

    lead.once("dialog", accept)
    row.get_by_role("button", name="复位 s09").click()
    expect(lead.get_by_text(re.compile("坐席 s09 已复位"))).to_be_visible()
    assert asked and "结束该坐席在系统中的当前通话记录" in asked[0]
    state = row.locator("[data-col=state]")
    expect(state).to_contain_text("示忙（班长设置）")
    journey.seen(lead, "hall-seat-reset")
    assert seat_state(hall(journey, lead), "s09") == "not_ready"
    assert acd.call(call)["state"] == "ended"
    assert acd.call(call)["end_reason"] == "supervisor_reset"
    # A second reset of the now idle seat is refused, in Chinese.
    again = journey.post(lead, "/api/cti/seats/s09/reset", {})
    assert again.status == 409 and "不在通话中" in again.json()["message"]

    # The same page on a team lead's phone.
    phone = journey.sign_in("supervisor1", PHONE)
    phone.goto(f"{journey.url}/supervise/hall")
    expect(phone.locator("#hall tr", has_text="s09").locator("[data-col=state]")).to_contain_text(
        "示忙"
    )
    journey.seen(phone, "hall-after-reset-phone")
    acd.logout("s09")
    journey.assert_clean()
