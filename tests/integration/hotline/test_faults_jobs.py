"""Issue 18, item 3: a job whose work horse is killed mid-run, or whose whole worker is
killed, runs again instead of staying "started" (a real redis-server and `hotline worker`)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq import Retry
from rq.job import Job

from tests.fault_jobs import slow_then_done
from tests.redis_server import Server

pytestmark = pytest.mark.redis


@pytest.fixture
def server(redis_server: Server) -> Server:
    return redis_server


def _worker(url: str, folder: Path) -> "subprocess.Popen[bytes]":
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_REDIS__URL"] = url
    env["HOTLINE_INSTANCE_PATH"] = str(folder)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    log = (folder / "worker.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its work horses in its group, to kill them all
        )
    finally:
        log.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def _wait(check: object, seconds: float, what: str, folder: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"{what}; worker log:\n{(folder / 'worker.log').read_text()[-3000:]}")


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_job_whose_work_horse_is_killed_runs_again(server: Server, tmp_path: Path) -> None:
    conn = redis.Redis.from_url(server.url)
    worker = _worker(server.url, tmp_path)
    try:
        job = Queue("dispatch", connection=conn).enqueue(
            slow_then_done, str(tmp_path), retry=Retry(max=2, interval=1)
        )
        _wait(lambda: (tmp_path / "pid").exists(), 60, "the job never started", tmp_path)
        horse = int((tmp_path / "pid").read_text())
        assert horse in _children(worker.pid)
        os.kill(horse, signal.SIGKILL)
        _wait(lambda: (tmp_path / "done").exists(), 60, "the job did not run again", tmp_path)
        _wait(
            lambda: Job.fetch(job.id, connection=conn).get_status() == "finished",
            10,
            "the job is not finished",
            tmp_path,
        )
        assert Job.fetch(job.id, connection=conn).return_value() == 2
    finally:
        _stop(worker)


def test_a_job_whose_worker_is_killed_is_noticed_and_runs_again(
    server: Server, tmp_path: Path
) -> None:
    """The worker and its work horse SIGKILLed together: nobody reports the job's end. A
    worker started again finds it abandoned in its maintenance and runs it again."""
    conn = redis.Redis.from_url(server.url)
    worker = _worker(server.url, tmp_path)
    job = Queue("dispatch", connection=conn).enqueue(
        slow_then_done, str(tmp_path), retry=Retry(max=2, interval=1)
    )
    _wait(lambda: (tmp_path / "pid").exists(), 60, "the job never started", tmp_path)
    killed = time.monotonic()
    _stop(worker)
    worker = _worker(server.url, tmp_path)  # what Keeper or systemd does
    try:
        _wait(lambda: (tmp_path / "done").exists(), 240, "the lost job never ran again", tmp_path)
        print(f"lost job noticed and run again after {time.monotonic() - killed:.0f} s")
        assert Job.fetch(job.id, connection=conn).return_value() == 2
    finally:
        _stop(worker)
