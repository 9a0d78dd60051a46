"""The ACD's HTTP face for Kamailio, and the call records it keeps, on both databases."""

import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from callcenter.models import CallRecord
from hotline.bootstrap import Container
from tests.conftest import call_record as record

pytestmark = pytest.mark.redis


def ask(client: FlaskClient, path: str, **args: str) -> str:
    resp = client.get(f"/acd/{path}", query_string=args)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_data(as_text=True).strip()


def test_a_call_goes_from_offer_to_end_and_its_record_follows(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    acd = container.acd
    acd.login("s01", "agent-1")
    acd.ready("s01")
    assert ask(client, "route", call_id="c1", **{"from": "13812345678"}) == "ring s01 agent-1"
    assert record(container, "c1").outcome == "ringing"
    assert ask(client, "answered", call_id="c1", seat="s01") == "ok"
    assert record(container, "c1").outcome == "talking"
    assert ask(client, "ended", call_id="c1") == "ended"
    assert ask(client, "ended", call_id="c1") == "ended"  # BYE seen twice: one end
    row = record(container, "c1")
    assert (row.outcome, row.caller, row.seat) == ("answered", "13812345678", "s01")
    assert row.answered_at is not None and row.ended_at is not None


def test_waiting_then_hanging_up_is_an_abandoned_call_with_one_record(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    assert ask(client, "route", call_id="c2").startswith("wait ")
    assert ask(client, "route", call_id="c2").startswith("wait ")
    assert ask(client, "ended", call_id="c2") == "abandoned"
    row = record(container, "c2")
    assert row.outcome == "abandoned" and row.seat is None and row.wait_seconds is not None
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(CallRecord)) == 1


def test_a_stale_report_never_moves_a_record_back(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    from callcenter.records.sync import sync_record

    acd = container.acd
    acd.login("s01", "agent-1")
    acd.ready("s01")
    ask(client, "route", call_id="c3")
    ringing = acd.call("c3")
    ask(client, "answered", call_id="c3", seat="s01")
    ask(client, "ended", call_id="c3")
    sync_record(container.uow(), "c3", ringing)  # an older view arriving late
    assert record(container, "c3").outcome == "answered"


def test_only_this_machine_may_ask_and_bad_requests_are_refused(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    far = client.get("/acd/route?call_id=x", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert far.status_code == 403
    assert client.get("/acd/route").status_code == 400
    assert client.get("/acd/route", query_string={"call_id": "x" * 201}).status_code == 400
    assert ask(client, "no_answer", call_id="nope", seat="s9").startswith("error")


def test_calls_the_edge_forgot_are_closed_with_a_final_record(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    acd = container.acd
    clock = {"now": 1_000_000.0}
    acd.clock = lambda: clock["now"]
    acd.login("s01", "agent-1")
    acd.ready("s01")
    assert ask(client, "route", call_id="k1").startswith("ring s01")  # rings, never reported
    assert ask(client, "route", call_id="k2").startswith("wait")  # waits, never asks again
    clock["now"] += acd.config.stale_ring_seconds / 2
    assert ask(client, "route", call_id="k3").startswith("wait")  # still asking: not forgotten
    clock["now"] += acd.config.stale_ring_seconds / 2 + 1
    assert ask(client, "route", call_id="k3").startswith(("wait", "ring"))
    for call_id in ("k1", "k2"):
        row = record(container, call_id)
        assert row.outcome == "abandoned", call_id
        assert row.ended_at is not None
    assert record(container, "k3").outcome in ("queued", "ringing")
    assert acd.seat("s01")["state"] in ("ready", "ringing")  # the forgotten seat is free again
    assert acd.forgotten() == []  # each is closed once


def test_the_schedule_closes_forgotten_calls_when_no_call_comes(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    import fakeredis

    from callcenter.jobs import close_forgotten_calls
    from callcenter.records.sync import close_forgotten
    from hotline.jobs import schedule

    [job] = [
        j
        for j in schedule(container.settings, fakeredis.FakeRedis()).get_jobs()
        if j.func is close_forgotten_calls
    ]
    assert job.interval == 30
    acd = container.acd
    clock = {"now": 1_000_000.0}
    acd.clock = lambda: clock["now"]
    assert ask(client, "route", call_id="q1").startswith("wait")  # nobody ready; never asks again
    assert close_forgotten(container.uow, acd) == []  # not yet
    clock["now"] += acd.config.stale_ring_seconds + 1
    assert close_forgotten(container.uow, acd) == ["q1"]  # what the job does, without a call
    row = record(container, "q1")
    assert (row.outcome, row.end_reason) == ("abandoned", "edge")
    assert close_forgotten(container.uow, acd) == []


def test_a_seat_event_comes_from_this_machine_and_names_a_known_event(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    pushed: list[tuple[str, dict[str, Any]]] = []
    container.dispatch.publish = lambda event, payload, rooms: pushed.append((event, payload))
    container.acd.login("s01", "u1", user_id=1)
    good = {"seat": "s01", "event": "transfer_failed", "detail": "110 480"}
    far = client.get("/acd/seat_event", query_string=good, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert far.status_code == 403
    unknown = client.get("/acd/seat_event", query_string={**good, "event": "explode"})
    assert unknown.status_code == 400
    assert client.get("/acd/seat_event", query_string={"event": "transferred"}).status_code == 400
    assert pushed == []  # nothing reached the operator from the refused ones
    assert ask(client, "seat_event", **good) == "ok"
    [(event, payload)] = pushed
    assert event == "call.event"
    assert (payload["text"], payload["detail"]) == ("转接失败", "110 480")


def test_an_unreachable_seat_is_asked_to_register_and_the_edge_start_asks_every_seat(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    """Issue 18: a restarted edge knows no registration. The edge's word "unreachable" sets
    the seat aside without a miss and asks its softphone, on its command channel, to register
    again; the edge's start asks every seat."""
    from callcenter.acd.keys import command_channel

    acd = container.acd
    for seat in ("s01", "s02"):
        acd.login(seat, f"agent-{seat}")
        acd.ready(seat)
    listener = acd.r.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(*(command_channel(acd.prefix, s) for s in ("s01", "s02")))

    def heard() -> list[tuple[str, str]]:
        out = []
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            m = listener.get_message(timeout=0.1)  # None for subscribe confirmations too
            if m is not None:
                out.append((m["channel"].decode().rsplit(":", 1)[1], m["data"].decode()))
        return out

    first = ask(client, "route", call_id="u1").split()[1]
    other = "s02" if first == "s01" else "s01"
    assert ask(client, "no_answer", call_id="u1", seat=first, cause="unreachable").startswith(
        f"ring {other}"
    )
    assert heard() == [(first, '{"action": "reregister"}')]
    assert (acd.seat(first)["state"], acd.seat(first)["misses"]) == ("not_ready", "0")
    # The other seat rings out: that is a miss, and nobody is asked to register.
    assert ask(client, "no_answer", call_id="u1", seat=other, cause="missed").startswith("wait")
    assert acd.seat(other)["misses"] == "1" and heard() == []
    assert ask(client, "ended", call_id="u1", by="caller") == "abandoned"
    assert record(container, "u1").missed_seats == other  # the unreached seat missed nothing
    assert ask(client, "edge_started") == "ok 2"
    assert sorted(heard()) == [
        ("s01", '{"action": "reregister"}'),
        ("s02", '{"action": "reregister"}'),
    ]
    listener.close()
    forged = client.get("/acd/edge_started", headers={"X-Hotline-Acd-Secret": "guess"})
    assert forged.status_code == 403


def test_a_record_the_database_could_not_take_is_written_once_it_is_back(
    client: FlaskClient, container: Container, real_redis: Any
) -> None:
    """Issue 18 (the chaos bench): the database away while a call was answered and ended left
    its record "ringing" for ever. The call goes on, and the record is written later."""
    from callcenter.records.sync import sync_deferred
    from infra.db import make_engine
    from infra.db import make_session_factory
    from infra.settings import DatabaseSettings

    acd = container.acd
    acd.login("s01", "agent-1")
    acd.ready("s01")
    assert ask(client, "route", call_id="d1").startswith("ring s01")
    live = container.session_factory
    # Nothing listens on port 9: every connection is refused, as by a database that is down.
    away = make_engine(DatabaseSettings(url="postgresql+psycopg://postgres@127.0.0.1:9/none"))
    container.session_factory = make_session_factory(away)
    try:
        assert ask(client, "answered", call_id="d1", seat="s01") == "ok"  # the call goes on
        assert ask(client, "ended", call_id="d1", by="caller") == "ended"
        assert sync_deferred(container.uow, acd) == []  # still away: kept for later
    finally:
        container.session_factory = live
        away.dispose()
    assert record(container, "d1").outcome == "ringing"  # all it had before going away
    assert sync_deferred(container.uow, acd) == ["d1"]
    row = record(container, "d1")
    assert (row.outcome, row.seat, row.end_reason) == ("answered", "s01", "caller")
    assert row.answered_at is not None and row.ended_at is not None
    assert sync_deferred(container.uow, acd) == []  # written once
