"""Leader duty (领导接听): the schedule, signing in only on duty, tickets tagged 领导接听."""

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from hotline.bootstrap import Container
from infra.models import AuditEntry
from infra.models import User
from kernel.roles import Role
from tests.conftest import SHANGHAI
from tests.conftest import T0
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World
from tests.conftest import password_hash


def at(hours: float, base: dt.datetime = T0) -> str:
    """A moment `hours` after T0 (Monday 10:00 in Shanghai), as the API takes it."""
    return (base + dt.timedelta(hours=hours)).isoformat()


def schedule(
    api: Api, world: World, start: float, end: float, leader: str = "leader", **extra: Any
) -> Any:
    body = {"user_id": world.users[leader], "starts_at": at(start), "ends_at": at(end)} | extra
    return api.post("/api/cti/duties", body, as_="supervisor")


def audit_actions(container: Container) -> list[str]:
    with container.uow() as uow:
        return list(uow.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def test_a_supervisor_schedules_a_leader_and_everyone_watching_the_hall_sees_it(
    api: Api, world: World, container: Container
) -> None:
    resp = schedule(api, world, 4, 6, note="市长热线接听日")

    assert resp.status_code == 201, resp.get_json()
    duty = resp.get_json()
    assert duty["leader"] == "leader用户" and duty["user_id"] == world.users["leader"]
    assert dt.datetime.fromisoformat(duty["starts_at"]) == T0 + dt.timedelta(hours=4)
    assert duty["starts_at"].endswith("+00:00")  # stored and given back in UTC
    assert (duty["note"], duty["on_duty"]) == ("市长热线接听日", False)
    listed = api.get("/api/cti/duties", as_="lead").get_json()["items"]
    assert [d["id"] for d in listed] == [duty["id"]]
    assert audit_actions(container) == ["add_leader_duty"]


def test_the_list_is_what_is_not_over_yet_earliest_first(
    api: Api, world: World, clock: Clock
) -> None:
    later = schedule(api, world, 26, 28).get_json()
    now = schedule(api, world, 0, 2).get_json()
    clock.advance(hours=1)
    items = api.get("/api/cti/duties", as_="supervisor").get_json()["items"]
    assert [(d["id"], d["on_duty"]) for d in items] == [(now["id"], True), (later["id"], False)]
    clock.advance(hours=2)
    assert [d["id"] for d in api.get("/api/cti/duties", as_="admin").get_json()["items"]] == [
        later["id"]
    ]


@pytest.mark.parametrize(
    ("start", "end", "leader", "field", "message"),
    [
        (4, 3, "leader", "ends_at", "结束时间应晚于开始时间"),
        (4, 4, "leader", "ends_at", "结束时间应晚于开始时间"),
        (4, 29, "leader", "ends_at", "一次值班不能超过24小时"),
        (-3, -1, "leader", "ends_at", "该时段已经结束"),
        (4, 6, "operator", "user_id", "只能为在职的领导安排值班"),
    ],
)
def test_a_window_is_refused_with_a_reason(
    api: Api, world: World, start: float, end: float, leader: str, field: str, message: str
) -> None:
    resp = schedule(api, world, start, end, leader=leader)

    assert resp.status_code == 422
    body = resp.get_json()
    assert body["message"] == "值班安排有误"
    assert body["details"]["fields"] == {field: message}
    assert api.get("/api/cti/duties", as_="supervisor").get_json()["items"] == []


def test_malformed_windows_are_refused(api: Api, world: World) -> None:
    leader = world.users["leader"]
    cases = [
        ({"user_id": leader, "starts_at": "2026-11-16T14:00:00", "ends_at": at(6)}, "starts_at"),
        ({"user_id": leader, "starts_at": "明天下午", "ends_at": at(6)}, "starts_at"),
        ({"user_id": str(leader), "starts_at": at(4), "ends_at": at(6)}, "user_id"),
        ({"user_id": leader, "starts_at": at(4), "ends_at": at(6), "note": "长" * 201}, "note"),
        ({"user_id": 999_999, "starts_at": at(4), "ends_at": at(6)}, "user_id"),
        ({"starts_at": at(4), "ends_at": at(6)}, "user_id"),
    ]
    for body, field in cases:
        resp = api.post("/api/cti/duties", body, as_="supervisor")
        assert resp.status_code == 422, body
        assert field in resp.get_json()["details"]["fields"], resp.get_json()


def test_a_leaders_windows_do_not_overlap_but_may_touch(
    api: Api, world: World, container: Container
) -> None:
    with container.uow() as uow:
        other = User(
            username="leader2",
            display_name="副市长",
            password_hash=password_hash(),
            role=Role.LEADER,
        )
        uow.session.add(other)
        uow.session.flush()
        world.users["leader2"] = other.id
        uow.commit()
    first = schedule(api, world, 4, 6).get_json()

    clash = schedule(api, world, 5, 7)

    assert clash.status_code == 409
    assert clash.get_json()["message"] == (
        "与leader用户已有的值班时段重叠（11月16日 14:00—11月16日 16:00）"
    )
    assert clash.get_json()["details"] == {"duty_id": first["id"]}
    assert schedule(api, world, 3, 9).status_code == 409  # around it
    assert schedule(api, world, 4.5, 5).status_code == 409  # inside it
    assert schedule(api, world, 6, 8).status_code == 201  # right after it
    assert schedule(api, world, 2, 4).status_code == 201  # right before it
    assert schedule(api, world, 5, 7, leader="leader2").status_code == 201  # someone else


def test_only_supervisors_and_admins_keep_the_schedule(api: Api, world: World) -> None:
    duty = schedule(api, world, 4, 6).get_json()
    body = {"user_id": world.users["leader"], "starts_at": at(8), "ends_at": at(9)}
    for who in ("lead", "operator", "leader", "zjj"):
        assert api.post("/api/cti/duties", body, as_=who).status_code == 403
        assert (
            api.client.delete(
                f"/api/cti/duties/{duty['id']}", headers=api._headers(who)
            ).status_code
            == 403
        )
    for who in ("operator", "leader", "zjj"):
        assert api.get("/api/cti/duties", as_=who).status_code == 403
    assert api.post("/api/cti/duties", body, as_="admin").status_code == 201


def test_a_window_is_deleted_once_and_audited(api: Api, world: World, container: Container) -> None:
    duty = schedule(api, world, 4, 6).get_json()
    headers = api._headers("admin")

    assert api.client.delete(f"/api/cti/duties/{duty['id']}", headers=headers).get_json() == {
        "id": duty["id"],
        "deleted": True,
    }
    again = api.client.delete(f"/api/cti/duties/{duty['id']}", headers=headers)
    assert again.status_code == 404 and again.get_json()["message"] == "值班安排不存在"
    assert api.get("/api/cti/duties", as_="supervisor").get_json()["items"] == []
    assert audit_actions(container) == ["add_leader_duty", "delete_leader_duty"]


# ---------------------------------------------------------------- at the seat


@pytest.mark.redis
def test_a_leader_signs_in_to_a_seat_only_on_duty(
    api: Api, world: World, clock: Clock, real_redis: Any
) -> None:
    off = api.post("/api/cti/seat", {"seat": "s20"}, as_="leader")
    assert off.status_code == 409
    assert off.get_json()["message"] == "当前不在领导接听值班时段"
    schedule(api, world, 1, 3)
    assert api.post("/api/cti/seat", {"seat": "s20"}, as_="leader").status_code == 409  # early

    clock.advance(hours=1)  # 11:00, the window's first minute
    assert api.post("/api/cti/seat", {"seat": "s20"}, as_="leader").status_code == 200
    assert api.get("/api/cti/me", as_="leader").get_json()["seat"] == "s20"

    clock.advance(hours=2)  # 13:00: the window is over
    assert api.post("/api/cti/seat", {"seat": "s20"}, as_="leader").status_code == 409
    # Other roles need no window.
    assert api.post("/api/cti/seat", {"seat": "s21"}, as_="operator").status_code == 200


def ready_at(api: Api, who: str, seat: str) -> None:
    assert api.post("/api/cti/seat", {"seat": seat}, as_=who).status_code == 200
    assert api.post("/api/cti/state", {"state": "ready"}, as_=who).status_code == 200


def take_call(client: FlaskClient, seat: str, call_id: str) -> None:
    """A caller rings the hotline and the seat answers (reported as Kamailio does)."""
    route = client.get(f"/acd/route?call_id={call_id}&from=13812345678")
    assert route.get_data(as_text=True).startswith(f"ring {seat}")
    assert client.get(f"/acd/answered?call_id={call_id}&seat={seat}").status_code == 200


def link(api: Api, call_id: str, ticket_id: int, who: str) -> Any:
    return api.post("/api/cti/link", {"call_id": call_id, "ticket_id": ticket_id}, as_=who)


def on_duty_now(api: Api, world: World, clock: Clock) -> dict[str, Any]:
    """A window for the leader around the real time (the ACD stamps calls with it)."""
    now = dt.datetime.now(SHANGHAI)
    clock.set(now)
    body = {
        "user_id": world.users["leader"],
        "starts_at": (now - dt.timedelta(minutes=30)).isoformat(),
        "ends_at": (now + dt.timedelta(minutes=30)).isoformat(),
    }
    resp = api.post("/api/cti/duties", body, as_="supervisor")
    assert resp.status_code == 201
    return dict(resp.get_json())


def ticket_tags(api: Api, ticket_id: int) -> list[str]:
    return list(api.get(f"/api/tickets/{ticket_id}").get_json()["tags"])


@pytest.mark.redis
def test_a_ticket_from_a_call_a_leader_took_on_duty_is_tagged(
    api: Api, client: FlaskClient, world: World, clock: Clock, container: Container, real_redis: Any
) -> None:
    on_duty_now(api, world, clock)
    ready_at(api, "leader", "s30")
    take_call(client, "s30", "lc1")
    # On duty the leader accepts the request themselves (an operator beside them may too).
    ticket = api.create(as_="leader", tags=["噪音"])

    assert link(api, "lc1", ticket["id"], "leader").status_code == 200

    assert ticket_tags(api, ticket["id"]) == ["噪音", "领导接听"]
    assert link(api, "lc1", ticket["id"], "leader").status_code == 200  # linked again
    assert ticket_tags(api, ticket["id"]) == ["噪音", "领导接听"]
    with container.uow() as uow:
        rows = uow.session.execute(
            sa.select(AuditEntry.ticket_id, AuditEntry.details).where(
                AuditEntry.action == "tag_leader_call"
            )
        ).all()
    assert [tuple(r) for r in rows] == [(ticket["id"], {"call_id": "lc1", "tag": "领导接听"})]


@pytest.mark.redis
def test_no_tag_for_a_call_taken_off_duty_or_by_an_operator(
    api: Api, client: FlaskClient, world: World, clock: Clock, real_redis: Any
) -> None:
    duty = on_duty_now(api, world, clock)
    ready_at(api, "leader", "s31")
    # The window is taken off the schedule while the leader is still signed in.
    api.client.delete(f"/api/cti/duties/{duty['id']}", headers=api._headers("supervisor"))
    take_call(client, "s31", "lc2")
    off_duty = api.post(
        "/api/tickets", {"request_type": "help", "title": "x", "content": "y"}, as_="leader"
    )
    assert off_duty.status_code == 403  # the window is gone: no more accepting
    first = api.create()
    assert link(api, "lc2", first["id"], "leader").status_code == 200
    assert ticket_tags(api, first["id"]) == []

    api.post("/api/cti/state", {"state": "logout"}, as_="leader")
    ready_at(api, "operator", "s32")
    take_call(client, "s32", "lc3")
    second = api.create()
    assert link(api, "lc3", second["id"], "operator").status_code == 200
    assert ticket_tags(api, second["id"]) == []
