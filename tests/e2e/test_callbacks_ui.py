"""漏接回拨 in a real browser: missed calls appear live, the operator claims and records."""

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.conftest import Api
from tests.e2e.conftest import kamailio
from tests.e2e.conftest import shot

pytestmark = pytest.mark.redis
Open = Callable[[str], Any]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def abandoned(live_server: str, call_id: str, number: str) -> None:
    """A caller waits with nobody ready and hangs up."""
    assert kamailio(live_server, f"route?call_id={call_id}&from={number}").startswith("wait")
    assert kamailio(live_server, f"ended?call_id={call_id}&by=caller") == "abandoned"


def test_the_operator_sees_claims_and_records_a_call_back(
    signed_in: Open, live_server: str, api: Api, real_redis: Any
) -> None:
    abandoned(live_server, "m1", "13812345678")
    page = signed_in("operator")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="漏接回拨").click()
    page.locator("#live-status.on").wait_for()
    expect(page.get_by_role("heading", level=1)).to_contain_text("待回拨 1 个")
    first = page.locator("#callbacks-table tbody tr", has_text="13812345678")
    expect(first).to_contain_text("排队放弃")
    expect(first.locator("td").nth(2)).to_have_text("1")
    [task] = api.get("/api/callbacks").get_json()["items"]
    missed_at = dt.datetime.fromisoformat(task["first_missed_at"]).astimezone(SHANGHAI)
    expect(first.locator("td").nth(3)).to_have_text(f"{missed_at:%Y-%m-%d %H:%M}")

    # A second missed call from the same number adds to its task; another number arrives.
    abandoned(live_server, "m2", "13812345678")
    abandoned(live_server, "m3", "13900001111")
    expect(first.locator("td").nth(2)).to_have_text("2")
    second = page.locator("#callbacks-table tbody tr", has_text="13900001111")
    expect(second).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("待回拨 2 个")

    # A team lead takes the other one elsewhere: the list shows who has it.
    [other] = [
        t for t in api.get("/api/callbacks").get_json()["items"] if t["caller"] != "13812345678"
    ]
    assert api.post(f"/api/callbacks/{other['id']}/claim", as_="lead").status_code == 200
    expect(second.locator("td.claimed-by")).to_have_text("lead用户")
    expect(second.get_by_role("button", name="认领")).to_have_count(0)

    first.get_by_role("button", name="认领 13812345678").click()
    expect(first.locator("td.task-status")).to_have_text("已认领")
    expect(first.locator("td.claimed-by")).to_have_text("operator用户")
    shot(page, "callbacks")

    first.get_by_role("button", name="记录结果 13812345678").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("已联系上").check()
    dialog.get_by_label("备注").fill("已回电解答，无需受理")
    dialog.get_by_role("button", name="保存").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#cb-message")).to_have_text("13812345678：已联系上")
    expect(first).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text("待回拨 1 个")

    page.get_by_role("button", name="已完成").click()
    done = page.locator("#callbacks-table tbody tr", has_text="13812345678")
    expect(done.locator("td.task-status")).to_have_text("已完成")
    expect(done).to_contain_text("已联系上：已回电解答，无需受理")
    expect(done.get_by_role("button")).to_have_count(0)


def test_liaisons_do_not_get_the_page(signed_in: Open, live_server: str) -> None:
    page = signed_in("zjj")
    expect(
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="漏接回拨")
    ).to_have_count(0)
    assert page.goto(f"{live_server}/callbacks").status == 403
