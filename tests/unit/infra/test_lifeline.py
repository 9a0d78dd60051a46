"""The restart loop of `hotline worker` and `hotline cron` (infra.lifeline)."""

from pathlib import Path

import pytest
import redis

from infra.lifeline import keep_running


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_outages_restart_the_loop_with_growing_waits_until_it_returns() -> None:
    clock = Clock()
    runs: list[int] = []

    def run() -> None:
        runs.append(1)
        if len(runs) < 8:
            raise redis.ConnectionError("Connection refused")

    keep_running("worker", run, sleep=clock.sleep, clock=clock)

    assert len(runs) == 8
    assert clock.slept == [1, 2, 4, 8, 16, 30, 30]


def test_a_run_that_lasted_resets_the_wait() -> None:
    clock = Clock()
    runs: list[int] = []

    def run() -> None:
        runs.append(1)
        if len(runs) == 3:
            clock.now += 120  # ran for two minutes before Redis went away again
        if len(runs) < 5:
            raise redis.TimeoutError("Timeout reading from socket")

    keep_running("cron", run, sleep=clock.sleep, clock=clock)

    assert clock.slept == [1, 2, 1, 2]


def test_a_bug_is_not_swallowed() -> None:
    def run() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        keep_running("worker", run, sleep=lambda s: None)


def test_the_keeper_starts_a_killed_process_again_and_leaves_a_stopped_one(
    tmp_path: Path,
) -> None:
    """Real processes: one killed (SIGKILL) comes back, one stopped (SIGTERM) stays stopped."""
    import signal
    import sys

    from infra.lifeline import Keeper

    clock = Clock()
    keeper = Keeper(clock=clock)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    killed = keeper.start("seat s01", sleeper)
    stopped = keeper.start("cron", sleeper)
    try:
        killed.send_signal(signal.SIGKILL)
        stopped.send_signal(signal.SIGTERM)
        killed.wait()
        stopped.wait()
        assert keeper.check() == []  # noticed: s01 is due in 1 s, cron is left alone
        clock.now += 1
        assert keeper.check() == ["seat s01"]
        alive = [p for p in keeper.processes() if p.poll() is None]
        assert len(alive) == 1 and alive[0] is not killed
        clock.now += 100
        assert keeper.check() == []  # cron stays stopped
    finally:
        keeper.stop(timeout=5)
    assert all(p.poll() is not None for p in keeper.processes())
