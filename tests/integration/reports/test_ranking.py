"""The unit ranking through the API and the pages: no missing rate beats a bad one.

Week 2026-W47 (16–22 Nov, Shanghai); now Mon 23 Nov 09:00; every ticket urgent (sign within
30 min, reply within 24 h). A unit is ranked with at least 2 cases behind each weighted KPI.

住建 (complete): Z1–Z3 dispatched Mon 16, replied on time with 联系时间; Z1 Z2 satisfied and
    solved, Z3 dissatisfied and not solved: 响应率 3/3, 解决率 2/3, 满意率 2/3.
供电 (no follow-up): G1–G3 dispatched Tue 17, replied on time with 联系时间, reviewed, never
    followed up: 响应率 3/3 and nothing else. With `late`, G1–G3 are replied a day late and
    followed up satisfied and solved instead: 超期率 3/3, 满意率 3/3.
城管 (nothing dispatched in the week): C1 C2 dispatched Fri 13 (W46) and replied then,
    followed up Mon 16: C1 satisfied, C2 dissatisfied (满意率 1/2, below the 85% floor).
"""

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from infra.settings import Settings
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World

WEEK = "period=week&week=2026-W47"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def weights() -> dict[str, float]:
    return {"response_rate": 1.0, "resolution_rate": 1.0, "satisfaction_rate": 1.0}


@pytest.fixture
def settings(settings: Settings, weights: dict[str, float]) -> Settings:
    reports = dataclasses.replace(settings.reports, ranking_min_sample=2, ranking_weights=weights)
    return dataclasses.replace(settings, reports=reports)


class Week:
    def __init__(self, api: Api, clock: Clock, world: World) -> None:
        self.api, self.clock, self.world = api, clock, world

    def ticket(
        self,
        unit: str,
        start: dt.datetime,
        reply_after: dt.timedelta,
        follow: str | None,
        solved: bool = True,
    ) -> None:
        self.clock.set(start)
        ticket = self.api.create(urgency="urgent")
        tid = ticket["id"]
        self.api.act(tid, "dispatch", {"lead_unit_id": self.world.units[unit]})
        self.clock.set(start + dt.timedelta(minutes=10))
        self.api.act(tid, "sign", as_=unit)
        self.clock.set(start + reply_after)
        contacted = (start + dt.timedelta(minutes=30)).isoformat()
        body = {"text": "已处理", "contacted_at": contacted}
        self.api.act(tid, "reply", body, as_=unit)
        self.clock.advance(minutes=30)
        self.api.act(tid, "review", {"approve": True}, as_="lead")
        if follow is not None:
            self.clock.set(max(self.clock.current, at(16, 15)) + dt.timedelta(hours=1))
            body2 = {"reached": True, "solved": solved, "satisfaction": follow}
            self.api.act(tid, "follow_up", body2)

    def build(self, late: bool) -> None:
        hours = dt.timedelta(hours=3)
        for i, level in enumerate(("satisfied", "very_satisfied", "dissatisfied")):
            self.ticket("zjj", at(16, 10 + i), hours, level, solved=level != "dissatisfied")
        for i in range(3):
            if late:
                self.ticket("gdgs", at(17, 10 + i), dt.timedelta(hours=25), "satisfied")
            else:
                self.ticket("gdgs", at(17, 10 + i), hours, None)
        for i, level in enumerate(("satisfied", "dissatisfied")):
            self.ticket("cgj", at(13, 10 + i), hours, level, solved=level == "satisfied")
        self.clock.set(at(23, 9))


@pytest.fixture
def week(api: Api, clock: Clock, world: World) -> Week:
    w = Week(api, clock, world)
    w.build(late=False)
    return w


def ranking(api: Api) -> dict[str, Any]:
    return api.get(f"/api/reports/ranking?{WEEK}", as_="leader").get_json()  # type: ignore[no-any-return]


@pytest.mark.usefixtures("week")
def test_units_missing_a_rate_are_listed_after_the_complete_unit(api: Api) -> None:
    body = ranking(api)

    # 供电 (响应率 100%, no follow-up) and 城管 (no round in the week) would score 100 on
    # the rates they have; neither may rank above 住建 with its complete figures.
    assert [(i["rank"], i["unit"]) for i in body["items"]] == [
        (1, "住房和城乡建设局"),
        (None, "供电公司"),
        (None, "城市管理局"),
    ]
    items = {i["unit"]: i for i in body["items"]}
    assert items["住房和城乡建设局"]["score"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert items["供电公司"]["insufficient"] == ["resolution_rate", "satisfaction_rate"]
    assert items["城市管理局"]["insufficient"] == ["response_rate"]
    assert body["insufficient"] == ["供电公司", "城市管理局"]
    # Both below the 85% floor are named, ranked or not.
    assert sorted(body["below_floor"]) == ["住房和城乡建设局", "城市管理局"]


@pytest.mark.usefixtures("week")
def test_the_dashboard_lists_the_unranked_units_after_the_ranked_ones(
    client: FlaskClient, world: World
) -> None:
    client.post("/api/auth/login", json={"username": "leader", "password": world.password})
    html = client.get("/dashboard?week=2026-W47").get_data(as_text=True)

    table = html.split('id="dashboard-ranking"')[1].split("</table>")[0]
    rows = re.findall(r'<td class="num">([^<]*)</td>\s*<th scope="row">([^<]+?)[ <]', table)
    assert rows == [("1", "住房和城乡建设局"), ("—", "供电公司"), ("—", "城市管理局")]
    assert table.count('<span class="tag">样本不足</span>') == 2
    below = html.split('id="dashboard-below-floor"')[1].split("</p>")[0]
    assert "城市管理局（样本不足，有效回访2件）" in below
    assert "住房和城乡建设局" in below


@pytest.mark.usefixtures("week")
def test_the_ranking_page_shows_the_unranked_apart_with_the_reason(
    client: FlaskClient, world: World
) -> None:
    client.post("/api/auth/login", json={"username": "lead", "password": world.password})
    html = client.get(f"/reports/ranking?{WEEK}").get_data(as_text=True)

    ranked = html.split('id="ranking-table"')[1].split("</table>")[0]
    assert re.findall(r'<th scope="row">([^<]+?)[ <]', ranked) == ["住房和城乡建设局"]
    short = html.split('id="short-table"')[1].split("</table>")[0]
    assert re.findall(r'<th scope="row">([^<]+?)[ <]', short) == ["供电公司", "城市管理局"]
    assert "解决率（无有效回访）、满意率（无有效回访）" in short
    assert "响应率（无应联系）" in short
    assert "分母不少于2件才参与排名" in html
    below = html.split('id="below-floor"')[1].split("</p>")[0]
    assert "城市管理局（样本不足，有效回访2件）" in below


@pytest.mark.usefixtures("week")
def test_the_ranking_exports_the_unranked_with_the_reason(api: Api) -> None:
    import io

    from openpyxl import load_workbook

    resp = api.get(f"/api/reports/ranking?{WEEK}&format=xlsx", as_="leader")
    rows = list(load_workbook(io.BytesIO(resp.data))["单位排名"].iter_rows(values_only=True))
    header = rows[2]
    data = {r[1]: dict(zip(header, r, strict=True)) for r in rows[3:]}
    assert data["住房和城乡建设局"]["排名"] == 1
    assert data["供电公司"]["排名"] is None
    assert data["供电公司"]["样本不足"] == "解决率（无有效回访）、满意率（无有效回访）"
    assert "不少于2件才参与排名" in rows[1][0]


@pytest.mark.parametrize(
    "weights", [{"overdue_rate": 1.0, "satisfaction_rate": 1.0}], indirect=False
)
def test_a_weight_on_a_lower_is_better_rate_counts_against_the_unit(
    api: Api, clock: Clock, world: World, weights: dict[str, float]
) -> None:
    Week(api, clock, world).build(late=True)

    body = ranking(api)

    # 住建: 超期率 0/3 → 1 point, 满意率 2/3; 供电: 超期率 3/3 → 0 points, 满意率 3/3.
    assert [(i["rank"], i["unit"]) for i in body["items"] if i["rank"]] == [
        (1, "住房和城乡建设局"),
        (2, "供电公司"),
    ]
    items = {i["unit"]: i for i in body["items"]}
    assert items["住房和城乡建设局"]["score"] == pytest.approx((1 + 2 / 3) / 2)
    assert items["供电公司"]["score"] == pytest.approx((0 + 1) / 2)
    assert body["lower_is_better"] == ["overdue_rate"]
