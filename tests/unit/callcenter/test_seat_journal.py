"""The seat's journal of its calls and the thread that reports it (callcenter.acd.seatsync)."""

import threading
import time
from typing import Any

from callcenter.acd.seatsync import CallJournal
from callcenter.acd.seatsync import SeatSync


def test_the_journal_keeps_each_calls_answer_and_end_as_first_seen() -> None:
    journal = CallJournal("s01")
    journal.ringing("c1", 100.0)
    journal.answered("c1", 105.0)
    journal.answered("c1", 130.0)  # a re-INVITE (hold) is no new answer
    journal.ended("c1", 160.0, by_seat=False)
    journal.ended("c1", 170.0, by_seat=True)  # the second DISCONNECTED changes nothing
    journal.ringing("c2", 200.0)
    journal.ended("c2", 210.0, by_seat=True)  # rang, never answered
    journal.answered("nobody", 1.0)  # a call the journal never had: not made up

    body = journal.snapshot(now=220.0)

    assert body == {
        "seat": "s01",
        "as_of": 220.0,
        "registered": False,
        "calls": [
            {"call_id": "c1", "answered_at": 105.0, "ended_at": 160.0, "by": "caller"},
            {"call_id": "c2", "answered_at": None, "ended_at": 210.0, "by": "seat"},
        ],
    }


def test_ended_calls_are_reported_for_ten_minutes_and_held_ones_as_long_as_they_last() -> None:
    journal = CallJournal("s01")
    journal.ringing("old", 0.0)
    journal.answered("old", 1.0)
    journal.ended("old", 10.0, by_seat=True)
    journal.ringing("long", 5.0)
    journal.answered("long", 6.0)
    assert [c["call_id"] for c in journal.snapshot(now=610.0)["calls"]] == ["old", "long"]
    assert [c["call_id"] for c in journal.snapshot(now=611.0)["calls"]] == ["long"]
    journal.registered = True
    assert journal.snapshot(now=3600.0)["registered"] is True


def test_the_sender_retries_until_the_app_accepts_and_sends_the_latest() -> None:
    posted: list[dict[str, Any]] = []
    accepted = threading.Event()

    def post(body: dict[str, Any]) -> bool:
        posted.append(body)
        if len(posted) < 3:
            return False  # the app is away
        accepted.set()
        return True

    sender = SeatSync(post, interval=0.05)
    assert sender.send_once() is True and posted == []  # nothing to send yet
    sender.offer({"n": 1})
    sender.offer({"n": 2}, urgent=True)
    sender.start()
    try:
        assert accepted.wait(5)
    finally:
        sender.stop()
    assert posted[:3] == [{"n": 2}] * 3


def test_the_sender_survives_a_failing_post() -> None:
    calls: list[int] = []

    def post(body: dict[str, Any]) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return True

    sender = SeatSync(post, interval=0.05)
    sender.offer({}, urgent=True)
    sender.start()
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    sender.stop()
    assert len(calls) >= 2
