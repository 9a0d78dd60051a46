"""Weekly figures (reports.services) and the leaders' dashboard page, on a hand-made fortnight.

Week 2026-W46 (9–15 Nov) and 2026-W47 (16–22 Nov), times in Shanghai:

W46  a1 Tue 10:00 phone enquiry 社会保障/医保, resolved directly at 10:05
     a2 Wed 10:00 web complaint 城乡建设/物业管理 → zjj, signed, replied Fri (on time),
        followed up Sat: satisfied
     a3 Fri 10:00 phone complaint 城乡建设/违章搭建 → cgj, signed Mon 09:00, replied Mon 14:00
W47  b0 Mon 00:30 (Sunday in UTC) phone enquiry 社会保障/医保, resolved directly
     b1 Mon 10:00 phone complaint 城乡建设/物业管理 → zjj, signed and replied on time,
        followed up Wed: very satisfied
     b2 Tue 09:30 web urgent complaint 城乡建设/违章搭建 → cgj, signed late, replied late,
        followed up Thu: dissatisfied
     b3 Wed 10:00 app urgent help 城乡建设/物业管理 → zjj, never signed: overdue
     b4 Thu 10:00 sms suggestion without category
     b5 Thu 15:00 phone enquiry 社会保障/养老 → gdgs, signed, replied on time, citizen not reached
     b6 Sun 07:00 (Saturday in UTC) phone complaint 市容环境/噪声
W48  c1 Mon 23 Nov 00:30 (Sunday in UTC) phone complaint 市容环境/噪声
Now: Mon 23 Nov 09:00.
"""

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from agents_ui.dashboard import count_change
from agents_ui.dashboard import share_change
from dispatch.tickets.domain import Channel
from hotline.bootstrap import Container
from infra.models import AuditEntry
from kernel.vocabulary import RequestType
from reports import services as reports
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in November 2026, Shanghai time."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def start_of(container: Container, week: str) -> dt.datetime:
    return reports.local_midnight(container.dispatch, reports.parse_week(week))


class Scenario:
    """Drives the API through the fortnight described in the module docstring."""

    def __init__(self, api: Api, clock: Clock, world: World) -> None:
        self.api, self.clock, self.world = api, clock, world

    def create(self, when: dt.datetime, **fields: Any) -> int:
        self.clock.set(when)
        return int(self.api.create(**fields)["id"])

    def act(
        self,
        when: dt.datetime,
        ticket_id: int,
        action: str,
        body: Any = None,
        as_: str = "operator",
    ) -> None:
        self.clock.set(when)
        self.api.act(ticket_id, action, body, as_=as_)

    def dispatch(self, when: dt.datetime, ticket_id: int, unit: str) -> None:
        self.act(when, ticket_id, "dispatch", {"lead_unit_id": self.world.units[unit]})

    def reply_and_review(self, replied: dt.datetime, ticket_id: int, unit: str) -> None:
        self.act(replied, ticket_id, "reply", {"text": "已到现场处理完毕"}, as_=unit)
        self.act(replied + dt.timedelta(hours=1), ticket_id, "review", {"approve": True}, "lead")

    def follow_up(self, when: dt.datetime, ticket_id: int, satisfaction: str | None) -> None:
        body = (
            {"reached": True, "solved": True, "satisfaction": satisfaction}
            if satisfaction
            else {"reached": False}
        )
        self.act(when, ticket_id, "follow_up", body)

    def build(self) -> None:
        answer = {"answer": "已电话解答政策"}
        # ---- W46
        a1 = self.create(
            at(10, 10), channel="phone", request_type="enquiry", category="社会保障/医保"
        )
        self.act(at(10, 10, 5), a1, "resolve_directly", answer)
        a2 = self.create(
            at(11, 10), channel="web", request_type="complaint", category="城乡建设/物业管理"
        )
        self.dispatch(at(11, 10), a2, "zjj")
        self.act(at(11, 11), a2, "sign", as_="zjj")
        self.reply_and_review(at(13, 10), a2, "zjj")
        self.follow_up(at(14, 10), a2, "satisfied")
        a3 = self.create(
            at(13, 10), channel="phone", request_type="complaint", category="城乡建设/违章搭建"
        )
        self.dispatch(at(13, 10), a3, "cgj")
        self.act(at(16, 9), a3, "sign", as_="cgj")
        self.act(at(16, 14), a3, "reply", {"text": "已拆除"}, as_="cgj")
        # ---- W47
        b0 = self.create(
            at(16, 0, 30), channel="phone", request_type="enquiry", category="社会保障/医保"
        )
        self.act(at(16, 0, 40), b0, "resolve_directly", answer)
        b1 = self.create(
            at(16, 10), channel="phone", request_type="complaint", category="城乡建设/物业管理"
        )
        self.dispatch(at(16, 10), b1, "zjj")
        self.act(at(16, 11), b1, "sign", as_="zjj")
        self.reply_and_review(at(17, 10), b1, "zjj")
        self.follow_up(at(18, 10), b1, "very_satisfied")
        b2 = self.create(
            at(17, 9, 30),
            channel="web",
            request_type="complaint",
            urgency="urgent",
            category="城乡建设/违章搭建",
        )
        self.dispatch(at(17, 9, 30), b2, "cgj")  # sign by 10:00, reply by Wed 09:30
        self.act(at(17, 10, 30), b2, "sign", as_="cgj")
        self.reply_and_review(at(18, 14), b2, "cgj")
        self.follow_up(at(19, 10), b2, "dissatisfied")
        b3 = self.create(
            at(18, 10),
            channel="app",
            request_type="help",
            urgency="urgent",
            category="城乡建设/物业管理",
        )
        self.dispatch(at(18, 10), b3, "zjj")  # reply by Thu 10:00, never signed
        self.create(at(19, 10), channel="sms", request_type="suggestion")
        b5 = self.create(
            at(19, 15), channel="phone", request_type="enquiry", category="社会保障/养老"
        )
        self.dispatch(at(19, 15), b5, "gdgs")
        self.act(at(19, 16), b5, "sign", as_="gdgs")
        self.reply_and_review(at(20, 10), b5, "gdgs")
        self.follow_up(at(20, 16), b5, None)
        self.create(at(22, 7), channel="phone", request_type="complaint", category="市容环境/噪声")
        # ---- W48
        self.create(
            at(23, 0, 30), channel="phone", request_type="complaint", category="市容环境/噪声"
        )
        self.clock.set(at(23, 9))


@pytest.fixture
def fortnight(api: Api, clock: Clock, world: World) -> None:
    Scenario(api, clock, world).build()


def channels(**counts: int) -> dict[Channel, int]:
    return {c: counts.get(c.value, 0) for c in Channel}


def request_types(**counts: int) -> dict[RequestType, int]:
    return {r: counts.get(r.value, 0) for r in RequestType}


W47 = {
    "accepted": 7,
    "by_channel": channels(phone=4, web=1, app=1, sms=1),
    "by_request_type": request_types(enquiry=2, complaint=3, help=1, suggestion=1),
    "resolved_directly": 1,
    "direct_resolution_share": 1 / 7,
    "dispatched": 4,
    # due this week: a2 (Wed), a3 (Fri), b2 (Wed 09:30) and b3 (Thu); a2 and a3 on time
    "due": 4,
    "replied_on_time": 2,
    "on_time_reply_rate": 0.5,
    "followed_up_reached": 2,
    "satisfied": 1,
    "satisfaction_rate": 0.5,
}
W46 = {
    "accepted": 3,
    "by_channel": channels(phone=2, web=1),
    "by_request_type": request_types(enquiry=1, complaint=2),
    "resolved_directly": 1,
    "direct_resolution_share": 1 / 3,
    "dispatched": 2,
    "due": 0,  # nothing dispatched had its reply deadline in W46
    "replied_on_time": 0,
    "on_time_reply_rate": None,
    "followed_up_reached": 1,
    "satisfied": 1,
    "satisfaction_rate": 1.0,
}


# ---------------------------------------------------------------- services


@pytest.mark.usefixtures("fortnight")
def test_week_summary_gives_the_week_the_week_before_and_the_change(container: Container) -> None:
    summary = reports.week_summary(
        container.uow(), container.dispatch, start_of(container, "2026-W47")
    )

    assert summary["week"] == W47
    assert summary["previous"] == W46
    change = summary["change"]
    assert change["accepted"] == 4
    assert change["dispatched"] == 2
    assert change["by_channel"] == channels(phone=2, web=0, app=1, sms=1)
    assert change["by_request_type"] == request_types(enquiry=1, complaint=1, help=1, suggestion=1)
    assert change["direct_resolution_share"] == pytest.approx(1 / 7 - 1 / 3)
    assert change["on_time_reply_rate"] is None
    assert change["satisfaction_rate"] == pytest.approx(-0.5)
    assert summary["open_overdue"] == 1
    assert summary["as_of"] == at(23, 9)


def test_shares_are_none_when_nothing_to_divide_by(container: Container, world: World) -> None:
    summary = reports.week_summary(
        container.uow(), container.dispatch, start_of(container, "2026-W47")
    )

    assert summary["week"]["accepted"] == 0
    assert summary["week"]["direct_resolution_share"] is None
    assert summary["week"]["on_time_reply_rate"] is None
    assert summary["week"]["satisfaction_rate"] is None
    assert summary["change"]["satisfaction_rate"] is None
    assert summary["open_overdue"] == 0


@pytest.mark.usefixtures("fortnight")
def test_daily_counts_group_by_local_day_monday_first(container: Container) -> None:
    ctx = container.dispatch

    assert reports.daily_counts(container.uow(), ctx, start_of(container, "2026-W47")) == [
        2,
        1,
        1,
        2,
        0,
        0,
        1,
    ]
    assert reports.daily_counts(container.uow(), ctx, start_of(container, "2026-W46")) == [
        0,
        1,
        1,
        0,
        1,
        0,
        0,
    ]
    assert reports.daily_counts(container.uow(), ctx, start_of(container, "2026-W48")) == [
        1,
        0,
        0,
        0,
        0,
        0,
        0,
    ]


@pytest.mark.usefixtures("fortnight")
def test_top_categories_count_the_first_level_with_uncategorised_last_among_equals(
    container: Container,
) -> None:
    start = start_of(container, "2026-W47")

    assert reports.top_categories(container.uow(), container.dispatch, start) == [
        {"name": "城乡建设", "count": 3, "share": 3 / 7},
        {"name": "社会保障", "count": 2, "share": 2 / 7},
        {"name": "市容环境", "count": 1, "share": 1 / 7},
        {"name": "未分类", "count": 1, "share": 1 / 7},
    ]
    assert [
        c["name"]
        for c in reports.top_categories(container.uow(), container.dispatch, start, limit=2)
    ] == [
        "城乡建设",
        "社会保障",
    ]


@pytest.mark.usefixtures("fortnight")
def test_unit_ranking_scores_units_by_the_weighted_three_rates(
    container: Container, world: World
) -> None:
    settings = dataclasses.replace(container.settings.reports, ranking_min_sample=1)
    ranking = reports.unit_ranking(
        container.uow(), container.dispatch, start_of(container, "2026-W47"), settings
    )

    # No reply states a 联系时间, so each reply is the contact: b1 in time, b2 late, b3 never
    # replied, b5 in time. The score is the mean of 响应率, 解决率 and 满意率; 供电 reached
    # nobody on follow-up, so it has no 解决率 or 满意率 and is listed after the ranked units.
    assert [
        (
            r.rank,
            r.unit,
            r.figures.counts["dispatched"],
            r.kpis["response_rate"],
            r.kpis["resolution_rate"],
            r.kpis["satisfaction_rate"],
            r.score,
            r.below_floor,
        )
        for r in ranking
    ] == [
        (1, "住房和城乡建设局", 2, 0.5, 1.0, 1.0, pytest.approx(2.5 / 3), False),
        (2, "城市管理局", 1, 0.0, 1.0, 0.0, pytest.approx(1 / 3), True),
        (None, "供电公司", 1, 1.0, None, None, None, False),
    ]
    assert ranking[0].unit_id == world.units["zjj"]


@pytest.mark.usefixtures("fortnight")
def test_too_few_cases_leave_every_unit_unranked(container: Container) -> None:
    ranking = reports.unit_ranking(
        container.uow(),
        container.dispatch,
        start_of(container, "2026-W47"),
        container.settings.reports,  # 5 cases behind each weighted KPI
    )

    assert [(r.rank, r.unit) for r in ranking] == [
        (None, "住房和城乡建设局"),
        (None, "供电公司"),
        (None, "城市管理局"),
    ]
    assert [r.unit for r in ranking if r.below_floor] == ["城市管理局"]


@pytest.mark.usefixtures("fortnight")
def test_the_previous_week_ranks_units_on_its_own_figures(container: Container) -> None:
    settings = dataclasses.replace(container.settings.reports, ranking_min_sample=1)
    ranking = reports.unit_ranking(
        container.uow(), container.dispatch, start_of(container, "2026-W46"), settings
    )

    # a2 and a3 were replied after their contact deadlines; only a2 was followed up.
    assert [
        (r.unit, r.figures.counts["dispatched"], r.kpis["satisfaction_rate"], r.score)
        for r in ranking
    ] == [
        ("住房和城乡建设局", 1, 1.0, pytest.approx(2 / 3)),
        ("城市管理局", 1, None, None),
    ]


@pytest.mark.parametrize(
    ("text", "monday"),
    [
        ("2026-W47", dt.date(2026, 11, 16)),
        ("2026-W53", dt.date(2026, 12, 28)),
        (" 2027-W01 ", dt.date(2027, 1, 4)),
    ],
)
def test_parse_week_returns_the_monday(text: str, monday: dt.date) -> None:
    assert reports.parse_week(text) == monday


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-W60", "周次不存在：2026年只有第1至53周"),
        ("2025-W53", "周次不存在：2025年只有第1至52周"),
        ("2026-W00", "周次不存在：2026年只有第1至53周"),
        ("abc", "周次格式不正确：“abc”，应为“2026-W47”这样的年份加周序号"),
        ("0001-W01", "年份超出范围：1，应在1970至9998年之间"),
    ],
)
def test_parse_week_refuses_what_is_not_a_week(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        reports.parse_week(text)
    assert str(caught.value) == message


def test_changes_are_described_with_arrows_and_percentage_points() -> None:
    assert count_change(7, 3) == {"dir": "more", "text": "较上周 ↑ 4（+133.3%）"}
    assert count_change(1, 2) == {"dir": "fewer", "text": "较上周 ↓ 1（-50.0%）"}
    assert count_change(2, 0) == {"dir": "more", "text": "较上周 ↑ 2"}
    assert count_change(3, 3) == {"dir": "same", "text": "与上周持平"}
    assert share_change(1 / 7, 1 / 3) == {"dir": "down", "text": "较上周 ↓ 19.0 个百分点"}
    assert share_change(0.9, 0.85) == {"dir": "up", "text": "较上周 ↑ 5.0 个百分点"}
    assert share_change(0.5, None) == {"dir": "none", "text": "无可比数据"}


# ---------------------------------------------------------------- page


def sign_in(client: FlaskClient, world: World, username: str) -> None:
    resp = client.post("/api/auth/login", json={"username": username, "password": world.password})
    assert resp.status_code == 200


def card(html: str, key: str) -> tuple[str, str]:
    """The value and the week-on-week text of one key-figure card."""
    found = re.search(
        rf'data-kpi="{key}">\s*<span class="kpi-label">[^<]*</span>\s*'
        r'<strong class="kpi-value">([^<]*)</strong>\s*<span class="delta \w+">([^<]*)</span>',
        html,
    )
    assert found, key
    return found[1], found[2]


@pytest.mark.usefixtures("fortnight")
def test_dashboard_shows_the_weeks_figures(client: FlaskClient, world: World) -> None:
    sign_in(client, world, "leader")

    resp = client.get("/dashboard?week=2026-W47")

    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "2026年第47周（2026年11月16日—11月22日）" in html
    assert card(html, "accepted") == ("7", "较上周 ↑ 4（+133.3%）")
    assert card(html, "resolved_directly") == ("1", "与上周持平")
    assert card(html, "direct_resolution_share") == ("14.3%", "较上周 ↓ 19.0 个百分点")
    assert card(html, "dispatched") == ("4", "较上周 ↑ 2（+100.0%）")
    assert card(html, "on_time_reply_rate") == ("50.0%", "无可比数据")
    assert card(html, "satisfaction_rate") == ("50.0%", "较上周 ↓ 50.0 个百分点")
    assert card(html, "open_overdue") == ("1", "截至 2026-11-23 09:00")
    assert '<th scope="row">电话</th><td>4</td><td>2</td>' in html
    assert '<th scope="row">投诉</th><td>3</td><td>2</td>' in html
    # the trend chart
    assert html.count('<rect class="bar"') == 7
    assert (
        'role="img" aria-label="每日受理量柱状图：周一 2 张，周二 1 张，周三 1 张，周四 2 张，'
        '周五 0 张，周六 0 张，周日 1 张；合计 7 张"'
    ) in html
    assert "<title>11月16日（周一）受理 2 张</title>" in html
    # top categories
    assert re.findall(r'<span class="name">([^<]*)</span>', html) == [
        "城乡建设",
        "社会保障",
        "市容环境",
        "未分类",
    ]
    assert "3 张 · 42.9%" in html
    # unit ranking, the unit below the floor marked: all three have fewer than 5 cases behind
    # their rates, so none is ranked (样本不足), biggest first
    assert re.findall(r'<th scope="row">([^<]*?)(?: <span|</th>)', html)[-3:] == [
        "住房和城乡建设局",
        "供电公司",
        "城市管理局",
    ]
    assert html.count('<span class="tag warn">满意率低于85%</span>') == 1
    assert '城市管理局 <span class="tag warn">满意率低于85%</span>' in html
    # week navigation and the weekly brief frame
    assert 'href="/dashboard?week=2026-W46" rel="prev"' in html
    assert 'href="/dashboard?week=2026-W48" rel="next"' in html
    assert '<h2 id="brief-heading">周报</h2>' in html


@pytest.mark.parametrize(
    ("now", "title"),
    [(at(22, 23, 30), "2026年第47周"), (at(23, 0, 30), "2026年第48周")],
)
def test_dashboard_defaults_to_the_week_of_today_in_local_time(
    client: FlaskClient, world: World, clock: Clock, now: dt.datetime, title: str
) -> None:
    clock.set(now)  # before signing in: a jump of days ends a session as idle
    sign_in(client, world, "supervisor")

    html = client.get("/dashboard").get_data(as_text=True)

    assert f"<small>{title}" in html


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-W60", "周次不存在：2026年只有第1至53周"),
        ("abc", "周次格式不正确：“abc”，应为“2026-W47”这样的年份加周序号"),
    ],
)
def test_a_bad_week_is_refused_with_a_message(
    client: FlaskClient, world: World, week: str, message: str
) -> None:
    sign_in(client, world, "leader")

    resp = client.get(f"/dashboard?week={week}")

    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f'<p class="error" role="alert">无法显示该周的数据：{message}</p>' in html
    assert 'href="/dashboard">本周（2026-W47）</a>' in html


@pytest.mark.parametrize(("user", "status"), [("leader", 200), ("supervisor", 200), ("admin", 200)])
def test_leaders_supervisors_and_admins_may_open_the_dashboard(
    client: FlaskClient, world: World, user: str, status: int
) -> None:
    sign_in(client, world, user)
    assert client.get("/dashboard").status_code == status


@pytest.mark.parametrize("user", ["operator", "lead", "zjj"])
def test_other_roles_are_refused_the_dashboard(
    client: FlaskClient, world: World, user: str
) -> None:
    sign_in(client, world, user)
    assert client.get("/dashboard?week=2026-W47").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient, world: World) -> None:
    resp = client.get("/dashboard?week=2026-W47")

    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


@pytest.mark.usefixtures("fortnight")
def test_viewing_the_dashboard_writes_no_audit_rows(
    client: FlaskClient, world: World, container: Container
) -> None:
    sign_in(client, world, "leader")
    with container.uow() as uow:
        before = uow.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))

    assert client.get("/dashboard?week=2026-W47").status_code == 200

    with container.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before
