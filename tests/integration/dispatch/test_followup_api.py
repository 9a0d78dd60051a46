"""回访 for people: the queues, a ticket's tries, retry, the SMS gateway's callback, the CLI."""

import dataclasses
import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from hotline.bootstrap import Container
from infra.models import AuditEntry
from tests.conftest import REDIS_URL
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World
from tests.integration.dispatch.test_followup import SETTINGS
from tests.integration.dispatch.test_followup import Harness
from tests.integration.dispatch.test_followup import reviewed
from tests.integration.hotline.test_cli import run

TOKEN = "gateway-secret-1"
PHONE = "13812345678"


@pytest.fixture
def fu(container: Container, clock: Clock) -> Harness:
    return Harness(container, clock, SETTINGS)


def handed_over_after_one_try(api: Api, container: Container, clock: Clock) -> dict[str, Any]:
    """A ticket whose only allowed try reached nobody: in the human queue, with a phone."""
    fu = Harness(container, clock, dataclasses.replace(SETTINGS, tries=1))
    t = reviewed(api)
    fu.sweep()
    fu.report(type="result", attempt_id=fu.tasks[0]["attempt_id"], outcome="no_answer")
    assert fu.ticket(t["id"]).followup_handover_at is not None
    return t


def use_settings(container: Container, **followup: Any) -> None:
    """Change the follow-up settings the running app reads (the container's)."""
    fu = dataclasses.replace(container.settings.followup, **followup)
    container.settings = dataclasses.replace(container.settings, followup=fu)


def audit_rows(container: Container, action: str) -> list[AuditEntry]:
    with container.uow() as uow:
        rows = uow.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        uow.session.expunge_all()
        return list(rows)


# ---------------------------------------------------------------- queues


def test_queues_list_handed_over_and_automated_tickets_with_counts(
    api: Api, fu: Harness, container: Container
) -> None:
    nobody = reviewed(api, caller_phone=None, citizen_name=None, anonymous=True)
    calling = reviewed(api, title="路灯不亮")
    fu.sweep()  # the first: straight to people; the second: try 1 queued

    manual = api.get("/api/followups?queue=manual", as_="operator").get_json()
    assert [t["id"] for t in manual["items"]] == [nobody["id"]]
    assert manual["counts"] == {"manual": 1, "auto": 1, "all": 2}
    row = manual["items"][0]
    assert row["number"] == nobody["number"] and row["handed_over_at"] is not None
    assert row["lead_unit"]["name"] == "住房和城乡建设局"
    assert row["phone"] is None and row["tries"]["count"] == 0

    auto = api.get("/api/followups?queue=auto", as_="lead").get_json()
    assert [t["id"] for t in auto["items"]] == [calling["id"]]
    row = auto["items"][0]
    assert row["phone"] == PHONE and row["handed_over_at"] is None
    assert row["tries"]["count"] == 1
    assert row["tries"]["last_status_label"] == "排队中"
    assert [a["try_no"] for a in row["attempts"]] == [1]

    everything = api.get("/api/followups?queue=all&page_size=1&page=2", as_="admin").get_json()
    assert [t["id"] for t in everything["items"]] == [calling["id"]]
    assert everything["total"] == 2
    assert api.get("/api/followups", as_="supervisor").get_json()["queue"] == "manual"


def test_a_ticket_followed_up_leaves_the_queue(api: Api, fu: Harness) -> None:
    t = reviewed(api, caller_phone=None, citizen_name=None, anonymous=True)
    fu.sweep()
    api.act(t["id"], "follow_up", {"reached": False, "note": "无联系方式"})
    body = api.get("/api/followups?queue=manual").get_json()
    assert body["items"] == [] and body["counts"]["all"] == 0


@pytest.mark.parametrize("user", ["zjj", "leader"])
def test_units_and_leaders_may_not_read_the_queues(api: Api, user: str) -> None:
    assert api.get("/api/followups", as_=user).status_code == 403


def test_bad_queue_parameters_are_422(api: Api) -> None:
    resp = api.get("/api/followups?queue=later&page=0&x=1")
    assert resp.status_code == 422
    assert set(resp.get_json()["details"]["fields"]) == {"queue", "page", "x"}


def test_listing_the_queue_with_phones_is_audited(
    api: Api, fu: Harness, container: Container, world: World
) -> None:
    t = reviewed(api)
    fu.sweep()
    before = len(audit_rows(container, "list_personal_data"))
    api.get("/api/followups?queue=auto", as_="operator")
    rows = audit_rows(container, "list_personal_data")
    assert len(rows) == before + 1
    assert rows[-1].user_id == world.users["operator"]
    assert rows[-1].details == {"ticket_ids": [t["id"]]}
    assert rows[-1].request_id


# ---------------------------------------------------------------- a ticket's tries


def test_a_tickets_tries_with_phones_for_the_hotline_only(
    api: Api, fu: Harness, container: Container
) -> None:
    t = reviewed(api)
    fu.sweep()
    fu.report(
        type="result",
        attempt_id=fu.tasks[0]["attempt_id"],
        outcome="answered",
        answers={"solved": "2", "satisfaction": "4"},
    )
    hotline = api.get(f"/api/tickets/{t['id']}/followups", as_="operator").get_json()
    (attempt,) = hotline["items"]
    assert (attempt["try_no"], attempt["status_label"]) == (1, "已回访")
    assert attempt["answers_label"] == "未解决 / 不满意"
    assert attempt["channel_label"] == "语音" and attempt["phone"] == PHONE
    assert audit_rows(container, "view_personal_data")[-1].ticket_id == t["id"]

    unit = api.get(f"/api/tickets/{t['id']}/followups", as_="zjj").get_json()
    assert unit["items"][0]["status"] == "answered"
    assert "phone" not in unit["items"][0]
    assert api.get(f"/api/tickets/{t['id']}/followups", as_="cgj").status_code == 403
    assert api.get("/api/tickets/999999/followups", as_="operator").status_code == 404


# ---------------------------------------------------------------- retry


def test_a_lead_puts_a_handed_over_ticket_back_into_automated_follow_up(
    api: Api, container: Container, clock: Clock, fu: Harness
) -> None:
    t = handed_over_after_one_try(api, container, clock)
    assert [r["id"] for r in api.get("/api/followups").get_json()["items"]] == [t["id"]]
    assert api.post(f"/api/followups/{t['id']}/retry", as_="operator").status_code == 403

    resp = api.post(f"/api/followups/{t['id']}/retry", as_="lead")
    assert resp.status_code == 200, resp.get_json()
    assert fu.ticket(t["id"]).followup_handover_at is None
    queues = api.get("/api/followups?queue=auto").get_json()
    assert [r["id"] for r in queues["items"]] == [t["id"]]
    assert queues["counts"]["manual"] == 0

    fu.sweep()  # the next sweep calls again: try 1 of a new round
    (task,) = fu.tasks
    assert task["attempt_id"] == resp.get_json()["attempt_id"]
    tries = fu.attempts(t["id"])
    assert [(a.try_no, a.status) for a in tries] == [(1, "no_answer"), (1, "queued")]
    assert audit_rows(container, "followup_retry")[-1].ticket_id == t["id"]
    # Already in automated follow-up again: nothing to put back.
    assert api.post(f"/api/followups/{t['id']}/retry", as_="lead").status_code == 409


def test_retry_refuses_tickets_not_waiting_or_without_a_phone(api: Api, fu: Harness) -> None:
    closed = reviewed(api, caller_phone=None, citizen_name=None, anonymous=True)
    no_phone = reviewed(api, caller_phone=None, citizen_name=None, anonymous=True)
    fu.sweep()
    api.act(closed["id"], "follow_up", {"reached": False})
    api.act(closed["id"], "close", {"note": "无法联系"}, as_="lead")
    resp = api.post(f"/api/followups/{closed['id']}/retry", as_="lead")
    assert resp.status_code == 409 and resp.get_json()["message"] == "工单不在待回访状态"
    resp = api.post(f"/api/followups/{no_phone['id']}/retry", as_="supervisor")
    assert resp.status_code == 409 and "联系电话" in resp.get_json()["message"]
    assert api.post("/api/followups/999999/retry", as_="admin").status_code == 404


# ---------------------------------------------------------------- the SMS gateway


def test_sms_inbound_is_off_without_a_token(client: FlaskClient, world: World) -> None:
    resp = client.post(
        "/api/followups/sms-inbound",
        json={"phone": PHONE, "text": "11"},
        headers={"X-SMS-Token": ""},
    )
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"


def test_sms_inbound_needs_the_gateways_token_not_a_session(
    client: FlaskClient, container: Container, world: World
) -> None:
    use_settings(container, sms_inbound_token=TOKEN)
    body = {"phone": PHONE, "text": "11"}
    assert client.post("/api/followups/sms-inbound", json=body).status_code == 401
    wrong = client.post("/api/followups/sms-inbound", json=body, headers={"X-SMS-Token": "x"})
    assert wrong.status_code == 401
    login = {"username": "admin", "password": world.password}
    csrf = client.post("/api/auth/login", json=login).get_json()["csrf_token"]
    resp = client.post("/api/followups/sms-inbound", json=body, headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 401  # a signed-in session does not stand in for the gateway


def test_a_reply_through_the_gateway_closes_the_ticket(
    api: Api, client: FlaskClient, container: Container, clock: Clock
) -> None:
    use_settings(container, sms_inbound_token=TOKEN, channel="sms")
    fu = Harness(container, clock, container.settings.followup)
    t = reviewed(api)
    fu.sweep()
    assert [phone for phone, _ in fu.sms.sent] == [PHONE]
    headers = {"X-SMS-Token": TOKEN}
    resp = client.post(
        "/api/followups/sms-inbound", data={"phone": PHONE, "text": "好的"}, headers=headers
    )
    assert resp.status_code == 200
    assert resp.get_json() | {"attempt_id": None} == {
        "matched": True,
        "accepted": False,
        "ticket_id": t["id"],
        "attempt_id": None,
    }
    resp = client.post(
        "/api/followups/sms-inbound", json={"phone": PHONE, "text": "12"}, headers=headers
    )
    assert resp.get_json()["accepted"] is True
    view = api.get(f"/api/tickets/{t['id']}").get_json()
    assert view["status"] == "closed"
    assert (view["follow_up"]["solved"], view["follow_up"]["satisfaction"]) == (True, "satisfied")
    tries = api.get(f"/api/tickets/{t['id']}/followups").get_json()["items"]
    assert [(a["channel_label"], a["answers_label"]) for a in tries] == [("短信", "已解决 / 满意")]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"phone": PHONE}, "text"), ({"phone": "abc", "text": "11"}, "phone"), ([1, 2], "_body")],
)
def test_sms_inbound_refuses_bad_bodies(
    client: FlaskClient, container: Container, body: Any, field: str
) -> None:
    use_settings(container, sms_inbound_token=TOKEN)
    resp = client.post("/api/followups/sms-inbound", json=body, headers={"X-SMS-Token": TOKEN})
    assert resp.status_code == 422
    data = resp.get_json()
    assert set(data) == {"error", "message", "details"}
    assert field in data["details"]["fields"]


# ---------------------------------------------------------------- the CLI


@pytest.mark.redis
def test_cli_sweep_pushes_survey_tasks(api: Api, db_url: str, real_redis: Any) -> None:
    t = reviewed(api)
    result = run(
        db_url,
        "followup",
        "sweep",
        HOTLINE_REDIS__URL=REDIS_URL,
        HOTLINE_WEB__LIVE_UPDATES_VIA_REDIS="false",
        HOTLINE_FOLLOWUP__CALL_HOURS="00:00-24:00",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["scheduled"] == [t["id"]] and len(out["queued"]) == 1
    task = json.loads(real_redis.lpop("survey:tasks"))
    assert (task["ticket_id"], task["phone"]) == (t["id"], PHONE)


def test_cli_sms_reply_records_the_answer(
    api: Api, container: Container, clock: Clock, db_url: str
) -> None:
    fu = Harness(container, clock, dataclasses.replace(SETTINGS, channel="sms"))
    t = reviewed(api)
    fu.sweep()
    result = run(
        db_url,
        "followup",
        "sms-reply",
        PHONE,
        "2 4",
        HOTLINE_FOLLOWUP__CHANNEL="sms",
        HOTLINE_WEB__LIVE_UPDATES_VIA_REDIS="false",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["matched"] and out["accepted"] and out["ticket_id"] == t["id"]
    view = api.get(f"/api/tickets/{t['id']}").get_json()
    assert view["status"] == "followed_up"  # not solved: left for a lead
    assert view["follow_up"]["satisfaction"] == "dissatisfied"
