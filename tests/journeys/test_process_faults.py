"""Processes of the real demo that die come back (issue 18, item 1): a seat softphone and the
rq worker are killed with SIGKILL; `hotline demo` starts each again, the seat registers at
the edge again, and the worker runs jobs again."""

import os
import re
import signal
import time

from tests.demo_process import children
from tests.journeys.conftest import Journey

BACK_WITHIN_SECONDS = 60  # a generous bound for a loaded CI machine; the figure is in the note


def _one(journey: Journey, pattern: str) -> int:
    assert journey.demo.proc is not None
    pids = [
        pid
        for pid, cmd in children(journey.demo.proc.pid).items()
        if re.search(pattern, cmd) and "python" in cmd
    ]
    assert len(pids) == 1, (pattern, pids)
    return pids[0]


def _back(journey: Journey, pattern: str, old: int) -> int:
    deadline = time.monotonic() + BACK_WITHIN_SECONDS
    while time.monotonic() < deadline:
        try:
            pid = _one(journey, pattern)
        except AssertionError:
            pid = old
        if pid != old:
            return pid
        time.sleep(0.5)
    raise AssertionError(f"{pattern} not started again:\n{journey.demo.tail()}")


def test_a_killed_seat_and_a_killed_worker_come_back(journey: Journey) -> None:
    log = journey.demo.log
    registrations = log.read_text(errors="replace").count("seat s03 registration: 200")

    seat = _one(journey, r"hotline\.cli seat s03\b")
    os.kill(seat, signal.SIGKILL)
    _back(journey, r"hotline\.cli seat s03\b", seat)
    deadline = time.monotonic() + BACK_WITHIN_SECONDS
    while log.read_text(errors="replace").count("seat s03 registration: 200") <= registrations:
        assert time.monotonic() < deadline, journey.demo.tail()
        time.sleep(0.5)

    worker = _one(journey, r"hotline\.cli worker$")
    os.kill(worker, signal.SIGKILL)
    again = _back(journey, r"hotline\.cli worker$", worker)
    time.sleep(3)
    assert _one(journey, r"hotline\.cli worker$") == again  # still running
    text = log.read_text(errors="replace")
    assert "starting it again" in text
