"""The web app away while a call rings and talks (issue 18, item 5): the edge's reports of the
answer and the end are lost, and the seat's softphone reports both when the app is back."""

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from hotline.bootstrap import Container
from tests.conftest import REDIS_URL
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import free_tcp_port
from tests.telephony.conftest import wait_for


class Web:
    """The app on a loopback port of its own, stopped and started again like a killed web."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = free_tcp_port()
        self.server: BaseWSGIServer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(timeout=10)


@pytest.fixture
def web(app: Flask) -> Iterator[Web]:
    server = Web(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def acd_url(web: Web) -> str:
    """The ACD the edge and the seats report to: this test's own, stoppable app."""
    return f"http://127.0.0.1:{web.port}/acd"


def test_a_call_answered_and_ended_while_the_web_app_was_away_is_recorded_when_it_returns(
    stack: Stack, container: Container, real_redis: Any, web: Web
) -> None:
    acd = Acd(real_redis, AcdConfig(wrap_up_seconds=60), prefix=f"t{uuid.uuid4().hex[:8]}:")
    container._acd = acd
    stack.start_edge()
    stack.start_seat(
        "s01", auto_answer=2.0, redis_url=REDIS_URL, acd_prefix=acd.prefix, acd_url=stack.acd_url
    )
    acd.login("s01", "agent-1")
    acd.ready("s01")

    caller = stack.call_in_background(talk_ms=2000)
    wait_for(lambda: acd.seat("s01").get("state") == "ringing", 10, "the seat to ring")
    web.stop()  # killed while the seat rings: the answer and the end reach nobody
    assert caller.wait(timeout=30) == 0
    [call] = [e["call"] for e in acd.events() if e["type"] == "offered"]
    assert acd.call(call)["state"] == "ringing"  # the ACD never heard
    web.start()

    wait_for(lambda: acd.call(call).get("state") == "ended", 15, "the seat's report")
    cdr = call_record(container, call)
    assert (cdr.outcome, cdr.end_reason, cdr.seat) == ("answered", "caller", "s01")
    assert cdr.talk_seconds is not None and 1.5 <= cdr.talk_seconds <= 4
    assert acd.seat("s01")["state"] == "wrap_up"
    kinds = [e["type"] for e in acd.events() if e.get("call") == call and "state" not in e]
    assert kinds == ["offered", "route", "answered", "ended"]  # once each
