"""Real telephony processes on loopback: Kamailio, pjsua2 seats, sipp callers, the web app.

Like the browser tests, these run once, on SQLite: the processes, not the database, are what
is under test. Each test gets its own UDP ports.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.edge.credentials import acd_secret
from callcenter.edge.credentials import provision
from callcenter.edge.credentials import read_password_file
from callcenter.edge.kamailio import SipEdge
from callcenter.edge.kamailio import stop_stale_edges
from tests.conftest import REDIS_URL
from tests.conftest import call_record  # noqa: F401 - the telephony tests' import
from tests.e2e.conftest import db_url  # noqa: F401 - SQLite only, as in the browser tests
from tests.e2e.conftest import engine  # noqa: F401
from tests.e2e.conftest import live_server  # noqa: F401 - the app on a loopback port
from tests.e2e.conftest import signed_in  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
CALLER = ROOT / "callcenter" / "sipp" / "caller.xml"
CITIZEN_REGISTER = ROOT / "callcenter" / "sipp" / "citizen_survey_register.xml"
CITIZEN_SURVEY = ROOT / "callcenter" / "sipp" / "citizen_survey.xml"
CITIZEN_NO_ANSWER = ROOT / "callcenter" / "sipp" / "citizen_survey_noanswer.xml"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def acd_url(request: pytest.FixtureRequest) -> str:
    """The ACD of the app the browser tests also serve (`live_server`) on a loopback port."""
    return f"{request.getfixturevalue('live_server')}/acd"


def _more(options: dict[str, Any]) -> str:
    """More keyword arguments for a config built in a `python -c` line: ", k=v, ..."."""
    return "".join(f", {k}={v!r}" for k, v in options.items())


class Stack:
    """Kamailio on its own port and seat softphones registered to it.

    As in production, every user agent of ours signs in with a password issued in the app's
    database (the demo's way: `provision`, a 0600 file), and Kamailio and the seats carry
    the instance's ACD secret.
    """

    def __init__(self, tmp: Path, acd_url: str, container: Any) -> None:
        self.tmp = tmp
        self.acd_url = acd_url
        self.container = container
        self.acd_secret = acd_secret(container.settings)
        self.port = free_udp_port()
        self.tls_port = free_tcp_port()  # used when a test turns TLS on (start_edge options)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.callers: list[subprocess.Popen[str]] = []
        self.logs: dict[str, Path] = {}

    def start_edge(
        self, ring_seconds: float = 15, max_wait_seconds: float = 60, **options: Any
    ) -> None:
        edge = SipEdge(
            **options,
            port=self.port,
            acd_url=self.acd_url,
            ring_seconds=ring_seconds,
            max_wait_seconds=max_wait_seconds,
            children=2,
            async_workers=2,
            realm=self.container.settings.telephony.sip_realm,
            acd_secret=self.acd_secret,
        )
        cfg = self.tmp / "kamailio.cfg"
        cfg.write_text(edge.config(), encoding="utf-8")
        log = self._spawn("kamailio", [KAMAILIO, "-DD", "-E", "-f", str(cfg), "-Y", str(self.tmp)])
        wait_for(lambda: "Listening on" in log.read_text(errors="replace"), 10, "kamailio")

    def start_media(self, tel: Any) -> None:
        """rtpengine as `hotline media` runs it (telephony settings `tel`), for headsets."""
        from callcenter.edge.media import rtpengine_answers
        from callcenter.edge.media import rtpengine_argv
        from callcenter.edge.media import rtpengine_binary

        binary = rtpengine_binary()
        if binary is None:
            pytest.fail("rtpengine missing (make test installs rtpengine-daemon)")
        self._spawn("rtpengine", rtpengine_argv(binary, tel, threads=1))
        wait_for(lambda: rtpengine_answers(tel.rtpengine), 10, "rtpengine")

    def start_announcer(
        self, acd_prefix: str, control: str = "", name: str = "announcer", **options: Any
    ) -> str:
        """`hotline announce` on its own control port (or `control`: started again there) with
        this stack's ACD secret, speaking for the hall under `acd_prefix`; `options` are more
        AnnouncerConfig fields. Returns its control address (the edge's `announcer`)."""
        control = control or f"127.0.0.1:{free_tcp_port()}"
        base = free_udp_port()
        options = {"port_min": base, "port_max": base + 20} | options
        code = (
            "from callcenter.edge.announcer import Announcer, AnnouncerConfig;"
            f"Announcer(AnnouncerConfig(control={control!r}, redis_url={REDIS_URL!r},"
            f" acd_prefix={acd_prefix!r}, acd_secret={self.acd_secret!r}{_more(options)})).serve()"
        )
        self._python(name, code, "announcer on", 30, "the announcer")
        return control

    def start_seat(
        self,
        name: str,
        auto_answer: float | None = 0.2,
        redis_url: str | None = None,
        acd_prefix: str = "acd:",
        registered: str = "registration: 200",
        **options: Any,
    ) -> None:
        """A seat softphone; `options` are more SeatConfig fields (recordings_dir, ...).
        Returns once its log shows `registered` (another status for a refused seat)."""
        options = {"password": self.password(name), "acd_secret": self.acd_secret} | options
        code = (
            "from callcenter.seat import SeatConfig, run_seat;"
            f"run_seat(SeatConfig({name!r}, {free_udp_port()}, edge_port={self.port},"
            f" auto_answer_seconds={auto_answer!r}, redis_url={redis_url!r},"
            f" acd_prefix={acd_prefix!r}{_more(options)}))"
        )
        self._python(name, code, registered, 15, f"{name} to register")

    def password(self, name: str, kind: str = "seat") -> str:
        """The SIP password of one of our user agents, issued on first use."""
        path = self.tmp / "sip" / f"{name}.password"
        realm = self.container.settings.telephony.sip_realm
        provision(self.container.uow(), name, kind, realm, path)
        return read_password_file(path)

    def phone(
        self, name: str, auto_answer: float | None = None, acd_prefix: str = "acd:", **options: Any
    ) -> Path:
        """A softphone that obeys commands, reports to the app and records every call into
        its own folder (returned); prompts are spoken into a folder all phones share.
        `options` are more SeatConfig fields (transport, ...)."""
        folder = self.tmp / f"rec-{name}"
        self.start_seat(
            name,
            auto_answer=auto_answer,
            redis_url=REDIS_URL,
            acd_prefix=acd_prefix,
            acd_url=self.acd_url,
            recordings_dir=str(folder),
            prompts_dir=str(self.tmp / "prompts"),
            **options,
        )
        return folder

    def kill(self, name: str) -> None:
        """Kill a process outright (SIGKILL: no BYE, no goodbye)."""
        index = list(self.logs).index(name)
        self.procs[index].kill()
        self.procs[index].wait()

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def _sipp(
        self,
        talk_ms: int,
        calls: int = 1,
        rate: float = 1.0,
        scenario: Path = CALLER,
        number: str = "12345",
    ) -> list[str]:
        return [
            SIPP, "-sf", str(scenario), f"127.0.0.1:{self.port}", "-s", number,
            "-m", str(calls), "-r", str(rate), "-d", str(talk_ms),
            "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mp", str(free_udp_port()),
            "-nostdin", "-timeout", "60s", "-timeout_error",
        ]  # fmt: skip

    def call(
        self, talk_ms: int = 500, calls: int = 1, rate: float = 1.0
    ) -> "subprocess.CompletedProcess[str]":
        argv = self._sipp(talk_ms, calls, rate)
        return subprocess.run(argv, capture_output=True, text=True, timeout=90, cwd=self.tmp)

    def sipp(self, scenario: Path, calls: int = 1) -> "subprocess.CompletedProcess[str]":
        argv = self._sipp(0, calls, 10, scenario)
        return subprocess.run(argv, capture_output=True, text=True, timeout=90, cwd=self.tmp)

    def call_in_background(
        self, talk_ms: int = 500, number: str = "12345"
    ) -> "subprocess.Popen[str]":
        """A citizen (sipp) dialling `number`: the hotline's, or a line merged into it."""
        caller = subprocess.Popen(
            self._sipp(talk_ms, number=number),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=self.tmp,
        )
        # Stopped with the stack: a test that fails mid-call must not leave sipp running
        # into the next test (its Popen would be collected there, a ResourceWarning).
        self.callers.append(caller)
        return caller

    def start_survey(self, name: str, events: Path, **options: Any) -> None:
        """A survey process (callcenter/survey/) writing its events as JSON lines to
        `events`; `options` are more SurveyConfig fields (max_calls, tasks_key, ...)."""
        options = {"password": self.password(name, "survey")} | options
        code = (
            "from callcenter.survey import SurveyConfig, jsonl_report, run_survey;"
            f"run_survey(SurveyConfig({name!r}, {free_udp_port()}, edge_port={self.port},"
            f" redis_url={REDIS_URL!r}{_more(options)}), jsonl_report({str(events)!r}))"
        )
        # 60 s: the first run speaks the prompts
        self._python(name, code, "registration: 200", 60, f"{name} to register")

    def citizen(
        self, number: str, scenario: Path = CITIZEN_SURVEY, calls: int = 1
    ) -> "subprocess.Popen[str]":
        """A citizen's phone (sipp) registered at the edge under `number`, taking `calls`
        survey calls with `scenario` (it plays RFC 2833 keys from its own RTP port)."""
        phone_port = free_udp_port()
        register = [
            SIPP, "-sf", str(CITIZEN_REGISTER), f"127.0.0.1:{self.port}", "-s", number,
            "-au", number, "-ap", self.password(number, "phone"),
            "-key", "phone_port", str(phone_port), "-i", "127.0.0.1", "-p", str(free_udp_port()),
            "-m", "1", "-nostdin", "-timeout", "10s", "-timeout_error",
        ]  # fmt: skip
        done = subprocess.run(register, capture_output=True, text=True, timeout=30, cwd=self.tmp)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        log = (self.tmp / f"citizen-{number}-{phone_port}.log").open("w")
        phone = subprocess.Popen(
            [
                SIPP,
                "-sf",
                str(scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(phone_port),
                "-mi",
                "127.0.0.1",
                "-mp",
                str(free_udp_port()),
                "-m",
                str(calls),
                "-nostdin",
                "-timeout",
                "60s",
                "-timeout_error",
                "-trace_err",
                "-trace_msg",
                "-message_file",
                str(self.tmp / f"citizen-{number}-{phone_port}-messages.log"),
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.tmp,
        )
        log.close()
        self.callers.append(phone)
        return phone

    def _python(self, name: str, code: str, ready: str, timeout: float, what: str) -> None:
        """`code` in a Python process of its own logging INFO to its log; returns once the
        log shows `ready`."""
        setup = "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout);"
        log = self._spawn(name, [sys.executable, "-u", "-c", setup + code])
        wait_for(lambda: ready in log.read_text(errors="replace"), timeout, what)

    def _spawn(self, name: str, argv: list[str]) -> Path:
        log = self.tmp / f"{name}.log"
        out = log.open("wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env))
        out.close()
        self.logs[name] = log
        return log

    def stop(self) -> None:
        for caller in self.callers:
            if caller.poll() is None:
                caller.kill()
            caller.wait()
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Workers of a Kamailio whose main process a test killed outlive it.
        stop_stale_edges(self.tmp / "kamailio.cfg")


@pytest.fixture
def stack(tmp_path: Path, acd_url: str, container: Any) -> Iterator[Stack]:
    if not (Path(KAMAILIO).exists() and Path(SIPP).exists()):
        pytest.fail("kamailio or sipp missing (make test installs kamailio and sip-tester)")
    s = Stack(tmp_path, acd_url, container)
    yield s
    s.stop()


@pytest.fixture
def edge(tmp_path: Path, acd_url: str, container: Any) -> Iterator[Stack]:
    """Kamailio for calls our own agents place to citizens (survey calls): no seats, and the
    app only to check the agents' passwords."""
    if not (Path(KAMAILIO).exists() and Path(SIPP).exists()):
        pytest.fail("kamailio or sipp missing (make test installs kamailio and sip-tester)")
    s = Stack(tmp_path, acd_url, container)
    s.start_edge()
    yield s
    s.stop()


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "tests/telephony" in str(item.fspath):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.redis)
