"""Every KPI on a hand-built month where each number is known (reports.kpis, the API).

Period: 28 Sep – 31 Oct 2026 (Shanghai); now: Mon 2 Nov 10:00. The National Day holiday
(1–7 Oct) and Mid-autumn fall inside the clocks. Tickets:

A  28 Sep  resolved directly                     B  28 Sep  resolved directly
C  28 Sep  → zjj, signed and replied on time only thanks to the holiday (11 calendar days),
           contacted in time, followed up: solved, very satisfied, closed
D  29 Sep  → cgj, replied, followed up dissatisfied, reopened (fresh clocks), signed, replied
           on time, contacted in time, followed up: solved, satisfied, closed
E  29 Sep  → gdgs, signed late, replied one minute late, contacted in time, not reached, closed
F  8 Oct   → zjj, extension of 3 days approved, replied after the first deadline but before
           the extended one, contacted in time; waiting for review
G  9 Oct   → 湖滨街道 (东湖区), returned, reassigned to 翠屏街道 (西山区), signed, never replied
H  9 Oct   duplicate of G, merged into it (not counted)
I  12 Oct  → zjj, never signed nor replied
J  12 Oct  → cgj, signed, replied on time, contacted in time, followed up: not solved,
           dissatisfied, closed anyway
Calls: 4 offered, 3 answered (waits 5, 10, 20 s; talks 100, 200, 300 s), 1 abandoned.
"""

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient

from callcenter.models import CallRecord
from hotline.bootstrap import Container
from reports import kpis as k
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World
from tests.conftest import add_liaison


def at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


NOW = at(11, 2, 10)
QUERY = "/api/reports/kpis?from=2026-09-28&to=2026-10-31"


class Month:
    def __init__(self, api: Api, clock: Clock, world: World) -> None:
        self.api, self.clock, self.world = api, clock, world
        self.ids: dict[str, int] = {}

    def when(self, moment: dt.datetime) -> None:
        self.clock.set(moment)

    def create(self, name: str, moment: dt.datetime, **fields: Any) -> dict[str, Any]:
        self.when(moment)
        ticket = self.api.create(**fields)
        self.ids[name] = ticket["id"]
        return ticket

    def act(self, name: str, action: str, body: Any = None, as_: str = "lead") -> Any:
        return self.api.act(self.ids[name], action, body, as_=as_)

    def dispatch(self, name: str, unit: str) -> dict[str, Any]:
        return self.act(name, "dispatch", {"lead_unit_id": self.world.units[unit]})

    def due(self, name: str) -> dt.datetime:
        view = self.api.get(f"/api/tickets/{self.ids[name]}").get_json()
        return dt.datetime.fromisoformat(view["reply_due_at"])

    def reply(self, name: str, unit: str, contacted: dt.datetime | None) -> None:
        body: dict[str, Any] = {"text": "已经处理完毕，并向市民说明情况"}
        if contacted is not None:
            body["contacted_at"] = contacted.isoformat()
        self.act(name, "reply", body, as_=unit)

    def finish(
        self, name: str, *, reached: bool = True, solved: bool = True, level: str = "satisfied"
    ) -> None:
        self.act(name, "review", {"approve": True})
        body: dict[str, Any] = {"reached": reached}
        if reached:
            body.update(solved=solved, satisfaction=level)
        self.act(name, "follow_up", body)
        self.act(name, "close")


@pytest.fixture
def month(api: Api, clock: Clock, world: World, container: Container) -> Month:
    add_liaison(container, world, "dh-hb")
    add_liaison(container, world, "xs-cp")
    m = Month(api, clock, world)
    # A, B: resolved at the hotline
    for name, minute in (("A", 0), ("B", 10)):
        m.create(name, at(9, 28, 10, minute), category="城乡建设/物业管理")
        m.act(name, "resolve_directly", {"answer": "已当场解答"})
    # C: the holiday inside the clock
    m.create("C", at(9, 28, 11), category="城乡建设/物业管理")
    m.dispatch("C", "zjj")
    m.when(at(9, 28, 11, 30))
    m.act("C", "sign", as_="zjj")
    due_c = m.due("C")
    assert due_c > at(10, 8, 0)  # 5 working days reach past the National Day holiday
    m.when(due_c - dt.timedelta(hours=1))
    m.reply("C", "zjj", contacted=at(9, 28, 13))
    m.finish("C", level="very_satisfied")
    # D: reopened once
    m.create("D", at(9, 29, 10), category="市容环境/噪声")
    m.dispatch("D", "cgj")
    m.when(at(9, 29, 10, 30))
    m.act("D", "sign", as_="cgj")
    m.when(at(9, 30, 10))
    m.reply("D", "cgj", contacted=None)
    m.act("D", "review", {"approve": True})
    m.act("D", "follow_up", {"reached": True, "solved": False, "satisfaction": "dissatisfied"})
    m.when(at(10, 12, 9))
    m.act("D", "reopen", {"reason": "市民反映噪声仍然存在"})
    m.when(at(10, 12, 9, 30))
    m.act("D", "sign", as_="cgj")
    m.when(at(10, 13, 10))
    m.reply("D", "cgj", contacted=at(10, 12, 10))
    m.finish("D", level="satisfied")
    # E: signed late, replied one minute late, citizen not reached
    m.create("E", at(9, 29, 11), category="供电服务/停电")
    m.dispatch("E", "gdgs")
    m.when(at(9, 29, 11, 30))
    sign_due = dt.datetime.fromisoformat(
        m.api.get(f"/api/tickets/{m.ids['E']}").get_json()["clocks"]["sign"]["due"]
    )
    m.when(sign_due + dt.timedelta(minutes=5))
    m.act("E", "sign", as_="gdgs")
    due_e = m.due("E")
    m.when(due_e + dt.timedelta(minutes=1))
    m.reply("E", "gdgs", contacted=at(9, 29, 12))
    m.finish("E", reached=False)
    # F: extended, replied between the first and the extended deadline
    m.create("F", at(10, 8, 10), category="城乡建设/物业管理")
    m.dispatch("F", "zjj")
    m.when(at(10, 8, 10, 30))
    m.act("F", "sign", as_="zjj")
    first_due = m.due("F")
    m.act("F", "extend", {"days": 3, "reason": "需要协调物业公司"}, as_="zjj")
    m.act("F", "decide_extension", {"approve": True})
    assert m.due("F") > first_due
    m.when(first_due + dt.timedelta(hours=2))
    m.reply("F", "zjj", contacted=at(10, 8, 15))
    # G: returned by 湖滨街道, reassigned to 翠屏街道, never replied; H merged into it
    dh, xs = m.world.units["dh"], m.world.units["xs"]
    m.create("G", at(10, 9, 10), category="城市管理/占道经营", district_id=dh)
    m.dispatch("G", "dh-hb")
    m.when(at(10, 9, 11))
    m.act(
        "G", "return", {"reason_code": "wrong_locality", "reason": "地点属于翠屏街道"}, as_="dh-hb"
    )
    m.when(at(10, 9, 14))
    m.act("G", "reassign", {"lead_unit_id": m.world.units["xs-cp"]})
    m.when(at(10, 9, 15))
    m.act("G", "sign", as_="xs-cp")
    m.create("H", at(10, 9, 16), category="城市管理/占道经营", district_id=xs)
    m.act("H", "merge", {"master_id": m.ids["G"]})
    # I: never signed; J: closed although the citizen is not satisfied
    m.create("I", at(10, 12, 10), category="城乡建设/物业管理")
    m.dispatch("I", "zjj")
    m.create("J", at(10, 12, 11), category="市容环境/噪声")
    m.dispatch("J", "cgj")
    m.when(at(10, 12, 11, 30))
    m.act("J", "sign", as_="cgj")
    m.when(at(10, 13, 11))
    m.reply("J", "cgj", contacted=at(10, 12, 14))
    m.finish("J", solved=False, level="dissatisfied")
    # calls
    with container.uow() as uow:
        for i, (wait, talk) in enumerate(((5, 100), (10, 200), (20, 300), (None, None))):
            offered = at(10, 14, 9, i)
            answered = offered + dt.timedelta(seconds=wait) if wait is not None else None
            uow.session.add(
                CallRecord(
                    call_id=f"kpi-call-{i}",
                    caller="13800000000",
                    offered_at=offered,
                    answered_at=answered,
                    ended_at=(answered or offered) + dt.timedelta(seconds=talk or 30),
                    wait_seconds=wait,
                    talk_seconds=talk,
                    outcome="answered" if wait is not None else "abandoned",
                )
            )
        uow.commit()
    m.when(NOW)
    return m


# Rounds started in the month: C, D, D's reopening, E, F, G at 湖滨街道 (returned, passed on
# by 改派, so not judged), G at 翠屏街道, I, J. Follow-ups: C, D (dissatisfied, though D was
# reopened), D's second round, J; E's did not reach the citizen.
EXPECTED = {
    "answer_rate": (3, 4),
    "service_level_15s": (2, 3),
    "abandon_rate": (1, 4),
    "direct_resolution_rate": (2, 9),
    "on_time_sign_rate": (6, 8),  # E late, I never signed
    "reply_rate": (6, 8),  # G and I never replied
    "on_time_reply_rate": (5, 8),  # C D D2 F J; E late, G and I unreplied
    "closure_rate": (4, 8),  # C D2 E J (D's first round was reopened, not closed)
    "overdue_rate": (3, 8),
    "follow_up_rate": (4, 4),
    "satisfaction_rate": (2, 4),
    "resolution_rate": (2, 4),
    "response_rate": (6, 8),  # D's reply without 联系时间 counts at the reply, in time
    "return_rate": (1, 9),
    "reopen_rate": (1, 5),  # D of C D D2 E J
}


def test_every_kpi_of_the_month_is_known(month: Month, api: Api) -> None:
    body = api.get(QUERY, as_="leader").get_json()
    for name, (part, whole) in EXPECTED.items():
        assert body["counts"][name] == {"part": part, "whole": whole}, name
        assert body[name] == pytest.approx(part / whole), name
    assert body["average_wait_seconds"] == pytest.approx(35 / 3)
    assert body["average_talk_seconds"] == pytest.approx(200)
    assert body["totals"]["accepted"] == 9  # the merged duplicate H is not counted
    assert set(body["formulas"]) == set(EXPECTED)


def test_units_roll_up_their_sub_units_and_returns_count_for_the_returning_unit(
    month: Month, api: Api, world: World
) -> None:
    zjj = api.get(f"{QUERY}&unit={world.units['zjj']}", as_="supervisor").get_json()
    assert zjj["unit"]["name"] == "住房和城乡建设局"
    assert zjj["counts"]["on_time_reply_rate"] == {"part": 2, "whole": 3}  # C, F of C, F, I
    assert zjj["counts"]["overdue_rate"] == {"part": 1, "whole": 3}  # I
    assert zjj["answer_rate"] is None and zjj["direct_resolution_rate"] is None
    # 东湖区 never kept G, but its street returned it: 1 return of 1 ticket sent to it
    dh = api.get(f"{QUERY}&unit={world.units['dh']}", as_="supervisor").get_json()
    assert dh["counts"]["return_rate"] == {"part": 1, "whole": 1}
    assert dh["counts"]["reply_rate"] == {"part": 0, "whole": 0} and dh["reply_rate"] is None
    # 西山区 holds G through 翠屏街道: dispatched there, overdue, not returned
    xs = api.get(f"{QUERY}&unit={world.units['xs']}", as_="supervisor").get_json()
    assert xs["counts"]["overdue_rate"] == {"part": 1, "whole": 1}
    assert xs["counts"]["return_rate"] == {"part": 0, "whole": 1}


def test_grouping_by_unit_category_and_district(month: Month, api: Api, world: World) -> None:
    by_unit = api.get(f"{QUERY}&by=unit", as_="leader").get_json()
    rows = {r["name"]: r for r in by_unit["rows"]}
    assert rows["城市管理局"]["counts"]["reopen_rate"] == {"part": 1, "whole": 3}  # D of D D2 J
    assert rows["西山区"]["counts"]["overdue_rate"] == rows["翠屏街道"]["counts"]["overdue_rate"]
    by_category = api.get(f"{QUERY}&by=category", as_="leader").get_json()
    cats = {r["name"]: r for r in by_category["rows"]}
    assert cats["城乡建设"]["totals"]["accepted"] == 5  # A B C F I
    assert cats["城乡建设"]["counts"]["direct_resolution_rate"] == {"part": 2, "whole": 5}
    by_district = api.get(f"{QUERY}&by=district", as_="leader").get_json()
    districts = {r["name"]: r for r in by_district["rows"]}
    assert districts["东湖区"]["totals"]["accepted"] == 1  # G (H, merged, is left out)
    assert "未定属地" in districts


def test_a_liaison_sees_only_their_own_unit(month: Month, api: Api, world: World) -> None:
    own = api.get(QUERY, as_="zjj").get_json()
    assert own["unit"]["id"] == world.units["zjj"]
    assert own["counts"]["reply_rate"] == {"part": 2, "whole": 3}
    other = api.get(f"{QUERY}&unit={world.units['cgj']}", as_="zjj")
    assert other.status_code == 403
    assert api.get(QUERY, as_="operator").status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-10-31&to=2026-10-01", "to"),
        ("from=2026-13-01&to=2026-10-01", "from"),
        ("to=2026-10-01", "from"),
        ("from=2026-10-01&to=2026-10-31&unit=abc", "unit"),
        ("from=2026-10-01&to=2026-10-31&by=street", "by"),
        ("from=2026-10-01&to=2026-10-31&colour=red", "colour"),
        ("from=2020-01-01&to=2026-10-31", "to"),
    ],
)
def test_bad_parameters_get_a_clear_error(api: Api, world: World, query: str, field: str) -> None:
    resp = api.get(f"/api/reports/kpis?{query}", as_="leader")
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "validation_error" and field in body["details"]["fields"]
    assert body["message"]


def test_an_unknown_unit_is_404(api: Api, world: World) -> None:
    resp = api.get("/api/reports/kpis?from=2026-10-01&to=2026-10-31&unit=99999", as_="leader")
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"


def test_kpis_export_to_excel(month: Month, api: Api, client: FlaskClient) -> None:
    import io

    from openpyxl import load_workbook

    resp = api.get(f"{QUERY}&by=unit&format=xlsx", as_="leader")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].endswith('.xlsx"')
    wb = load_workbook(io.BytesIO(resp.data))
    rows = list(wb["指标"].iter_rows(values_only=True))
    header = rows[1]
    total = rows[2]
    col = header.index("按时办结率")
    assert total[0].startswith("合计") and total[col] == pytest.approx(5 / 8, abs=1e-6)
    assert total[col + 1] == 5 and total[col + 2] == 8
    assert any(r[0] == "城市管理局" for r in rows[3:])
    assert [r[0] for r in wb["计算口径"].iter_rows(values_only=True)][1] == "接通率"


def test_compute_matches_the_api(month: Month, api: Api, container: Container) -> None:
    ctx = container.dispatch
    period = k.Period(
        at(9, 28, 0).astimezone(dt.UTC), at(11, 1, 0).astimezone(dt.UTC), ctx.utcnow()
    )
    report = k.compute(container.uow(), period)
    body = api.get(QUERY, as_="leader").get_json()
    assert report.overall.kpis() == {name: body[name] for name in k.KPI_NAMES}
