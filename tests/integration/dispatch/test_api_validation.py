"""Bad input gets a clear JSON error and writes nothing."""

from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from hotline.bootstrap import Container
from tests.conftest import Api

VALID = {"request_type": "complaint", "title": "噪音扰民", "content": "夜间施工噪音大"}


def _counts(container: Container) -> tuple[int, int]:
    with container.uow() as uow:
        tickets = uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket))
        events = uow.session.scalar(sa.select(sa.func.count()).select_from(TicketEventRecord))
    return tickets or 0, events or 0


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": None}, "title", "应为文本"),
        ({"title": "   "}, "title", "不能为空"),
        ({"content": "x" * 50_000}, "content", "不能超过20000个字符"),
        ({"title": "x" * 201}, "title", "不能超过200个字符"),
        ({"request_type": "rant"}, "request_type", "取值无效"),
        ({"urgency": 1}, "urgency", "取值无效"),
        ({"anonymous": "yes"}, "anonymous", "应为 true 或 false"),
        ({"district_id": "3"}, "district_id", "应为整数"),
        ({"district_id": 0}, "district_id", "不能小于1"),
        ({"caller_phone": "call me"}, "caller_phone", "电话号码只能包含数字"),
        ({"caller_phone": "1391234567"}, "caller_phone", "手机号码应为11位数字（现为10位）"),
        ({"contact_phone": "85551234"}, "contact_phone", "固定电话请加区号"),
        ({"tags": "x"}, "tags", "应为列表"),
        ({"colour": "red"}, "colour", "不支持的字段"),
        ({"client_token": "短"}, "client_token", "格式不正确"),
    ],
)
def test_bad_ticket_fields_are_named(
    api: Api, container: Container, change: dict[str, Any], field: str, message: str
) -> None:
    body = {**VALID, **change}
    if change.get("title", "") is None:
        body["title"] = None
    resp = api.post("/api/tickets", body)
    assert resp.status_code == 422
    data = resp.get_json()
    assert data["error"] == "validation_error"
    assert data["message"] == "提交的数据有误"
    assert message in data["details"]["fields"][field]
    assert _counts(container) == (0, 0)


def test_missing_fields_are_all_listed(api: Api) -> None:
    data = api.post("/api/tickets", {}).get_json()
    assert set(data["details"]["fields"]) == {"request_type", "title", "content"}
    assert set(data["details"]["fields"].values()) == {"必填"}


def test_anonymous_ticket_with_a_name_is_refused(api: Api) -> None:
    data = api.post("/api/tickets", {**VALID, "anonymous": True, "citizen_name": "李四"}).get_json()
    assert data["details"]["fields"]["_body"] == "匿名诉求不能填写诉求人姓名"


@pytest.mark.parametrize(
    ("locality", "field", "message"),
    [
        ({"district_id": 99999}, "district_id", "单位不存在"),
        ({"district_id": "street"}, "district_id", "属地层级不符"),
        ({"district_id": "xs", "street_id": "street"}, "street_id", "与上级属地不一致"),
    ],
)
def test_unknown_or_inconsistent_locality_is_refused(
    api: Api, container: Container, locality: dict[str, Any], field: str, message: str
) -> None:
    units = api.world.units
    names = {"street": units["dh-hb"], "xs": units["xs"]}
    body = {**VALID, **{k: names.get(v, v) for k, v in locality.items()}}
    resp = api.post("/api/tickets", body)
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"][field] == message
    assert _counts(container) == (0, 0)


def test_dispatch_to_unknown_unit_changes_nothing(api: Api) -> None:
    t = api.create()
    resp = api.post(f"/api/tickets/{t['id']}/actions/dispatch", {"lead_unit_id": 99999})
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"]["lead_unit_id"] == "单位不存在"
    view = api.get(f"/api/tickets/{t['id']}").get_json()
    assert view["status"] == "accepted"
    assert view["assignments"] == []
    resp = api.post(
        f"/api/tickets/{t['id']}/actions/dispatch",
        {"lead_unit_id": api.world.units["zjj"], "assist_unit_ids": [api.world.units["zjj"]]},
    )
    assert resp.get_json()["details"]["fields"]["assist_unit_ids"] == "协办单位不能与主办单位相同"


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b'"text"', "text/plain"),
    ],
)
def test_body_that_is_not_a_json_object_is_400(api: Api, raw: bytes, content_type: str) -> None:
    resp = api.client.post(
        "/api/tickets", data=raw, content_type=content_type, headers=api._headers("operator")
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "bad_request"


def test_oversized_body_is_413(api: Api, container: Container) -> None:
    resp = api.post("/api/tickets", {**VALID, "content": "长" * 600_000})
    assert resp.status_code == 413
    assert resp.get_json() == {
        "error": "request_entity_too_large",
        "message": "请求内容过大",
        "details": {},
    }
    assert _counts(container) == (0, 0)


def test_unknown_ticket_and_action(api: Api) -> None:
    resp = api.get("/api/tickets/424242")
    assert (resp.status_code, resp.get_json()["error"]) == (404, "not_found")
    resp = api.post("/api/tickets/424242/actions/sign", {}, as_="zjj")
    assert resp.status_code == 404
    t = api.create()
    resp = api.post(f"/api/tickets/{t['id']}/actions/teleport", {})
    assert resp.status_code == 422
    assert "action" in resp.get_json()["details"]["fields"]
    resp = api.get("/api/nowhere")
    assert resp.status_code == 404
    assert resp.get_json()["message"] == "请求的资源不存在"
    resp = api.client.delete("/api/tickets", headers=api._headers("operator"))
    assert resp.status_code == 405


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("light=blue", "light"),
        ("page=0", "page"),
        ("per_page=1000", "per_page"),
        ("from=2026-13-01", "from"),
        ("from=2026-11-10&to=2026-11-01", "to"),
        ("problem=maybe", "problem"),
        ("sort=evil", "sort"),
        ("unit_id=abc", "unit_id"),
    ],
)
def test_bad_list_parameters_are_named(api: Api, query: str, field: str) -> None:
    resp = api.get(f"/api/tickets?{query}")
    assert resp.status_code == 422
    assert field in resp.get_json()["details"]["fields"]


def test_list_filters_and_paging(api: Api, clock: Any) -> None:
    a = api.dispatched("zjj", title="路灯不亮", request_type="help")
    clock.advance(days=1)
    b = api.create(title="噪音扰民", urgency="urgent")
    c = api.create(title="井盖缺失", caller_phone="13900000000")

    def ids(query: str) -> list[int]:
        return [t["id"] for t in api.get(f"/api/tickets?{query}").get_json()["items"]]

    assert ids("") == [c["id"], b["id"], a["id"]]
    assert ids("status=dispatched") == [a["id"]]
    assert ids("status=accepted,dispatched&per_page=2") == [c["id"], b["id"]]
    assert ids("status=accepted,dispatched&per_page=2&page=2") == [a["id"]]
    assert ids(f"unit_id={api.world.units['zjj']}") == [a["id"]]
    assert ids("request_type=help") == [a["id"]]
    assert ids("urgency=urgent") == [b["id"]]
    assert ids("q=路灯") == [a["id"]]
    assert ids(f"q={c['number']}") == [c["id"]]
    assert ids("q=100%") == []
    assert ids("caller_phone=13900000000") == [c["id"]]
    assert ids("from=2026-11-17&to=2026-11-17") == [c["id"], b["id"]]
    assert ids("to=2026-11-16") == [a["id"]]
    page = api.get("/api/tickets?per_page=2").get_json()
    assert (page["total"], page["page"], page["per_page"]) == (3, 1, 2)


def test_a_community_alone_fills_in_its_street_and_district(api: Api) -> None:
    units = api.world.units
    t = api.create(community_id=units["dh-hb-01"])
    assert t["locality"]["district"]["name"] == "东湖区"
    assert t["locality"]["street"]["name"] == "湖滨街道"
    t = api.create(district_id=units["dh"], community_id=units["dh-hb-01"])
    assert t["locality"]["street"]["id"] == units["dh-hb"]
    resp = api.post(
        "/api/tickets", {**VALID, "district_id": units["xs"], "community_id": units["dh-hb-01"]}
    )
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"] == {"community_id": "与上级属地不一致"}


def test_work_lists_sort_by_deadline_and_can_leave_identity_out(
    api: Api, container: Container, clock: Any
) -> None:
    from dispatch.tickets import reads
    from infra.models import AuditEntry
    from kernel.actor import Actor
    from kernel.roles import Role

    slow = api.dispatched("zjj", title="一般工单")  # reply in 5 working days
    fast = api.dispatched("zjj", title="紧急工单", urgency="urgent")  # reply in 24 h
    actor = Actor(api.world.users["supervisor"], Role.SUPERVISOR)
    flt = reads.TicketFilter(order="due", with_identity=False)
    count = sa.select(sa.func.count()).select_from(AuditEntry)
    with container.uow() as uow:
        before = uow.session.scalar(count)  # the operator's create and dispatch answers
    page = reads.list_tickets(container.uow(), container.dispatch, actor, flt)
    assert [t["id"] for t in page["items"]] == [fast["id"], slow["id"]]
    assert {(t["citizen_name"], t["caller_phone"]) for t in page["items"]} == {(None, None)}
    with container.uow() as uow:
        assert uow.session.scalar(count) == before


def test_numbers_are_stored_and_found_in_one_spelling(api: Api) -> None:
    t = api.create(caller_phone="139-1234-5679", contact_phone="+86 0518 8555 1234")

    assert (t["caller_phone"], t["contact_phone"]) == ("13912345679", "051885551234")
    found = api.get("/api/tickets?caller_phone=139 1234 5679").get_json()
    assert [x["id"] for x in found["items"]] == [t["id"]]
    bad = api.get("/api/tickets?caller_phone=1391234567")
    assert bad.status_code == 422
    assert bad.get_json()["details"]["fields"]["caller_phone"].startswith("手机号码应为11位")
