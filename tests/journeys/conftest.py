"""Journeys: each role's day on the real `hotline demo`, in Debian's chromium.

The other browser tests build the app from fixtures; people use the processes `make demo`
starts. Here one `hotline demo` per session is started the way the README does: the
`.venv/bin/hotline` entry point, from the repository's root, with the shipped config.yaml.
Only the environment changes, and only for isolation from a demo that may already run on
this machine:

- its own instance folder and SQLite file, given as RELATIVE paths (`.journeys/<id>/...`):
  relative paths are what broke file downloads once, so the journeys keep using them;
- free ports for the web app (and the ACD address Kamailio asks), the SIP edge, the seats'
  and the survey process's SIP ports;
- its own Redis: a `redis-server` of its own on a free port (database 1, flushed before and
  after). A database index on the shared server is not enough: Redis pub/sub ignores the
  index, and the seats' command channels (`acd:seatcmd:s01`) and the Socket.IO channel
  (`hotline`) have fixed names, so a second demo on the same server would answer the other
  demo's calls and pop its calls up in the other demo's consoles (same seats, same user
  ids). HOTLINE_TEST_JOURNEY_REDIS_URL names a server and database to use instead;
- XDG_RUNTIME_DIR inside the journey's folder, for whatever else keeps per-user runtime
  files (gunicorn's control socket is in the instance folder since issue 18).

Calls are placed with `.venv/bin/hotline call` under the same environment, so they dial
this demo's edge. The folder is removed afterwards; the demo's log is kept in pytest's
temporary folder, and its last lines are attached to a failing journey's report.
Set HOTLINE_TEST_SCREENSHOTS=docs/screenshots to also keep every page as journey-*.png.
"""

import hashlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.demo_process import SEATS
from tests.demo_process import Ports
from tests.demo_process import demo_environment
from tests.demo_process import healthy
from tests.demo_process import registered
from tests.demo_process import stop
from tests.journeys.watch import PageWatcher
from tests.journeys.watch import assert_clean

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = ROOT / ".venv" / "bin" / "hotline"
PASSWORD = "hotline2026"  # every demo account's (README)
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
STARTUP_SECONDS = 240  # migrate, load the demo city, train the router, start every process
REDIS_DB = 1
# Live pages wait on pushes and a busy 2-core machine: 15 s before a step counts as not done.
expect.set_options(timeout=15_000)
DEMO_KEY = pytest.StashKey["Demo"]()
JOURNEY_KEY = pytest.StashKey["Journey"]()


# ---------------------------------------------------------------- the demo


@dataclass(repr=False)
class Demo:
    """One `hotline demo` and what it was started with."""

    url: str
    env: dict[str, str]
    folder: Path  # .journeys/<id>, removed afterwards
    log: Path
    redis_url: str
    proc: "subprocess.Popen[bytes] | None" = None
    redis_proc: "subprocess.Popen[bytes] | None" = None

    def __repr__(self) -> str:
        return f"<Demo {self.url} {self.folder.name}>"

    def tail(self, lines: int = 80) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def call(
        self, caller: str, talk: float, log: Path, to: str | None = None, record: Path | None = None
    ) -> "subprocess.Popen[bytes]":
        """A citizen's call with `hotline call`, dialling this demo's edge (the hotline's
        number, or `to`: a line merged into it), recording what the phone is sent to
        `record` when given."""
        out = log.open("ab")
        dialled = ["--to", to] if to else []
        if record is not None:
            dialled += ["--record", str(record)]
        try:
            return subprocess.Popen(
                [str(HOTLINE), "call", "--from", caller, "--talk", str(talk), *dialled],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            out.close()


def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2)


def _start_redis(ports: Ports, folder: Path) -> "tuple[str, subprocess.Popen[bytes] | None]":
    given = os.environ.get("HOTLINE_TEST_JOURNEY_REDIS_URL")
    if given:
        return given, None
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server not found (make test installs Debian's redis-server)")
    port = ports.one(socket.SOCK_STREAM)
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/{REDIS_DB}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if _redis(url).ping():
                return url, proc
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    pytest.fail(f"redis-server on port {port} did not start")


def _wait_ready(demo: Demo) -> None:
    """The ready banner, /healthz, and every seat registered at the edge."""
    assert demo.proc is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if demo.proc.poll() is not None:
            pytest.fail(
                f"hotline demo exited with {demo.proc.returncode} before it was ready:\n"
                + demo.tail()
            )
        text = demo.log.read_text(encoding="utf-8", errors="replace")
        if "未安装 kamailio" in text:  # the demo then runs without its edge and seats
            pytest.fail("kamailio is not installed (make test installs it): no telephony")
        if "热线演示已就绪" in text and healthy(demo.url) and registered(demo.log) >= set(SEATS):
            return
        time.sleep(0.5)
    pytest.fail(f"hotline demo not ready after {STARTUP_SECONDS} s:\n{demo.tail()}")


@pytest.fixture(scope="session")
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    """The real `hotline demo`, started once for all journeys; yields its base URL's Demo."""
    if not HOTLINE.exists():
        pytest.fail(f"{HOTLINE} not found: run `make demo` or `make test` once to install")
    name = uuid.uuid4().hex[:10]
    folder = ROOT / ".journeys" / name
    run_dir = folder / "run"
    run_dir.mkdir(parents=True)
    ports = Ports()
    logs = tmp_path_factory.mktemp("journeys-demo")
    redis_url, redis_proc = _start_redis(ports, folder)
    _redis(redis_url).flushdb()
    env = demo_environment(
        ports,
        redis_url,
        run_dir,
        instance=f".journeys/{name}/instance",
        database_url=f"sqlite:///.journeys/{name}/instance/hotline.db",
    )
    demo = Demo(
        url=f"http://127.0.0.1:{env['HOTLINE_WEB__PORT']}",
        env=env,
        folder=folder,
        log=logs / "demo.log",
        redis_url=redis_url,
        redis_proc=redis_proc,
    )
    request.config.stash[DEMO_KEY] = demo
    out = demo.log.open("wb")
    try:
        demo.proc = subprocess.Popen(
            [str(HOTLINE), "demo"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    finally:
        out.close()
    try:
        _wait_ready(demo)
        yield demo
    finally:
        stop(demo.proc, group=True)
        try:
            _redis(redis_url).flushdb()
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass
        if redis_proc is not None:
            stop(redis_proc, group=False)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.parent.rmdir()  # .journeys, when no other run is using it
        except OSError:
            pass


# ---------------------------------------------------------------- a journey


@dataclass(repr=False)
class Journey:
    """People's browsers on the demo, what their pages showed, and the calls placed."""

    demo: Demo
    browser: Any
    tmp: Path
    watchers: list[PageWatcher] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)
    calls: "list[subprocess.Popen[bytes]]" = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # soft checks that failed
    _shot: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)
    _by_page: dict[int, PageWatcher] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Journey on {self.demo.url}>"

    @property
    def url(self) -> str:
        return self.demo.url

    def browser_for(self, who: str, viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
        """A fresh browser (context) for one person; every page it opens is watched."""
        context = self.browser.new_context(
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport=viewport,
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(15_000)
        watcher = PageWatcher(who, self.tmp / "shots", self._shot)
        self.watchers.append(watcher)
        self.contexts.append(context)

        def watch(page: Any) -> None:
            watcher.attach(page)
            self._by_page[id(page)] = watcher

        context.on("page", watch)
        page = context.new_page()
        if id(page) not in self._by_page:  # not every Playwright emits "page" for new_page
            watch(page)
        return page

    def sign_in(
        self, username: str, viewport: dict[str, int] = DESKTOP, password: str = PASSWORD
    ) -> Any:
        """A browser signed in as a demo account (or another), on its home page."""
        page = self.browser_for(username, viewport)
        page.goto(f"{self.url}/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(lambda u: "/login" not in u)
        return page

    def seen(self, page: Any, name: str, allow: tuple[str, ...] = ()) -> None:
        """A page the journey looks at: screenshot, console, requests, English words."""
        self._by_page[id(page)].seen(page, name, allow)

    def watcher(self, page: Any) -> PageWatcher:
        return self._by_page[id(page)]

    def call(
        self, caller: str, talk: float, to: str | None = None, record: Path | None = None
    ) -> "subprocess.Popen[bytes]":
        """`hotline call --from caller --talk talk [--to to] [--record FILE]` in the
        background."""
        proc = self.demo.call(caller, talk, self.tmp / f"call-{caller}.log", to, record)
        self.calls.append(proc)
        return proc

    def get(self, page: Any, path: str) -> Any:
        """GET a path as the page's user (session cookie), outside the page's own traffic."""
        resp = page.request.get(f"{self.url}{path}")
        assert resp.ok, f"GET {path}: {resp.status} {resp.text()[:300]}"
        return resp

    def post(self, page: Any, path: str, body: dict[str, Any]) -> Any:
        """POST JSON as the page's user, with the page's CSRF token."""
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        return page.request.post(
            f"{self.url}{path}", data=body, headers={"X-CSRF-Token": token or ""}
        )

    def soft(self, what: str, check: Callable[[], object]) -> bool:
        """A check the rest of the journey does not depend on: a failure is noted, the
        journey goes on, and `assert_clean` fails with it at the end."""
        try:
            check()
        except (AssertionError, PlaywrightError) as exc:  # expect() and timeouts
            detail = str(exc).strip().splitlines()
            self.misses.append(f"{what}: {detail[0] if detail else 'failed'}")
            return False
        return True

    def assert_clean(self) -> None:
        """Every soft check held, and every page the journey saw had no console error,
        failed request or English word."""
        assert_clean(self.watchers, self.misses)

    def close(self) -> None:
        for proc in self.calls:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
        for context in self.contexts:
            try:
                context.close()
            except Exception:  # noqa: BLE001 - the browser may have gone with a failure
                pass


@pytest.fixture(scope="session")
def people(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium as people have it: a microphone (the console's headset asks for it). Its
    fake one plays a 1 kHz tone; pages may use it without a prompt, and play sound."""
    from callcenter.seat import write_tone
    from tests.conftest import CHROMIUM
    from tests.conftest import CHROMIUM_ARGS

    mic = write_tone(tmp_path_factory.mktemp("mic") / "mic.wav", [1000.0], 60.0, 48000)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    own = browser.browser_type.launch(executable_path=CHROMIUM, args=args)
    yield own
    own.close()


@pytest.fixture
def journey(
    request: pytest.FixtureRequest, demo: Demo, people: Any, tmp_path: Path
) -> Iterator[Journey]:
    j = Journey(demo, people, tmp_path)
    request.node.stash[JOURNEY_KEY] = j
    yield j
    j.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- reporting


def _is_journey(item: pytest.Item) -> bool:
    path = Path(str(item.fspath))
    return path.parent == Path(__file__).parent and path.name != "test_watch.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_journey(item):
            item.add_marker(pytest.mark.slow)  # real processes: `make quick` skips them


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not (report.failed and _is_journey(item)):
        return
    j = item.stash.get(JOURNEY_KEY, None)
    if j is not None:
        pages = "\n".join([*j.misses, *(w.report() for w in j.watchers if w.problems)])
        if pages:
            report.sections.append(("journey: page problems so far", pages))
        report.sections.append(("journey: screenshots", str(j.tmp / "shots")))
    demo = item.config.stash.get(DEMO_KEY, None)
    if demo is not None:
        report.sections.append((f"hotline demo log (last lines of {demo.log})", demo.tail()))
