"""Issue 18 item 5: the web app killed while calls ring or talk.

The edge's reports of an answer and an end reach the app once; while it is away they are lost.
The seats' softphones report their own calls (`/acd/seat_sync`) until the app has heard them,
and the ACD applies each report once. A seat stuck anyway is freed by hand: test_seat_reset.py.
"""

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.acd.engine import AcdError
from callcenter.acd.engine import ReportedCall
from callcenter.edge.credentials import ACD_SECRET_HEADER
from callcenter.models import CallbackTask
from hotline.bootstrap import Container
from tests.conftest import T0
from tests.conftest import call_record as record

pytestmark = pytest.mark.redis

NUMBER = "13812345678"
WRAP = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hall(container: Container, real_redis: Any) -> tuple[Acd, Clock]:
    return make_hall(container, real_redis)


def make_hall(container: Container, conn: Any) -> tuple[Acd, Clock]:
    """The app's ACD on the test Redis, under its own prefix, on a clock moved by hand."""
    clock = Clock()
    acd = Acd(
        conn,
        AcdConfig(wrap_up_seconds=WRAP, seat_sync_seconds=5),
        prefix=f"t{uuid.uuid4().hex[:8]}:",
        clock=clock,
    )
    container._acd = acd
    return acd, clock


def ready(acd: Acd, *seats: str) -> None:
    for seat in seats:
        acd.login(seat, f"agent-{seat}")
        acd.ready(seat)


def ask(client: FlaskClient, path: str, **args: str) -> str:
    resp = client.get(f"/acd/{path}", query_string=args)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_data(as_text=True).strip()


def sync(client: FlaskClient, seat: str, as_of: float, *calls: dict[str, Any], **more: Any) -> Any:
    """POST what a seat's softphone holds, as `callcenter.acd.seatsync.CallJournal` writes it."""
    body = {"seat": seat, "as_of": as_of, "registered": True, "calls": list(calls), **more}
    return client.post("/acd/seat_sync", json=body)


def entry(call_id: str, answered: float | None, ended: float | None = None, by: str = "") -> Any:
    return {"call_id": call_id, "answered_at": answered, "ended_at": ended, "by": by}


def tasks(container: Container) -> list[CallbackTask]:
    with container.uow() as uow:
        rows = list(uow.session.scalars(sa.select(CallbackTask).order_by(CallbackTask.id)))
        uow.session.expunge_all()
        return rows


def epoch(when: Any) -> float:
    return float(when.timestamp())


# ---------------------------------------------------------------- the ACD's rules


def test_an_answer_and_an_end_reported_only_by_the_seat_take_the_seats_times(
    hall: tuple[Acd, Clock],
) -> None:
    acd, clock = hall
    ready(acd, "s1")
    rang = clock.now
    assert acd.route("c1").seat == "s1"
    clock.now += 60  # the app was away: the edge's reports are lost
    report = [ReportedCall("c1", rang + 2, rang + 40, "caller")]

    assert acd.seat_sync("s1", report, as_of=clock.now) == ["c1"]

    call = acd.call("c1")
    assert (call["state"], call["end_reason"]) == ("ended", "caller")
    assert float(call["answered_at"]) == rang + 2 and float(call["ended_at"]) == rang + 40
    seat = acd.seat("s1")
    assert (seat["state"], float(seat["since"])) == ("wrap_up", rang + 40)  # from the real end
    events = acd.events()
    assert acd.seat_sync("s1", report, as_of=clock.now) == []  # told again: nothing changes
    assert acd.events() == events and acd.call("c1") == call
    assert acd.ended("c1", by="seat") == "ended"  # the edge's late report: the same end
    assert acd.call("c1")["end_reason"] == "caller" and acd.events() == events


def test_reported_times_are_kept_between_the_ringing_and_now(hall: tuple[Acd, Clock]) -> None:
    acd, clock = hall
    ready(acd, "s1")
    rang = clock.now
    acd.route("c1")
    clock.now += 10
    acd.seat_sync("s1", [ReportedCall("c1", rang - 500, clock.now + 500, "seat")])
    call = acd.call("c1")
    assert (float(call["answered_at"]), float(call["ended_at"])) == (rang, clock.now)


def test_a_talking_call_the_seat_does_not_hold_ends_as_unreported_once_old_enough(
    hall: tuple[Acd, Clock],
) -> None:
    acd, clock = hall
    ready(acd, "s1")
    acd.route("c1")
    acd.answered("c1", "s1")
    clock.now += 3
    assert acd.seat_sync("s1", [], as_of=clock.now) == []  # younger than a sync interval
    clock.now += 10
    before_the_answer = clock.now - 20  # a report taken before the call came
    assert acd.seat_sync("s1", [], as_of=before_the_answer) == []
    assert acd.seat_sync("s1", [ReportedCall("c1")], as_of=clock.now) == []  # still ringing there
    assert acd.seat_sync("s1", [], as_of=clock.now) == ["c1"]  # the softphone restarted
    call = acd.call("c1")
    assert (call["state"], call["end_reason"], float(call["ended_at"])) == (
        "ended",
        "unreported",
        clock.now,
    )
    assert acd.seat("s1")["state"] == "wrap_up"  # as after any call: the seat is there


def test_a_seat_cannot_report_on_another_seats_call(hall: tuple[Acd, Clock]) -> None:
    acd, clock = hall
    ready(acd, "s2")
    acd.login("s1", "agent-s1")  # s1 not ready: the call rings s2
    assert acd.route("c1").seat == "s2"
    clock.now += 30
    forged = [ReportedCall("c1", clock.now - 20, clock.now - 10, "seat")]
    assert acd.seat_sync("s1", forged, as_of=clock.now) == []
    assert acd.call("c1")["state"] == "ringing" and acd.seat("s2")["state"] == "ringing"
    acd.answered("c1", "s2")
    assert acd.seat_sync("s1", forged, as_of=clock.now) == []
    assert acd.call("c1")["state"] == "talking" and acd.seat("s2")["state"] == "talking"
    with pytest.raises(AcdError):
        acd.answered("c1", "s1")


def test_an_answer_told_twice_is_one_answer(hall: tuple[Acd, Clock]) -> None:
    acd, clock = hall
    ready(acd, "s1")
    acd.route("c1")
    acd.answered("c1", "s1")
    answered_at = acd.call("c1")["answered_at"]
    clock.now += 2
    acd.answered("c1", "s1")  # the seat's report after the edge's
    assert acd.call("c1")["answered_at"] == answered_at
    assert [e["type"] for e in acd.events()].count("answered") == 1


def test_a_call_closed_for_want_of_reports_is_answered_after_all_when_the_seat_says_so(
    hall: tuple[Acd, Clock],
) -> None:
    acd, clock = hall
    ready(acd, "s1")
    rang = clock.now
    acd.route("c1")
    clock.now += 61  # the app away longer than stale_ring_seconds: the edge "forgot" the call
    acd.ended("c1", by="edge")
    assert acd.call("c1")["state"] == "abandoned" and acd.seat("s1")["state"] == "ready"

    assert acd.seat_sync("s1", [ReportedCall("c1", rang + 3)], as_of=clock.now) == ["c1"]

    call, seat = acd.call("c1"), acd.seat("s1")
    assert (call["state"], float(call["answered_at"])) == ("talking", rang + 3)
    assert "ended_at" not in call and "end_reason" not in call
    assert (seat["state"], seat["call"]) == ("talking", "c1")  # not given the next call
    assert acd.route("c2").action == "wait"
    clock.now += 5
    acd.seat_sync("s1", [ReportedCall("c1", rang + 3, clock.now - 1, "caller")])
    assert acd.call("c1")["state"] == "ended" and acd.seat("s1")["state"] == "wrap_up"


def test_a_caller_who_hung_up_while_ringing_stays_abandoned(hall: tuple[Acd, Clock]) -> None:
    acd, clock = hall
    ready(acd, "s1")
    acd.route("c1")
    clock.now += 2
    acd.ended("c1", by="caller")
    # A seat that says it answered cannot undo a CANCEL the edge saw.
    assert acd.seat_sync("s1", [ReportedCall("c1", clock.now - 1)], as_of=clock.now) == []
    assert acd.call("c1")["state"] == "abandoned" and acd.seat("s1")["state"] == "ready"


# ---------------------------------------------------------------- over HTTP, with records


def test_an_answer_the_edge_never_reported_makes_an_answered_record_without_a_call_back(
    client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    acd, clock = hall
    ready(acd, "s01")
    assert ask(client, "route", call_id="c1", **{"from": NUMBER}) == "ring s01 agent-s01"
    rang = clock.now
    clock.now += 20  # web killed: /acd/answered and /acd/ended never arrived

    resp = sync(client, "s01", clock.now, entry("c1", rang + 4))
    assert (resp.status_code, resp.get_data(as_text=True)) == (200, "ok 1\n")
    assert record(container, "c1").outcome == "talking"
    clock.now += 30
    ended = sync(client, "s01", clock.now, entry("c1", rang + 4, rang + 44, "caller"))
    assert ended.status_code == 200

    row = record(container, "c1")
    assert (row.outcome, row.end_reason) == ("answered", "caller")
    assert (epoch(row.answered_at), epoch(row.ended_at)) == (rang + 4, rang + 44)
    assert row.talk_seconds == 40
    assert tasks(container) == []  # the caller got through: nothing to call back
    assert acd.seat("s01")["state"] == "wrap_up"


def test_the_softphones_journal_is_what_the_app_takes(
    client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    from callcenter.acd.seatsync import CallJournal

    acd, clock = hall
    ready(acd, "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    journal = CallJournal("s01")
    journal.registered = True
    journal.ringing("c1", clock.now)
    journal.answered("c1", clock.now + 1)
    clock.now += 10
    journal.ended("c1", clock.now - 1, by_seat=True)
    resp = client.post("/acd/seat_sync", json=journal.snapshot(clock.now))
    assert resp.get_data(as_text=True) == "ok 1\n"
    assert (record(container, "c1").outcome, record(container, "c1").end_reason) == (
        "answered",
        "seat",
    )


def test_a_repeated_sync_changes_nothing(
    client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    acd, clock = hall
    ready(acd, "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    ask(client, "answered", call_id="c1", seat="s01")
    rang = clock.now
    clock.now += 30
    report = entry("c1", rang + 1, rang + 25, "seat")
    assert sync(client, "s01", clock.now, report).get_data(as_text=True) == "ok 1\n"
    events, row = acd.events(), record(container, "c1")
    clock.now += 5
    for _ in range(3):
        assert sync(client, "s01", clock.now, report).get_data(as_text=True) == "ok 0\n"
    assert ask(client, "ended", call_id="c1", by="caller") == "ended"  # and the edge, late
    assert acd.events() == events
    again = record(container, "c1")
    assert (again.outcome, again.ended_at, again.end_reason) == (
        row.outcome,
        row.ended_at,
        "seat",
    )
    assert epoch(again.ended_at) == rang + 25  # the seat's time, not the edge's


def test_a_talking_call_the_seat_does_not_hold_is_closed_as_unreported(
    client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    acd, clock = hall
    ready(acd, "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    ask(client, "answered", call_id="c1", seat="s01")
    clock.now += 600  # the call ended while the app was away, and the seat restarted since
    assert sync(client, "s01", clock.now).get_data(as_text=True) == "ok 1\n"
    row = record(container, "c1")
    assert (row.outcome, row.end_reason, epoch(row.ended_at)) == (
        "answered",
        "unreported",
        clock.now,
    )
    assert acd.seat("s01")["state"] == "wrap_up"


def test_a_call_given_up_while_the_app_was_away_is_answered_and_its_call_back_closed(
    client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    from callcenter.records.sync import close_forgotten

    acd, clock = hall
    ready(acd, "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    rang = clock.now
    clock.now += 61
    assert close_forgotten(container.uow, acd) == ["c1"]  # what the worker does meanwhile
    assert record(container, "c1").outcome == "abandoned"
    assert [t.status for t in tasks(container)] == ["open"]

    assert sync(client, "s01", clock.now, entry("c1", rang + 2)).status_code == 200

    assert record(container, "c1").outcome == "talking"
    [task] = tasks(container)
    assert (task.status, task.result) == ("done", "called_again")
    assert acd.seat("s01")["state"] == "talking"
    clock.now += 10
    sync(client, "s01", clock.now, entry("c1", rang + 2, clock.now - 1, "caller"))
    row = record(container, "c1")
    assert (row.outcome, row.end_reason, row.talk_seconds) == ("answered", "caller", 68)


def test_a_seat_reporting_another_seats_call_changes_nothing(
    client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    acd, clock = hall
    ready(acd, "s02")
    acd.login("s01", "agent-s01")
    assert ask(client, "route", call_id="c1", **{"from": NUMBER}).startswith("ring s02")
    clock.now += 30
    resp = sync(client, "s01", clock.now, entry("c1", clock.now - 20, clock.now - 5, "seat"))
    assert resp.get_data(as_text=True) == "ok 0\n"
    assert acd.call("c1")["state"] == "ringing" and acd.seat("s02")["state"] == "ringing"
    assert record(container, "c1").outcome == "ringing"


def test_a_sync_without_the_secret_or_from_afar_or_malformed_is_refused(
    client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    acd, clock = hall
    ready(acd, "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    clock.now += 30
    body = {"seat": "s01", "as_of": clock.now, "calls": [entry("c1", clock.now - 5)]}
    forged = client.post("/acd/seat_sync", json=body, headers={ACD_SECRET_HEADER: "guess"})
    far = client.post("/acd/seat_sync", json=body, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert (forged.status_code, far.status_code) == (403, 403)
    for bad in (
        {**body, "seat": "s 1"},
        {**body, "calls": [{"call_id": "c1", "answered_at": "soon"}]},
        {**body, "calls": [{"call_id": "c1", "by": "attacker"}]},
        {**body, "extra": 1},
        {**body, "calls": [entry(f"c{i}", None) for i in range(201)]},
    ):
        assert client.post("/acd/seat_sync", json=bad).status_code in (400, 422), bad
    assert acd.call("c1")["state"] == "ringing"


def test_a_registered_seat_the_edge_had_set_aside_takes_calls_again(
    client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    acd, clock = hall
    ready(acd, "s01")
    acd.route("c1")
    acd.no_answer("c1", "s01", unreachable=True)
    assert acd.seat("s01")["reason"] == "unreachable"
    assert sync(client, "s01", clock.now, registered=False).status_code == 200
    assert acd.seat("s01")["state"] == "not_ready"
    assert acd.softphones() == {"s01": False}
    assert sync(client, "s01", clock.now).status_code == 200
    assert acd.seat("s01")["state"] in ("ready", "ringing")  # back in the pool: c1 rings it
    # /healthz counts the softphones heard from, and how many are registered.
    assert acd.softphones() == {"s01": True}
    seats = client.get("/healthz").get_json()["processes"]["seats"]
    assert seats == {"alive": 1, "registered": 1, "status": "ok"}
