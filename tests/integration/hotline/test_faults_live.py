"""Issue 18, item 2: a frozen Redis must not hold a request that already committed.

Live pushes go through Redis (Socket.IO's message queue) after a change commits. Redis is
frozen here for real (SIGSTOP on a redis-server of the test's own): the create still
answers while Redis is stopped, and the push is not lost, only late: it reaches Redis once
the server runs again.
"""

import dataclasses
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from infra.settings import RedisSettings
from infra.settings import Settings
from tests.conftest import World
from tests.redis_server import Server

pytestmark = pytest.mark.redis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, "subprocess.Popen[bytes]"]]:
    server = Server(tmp_path)
    server.start()
    assert server.proc is not None
    yield server.url, server.proc
    server.proc.send_signal(signal.SIGCONT)
    server.stop()


@pytest.fixture
def settings(settings: Settings, own_redis: tuple[str, Any]) -> Settings:
    """The app's live pushes go through the test's own Redis, as in the demo."""
    return dataclasses.replace(
        settings,
        redis=RedisSettings(url=own_redis[0]),
        web=dataclasses.replace(settings.web, live_updates_via_redis=True),
    )


def test_a_frozen_redis_holds_no_committed_request_and_loses_no_push(
    client: Any, world: World, own_redis: tuple[str, "subprocess.Popen[bytes]"]
) -> None:
    url, proc = own_redis
    listener = redis.Redis.from_url(url).pubsub()
    listener.subscribe("hotline")  # Socket.IO's channel (init_realtime)
    listener.get_message(timeout=2)  # the subscription's confirmation

    proc.send_signal(signal.SIGSTOP)  # Redis frozen, its connections open
    answers: list[Any] = []
    request = threading.Thread(
        target=lambda: answers.append(
            client.post(
                "/api/tickets",
                json={"request_type": "complaint", "title": "路灯不亮", "content": "小区路灯坏了"},
                headers={"Authorization": f"Bearer {world.tokens['operator']}"},
            )
        ),
        daemon=True,
    )
    request.start()
    request.join(timeout=5)
    answered_while_frozen = not request.is_alive()
    proc.send_signal(signal.SIGCONT)
    request.join(timeout=30)

    assert answered_while_frozen, "the create waited for the frozen Redis"
    assert answers and answers[0].status_code == 201, answers
    ticket_id = answers[0].get_json()["id"]
    pushed = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not pushed:
        message = listener.get_message(timeout=1)
        if message and message["type"] == "message" and str(ticket_id) in str(message["data"]):
            pushed.append(message)
    assert pushed, "the push of the committed change never reached Redis"
    assert "路灯" not in json.dumps(str(pushed[0]["data"]))  # pushes carry no content
