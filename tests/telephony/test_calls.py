"""Calls through the real SIP stack: a sipp caller, Kamailio, the ACD and pjsua2 seats."""

import uuid
from typing import Any

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from hotline.bootstrap import Container
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for


def _acd(container: Container, redis_conn: Any, **config: float) -> Acd:
    # A prefix of its own: nothing else using the test Redis can touch this hall.
    acd = Acd(redis_conn, AcdConfig(**config), prefix=f"t{uuid.uuid4().hex[:8]}:")  # type: ignore[arg-type]
    container._acd = acd
    return acd


def _kinds(acd: Acd, call: str | None = None) -> list[str]:
    """The call events (not the seats' state changes), of one call or of all."""
    return [
        e["type"]
        for e in acd.events()
        if e["type"] != "agent_state" and (call is None or e.get("call") == call)
    ]


def test_a_call_to_the_hotline_rings_a_ready_seat_which_answers(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    acd = _acd(container, real_redis, wrap_up_seconds=5)
    stack.start_edge()
    stack.start_seat("s01")
    acd.login("s01", "agent-1")
    acd.ready("s01")
    result = stack.call(talk_ms=500)
    assert result.returncode == 0, result.stdout[-2000:]
    calls = [e["call"] for e in acd.events() if e["type"] == "offered"]
    assert len(calls) == 1
    assert _kinds(acd, calls[0]) == ["offered", "route", "answered", "ended"]
    assert acd.call(calls[0])["seat"] == "s01"
    assert acd.seat("s01")["state"] == "wrap_up"
    cdr = call_record(container, calls[0])
    assert (cdr.outcome, cdr.seat, cdr.agent) == ("answered", "s01", "agent-1")
    assert cdr.caller.startswith("139") and cdr.wait_seconds is not None
    assert cdr.talk_seconds is not None and cdr.talk_seconds >= 0.4


def test_a_second_caller_waits_in_ringing_until_the_seat_is_free(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    acd = _acd(container, real_redis, wrap_up_seconds=0.5, max_wait_seconds=30)
    stack.start_edge()
    stack.start_seat("s01")
    acd.login("s01", "agent-1")
    acd.ready("s01")
    first = stack.call_in_background(talk_ms=2000)
    wait_for(lambda: "answered" in _kinds(acd), 10, "the first call to be answered")
    second = stack.call(talk_ms=300)
    assert first.wait(timeout=30) == 0
    assert second.returncode == 0, second.stdout[-2000:]
    offered = [e["call"] for e in acd.events() if e["type"] == "offered"]
    assert len(offered) == 2
    kinds = [(e["type"], e.get("call")) for e in acd.events()]
    # The second call was offered while the first was talking and routed only after it ended.
    assert kinds.index(("offered", offered[1])) < kinds.index(("ended", offered[0]))
    assert kinds.index(("route", offered[1])) > kinds.index(("ended", offered[0]))


def test_with_nobody_ready_the_caller_overflows_to_busy(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    acd = _acd(container, real_redis, max_wait_seconds=2)
    stack.start_edge(max_wait_seconds=2)
    result = stack.call()
    assert result.returncode == 0, result.stdout[-2000:]  # the scenario accepts 486 Busy
    assert "overflow" in _kinds(acd)
    [call] = [e["call"] for e in acd.events() if e["type"] == "overflow"]
    cdr = call_record(container, call)
    assert cdr.outcome == "overflow" and cdr.seat is None and cdr.wait_seconds >= 2


def test_a_seat_that_does_not_answer_is_skipped_for_the_next(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    acd = _acd(container, real_redis, wrap_up_seconds=5)
    stack.start_edge(ring_seconds=2)
    stack.start_seat("s01", auto_answer=None)  # rings, never answers
    stack.start_seat("s02")
    acd.login("s01", "agent-1")
    acd.ready("s01")  # idle longest: offered first
    acd.login("s02", "agent-2")
    acd.ready("s02")
    result = stack.call(talk_ms=300)
    assert result.returncode == 0, result.stdout[-2000:]
    events = [
        (e["type"], e.get("seat"))
        for e in acd.events()
        if e["type"] in ("route", "no_answer", "answered")
    ]
    assert events == [("route", "s01"), ("no_answer", "s01"), ("route", "s02"), ("answered", "s02")]
    assert acd.seat("s01")["misses"] == "1"
    [call] = [e["call"] for e in acd.events() if e["type"] == "offered"]
    cdr = call_record(container, call)
    assert (cdr.outcome, cdr.seat, cdr.missed_seats) == ("answered", "s02", "s01")


def test_the_operator_answers_from_the_browser_through_the_seat_process(
    stack: Stack, container: Container, real_redis: Any, api: Any
) -> None:
    from tests.conftest import REDIS_URL

    acd = _acd(container, real_redis, wrap_up_seconds=5)
    stack.start_edge(ring_seconds=20)
    stack.start_seat("s05", auto_answer=None, redis_url=REDIS_URL, acd_prefix=acd.prefix)
    assert api.post("/api/cti/seat", {"seat": "s05"}).status_code == 200
    assert api.post("/api/cti/state", {"state": "ready"}).status_code == 200
    caller = stack.call_in_background(talk_ms=500)
    wait_for(lambda: "route" in _kinds(acd), 10, "the call to ring at s05")
    # The ACD routes before the edge's INVITE reaches the softphone; a person sees it ring.
    wait_for(lambda: "seat s05 call " in stack.logs["s05"].read_text(), 10, "s05 to ring")
    sent = api.post("/api/cti/call", {"action": "answer"})
    assert sent.status_code == 202, sent.get_json()
    assert caller.wait(timeout=30) == 0
    [call] = [e["call"] for e in acd.events() if e["type"] == "offered"]
    assert _kinds(acd, call) == ["offered", "route", "answered", "ended"]
    assert call_record(container, call).agent == f"u{api.world.users['operator']}"
    assert "answer done" in stack.logs["s05"].read_text()
