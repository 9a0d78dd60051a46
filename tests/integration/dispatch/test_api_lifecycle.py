"""The ticket lifecycle through the JSON API, on SQLite and PostgreSQL."""

import datetime as dt

import sqlalchemy as sa

from dispatch.tickets.models import TicketEventRecord
from hotline.bootstrap import Container
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import Clock


def _events(ticket: dict) -> list[tuple[str, str | None, str]]:
    return [(e["event"], e["from_status"], e["to_status"]) for e in ticket["events"]]


def test_full_round_from_acceptance_to_closure(api: Api, clock: Clock) -> None:
    created = api.create(
        request_type="complaint",
        urgency="normal",
        address="东湖区湖滨街道滨江路88号",
        district_id=api.world.units["dh"],
        street_id=api.world.units["dh-hb"],
        community_id=api.world.units["dh-hb-01"],
        category="城乡建设/物业管理/电梯",
        tags=["电梯"],
        channel="phone",
    )
    assert created["status"] == "accepted"
    assert created["number"].startswith("JC20261116")
    assert created["locality"]["street"]["name"] == "湖滨街道"
    tid = created["id"]

    t = api.act(
        tid,
        "dispatch",
        {"lead_unit_id": api.world.units["zjj"], "assist_unit_ids": [api.world.units["cgj"]]},
    )
    assert t["status"] == "dispatched"
    assert t["lead_unit"]["name"] == "住房和城乡建设局"
    assert {(a["unit"]["name"], a["role"]) for a in t["assignments"]} == {
        ("住房和城乡建设局", "lead"),
        ("城市管理局", "assist"),
    }
    # Monday 10:00 + 1 working day (9 working hours) -> Tuesday 10:00; reply 5wd -> next Monday.
    assert (
        t["clocks"]["sign"]["due"]
        == dt.datetime(2026, 11, 17, 10, tzinfo=SHANGHAI).astimezone(dt.UTC).isoformat()
    )
    assert (
        t["clocks"]["reply"]["due"]
        == dt.datetime(2026, 11, 23, 10, tzinfo=SHANGHAI).astimezone(dt.UTC).isoformat()
    )
    assert t["light"] == "green"

    clock.advance(hours=1)
    t = api.act(tid, "sign", as_="zjj")
    assert t["status"] == "signed"
    assert t["clocks"]["sign"]["light"] == "green"  # met in time

    clock.advance(hours=2)
    t = api.act(tid, "extend", {"days": 3, "reason": "需要协调电梯维保单位"}, as_="zjj")
    assert t["extensions"][0]["approved"] is None
    t = api.act(tid, "decide_extension", {"approve": True, "note": "同意"}, as_="lead")
    assert t["extended_days"] == 3
    assert (
        t["clocks"]["reply"]["due"]
        == dt.datetime(2026, 11, 26, 10, tzinfo=SHANGHAI).astimezone(dt.UTC).isoformat()
    )

    clock.advance(days=1)
    t = api.act(tid, "reply", {"text": "已督促物业更换电梯主板，恢复运行。"}, as_="zjj")
    assert t["status"] == "replied"
    assert t["clocks"]["reply"]["light"] == "green"
    t = api.act(tid, "review", {"approve": True}, as_="lead")
    t = api.act(tid, "follow_up", {"solved": True, "satisfaction": "satisfied", "note": "市民满意"})
    assert t["follow_up"]["satisfaction"] == "satisfied"
    t = api.act(tid, "close", {}, as_="lead")
    assert t["status"] == "closed"
    assert _events(t) == [
        ("create", None, "accepted"),
        ("dispatch", "accepted", "dispatched"),
        ("sign", "dispatched", "signed"),
        ("extend", "signed", "signed"),
        ("approve_extension", "signed", "signed"),
        ("reply", "signed", "replied"),
        ("approve_reply", "replied", "reviewed"),
        ("follow_up", "reviewed", "followed_up"),
        ("close", "followed_up", "closed"),
    ]
    assert [e["actor"]["role"] for e in t["events"]][2] == "liaison"
    assert t["allowed_actions"] == ["reopen"]  # all a team lead can still do with it
    assert api.get(f"/api/tickets/{tid}").get_json()["allowed_actions"] == []  # operator


def test_resolve_directly_is_terminal(api: Api) -> None:
    t = api.create(request_type="enquiry")
    t = api.act(t["id"], "resolve_directly", {"answer": "社保卡补办需携带身份证到任一网点。"})
    assert t["status"] == "resolved"
    assert t["resolution"].startswith("社保卡")
    body = api.act(t["id"], "dispatch", {"lead_unit_id": api.world.units["zjj"]}, expect=409)
    assert body["error"] == "illegal_transition"


def test_illegal_transition_changes_nothing(api: Api, container: Container) -> None:
    t = api.create()
    before = api.get(f"/api/tickets/{t['id']}").get_json()
    body = api.act(t["id"], "sign", as_="zjj", expect=403)  # zjj is not assigned yet
    body = api.act(t["id"], "reply", {"text": "x"}, as_="operator", expect=403)
    body = api.act(t["id"], "close", {}, as_="lead", expect=409)
    assert body == {
        "error": "illegal_transition",
        "message": body["message"],
        "details": {"status": "accepted", "event": "close"},
    }
    assert "已受理" in body["message"]
    after = api.get(f"/api/tickets/{t['id']}").get_json()
    assert after["events"] == before["events"]
    assert after["updated_at"] == before["updated_at"]


def test_return_reassign_and_uphold(api: Api, clock: Clock) -> None:
    t = api.dispatched("zjj")
    clock.advance(hours=3)
    t = api.act(t["id"], "return", {"reason_code": "not_ours", "reason": "属于城管职责"}, as_="zjj")
    assert t["status"] == "returned"
    t = api.act(t["id"], "reassign", {"lead_unit_id": api.world.units["cgj"]}, as_="lead")
    assert t["status"] == "dispatched"
    assert t["lead_unit"]["name"] == "城市管理局"
    assert [a["active"] for a in t["assignments"]] == [False, True]
    # the new unit gets fresh clocks from the reassignment
    assert t["clocks"]["sign"]["start"] == clock().astimezone(dt.UTC).isoformat()
    # the old unit can no longer act
    api.act(t["id"], "sign", as_="zjj", expect=403)
    t = api.act(
        t["id"], "return", {"reason_code": "unclear_ownership", "reason": "权属不清"}, as_="cgj"
    )
    t = api.act(t["id"], "uphold", {"note": "经核实属城管职责"}, as_="supervisor")
    assert t["status"] == "dispatched"
    body = api.act(
        t["id"], "return", {"reason_code": "not_ours", "reason": "再退"}, as_="cgj", expect=409
    )
    assert body["error"] == "rule_violation"
    assert "审定" in body["message"]
    api.act(t["id"], "sign", as_="cgj")


def test_return_after_the_window_is_refused(api: Api, clock: Clock) -> None:
    t = api.dispatched("zjj")  # Monday 10:00; 2 working days -> Wednesday 10:00
    clock.set(dt.datetime(2026, 11, 18, 10, 1, tzinfo=SHANGHAI))
    body = api.act(
        t["id"],
        "return",
        {"reason_code": "not_ours", "reason": "不属于我局"},
        as_="zjj",
        expect=409,
    )
    assert "退回时限" in body["message"]
    assert (
        body["details"]["return_deadline"]
        == dt.datetime(2026, 11, 18, 10, tzinfo=SHANGHAI).astimezone(dt.UTC).isoformat()
    )


def test_extension_only_once_and_not_when_overdue(api: Api, clock: Clock) -> None:
    t = api.signed("zjj")
    api.act(t["id"], "extend", {"days": 2, "reason": "等待检测报告"}, as_="zjj")
    api.act(t["id"], "decide_extension", {"approve": False, "note": "理由不充分"}, as_="lead")
    body = api.act(t["id"], "extend", {"days": 2, "reason": "再次申请"}, as_="zjj", expect=409)
    assert "只能申请一次" in body["message"]
    body = api.act(t["id"], "decide_extension", {"approve": True}, as_="lead", expect=409)
    assert "没有待审批" in body["message"]

    late = api.signed("zjj")
    clock.advance(days=14)
    body = api.act(late["id"], "extend", {"days": 2, "reason": "x"}, as_="zjj", expect=409)
    assert "超期" in body["message"]
    too_long = api.signed("zjj")
    body = api.act(too_long["id"], "extend", {"days": 11, "reason": "x"}, as_="zjj", expect=422)
    assert "days" in body["details"]["fields"]


def test_lights_turn_yellow_then_red(api: Api, clock: Clock) -> None:
    t = api.signed("zjj", request_type="help", urgency="urgent")  # reply within 24 h
    assert api.get(f"/api/tickets/{t['id']}").get_json()["light"] == "green"
    clock.advance(hours=18, minutes=1)
    assert api.get(f"/api/tickets/{t['id']}").get_json()["light"] == "yellow"
    assert [x["id"] for x in api.get("/api/tickets?light=yellow").get_json()["items"]] == [t["id"]]
    clock.advance(hours=6)
    assert api.get(f"/api/tickets/{t['id']}").get_json()["light"] == "red"
    assert [x["id"] for x in api.get("/api/tickets?light=red").get_json()["items"]] == [t["id"]]
    assert api.get("/api/tickets?light=green").get_json()["total"] == 0
    # a late reply is recorded as late
    t = api.act(t["id"], "reply", {"text": "已处理"}, as_="zjj")
    assert t["clocks"]["reply"]["light"] == "red"
    assert t["light"] is None


def test_review_rejection_sends_the_reply_back(api: Api) -> None:
    t = api.signed("zjj")
    api.act(t["id"], "reply", {"text": "已处理"}, as_="zjj")
    body = api.act(t["id"], "review", {"approve": False}, as_="lead", expect=422)
    assert body["details"]["fields"]["_body"] == "退回重新办理时必须填写审核意见"
    t = api.act(t["id"], "review", {"approve": False, "note": "未说明处理结果"}, as_="lead")
    assert t["status"] == "signed"
    assert t["clocks"]["reply"]["done_at"] is None


def test_reopen_three_times_makes_a_problem_ticket(api: Api, clock: Clock) -> None:
    t = api.signed("zjj")
    for round_ in range(1, 4):
        api.act(t["id"], "reply", {"text": f"第{round_}次处理"}, as_="zjj")
        api.act(t["id"], "review", {"approve": True}, as_="lead")
        api.act(t["id"], "follow_up", {"solved": False, "satisfaction": "dissatisfied"})
        clock.advance(hours=1)
        t = api.act(t["id"], "reopen", {"reason": "问题未解决"}, as_="lead")
        assert t["status"] == "dispatched"
        assert t["reopen_count"] == round_
        assert t["clocks"]["reply"]["start"] == clock().astimezone(dt.UTC).isoformat()
        assert t["follow_up"] is None
        assert t["problem"] is (round_ == 3)
        t = api.act(t["id"], "sign", as_="zjj")
    assert api.get("/api/tickets?problem=true").get_json()["total"] == 1


def test_three_lead_units_make_a_problem_ticket(api: Api) -> None:
    t = api.dispatched("zjj")
    for unit in ("cgj", "gdgs"):
        t = api.act(t["id"], "reassign", {"lead_unit_id": api.world.units[unit]}, as_="lead")
    assert t["problem"] is True


def test_close_without_follow_up_needs_a_reason(api: Api) -> None:
    t = api.signed("zjj")
    api.act(t["id"], "reply", {"text": "已处理"}, as_="zjj")
    api.act(t["id"], "review", {"approve": True}, as_="lead")
    body = api.act(t["id"], "close", {}, as_="lead", expect=422)
    assert "note" in body["details"]["fields"]
    t = api.act(t["id"], "close", {"note": "三次回访未接通"}, as_="lead")
    assert t["status"] == "closed"


def test_merge_duplicate_into_master(api: Api) -> None:
    master = api.dispatched("zjj")
    dup = api.create(title="同一小区电梯故障")
    t = api.act(dup["id"], "merge", {"master_id": master["id"], "note": "重复来电"})
    assert t["status"] == "merged"
    assert t["merged_into_id"] == master["id"]
    m = api.get(f"/api/tickets/{master['id']}").get_json()
    assert m["events"][-1]["event"] == "merge"
    assert m["events"][-1]["data"] == {"merged_ticket_id": dup["id"]}
    assert m["status"] == "dispatched"

    other = api.create()
    body = api.act(other["id"], "merge", {"master_id": other["id"]}, expect=422)
    assert body["details"]["fields"]["master_id"] == "不能合并到自身"
    body = api.act(other["id"], "merge", {"master_id": dup["id"]}, expect=409)
    assert body["error"] == "rule_violation"
    body = api.act(other["id"], "merge", {"master_id": 999999}, expect=404)
    assert body["error"] == "not_found"


def test_remind_and_supervise_are_recorded(api: Api) -> None:
    t = api.signed("zjj")
    api.act(t["id"], "remind", {"note": "请抓紧办理"}, as_="supervisor")
    t = api.act(t["id"], "supervise", {"note": "已超期"}, as_="supervisor")
    assert t["remind_count"] == 1
    assert t["supervised_at"] is not None
    assert [e["event"] for e in t["events"]][-2:] == ["remind", "supervise"]
    assert t["events"][-1]["unit"]["name"] == "住房和城乡建设局"


def test_double_submit_with_the_same_token_creates_one_ticket(api: Api) -> None:
    body = {
        "request_type": "help",
        "title": "路灯不亮",
        "content": "路灯坏了一周",
        "client_token": "form-7f3a9c2e",
    }
    first = api.post("/api/tickets", body)
    second = api.post("/api/tickets", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert api.get("/api/tickets").get_json()["total"] == 1


def test_events_are_append_only_in_the_orm(api: Api, container: Container) -> None:
    t = api.create()
    with container.uow() as uow:
        row = uow.session.scalar(
            sa.select(TicketEventRecord).where(TicketEventRecord.ticket_id == t["id"])
        )
        assert row is not None
        row.reason = "rewritten"
        try:
            uow.session.flush()
        except RuntimeError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError("an event row was updated")


def test_accept_and_dispatch_in_one_request(api: Api) -> None:
    t = api.create(
        dispatch={
            "lead_unit_id": api.world.units["zjj"],
            "assist_unit_ids": [api.world.units["cgj"]],
            "note": "直接派单",
        }
    )
    assert t["status"] == "dispatched"
    assert _events(t) == [("create", None, "accepted"), ("dispatch", "accepted", "dispatched")]
    assert t["events"][1]["reason"] == "直接派单"
    assert t["clocks"]["sign"]["running"] is True
    assert api.get("/api/tickets", as_="cgj").get_json()["total"] == 1


def test_failed_inline_dispatch_leaves_no_ticket(api: Api) -> None:
    resp = api.post(
        "/api/tickets",
        {
            "request_type": "help",
            "title": "路灯",
            "content": "不亮",
            "dispatch": {"lead_unit_id": 99999},
        },
    )
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"] == {"dispatch.lead_unit_id": "单位不存在"}
    resp = api.post(
        "/api/tickets",
        {
            "request_type": "help",
            "title": "路灯",
            "content": "不亮",
            "dispatch": {"lead_unit_id": "3"},
        },
    )
    assert resp.get_json()["details"]["fields"] == {"dispatch.lead_unit_id": "应为整数"}
    assert api.get("/api/tickets").get_json()["total"] == 0


def test_a_contact_in_the_minute_of_the_dispatch_counts_from_the_dispatch(
    api: Api, clock: Clock
) -> None:
    # The reply form states minutes: a liaison who reaches the citizen in the minute the
    # ticket arrived states that minute, which began before the dispatch itself.
    clock.set(dt.datetime(2026, 11, 16, 10, 0, 40, tzinfo=SHANGHAI))
    t = api.signed("zjj")
    too_early = dt.datetime(2026, 11, 16, 9, 59, tzinfo=SHANGHAI).isoformat()
    body = {"text": "已联系市民", "contacted_at": too_early}
    refused = api.post(f"/api/tickets/{t['id']}/actions/reply", body, as_="zjj")
    assert refused.status_code == 422
    reason = refused.get_json()["details"]["fields"]["contacted_at"]
    assert reason == "联系时间必须在派单之后、回复之前"
    clock.advance(minutes=5)
    same_minute = dt.datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI).isoformat()
    t = api.act(t["id"], "reply", {"text": "已联系市民", "contacted_at": same_minute}, as_="zjj")
    dispatched = dt.datetime(2026, 11, 16, 10, 0, 40, tzinfo=SHANGHAI)
    assert dt.datetime.fromisoformat(t["contacted_at"]) == dispatched
