"""A leader reads the week's dashboard in a real browser."""

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World
from tests.e2e.conftest import shot
from tests.integration.reports.test_reports_week import Scenario
from tests.integration.reports.test_reports_week import at

pytestmark = pytest.mark.slow
Open = Callable[[str], Any]


def kpi(page: Any, key: str) -> str:
    return str(page.locator(f'[data-kpi="{key}"] .kpi-value').inner_text())


def test_leader_reads_the_week_and_goes_back_a_week(
    signed_in: Open, api: Api, clock: Clock, world: World
) -> None:
    Scenario(api, clock, world).build()
    clock.set(at(22, 18))  # Sunday evening of 2026-W47
    page = signed_in("leader")

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="领导看板").click()

    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "领导看板 2026年第47周（2026年11月16日—11月22日）"
    assert kpi(page, "accepted") == "7"
    assert kpi(page, "satisfaction_rate") == "50.0%"
    assert kpi(page, "open_overdue") == "1"
    chart = page.get_by_role("img", name=re.compile("^每日受理量柱状图"))
    assert chart.locator("rect.bar").count() == 7
    assert chart.locator("text.value").all_text_contents() == ["2", "1", "1", "2", "0", "0", "1"]
    flagged = page.locator("table.ranking tr.flagged")
    # two follow-ups in the week: named under the floor, and listed apart as 样本不足
    assert flagged.get_by_role("rowheader").inner_text() == "城市管理局 满意率低于85% 样本不足"
    shot(page, "leader-dashboard")

    page.get_by_role("link", name="← 上一周（2026-W46）").click()

    assert page.url.endswith("/dashboard?week=2026-W46")
    assert "2026年第46周" in heading.inner_text()
    assert kpi(page, "accepted") == "3"
    assert chart.locator("text.value").all_text_contents() == ["0", "1", "1", "0", "1", "0", "0"]

    page.get_by_label("选择周次").fill("2026-W47")
    page.get_by_role("button", name="查看").click()

    assert page.url.endswith("/dashboard?week=2026-W47")
    assert kpi(page, "accepted") == "7"
