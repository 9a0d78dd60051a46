"""Faults that used to answer misleadingly: an outage, NUL characters, opposite merges,
a chunked body too large, and two `hotline web` on one machine (issue 18, items 6, 9, 10)."""

import dataclasses
import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import exc as sa_exc
from werkzeug.serving import make_server

from hotline.app import create_app
from hotline.bootstrap import bootstrap
from infra.errors import database_outage
from infra.settings import DatabaseSettings
from infra.settings import Settings
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World

ROOT = Path(__file__).resolve().parents[3]
HOTLINE = ROOT / ".venv" / "bin" / "hotline"
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- item 10: control sockets


def _start_web(tmp: Path, name: str, run_dir: Path) -> tuple["subprocess.Popen[bytes]", str]:
    instance = tmp / name
    instance.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        {
            "HOTLINE_INSTANCE_PATH": str(instance),
            "HOTLINE_DATABASE__URL": f"sqlite:///{instance / 'hotline.db'}",
            "HOTLINE_REDIS__URL": REDIS_URL,
            "HOTLINE_WEB__WORKERS": "1",
            "HOTLINE_WEB__THREADS": "2",
            # Where gunicorn's default would put the socket of both instances.
            "XDG_RUNTIME_DIR": str(run_dir),
        }
    )
    with (tmp / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(HOTLINE), "web", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}"


def _wait_up(proc: "subprocess.Popen[bytes]", url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"hotline web exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"{url}/api/openapi.json", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"hotline web at {url} did not answer")


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_two_web_instances_keep_their_own_control_socket(tmp_path: Path) -> None:
    run_dir = tmp_path / "xdg"
    run_dir.mkdir(mode=0o700)
    first, first_url = _start_web(tmp_path, "a", run_dir)
    second: Any = None
    try:
        _wait_up(first, first_url)
        second, second_url = _start_web(tmp_path, "b", run_dir)
        _wait_up(second, second_url)
        a_ctl = tmp_path / "a" / "run" / "gunicorn.ctl"
        b_ctl = tmp_path / "b" / "run" / "gunicorn.ctl"
        assert _accepts(a_ctl) and _accepts(b_ctl)
        assert not (run_dir / "gunicorn.ctl").exists()  # no shared one for either to take over
        _stop(second)
        assert not b_ctl.exists()
        assert _accepts(a_ctl), "stopping one instance removed the other's control socket"
    finally:
        if second is not None:
            _stop(second)
        _stop(first)


# ---------------------------------------------------------------- item 6: database outage


class Proxy:
    """A TCP relay in front of PostgreSQL that the test takes down and brings back.

    Down: nothing listens on its port (new connections are refused) and every relayed
    connection is cut, as when the server stops or fails over.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not, and
            # the socket would go on accepting.
            self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def outage(db_url: str, settings: Settings, clock: Clock) -> Iterator[tuple[Flask, Proxy]]:
    """An app that reaches PostgreSQL through a relay the test can take down."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a database server outage: PostgreSQL only")
    target = sa.make_url(db_url)
    proxy = Proxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.up()
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    c = bootstrap(dataclasses.replace(settings, database=DatabaseSettings(url=url)), now=clock)
    app = create_app(container=c)
    app.config["TESTING"] = True
    yield app, proxy
    proxy.down()
    c.close()


def test_a_database_outage_answers_503_with_retry_after(
    outage: tuple[Flask, Proxy], world: World, caplog: pytest.LogCaptureFixture
) -> None:
    app, proxy = outage
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens['operator']}"}
    assert client.get("/api/tickets", headers=headers).status_code == 200

    proxy.down()  # the pooled connection dies, and new ones are refused
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            resp = client.get("/api/tickets", headers=headers)
            assert resp.status_code == 503
            assert resp.headers["Retry-After"] == "5"
            assert resp.get_json() == {
                "error": "database_unavailable",
                "message": "数据库暂时不可用，请稍后重试",
                "details": {"retry_after": 5},
            }
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]

    proxy.up()
    assert client.get("/api/tickets", headers=headers).status_code == 200


def test_a_page_during_a_database_outage_says_so_in_chinese(
    outage: tuple[Flask, Proxy], world: World
) -> None:
    app, proxy = outage
    client = app.test_client()
    signed = client.post(
        "/api/auth/login", json={"username": "operator", "password": world.password}
    )
    assert signed.status_code == 200
    assert client.get("/tickets").status_code == 200

    proxy.down()
    resp = client.get("/tickets")
    assert resp.status_code == 503
    assert resp.mimetype == "text/html"
    assert resp.headers["Retry-After"] == "5"
    assert "数据库暂时不可用，请稍后重试" in resp.get_data(as_text=True)

    proxy.up()
    assert client.get("/tickets").status_code == 200


def test_an_app_started_while_postgresql_is_down_answers_503(
    outage: tuple[Flask, Proxy], world: World
) -> None:
    app, proxy = outage
    proxy.down()  # nothing listens on the app's database port
    resp = app.test_client().get(
        "/api/tickets", headers={"Authorization": f"Bearer {world.tokens['operator']}"}
    )
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "database_unavailable"
    # /healthz keeps naming the failing check
    health = app.test_client().get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"].startswith("error:")


def test_the_api_document_names_the_503_and_its_retry_after() -> None:
    from hotline.openapi import build_openapi

    paths = build_openapi()["paths"]
    for path, method in (("/api/tickets", "get"), ("/api/tickets", "post")):
        answer = paths[path][method]["responses"]["503"]
        assert "database_unavailable" in answer["description"]
        assert "Retry-After" in answer["headers"]


@pytest.mark.parametrize(
    ("exc", "outage"),
    [
        (sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused")), True),
        (sa_exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")), True),
        (sa_exc.DBAPIError("SELECT 1", {}, Exception("lost"), connection_invalidated=True), True),
        (sa_exc.TimeoutError("QueuePool limit reached"), True),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (sa_exc.ProgrammingError("SELEC", {}, Exception("syntax error")), False),
        (sa_exc.DBAPIError("SELECT 1", {}, Exception("other")), False),
    ],
)
def test_only_lost_connections_count_as_an_outage(exc: Exception, outage: bool) -> None:
    assert database_outage(exc) is outage


# ---------------------------------------------------------------- item 9: opposite merges


def test_opposite_merges_at_the_same_moment_never_answer_500(
    db_url: str, app: Flask, world: World, api: Api
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks and deadlocks: PostgreSQL (SQLite serialises writers)")
    headers = {"Authorization": f"Bearer {world.tokens['operator']}"}
    answers: list[int] = []
    for _ in range(10):
        a, b = api.create()["id"], api.create(title="同一小区电梯故障")["id"]
        barrier = threading.Barrier(2)
        statuses: dict[int, int] = {}
        errors: list[str] = []

        def merge(
            ticket: int,
            master: int,
            statuses: Any = statuses,
            errors: Any = errors,
            barrier: Any = barrier,
        ) -> None:
            client = app.test_client()
            barrier.wait()
            resp = client.post(
                f"/api/tickets/{ticket}/actions/merge", json={"master_id": master}, headers=headers
            )
            statuses[ticket] = resp.status_code
            errors.append(resp.get_json().get("error", ""))

        threads = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(statuses.values()) in ([200, 409], [409, 409]), (statuses, errors)
        assert set(errors) <= {"", "conflict", "rule_violation"}
        merged = [
            t["id"]
            for t in (
                api.get(f"/api/tickets/{a}").get_json(),
                api.get(f"/api/tickets/{b}").get_json(),
            )
            if t["status"] == "merged"
        ]
        assert merged == [n for n, status in statuses.items() if status == 200]
        answers += statuses.values()
    assert 200 in answers


# ---------------------------------------------------------------- item 9: chunked bodies


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _send_chunked(host: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(host, timeout=30)
    try:
        conn.putrequest("POST", path)
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for start in range(0, len(body), 65536):
                chunk = body[start : start + 65536]
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before reading it all
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/api/tickets", "/api/auth/login"])
def test_a_large_chunked_body_is_413_like_one_with_content_length(
    live_url: str, world: World, path: str
) -> None:
    headers = {
        "Authorization": f"Bearer {world.tokens['operator']}",
        "Content-Type": "application/json",
    }
    status, body = _send_chunked(live_url, path, headers, b"x" * 20 * 1024 * 1024)
    assert status == 413, body
    assert body["error"] == "request_entity_too_large"


def test_a_small_chunked_body_is_read_whole(live_url: str, world: World) -> None:
    headers = {
        "Authorization": f"Bearer {world.tokens['operator']}",
        "Content-Type": "application/json",
    }
    ticket = {
        "request_type": "complaint",
        "title": "小区电梯故障",
        "content": "电梯停运三天",
        "caller_phone": "13812345678",
    }
    # 600 kB in ten chunks (JSON allows the trailing spaces), under the 1 MiB limit
    data = json.dumps(ticket).encode() + b" " * 600_000
    status, body = _send_chunked(live_url, "/api/tickets", headers, data)
    assert status == 201, body
    assert body["title"] == "小区电梯故障"


# ---------------------------------------------------------------- item 9: NUL characters


def _ticket_count(api: Api) -> int:
    return int(api.get("/api/tickets").get_json()["total"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "电梯\u0000故障"}, "title"),
        ({"tags": ["电梯", "故\u0000障"]}, "tags.1"),
        ({"citizen_name": "\u0000"}, "citizen_name"),
    ],
)
def test_a_nul_in_a_json_body_is_a_422_naming_the_field(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    before = _ticket_count(api)
    body = {
        "request_type": "complaint",
        "title": "小区电梯故障",
        "content": "电梯停运三天",
        "caller_phone": "13812345678",
        **fields,
    }
    resp = api.post("/api/tickets", body)
    assert resp.status_code == 422, resp.get_json()
    answer = resp.get_json()
    assert answer["error"] == "validation_error"
    assert answer["details"]["fields"] == {field: "不能包含空字符"}
    assert _ticket_count(api) == before


def test_a_nul_in_the_query_is_a_422(api: Api) -> None:
    resp = api.get("/api/tickets?q=%E7%94%B5%00%E6%A2%AF")
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"] == {"q": "不能包含空字符"}


def test_a_nul_in_the_api_login_name_is_a_422(api: Api, world: World) -> None:
    resp = api.post(
        "/api/auth/login", {"username": "operator\u0000", "password": world.password}, as_=None
    )
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"] == {"username": "不能包含空字符"}


def test_a_nul_in_the_login_form_answers_a_chinese_page(client: Any, world: World) -> None:
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    resp = client.post(
        "/login", data={"csrf": csrf, "username": "oper\u0000ator", "password": world.password}
    )
    assert resp.status_code == 422
    assert resp.mimetype == "text/html"
    assert "不能包含空字符" in resp.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user_id" not in session
