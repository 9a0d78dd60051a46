"""Keep a long-running loop alive through outages of what it depends on (Redis).

`hotline worker` and `hotline cron` used to exit with a ConnectionError when Redis went away
for a moment and stay dead: jobs and schedules stopped until someone noticed. Their main
loop now runs inside `keep_running`, which starts it again after a connection error, waiting
1, 2, 4 ... 30 s between tries (back to 1 s once a run lasted a minute). A normal return (a
burst worker that is done, a warm shutdown on SIGTERM) ends it; any other exception is a bug
and still ends the process, so its supervisor (`hotline demo`, systemd) restarts it.
"""

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

log = logging.getLogger(__name__)

OUTAGES: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)
MAX_BACKOFF_SECONDS = 30.0
STEADY_SECONDS = 60.0  # a run this long resets the backoff
# Exit statuses of a process that was stopped, not one that died: not started again.
STOPPED_ON_PURPOSE = (0, -signal.SIGINT, -signal.SIGTERM)


def running(pid: int) -> bool:
    """Whether a process of this machine runs. A killed one may linger as a zombie until it
    is reaped; it holds no port, lock or job any more, so it counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def keep_running(
    name: str,
    run: Callable[[], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    outages: tuple[type[BaseException], ...] = OUTAGES,
) -> None:
    """Run `run` until it returns, starting it again after each outage (with backoff)."""
    backoff = 1.0
    while True:
        started = clock()
        try:
            run()
            return
        except outages as exc:
            if clock() - started >= STEADY_SECONDS:
                backoff = 1.0
            log.warning(
                "%s: %s; starting again in %.0f s", name, exc or type(exc).__name__, backoff
            )
        sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


@dataclass
class _Child:
    name: str
    argv: list[str]
    proc: "subprocess.Popen[bytes] | None" = None
    started: float = 0.0
    backoff: float = 1.0
    restart_at: float | None = None
    restarts: int = 0


class Keeper:
    """Start processes and start each again when it dies (`hotline demo` on one machine).

    Whatever dies (a seat's pjsua2 crashing, Kamailio killed, a worker OOM-killed) is
    started again after 1, 2, 4 ... 30 s (back to 1 s once it ran a minute); a process that
    was stopped (exit 0, SIGINT from Ctrl-C, SIGTERM) is left stopped. In production the
    service manager (systemd, `Restart=on-failure`) does this job.
    """

    def __init__(
        self,
        popen: Callable[[list[str]], "subprocess.Popen[bytes]"] = subprocess.Popen,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 1.0,
    ) -> None:
        self._popen = popen
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._children: list[_Child] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, name: str, argv: list[str]) -> "subprocess.Popen[bytes]":
        child = _Child(name, list(argv))
        self._spawn(child)
        with self._lock:
            self._children.append(child)
        assert child.proc is not None
        return child.proc

    def watch(self) -> None:
        """Watch the children from a daemon thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="keeper", daemon=True)
        self._thread.start()

    def check(self) -> list[str]:
        """One round: start again what is due; return the names started again."""
        now = self._clock()
        again = []
        with self._lock:
            for child in self._children:
                if self._stop.is_set() or child.proc is None:
                    continue
                code = child.proc.poll()
                if code is None:
                    if now - child.started >= STEADY_SECONDS:
                        child.backoff = 1.0
                    continue
                if code in STOPPED_ON_PURPOSE:  # Ctrl-C, SIGTERM, a clean exit: leave it
                    if child.restart_at is None:
                        log.info("%s ended (%s)", child.name, code)
                        child.restart_at = float("inf")
                    continue
                if child.restart_at is None:
                    child.restart_at = now + child.backoff
                    log.warning(
                        "%s exited (%s); starting it again in %.0f s",
                        child.name,
                        code,
                        child.backoff,
                    )
                    child.backoff = min(child.backoff * 2, MAX_BACKOFF_SECONDS)
                elif now >= child.restart_at:
                    self._spawn(child)
                    child.restarts += 1
                    again.append(child.name)
        return again

    def processes(self) -> list["subprocess.Popen[bytes]"]:
        with self._lock:
            return [c.proc for c in self._children if c.proc is not None]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching, then end every child (SIGTERM, then SIGKILL), last started first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._poll_seconds * 2)
        procs = list(reversed(self.processes()))
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _spawn(self, child: _Child) -> None:
        child.proc = self._popen(child.argv)
        child.started = self._clock()
        child.restart_at = None

    def _run(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            try:
                for name in self.check():
                    log.warning("%s started again", name)
            except Exception:  # noqa: BLE001 - the keeper itself must not die
                log.exception("could not check the demo's processes")
