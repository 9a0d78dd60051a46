"""The SIP edge failing under the seats: restarted (registrations lost), or unable to reach a
seat's softphone. Neither is an operator's miss, and the seats take calls again within
seconds (issue 18, item 4)."""

import uuid
from typing import Any

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.edge.kamailio import edge_answers
from callcenter.edge.kamailio import stop_stale_edges
from hotline.bootstrap import Container
from tests.conftest import REDIS_URL
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for


def _acd(container: Container, redis_conn: Any) -> Acd:
    acd = Acd(redis_conn, AcdConfig(wrap_up_seconds=0.5), prefix=f"t{uuid.uuid4().hex[:8]}:")
    container._acd = acd
    return acd


def _offered(acd: Acd) -> list[str]:
    return [e["call"] for e in acd.events() if e["type"] == "offered"]


def test_a_restarted_edge_gets_every_seat_back_at_once_and_counts_no_miss(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    acd = _acd(container, real_redis)
    stack.start_edge()
    seats = ("s01", "s02")
    for seat in seats:
        stack.start_seat(seat, redis_url=REDIS_URL, acd_prefix=acd.prefix, acd_url=stack.acd_url)
        acd.login(seat, f"agent-{seat}")
        acd.ready(seat)
    assert stack.call(talk_ms=300).returncode == 0
    assert edge_answers("127.0.0.1", stack.port)  # what /healthz says of the edge
    stack.kill("kamailio")  # SIGKILL of the main process: every registration is gone...
    # ...but its workers live on and hold the port; `hotline sip` clears them first.
    assert stop_stale_edges(stack.tmp / "kamailio.cfg")
    assert not edge_answers("127.0.0.1", stack.port)
    stack.start_edge()
    # The new edge tells the app it started; the app asks each softphone to register again,
    # long before their refresh (60 s) would.
    wait_for(
        lambda: all(stack.log(s).count("registration: 200") >= 2 for s in seats),
        20,
        "both seats to register with the new edge",
    )
    result = stack.call(talk_ms=300, calls=2, rate=2)
    assert result.returncode == 0, result.stdout[-2000:]
    for call in _offered(acd):
        assert call_record(container, call).outcome == "answered"
    for seat in seats:
        assert acd.seat(seat)["misses"] == "0", seat
    assert not [e for e in acd.events() if e["type"] in ("no_answer", "unreachable")]


def test_a_seat_whose_softphone_is_not_registered_is_set_aside_without_a_miss(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    acd = _acd(container, real_redis)
    stack.start_edge()
    stack.start_seat("s02", redis_url=REDIS_URL, acd_prefix=acd.prefix, acd_url=stack.acd_url)
    acd.login("s01", "agent-1")  # signed in, but its softphone never registered
    acd.ready("s01")  # idle longest: offered first
    acd.login("s02", "agent-2")
    acd.ready("s02")
    result = stack.call(talk_ms=300)
    assert result.returncode == 0, result.stdout[-2000:]
    [call] = _offered(acd)
    steps = [(e["type"], e.get("seat")) for e in acd.events() if e.get("call") == call]
    assert ("unreachable", "s01") in steps and ("answered", "s02") in steps
    seat = acd.seat("s01")
    assert (seat["state"], seat["reason"], seat["misses"]) == ("not_ready", "unreachable", "0")
    cdr = call_record(container, call)
    assert (cdr.outcome, cdr.seat, cdr.missed_seats) == ("answered", "s02", "")
