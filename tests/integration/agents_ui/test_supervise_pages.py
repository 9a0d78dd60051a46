"""The supervision desk (督办工作台): who may open it, today's figures, and its queues."""

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from dispatch.supervision import stats
from hotline.bootstrap import Container
from infra.models import AuditEntry
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World

SUNDAY, MONDAY = 15, 16  # November 2026; the clock fixture starts on Monday at 10:00


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def login(client: FlaskClient, world: World, username: str) -> None:
    resp = client.post("/api/auth/login", json={"username": username, "password": world.password})
    assert resp.status_code == 200, resp.get_json()


def desk(client: FlaskClient, world: World, username: str = "supervisor") -> str:
    login(client, world, username)
    resp = client.get("/supervise")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def section(html: str, heading_id: str) -> str:
    match = re.search(
        rf'<section class="card" aria-labelledby="{heading_id}">(.*?)</section>', html, re.S
    )
    assert match, heading_id
    return match.group(1)


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-ticket-id="(\d+)"', html)]


def text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def cells(html: str, ticket_id: int) -> list[str]:
    match = re.search(rf'<tr data-ticket-id="{ticket_id}">(.*?)</tr>', html, re.S)
    assert match, ticket_id
    return [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)]


def lights(html: str, ticket_id: int) -> str:
    match = re.search(rf'<tr data-ticket-id="{ticket_id}">\s*<td><span class="light (\w+)"', html)
    assert match, ticket_id
    return match.group(1)


def links(html: str, ticket_id: int) -> list[str]:
    match = re.search(rf'<tr data-ticket-id="{ticket_id}">(.*?)</tr>', html, re.S)
    assert match, ticket_id
    return re.findall(r'href="([^"]+)"', match.group(1))


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="(\w+)">([^<]*)<', html))


def build_day(api: Api, clock: Clock) -> dict[str, dict[str, Any]]:
    """Tickets from Sunday and Monday morning; the clock ends on Monday at 10:30.

    Today (Monday, local): accepted D E F G, resolved directly C D, dispatched H E F.
    Open red: A (urgent, reply due Monday 08:00). Open yellow: B (urgent, due Monday
    15:00, warning from Monday 09:00). F is returned, R replied, V reviewed.
    """
    t: dict[str, dict[str, Any]] = {}
    clock.set(at(SUNDAY, 8))
    t["A"] = api.signed("zjj", title="超期工单", request_type="help", urgency="urgent")
    clock.set(at(SUNDAY, 10))
    t["R"] = api.signed("zjj", title="待审核工单")
    api.act(t["R"]["id"], "reply", {"text": "已修复"}, as_="zjj")
    t["V"] = api.signed("cgj", title="待回访工单")
    api.act(t["V"]["id"], "reply", {"text": "已清理"}, as_="cgj")
    api.act(t["V"]["id"], "review", {"approve": True}, as_="lead")
    clock.set(at(SUNDAY, 15))
    t["B"] = api.signed("cgj", title="临期工单", request_type="help", urgency="urgent")
    clock.set(at(SUNDAY, 20))
    t["H"] = api.create(title="昨天受理今天派单")
    clock.set(at(SUNDAY, 23, 30))  # 15:30 UTC on Sunday
    t["C"] = api.create(title="昨晚受理今晨直办")
    clock.set(at(MONDAY, 7))  # still Sunday in UTC
    api.act(t["C"]["id"], "resolve_directly", {"answer": "已答复"})
    t["D"] = api.create(title="今晨受理并直办")
    api.act(t["D"]["id"], "resolve_directly", {"answer": "已答复"})
    clock.set(at(MONDAY, 8))
    api.act(t["H"]["id"], "dispatch", {"lead_unit_id": api.world.units["gdgs"]})
    clock.set(at(MONDAY, 9))
    t["E"] = api.dispatched("zjj", title="今天派单")
    clock.set(at(MONDAY, 9, 30))
    t["F"] = api.dispatched("cgj", title="被退回的工单")
    api.act(
        t["F"]["id"], "return", {"reason_code": "not_ours", "reason": "非本单位职责"}, as_="cgj"
    )
    clock.set(at(MONDAY, 9, 40))
    t["G"] = api.create(title="只受理")
    clock.set(at(MONDAY, 10, 30))
    return t


def audit_rows(container: Container) -> int:
    with container.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) or 0


# ---------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("operator", 403),
        ("zjj", 403),
        ("leader", 403),
        ("lead", 200),
        ("supervisor", 200),
        ("admin", 200),
    ],
)
def test_only_team_leads_supervisors_and_admins_open_the_desk(
    client: FlaskClient, world: World, username: str, status: int
) -> None:
    login(client, world, username)
    resp = client.get("/supervise")
    assert resp.status_code == status
    if status == 403:
        assert "督办工作台" not in resp.get_data(as_text=True)


def test_signed_out_visitor_is_sent_to_sign_in(client: FlaskClient, world: World) -> None:
    resp = client.get("/supervise")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=/supervise?"


# ---------------------------------------------------------------- wallboard


def test_wallboard_counts_today_by_the_local_day(
    client: FlaskClient, world: World, api: Api, clock: Clock
) -> None:
    build_day(api, clock)
    html = desk(client, world)
    board = section(html, "h-wallboard")
    assert figures(board) == {
        "created": "4",
        "resolved": "2",
        "dispatched": "3",
        "red": "1",
        "yellow": "1",
    }
    assert "2026-11-16 星期一，截至 10:30" in board


def test_counts_follow_the_clock_into_the_next_local_day(
    api: Api, clock: Clock, container: Container
) -> None:
    build_day(api, clock)
    clock.set(at(MONDAY + 1, 0, 1))  # Tuesday 00:01 local, still Monday in UTC
    assert stats.ticket_counts_today(container.uow(), container.dispatch) == {
        "created": 0,
        "resolved": 0,
        "dispatched": 0,
        # A and B's reply clocks ran out; so did E and H's one-working-day sign-for clocks.
        "red": 4,
        "yellow": 0,
    }


def test_counting_writes_no_audit_rows(api: Api, clock: Clock, container: Container) -> None:
    build_day(api, clock)
    before = audit_rows(container)
    counts = stats.ticket_counts_today(container.uow(), container.dispatch)
    assert counts == {"created": 4, "resolved": 2, "dispatched": 3, "red": 1, "yellow": 1}
    assert audit_rows(container) == before


def test_call_figures_show_dashes_for_a_day_without_calls(
    client: FlaskClient, world: World, container: Container
) -> None:
    from tests.integration.callcenter.test_hall import unreachable_redis

    container._redis = unreachable_redis()  # and no live hall: Redis is down
    try:
        board = section(desk(client, world), "h-wallboard")
    finally:
        container._redis = None
    calls = dict(re.findall(r'data-call-figure="(\w+)">([^<]*)<', board))
    assert calls == {
        "queued": "—",
        "longest_wait": "—",
        "seats_online": "—",
        "ready": "—",
        "offered": "0",
        "answer_rate": "—",
        "service_level": "—",
        "abandon_rate": "—",
    }
    assert "实时话务暂不可用" in board


# ---------------------------------------------------------------- queues


def test_overdue_section_lists_red_then_yellow_with_reminders(
    client: FlaskClient, world: World, api: Api, clock: Clock
) -> None:
    t = build_day(api, clock)
    a, b = t["A"], t["B"]
    api.act(a["id"], "remind", {"note": "请抓紧"}, as_="supervisor")
    api.act(a["id"], "remind", {"note": "再次催办"}, as_="lead")
    clock.set(at(MONDAY, 10, 45))
    api.act(b["id"], "supervise", {"note": "督办"}, as_="supervisor")
    overdue = section(desk(client, world, "lead"), "h-overdue")
    assert row_ids(overdue) == [a["id"], b["id"]]
    assert cells(overdue, a["id"]) == [
        "",
        a["number"],
        "超期工单",
        "办理中",
        "住房和城乡建设局",
        "2026-11-16 08:00",
        "2",
        "—",
        "催办 督办",
    ]
    assert cells(overdue, b["id"])[4:8] == [
        "城市管理局",
        "2026-11-16 15:00",
        "0",
        "2026-11-16 10:45",
    ]
    assert [lights(overdue, a["id"]), lights(overdue, b["id"])] == ["red", "yellow"]
    assert links(overdue, a["id"]) == [f"/tickets/{a['id']}"]


def test_review_queue_puts_returned_tickets_before_replied_ones(
    client: FlaskClient, world: World, api: Api, clock: Clock
) -> None:
    t = build_day(api, clock)
    review = section(desk(client, world), "h-review")
    assert row_ids(review) == [t["F"]["id"], t["R"]["id"]]
    assert cells(review, t["F"]["id"]) == [
        t["F"]["number"],
        "被退回的工单",
        "已退回",
        "城市管理局",
        "2026-11-16 09:30",
        "改派/审定",
    ]
    assert cells(review, t["R"]["id"])[2:] == [
        "待审核",
        "住房和城乡建设局",
        "2026-11-15 10:00",
        "审核回复",
    ]


def test_follow_up_queue_lists_reviewed_tickets(
    client: FlaskClient, world: World, api: Api, clock: Clock
) -> None:
    t = build_day(api, clock)
    follow_up = section(desk(client, world), "h-follow-up")
    assert row_ids(follow_up) == [t["V"]["id"]]
    assert cells(follow_up, t["V"]["id"]) == [
        t["V"]["number"],
        "待回访工单",
        "投诉",
        "城市管理局",
        "2026-11-15 10:00",
        "回访",
    ]


def test_empty_desk_says_there_is_nothing_to_do(client: FlaskClient, world: World) -> None:
    html = desk(client, world)
    assert figures(section(html, "h-wallboard")) == {
        "created": "0",
        "resolved": "0",
        "dispatched": "0",
        "red": "0",
        "yellow": "0",
    }
    assert (
        text(section(html, "h-overdue"))
        == "超期与临期 红灯 0 张，黄灯 0 张 当前没有超期或临期的工单。"
    )
    assert text(section(html, "h-review")) == "待审核 0 张，已退回的在前 没有待审核的工单。"
    assert text(section(html, "h-follow-up")) == "待回访 0 张 没有待回访的工单。"
