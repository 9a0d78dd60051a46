"""漏接回拨: missed calls open call-back tasks; operators claim, dial, record, leads cancel."""

import json
import threading
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.acd.keys import command_channel
from callcenter.models import CallbackTask
from callcenter.models import CallRecord
from callcenter.records.sync import sync_record
from hotline.bootstrap import Container
from tests.conftest import T0
from tests.conftest import Api

NUMBER = "13812345678"
Pushes = list[tuple[str, dict[str, Any], list[str]]]


def missed(
    container: Container, call_id: str, caller: str = NUMBER, state: str = "abandoned"
) -> None:
    """Write the record of a call that ended unanswered, as the ACD reports it."""
    at = T0.timestamp()
    sync_record(
        container.uow(),
        call_id,
        {"arrived": str(at), "state": state, "caller": caller, "ended_at": str(at + 20)},
    )


def tasks(container: Container) -> list[CallbackTask]:
    with container.uow() as uow:
        rows = list(uow.session.scalars(sa.select(CallbackTask).order_by(CallbackTask.id)))
        uow.session.expunge_all()
        return rows


def record_id(container: Container, call_id: str) -> int:
    with container.uow() as uow:
        found = uow.session.scalar(sa.select(CallRecord.id).where(CallRecord.call_id == call_id))
        assert found is not None
        return found


def pushes(container: Container) -> Pushes:
    sent: Pushes = []
    container.dispatch.publish = lambda event, payload, rooms: sent.append((event, payload, rooms))
    return sent


class FakeClock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hall(container: Container, real_redis: Any) -> tuple[Acd, FakeClock]:
    """The app's ACD on the test Redis, under its own prefix, on a clock moved by hand."""
    clock = FakeClock()
    acd = Acd(
        real_redis,
        AcdConfig(max_wait_seconds=60, wrap_up_seconds=5),
        prefix=f"t{uuid.uuid4().hex[:8]}:",
        clock=clock,
    )
    container._acd = acd
    return acd, clock


# ---------------------------------------------------------------- tasks from call records


@pytest.mark.redis
def test_missed_calls_through_the_acd_open_one_task_per_number(
    api: Api, client: Any, container: Container, hall: tuple[Acd, FakeClock]
) -> None:
    acd, clock = hall
    sent = pushes(container)
    # Nobody ready: the caller waits, then hangs up (CANCEL) → abandoned.
    assert client.get(f"/acd/route?call_id=c1&from={NUMBER}").get_data(as_text=True) == (
        "wait 1000\n"
    )
    clock.now += 15
    assert client.get("/acd/ended?call_id=c1&by=caller").get_data(as_text=True) == "abandoned\n"
    [task] = tasks(container)
    assert (task.caller, task.reason, task.status, task.missed_calls) == (
        NUMBER,
        "abandoned",
        "open",
        1,
    )
    assert task.first_call_id == task.last_call_id == record_id(container, "c1")
    # The same number again, turned away busy after the longest wait → overflow, same task.
    clock.now += 100
    client.get(f"/acd/route?call_id=c2&from={NUMBER}")
    clock.now += 61
    assert client.get(f"/acd/route?call_id=c2&from={NUMBER}").get_data(as_text=True) == (
        "overflow\n"
    )
    [task] = tasks(container)
    assert (task.missed_calls, task.reason) == (2, "overflow")
    assert task.first_call_id == record_id(container, "c1")
    assert task.last_call_id == record_id(container, "c2")
    # A report of an end already recorded counts nothing.
    sync_record(container.uow(), "c1", acd.call("c1"))
    assert tasks(container)[0].missed_calls == 2
    changes = [(p["task_id"], p["change"]) for e, p, rooms in sent if e == "callback.changed"]
    assert changes == [(task.id, "opened"), (task.id, "added")]
    assert all(rooms == ["hotline"] for e, _, rooms in sent if e == "callback.changed")
    assert all(NUMBER not in json.dumps(p) for _, p, _ in sent)


@pytest.mark.redis
def test_a_caller_who_rang_a_seat_nobody_answered_and_hung_up_gets_a_task_closed_when_answered(
    api: Api, client: Any, container: Container, hall: tuple[Acd, FakeClock]
) -> None:
    sent = pushes(container)
    api.post("/api/cti/seat", {"seat": "s01"})
    api.post("/api/cti/state", {"state": "ready"})
    assert (
        client.get(f"/acd/route?call_id=c1&from={NUMBER}")
        .get_data(as_text=True)
        .startswith("ring s01")
    )
    client.get("/acd/ended?call_id=c1&by=caller")  # hung up while the seat rang
    [task] = tasks(container)
    assert (task.status, task.reason, task.missed_calls) == ("open", "abandoned", 1)
    # The number calls again and an operator answers: the task is done, called_again.
    client.get(f"/acd/route?call_id=c2&from={NUMBER}")
    client.get("/acd/answered?call_id=c2&seat=s01")
    [task] = tasks(container)
    assert (task.status, task.result) == ("done", "called_again")
    assert "c2" in task.note and task.done_at is not None
    changes = [p["change"] for e, p, _ in sent if e == "callback.changed"]
    assert changes == ["opened", "closed"]
    # Answered calls from numbers without a task change nothing.
    client.get("/acd/ended?call_id=c2&by=caller")
    assert len(tasks(container)) == 1


def test_anonymous_and_answered_callers_get_no_task(container: Container) -> None:
    missed(container, "a1", caller="")
    missed(container, "a2", caller="anonymous")
    missed(container, "a3", caller="Anonymous", state="overflow")
    at = str(T0.timestamp())
    sync_record(
        container.uow(),
        "a4",
        {"arrived": at, "state": "ended", "caller": NUMBER, "answered_at": at, "ended_at": at},
    )
    assert tasks(container) == []


def test_a_closed_task_is_not_reopened_and_a_new_miss_opens_another(
    api: Api, container: Container
) -> None:
    missed(container, "c1")
    [task] = tasks(container)
    assert api.post(f"/api/callbacks/{task.id}/done", {"result": "reached"}).status_code == 200
    missed(container, "c2", state="overflow")
    first, second = tasks(container)
    assert (first.status, first.missed_calls) == ("done", 1)
    assert (second.status, second.reason, second.missed_calls) == ("open", "overflow", 1)


def test_concurrent_reports_make_one_task_per_number(container: Container) -> None:
    """Two calls from one number, each reported twice at once (two web processes)."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def report(call_id: str) -> None:
        try:
            barrier.wait()
            missed(container, call_id)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=report, args=(c,)) for c in ("c1", "c2", "c1", "c2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    [task] = tasks(container)
    assert task.missed_calls == 2 and task.status == "open"


# ---------------------------------------------------------------- the API


def test_list_claim_and_record_the_results(api: Api, container: Container, world: Any) -> None:
    sent = pushes(container)
    missed(container, "c1")
    missed(container, "c2", caller="13900001111", state="overflow")
    listing = api.get("/api/callbacks").get_json()
    assert listing["total"] == 2 and listing["open_count"] == 2
    newest, oldest = listing["items"]
    assert (newest["caller"], newest["reason_label"]) == ("13900001111", "忙线溢出")
    assert (oldest["caller"], oldest["reason_label"]) == (NUMBER, "排队放弃")
    assert oldest["first_missed_at"] == oldest["last_missed_at"] == "2026-11-16T02:00:00+00:00"
    task_id = oldest["id"]

    claimed = api.post(f"/api/callbacks/{task_id}/claim").get_json()
    assert claimed["status"] == "claimed"
    assert claimed["claimed_by"] == {"id": world.users["operator"], "name": "operator用户"}
    assert api.post(f"/api/callbacks/{task_id}/claim").status_code == 200  # mine already
    taken = api.post(f"/api/callbacks/{task_id}/claim", as_="lead")
    assert taken.status_code == 409 and taken.get_json()["error"] == "rule_violation"
    other = api.post(f"/api/callbacks/{task_id}/done", {"result": "reached"}, as_="lead")
    assert other.status_code == 409

    retry = api.post(f"/api/callbacks/{task_id}/done", {"result": "no_answer", "note": "无人接"})
    body = retry.get_json()
    assert retry.status_code == 200
    assert (body["status"], body["attempts"], body["claimed_by"]) == ("open", 1, None)
    assert body["result_label"] == "未接通" and "无人接" in body["note"]

    ticket = api.create(caller_phone=NUMBER)
    api.post(f"/api/callbacks/{task_id}/claim", as_="lead")
    done = api.post(
        f"/api/callbacks/{task_id}/done",
        {"result": "reached", "note": "已解答", "ticket_id": ticket["id"]},
        as_="lead",
    ).get_json()
    assert (done["status"], done["result"], done["attempts"]) == ("done", "reached", 2)
    assert done["ticket_id"] == ticket["id"]
    assert done["done_by"]["id"] == world.users["lead"]
    assert done["note"].splitlines() == ["未接通：无人接", "已联系上：已解答"]
    again = api.post(f"/api/callbacks/{task_id}/done", {"result": "reached"}, as_="lead")
    assert again.status_code == 409

    assert api.get("/api/callbacks").get_json()["open_count"] == 1
    [finished] = api.get("/api/callbacks?status=done").get_json()["items"]
    assert finished["id"] == task_id
    changes = [p["change"] for e, p, _ in sent if e == "callback.changed"]
    assert changes == ["claimed", "retry", "claimed", "finished"]


def test_cancel_is_for_team_leads_and_above(api: Api, container: Container) -> None:
    missed(container, "c1")
    [task] = tasks(container)
    refused = api.post(f"/api/callbacks/{task.id}/cancel", {"note": "重复"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    cancelled = api.post(f"/api/callbacks/{task.id}/cancel", {"note": "重复来电"}, as_="lead")
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    assert api.post(f"/api/callbacks/{task.id}/cancel", as_="supervisor").status_code == 409
    assert api.post(f"/api/callbacks/{task.id}/claim").status_code == 409
    assert api.get("/api/callbacks").get_json()["total"] == 0
    assert api.get("/api/callbacks?status=cancelled").get_json()["total"] == 1


@pytest.mark.parametrize("who", ["zjj", "leader"])
def test_liaisons_and_leaders_may_not_see_or_work_tasks(
    api: Api, container: Container, who: str
) -> None:
    missed(container, "c1")
    [task] = tasks(container)
    assert api.get("/api/callbacks", as_=who).status_code == 403
    for action in ("claim", "dial", "done", "cancel"):
        resp = api.post(f"/api/callbacks/{task.id}/{action}", {"result": "reached"}, as_=who)
        assert resp.status_code == 403
        assert set(resp.get_json()) == {"error", "message", "details"}
    assert api.get("/api/callbacks", as_=None).status_code == 401


def test_bad_input_and_unknown_tasks(api: Api, container: Container) -> None:
    missed(container, "c1")
    [task] = tasks(container)
    for query, field in (
        ("status=bogus", "status"),
        ("page=0", "page"),
        ("per_page=500", "per_page"),
    ):
        resp = api.get(f"/api/callbacks?{query}")
        body = resp.get_json()
        assert resp.status_code == 422 and body["error"] == "validation_error", query
        assert field in body["details"]["fields"]
    for payload, field in (
        ({"result": "maybe"}, "result"),
        ({}, "result"),
        ({"result": "reached", "ticket_id": "7"}, "ticket_id"),
        ({"result": "reached", "extra": 1}, "extra"),
        ({"result": "reached", "note": "很" * 1001}, "note"),
        ({"result": "reached", "ticket_id": 999999}, "ticket_id"),
    ):
        resp = api.post(f"/api/callbacks/{task.id}/done", payload)
        body = resp.get_json()
        assert resp.status_code == 422, payload
        assert set(body) == {"error", "message", "details"}
        assert field in body["details"]["fields"], body
    assert tasks(container)[0].status == "open"  # nothing written by refused requests
    for action in ("claim", "dial", "done"):
        resp = api.post(f"/api/callbacks/999999/{action}", {"result": "reached"})
        assert resp.status_code == 404 and resp.get_json()["error"] == "not_found", action
    assert api.post("/api/callbacks/999999/cancel", as_="lead").status_code == 404


# ---------------------------------------------------------------- dialling from the seat


@pytest.mark.redis
def test_dial_sends_the_number_to_the_operators_own_seat(
    api: Api, container: Container, hall: tuple[Acd, FakeClock], real_redis: Any, world: Any
) -> None:
    acd, _ = hall
    missed(container, "c1")
    [task] = tasks(container)
    no_seat = api.post(f"/api/callbacks/{task.id}/dial")
    assert no_seat.status_code == 409 and "签入坐席" in no_seat.get_json()["message"]

    api.post("/api/cti/seat", {"seat": "s01"})
    api.post("/api/cti/state", {"state": "ready"})
    # No softphone listens on the seat's channel: refused, the seat stays ready, nothing claimed.
    silent = api.post(f"/api/callbacks/{task.id}/dial")
    assert silent.status_code == 409 and "话机未连接" in silent.get_json()["message"]
    assert acd.seat("s01")["state"] == "ready"
    assert tasks(container)[0].status == "open"

    listener = real_redis.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(command_channel(acd.prefix, "s01"))
    try:
        listener.get_message(timeout=1)  # the subscription is confirmed
        dialled = api.post(f"/api/callbacks/{task.id}/dial")
        assert dialled.status_code == 202, dialled.get_json()
        body = dialled.get_json()
        assert (body["seat"], body["status"]) == ("s01", "claimed")
        assert body["claimed_by"]["id"] == world.users["operator"]
        message = listener.get_message(timeout=5)
    finally:
        listener.close()
    assert message is not None
    assert json.loads(message["data"]) == {"action": "dial", "target": NUMBER}
    # No queue call rings at the seat during the call-back: it is not ready (话后处理).
    seat = acd.seat("s01")
    assert (seat["state"], seat["reason"]) == ("not_ready", "after_call_work")
    assert body["seat_state"] == "not_ready"


@pytest.mark.redis
def test_dial_is_refused_during_a_call_and_for_someone_elses_task(
    api: Api, client: Any, container: Container, hall: tuple[Acd, FakeClock]
) -> None:
    missed(container, "c1")
    missed(container, "c2", caller="13900001111")
    first, second = tasks(container)
    api.post("/api/cti/seat", {"seat": "s01"})
    api.post("/api/cti/state", {"state": "ready"})
    client.get("/acd/route?call_id=live&from=13700000000")
    client.get("/acd/answered?call_id=live&seat=s01")
    busy = api.post(f"/api/callbacks/{first.id}/dial")
    assert busy.status_code == 409 and "通话" in busy.get_json()["message"]
    assert tasks(container)[0].status == "open"
    api.post(f"/api/callbacks/{second.id}/claim", as_="lead")
    theirs = api.post(f"/api/callbacks/{second.id}/dial")
    assert theirs.status_code == 409 and "其他话务员" in theirs.get_json()["message"]


def test_the_follow_up_queue_dials_the_citizen_from_the_operators_seat(
    api: Api, container: Container, hall: tuple[Acd, FakeClock], real_redis: Any, world: Any
) -> None:
    """人工回访 showed `tel:` links (a desk phone, not the seat); the seat now dials, and the
    number never travels to the browser for it."""
    from infra.models import AuditEntry

    acd, _ = hall
    t = api.create(contact_phone="0518-85551234")
    api.post("/api/cti/seat", {"seat": "s01"})
    api.post("/api/cti/state", {"state": "ready"})
    listener = real_redis.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(command_channel(acd.prefix, "s01"))
    try:
        listener.get_message(timeout=1)
        dialled = api.post("/api/cti/dial", {"ticket_id": t["id"]})
        message = listener.get_message(timeout=5)
    finally:
        listener.close()

    assert dialled.status_code == 202
    assert dialled.get_json() == {"ticket_id": t["id"], "seat": "s01"}
    assert message is not None
    assert json.loads(message["data"]) == {"action": "dial", "target": "051885551234"}
    assert acd.seat("s01")["state"] == "not_ready"  # no queue call rings during it
    with container.uow() as uow:
        audits = [(a.action, a.ticket_id) for a in uow.session.query(AuditEntry)]
    assert ("dial_citizen", t["id"]) in audits
    assert api.post("/api/cti/dial", {"ticket_id": t["id"]}, as_="zjj").status_code == 403
