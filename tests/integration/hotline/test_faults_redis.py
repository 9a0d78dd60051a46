"""Issue 18, item 1: a seat's command channel outlives a Redis outage (a real redis-server).

Redis is stopped (the process ends) and started again on the same port: polling never
raises while it is away, and once it is back the channel is subscribed again and the next
command arrives.
"""

import subprocess
import time
from pathlib import Path

import pytest
import redis

from callcenter.acd.channel import CommandChannel
from tests.redis_server import Server

pytestmark = pytest.mark.redis


@pytest.fixture
def server(redis_server: Server) -> Server:
    return redis_server


def _next(channel: CommandChannel, publisher: redis.Redis, text: str, seconds: float) -> object:
    """Publish until the channel hears it (a re-subscription may be under way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        publisher.publish("acd:seatcmd:s01", text)
        for _ in range(20):
            data = channel.poll()
            if data is not None:
                return data
            time.sleep(0.05)
    return None


def test_a_seat_channel_survives_redis_going_away_and_coming_back(server: Server) -> None:
    channel = CommandChannel(server.url, "acd:seatcmd:s01")
    publisher = redis.Redis.from_url(server.url)
    assert _next(channel, publisher, '{"action": "answer"}', 5) == b'{"action": "answer"}'

    server.stop()  # Redis gone: polling goes on quietly
    for _ in range(50):
        assert channel.poll() is None
        time.sleep(0.02)
    assert not channel.connected

    server.start()  # back on the same port
    publisher = redis.Redis.from_url(server.url)
    assert _next(channel, publisher, '{"action": "hangup"}', 15) == b'{"action": "hangup"}'
    assert channel.connected
    channel.close()


def test_a_seat_started_while_redis_is_away_subscribes_once_it_is_up(tmp_path: Path) -> None:
    server = Server(tmp_path)  # not started yet
    channel = CommandChannel(server.url, "acd:seatcmd:s01")
    assert channel.poll() is None and not channel.connected
    server.start()
    try:
        publisher = redis.Redis.from_url(server.url)
        assert _next(channel, publisher, "x", 15) == b"x"
    finally:
        channel.close()
        server.stop()


def _hotline(*args: str, url: str, log: Path) -> "subprocess.Popen[bytes]":
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_REDIS__URL"] = url
    env["HOTLINE_INSTANCE_PATH"] = str(log.parent)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def test_the_worker_and_the_schedule_outlive_a_redis_outage(server: Server, tmp_path: Path) -> None:
    """Redis down for a few seconds used to end `hotline worker` and `hotline cron` for good."""
    from rq import Queue

    worker = _hotline("worker", url=server.url, log=tmp_path / "worker.log")
    cron = _hotline("cron", url=server.url, log=tmp_path / "cron.log")
    try:
        time.sleep(3)  # both up and registered
        server.stop()
        time.sleep(4)  # Redis away
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
        assert cron.poll() is None, (tmp_path / "cron.log").read_text()[-2000:]
        server.start()

        job = Queue("default", connection=redis.Redis.from_url(server.url)).enqueue("os.getpid")
        deadline = time.monotonic() + 60
        while job.get_status(refresh=True).value != "finished" and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.5)
        assert job.get_status(refresh=True).value == "finished"
        assert job.return_value() not in (None, 0)
        assert cron.poll() is None, (tmp_path / "cron.log").read_text()[-2000:]
        # /healthz reads both kinds as alive from their heartbeats in this Redis.
        from hotline.web import _processes

        deadline = time.monotonic() + 60
        seen = _processes(redis.Redis.from_url(server.url))
        while any(p["status"] != "ok" for p in seen.values()) and time.monotonic() < deadline:
            time.sleep(1)
            seen = _processes(redis.Redis.from_url(server.url))
        assert {k: p["status"] for k, p in seen.items()} == {"worker": "ok", "scheduler": "ok"}
    finally:
        for proc in (worker, cron):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
