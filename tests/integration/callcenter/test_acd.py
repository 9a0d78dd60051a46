"""The ACD against the real Redis: states, first-come order, skills, misses, overflow, abandon."""

import threading
import uuid
from collections.abc import Iterator

import pytest
import redis

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.acd.engine import AcdError
from callcenter.acd.engine import NotReadyReason
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def conn() -> Iterator["redis.Redis"]:
    c = redis.Redis.from_url(REDIS_URL)
    yield c
    c.close()


@pytest.fixture
def acd(conn: "redis.Redis", clock: Clock) -> Iterator[Acd]:
    prefix = f"test-acd:{uuid.uuid4().hex[:8]}:"
    yield Acd(
        conn,
        AcdConfig(max_wait_seconds=30, max_misses=2, wrap_up_seconds=10),
        prefix=prefix,
        clock=clock,
    )
    keys = list(conn.scan_iter(f"{prefix}*"))
    if keys:
        conn.delete(*keys)


def ready_seats(acd: Acd, clock: Clock, *seats: str) -> None:
    for seat in seats:
        acd.login(seat, f"agent-{seat}")
        acd.ready(seat)
        clock.advance(1)  # s1 has been idle longest


def test_a_call_rings_the_longest_idle_seat_and_the_seat_goes_through_its_states(
    acd: Acd, clock: Clock
) -> None:
    ready_seats(acd, clock, "s1", "s2")
    decision = acd.route("c1", "13800000001")
    assert (decision.action, decision.seat, decision.agent) == ("ring", "s1", "agent-s1")
    assert acd.seat("s1")["state"] == "ringing"
    assert acd.route("c1").seat == "s1"  # asking again finds the same seat
    acd.answered("c1", "s1")
    assert acd.seat("s1")["state"] == "talking" and acd.call("c1")["state"] == "talking"
    assert acd.ended("c1") == "ended"
    assert acd.seat("s1")["state"] == "wrap_up"
    assert acd.route("c2").seat == "s2"  # s1 is in wrap-up
    clock.advance(10)
    assert acd.route("c3").seat == "s1"  # wrap-up over: back in the pool
    kinds = [e["type"] for e in acd.events()]
    assert kinds.count("route") == 3 and "answered" in kinds and "ended" in kinds


def test_callers_wait_in_first_come_order_while_no_seat_is_free(acd: Acd, clock: Clock) -> None:
    ready_seats(acd, clock, "s1")
    assert acd.route("c1").action == "ring"
    acd.answered("c1", "s1")
    first = acd.route("c2")
    clock.advance(1)
    second = acd.route("c3")
    assert (first.action, second.action) == ("wait", "wait") and first.retry_ms == 1000
    assert acd.queue() == ["c2", "c3"]
    acd.ended("c1")
    clock.advance(10)
    # The later caller asks first, yet the seat is kept for the earlier one.
    assert acd.route("c3").action == "wait"
    assert acd.route("c2").seat == "s1"


def test_a_caller_who_hangs_up_while_waiting_is_abandoned(acd: Acd, clock: Clock) -> None:
    assert acd.route("c1", "13900000000").action == "wait"
    assert acd.ended("c1") == "abandoned"
    assert acd.queue() == [] and acd.route("c1").action == "gone"


def test_a_caller_who_hangs_up_while_ringing_frees_the_seat_without_a_miss(
    acd: Acd, clock: Clock
) -> None:
    ready_seats(acd, clock, "s1")
    acd.route("c1")
    assert acd.ended("c1") == "abandoned"
    assert acd.seat("s1")["state"] == "ready" and acd.seat("s1")["misses"] == "0"


def test_waiting_too_long_overflows(acd: Acd, clock: Clock) -> None:
    assert acd.route("c1", "13900000000").action == "wait"
    clock.advance(30)
    assert acd.route("c1").action == "overflow"
    assert acd.call("c1")["state"] == "overflow" and acd.queue() == []
    assert any(e["type"] == "overflow" and e["caller"] == "13900000000" for e in acd.events())


def test_a_seat_that_does_not_answer_is_skipped_and_set_not_ready_after_two_misses(
    acd: Acd, clock: Clock
) -> None:
    ready_seats(acd, clock, "s1", "s2")
    assert acd.route("c1").seat == "s1"
    again = acd.no_answer("c1", "s1")
    assert again.seat == "s2"  # the next seat; s1 is not tried again for this call
    assert acd.seat("s1")["state"] == "ready" and acd.seat("s1")["misses"] == "1"
    acd.answered("c1", "s2")
    assert acd.route("c2").seat == "s1"
    assert acd.no_answer("c2", "s1").action == "wait"  # s2 is talking
    seat = acd.seat("s1")
    assert (seat["state"], seat["reason"]) == ("not_ready", "missed")
    with pytest.raises(AcdError):
        acd.no_answer("c2", "s1")  # no longer ringing there


def test_a_seat_the_edge_cannot_reach_is_set_aside_without_a_miss(acd: Acd, clock: Clock) -> None:
    """Issue 18: after the edge restarted, every call counted a miss against every seat and
    left them all not ready. A seat the edge cannot reach is no operator's miss."""
    ready_seats(acd, clock, "s1", "s2")
    acd.r.hset(f"{acd.prefix}seat:s1", "misses", 1)  # one real miss earlier
    assert acd.route("c1").seat == "s1"
    again = acd.no_answer("c1", "s1", unreachable=True)
    assert again.seat == "s2"
    seat = acd.seat("s1")
    assert (seat["state"], seat["reason"], seat["misses"]) == ("not_ready", "unreachable", "1")
    kinds = [(e["type"], e.get("seat")) for e in acd.events()]
    assert ("unreachable", "s1") in kinds and ("no_answer", "s1") not in kinds
    acd.answered("c1", "s2")
    assert acd.route("c2").action == "wait"  # s1 is set aside, s2 talks
    assert not acd.reachable("s2")  # only a seat set aside comes back
    assert acd.reachable("s1")
    assert acd.seat("s1")["state"] == "ready" and acd.route("c2").seat == "s1"
    assert not acd.reachable("s1")  # a repeat changes nothing
    assert acd.seats() == ["s1", "s2"]


def test_an_operator_not_ready_is_not_undone_by_the_softphone_registering(
    acd: Acd, clock: Clock
) -> None:
    ready_seats(acd, clock, "s1")
    acd.not_ready("s1", NotReadyReason.MEAL)
    assert not acd.reachable("s1")
    assert acd.seat("s1")["reason"] == "meal"


def test_signing_in_again_to_a_ready_seat_takes_it_out_of_the_pool(acd: Acd, clock: Clock) -> None:
    ready_seats(acd, clock, "s1")
    acd.login("s1", "agent-2")  # another operator signs in: not ready until they say so
    assert acd.seat("s1")["state"] == "not_ready"
    assert acd.route("c1").action == "wait"


def test_skills_and_penalties(acd: Acd, clock: Clock) -> None:
    acd.login("general", "a1")
    acd.login("enterprise", "a2", skills=("enterprise",), penalty=1)
    acd.login("dialect", "a3", skills=("dialect",))
    for seat in ("enterprise", "general", "dialect"):
        acd.ready(seat)
        clock.advance(1)
    # The enterprise seat idles longest but has a penalty: general calls go elsewhere first.
    assert acd.route("c1").seat == "general"
    assert acd.route("c2", skill="enterprise").seat == "enterprise"
    assert acd.route("c3", skill="enterprise").action == "wait"
    assert acd.route("c4", skill="dialect").seat == "dialect"


def test_agent_states_are_checked(acd: Acd, clock: Clock) -> None:
    with pytest.raises(AcdError, match="not logged in"):
        acd.ready("nobody")
    ready_seats(acd, clock, "s1")
    acd.not_ready("s1", NotReadyReason.MEAL)
    assert acd.route("c1").action == "wait"
    acd.ready("s1")
    assert acd.route("c1").seat == "s1"
    with pytest.raises(AcdError, match="busy"):
        acd.not_ready("s1", NotReadyReason.BREAK)
    # A supervisor may force not-ready during a call: it applies when the call ends.
    acd.answered("c1", "s1")
    assert acd.not_ready("s1", NotReadyReason.SUPERVISOR) == "pending"
    acd.ended("c1")
    assert (acd.seat("s1")["state"], acd.seat("s1")["reason"]) == ("not_ready", "supervisor")
    acd.logout("s1")
    assert acd.seat("s1")["state"] == "offline"


def test_concurrent_routing_never_gives_a_seat_twice(acd: Acd, clock: Clock) -> None:
    ready_seats(acd, clock, *(f"s{i}" for i in range(10)))
    results: list[str | None] = []
    lock = threading.Lock()

    def caller(n: int) -> None:
        for i in range(5):
            decision = acd.route(f"c{n}-{i}")
            with lock:
                results.append(decision.seat)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seats = [s for s in results if s]
    assert len(seats) == 10 and len(set(seats)) == 10  # ten seats, each to one call
    assert len(acd.queue()) == 10


def test_a_seat_reserved_for_a_call_that_never_comes_is_released(acd: Acd, clock: Clock) -> None:
    stale = Acd(acd.r, AcdConfig(stale_ring_seconds=30), prefix=acd.prefix, clock=clock)
    ready_seats(stale, clock, "s1")
    assert stale.route("c1").seat == "s1"  # ... and the edge never rings it (it failed)
    clock.advance(31)
    assert stale.route("c2").seat == "s1"
    assert stale.call("c1")["state"] == "abandoned"
    assert any(e["type"] == "stale" and e["call"] == "c1" for e in stale.events())


def test_who_ended_a_call_is_kept_and_a_lost_seat_goes_offline(acd: Acd, clock: Clock) -> None:
    ready_seats(acd, clock, "s1", "s2", "s3")
    for call in ("c1", "c2", "c3"):
        decision = acd.route(call)
        assert decision.seat is not None
        acd.answered(call, decision.seat)
    acd.ended("c1", by="caller")
    acd.r.hset(f"{acd.prefix}call:c2", "transfer_target", "110")  # the seat's note
    acd.ended("c2", by="seat")
    acd.ended("c3", by="lost")
    reasons = {c: acd.call(c)["end_reason"] for c in ("c1", "c2", "c3")}
    assert reasons == {"c1": "caller", "c2": "transfer", "c3": "lost"}
    seat3 = acd.call("c3")["seat"]
    assert (acd.seat(seat3)["state"], acd.seat(seat3)["reason"]) == ("offline", "seat_lost")
    assert acd.route("c4").seat != seat3  # nobody routes to a seat that is gone
    events = len(acd.events())
    assert acd.ended("c3", by="caller") == "ended"  # the phone's late BYE changes nothing
    assert acd.call("c3")["end_reason"] == "lost" and len(acd.events()) == events


def test_wrap_up_ends_by_hand_or_when_its_time_runs_out(acd: Acd, clock: Clock) -> None:
    ready_seats(acd, clock, "s1")
    acd.route("c1")
    acd.answered("c1", "s1")
    acd.ended("c1", by="caller")
    ended_at = float(acd.call("c1")["ended_at"])
    assert float(acd.call("c1")["wrap_until"]) == ended_at + 10
    clock.advance(4)
    acd.ready("s1")  # the agent is done early
    assert float(acd.call("c1")["wrapped_at"]) == ended_at + 4
    assert acd.seat("s1")["last_call"] == "c1"


def test_a_not_ready_ordered_while_ringing_holds_if_the_call_is_missed_or_abandoned(
    acd: Acd, clock: Clock
) -> None:
    ready_seats(acd, clock, "s1", "s2")
    first = acd.route("c1").seat
    assert first is not None
    assert acd.not_ready(first, NotReadyReason.SUPERVISOR) == "pending"
    acd.no_answer("c1", first)  # missed: it does not go back to ready
    assert (acd.seat(first)["state"], acd.seat(first)["reason"]) == ("not_ready", "supervisor")
    second = acd.call("c1")["seat"]
    assert second and second != first
    assert acd.not_ready(second, NotReadyReason.SUPERVISOR) == "pending"
    acd.ended("c1", by="caller")  # abandoned while ringing
    assert (acd.seat(second)["state"], acd.seat(second)["reason"]) == ("not_ready", "supervisor")
    # the order is spent: the next call the seat takes ends in wrap-up as usual
    acd.ready(second)
    acd.route("c2")
    acd.answered("c2", second)
    acd.ended("c2", by="caller")
    assert acd.seat(second)["state"] == "wrap_up"
