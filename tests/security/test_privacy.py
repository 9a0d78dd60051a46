"""Personal data outside the ticket view (issue 17, findings 4 and 9, and the Low list).

Each test is the attack: a 催办 whose answer carried the caller's name and phone without an
audit row; the call-back list read the same way; a liaison reading other units' ticket text
in the KB gaps report; a user overwriting another's draft search log with ``?draft=``; a KB
search naming a ticket that does not exist (a 500 under the fuzzer); the SMS log adapter
writing whole numbers to the log.
"""

import logging
from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.followup.survey import LogSms
from hotline.bootstrap import Container
from infra.models import AuditEntry
from kb.models import KbSearch
from tests.conftest import Api
from tests.conftest import World
from tests.integration.callcenter.test_callbacks import missed
from tests.integration.callcenter.test_callbacks import tasks

NAME = "张建国"
PHONE = "17212349251"
FUND = {
    "title": "住房公积金提取办事指南",
    "body": "职工购买自住住房、退休、离职可以申请提取住房公积金，需携带身份证和银行卡。",
    "kind": "guide",
}


def _audit(container: Container, action: str) -> list[tuple[int | None, int | None, Any]]:
    with container.uow() as uow:
        rows = uow.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [(r.user_id, r.ticket_id, r.details) for r in rows]


# ---------------------------------------------------------------- finding 9


def test_a_reminders_answer_with_the_callers_identity_is_audited(
    api: Api, container: Container
) -> None:
    t = api.dispatched("zjj", citizen_name=NAME, caller_phone=PHONE)
    before = len(_audit(container, "view_personal_data"))
    answer = api.act(t["id"], "remind", {"note": "请尽快办理"}, as_="lead")
    assert (answer["citizen_name"], answer["caller_phone"]) == (NAME, PHONE)
    rows = _audit(container, "view_personal_data")[before:]
    assert rows == [(api.world.users["lead"], t["id"], {})]


def test_an_answer_without_identity_writes_no_audit_row(api: Api, container: Container) -> None:
    t = api.dispatched("zjj")
    before = _audit(container, "view_personal_data")
    answer = api.act(t["id"], "sign", as_="zjj")  # the unit sees it masked
    assert answer["identity_masked"] is True
    assert _audit(container, "view_personal_data") == before


@pytest.mark.redis
def test_reading_the_call_back_list_is_audited(
    api: Api, container: Container, real_redis: Any
) -> None:
    missed(container, "call-privacy-1", caller=PHONE)
    (task,) = tasks(container)
    listed = api.get("/api/callbacks", as_="operator").get_json()
    assert [i["caller"] for i in listed["items"]] == [PHONE]
    assert _audit(container, "list_personal_data") == [
        (api.world.users["operator"], None, {"via": "callbacks", "task_ids": [task.id]})
    ]
    claimed = api.post(f"/api/callbacks/{task.id}/claim", as_="operator").get_json()
    assert claimed["caller"] == PHONE
    assert _audit(container, "view_personal_data")[-1] == (
        api.world.users["operator"],
        None,
        {"via": "callbacks.claim", "task_id": task.id},
    )


# ---------------------------------------------------------------- finding 4


def _gap_for_another_unit(api: Api, world: World) -> tuple[dict[str, Any], str]:
    """zjj's article shown while the hotline typed a ticket that went to 供电公司."""
    fund = api.post("/api/kb/articles", {**FUND, "unit_id": world.units["zjj"]}, as_="admin")
    assert fund.status_code == 201
    token = "draft-gdgs-0001"
    typed = f"{NAME}公积金提取不了 电话{PHONE}"
    found = api.get("/api/kb/search", query_string={"q": typed, "draft": token})
    assert found.status_code == 200
    api.create(
        request_type="complaint",
        title="公积金提取不了",
        content=f"来电人{NAME}称单位不给办理，回电{PHONE}",
        citizen_name=NAME,
        caller_phone=PHONE,
        client_token=token,
        dispatch={"lead_unit_id": world.units["gdgs"]},
    )
    return fund.get_json(), token


def test_a_liaison_reads_no_question_asked_for_another_units_ticket(api: Api, world: World) -> None:
    fund, _ = _gap_for_another_unit(api, world)
    mine = api.get("/api/kb/gaps", as_="zjj").get_json()
    assert [(g["id"], g["failed"]) for g in mine["failed"]] == [(fund["id"], 1)]
    assert mine["failed"][0]["queries"] == []
    assert NAME not in str(mine) and "9251" not in str(mine)


def test_the_search_log_keeps_no_phone_number(api: Api, world: World, container: Container) -> None:
    _gap_for_another_unit(api, world)
    with container.uow() as uow:
        logged = uow.session.scalars(sa.select(KbSearch.query)).all()
    assert logged and not any(PHONE in q or "9251" in q for q in logged)
    editors = api.get("/api/kb/gaps", as_="supervisor").get_json()
    assert editors["failed"][0]["queries"] == [f"{NAME}公积金提取不了 电话***********"]


def test_another_user_naming_the_draft_does_not_overwrite_its_logged_question(
    api: Api, world: World, container: Container
) -> None:
    _, token = _gap_for_another_unit(api, world)
    for who in ("zjj", "lead"):
        resp = api.get(
            "/api/kb/search", query_string={"q": "公积金 广告 加微信", "draft": token}, as_=who
        )
        assert resp.status_code == 200
    editors = api.get("/api/kb/gaps", as_="supervisor").get_json()
    assert editors["failed"][0]["queries"] == [f"{NAME}公积金提取不了 电话***********"]
    with container.uow() as uow:
        rows = uow.session.execute(
            sa.select(KbSearch.user_id, KbSearch.query).where(KbSearch.draft == token)
        ).all()
    assert sorted(u for u, _ in rows) == sorted(
        api.world.users[u] for u in ("operator", "zjj", "lead")
    )


@pytest.mark.parametrize(
    ("ticket_id", "status"), [("999999", 404), ("99999999999999999999", 422), ("0", 422)]
)
def test_a_kb_search_naming_no_ticket_is_a_clean_error(
    api: Api, ticket_id: str, status: int, container: Container
) -> None:
    resp = api.get("/api/kb/search", query_string={"q": "公积金", "ticket_id": ticket_id})
    assert resp.status_code == status
    assert set(resp.get_json()) == {"error", "message", "details"}
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(KbSearch)) == 0


def test_a_liaison_cannot_tie_a_search_to_another_units_ticket(api: Api) -> None:
    t = api.dispatched("gdgs")
    resp = api.get("/api/kb/search", query_string={"q": "公积金", "ticket_id": t["id"]}, as_="zjj")
    assert resp.status_code == 404


# ---------------------------------------------------------------- the SMS log


def test_the_sms_log_shows_no_whole_number(caplog: pytest.LogCaptureFixture) -> None:
    sms = LogSms()
    with caplog.at_level(logging.INFO, logger="hotline.sms"):
        sms.send(PHONE, f"请回电{PHONE}，工单JC202611160000042")
    assert sms.sent == [(PHONE, f"请回电{PHONE}，工单JC202611160000042")]  # the gateway's copy
    logged = caplog.text
    assert PHONE not in logged
    assert "172****9251" in logged
    assert "JC202611160000042" in logged
