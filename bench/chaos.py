"""Faults in turn on the real `hotline demo` under a steady call and ticket load (issue 18).

Starts a demo of its own (`python -m hotline.cli demo --auto-answer 0.2`: the processes its
Keeper watches and starts again) on free ports, with a redis-server and a PostgreSQL cluster
of its own in a temporary folder (SQLite with --no-postgres), and signs the demo's four seats
in to the ACD as ready. While sipp places calls at a steady rate (callcenter/sipp/caller.xml,
as `hotline call` does) and a client files tickets through the API (each with its own
client_token, sent again with the same token after a connection error or a 5xx, as a client
should), it injects these faults one after the other:

    web, worker, cron   SIGKILL of the process the demo started, with its children
    seat                SIGKILL of each seat softphone in turn (one seat with --short)
    postgres            a crash (pg_ctl stop -m immediate), down 5 s, started again
    redis_stop          redis-server stopped (SIGTERM: it saves), down 20 s, started again
    redis_freeze        redis-server frozen (SIGSTOP) for 20 s, then SIGCONT
    sip                 SIGKILL of Kamailio

(--short: Redis away 10 s.) After each it measures the seconds from the fault (from the
restart, for an outage) until the process is back and serving (a new pid and /healthz, a job
run by the worker, the scheduler's heartbeat, the seat's registration) and until a call placed
after it is answered, and lets the load run on for --calls-per-fault calls (a call every 2 s).
A seat the ACD still has ringing or talking on a call that has ended is counted against that
fault as stuck and freed (its call ended in the ACD), so that each fault is measured on four
seats. At the end sipp gets 90 s (15 with --short) to finish its calls and the rest are cut off
(`cut_off`: not judged, unless the hotline has no record of one at all). Once no call record
can still become final it prints, as the last line, one JSON object: calls offered / answered /
recorded (final) / lost (offered, no final record) / wrong (sipp and the record disagree on the
answer), tickets sent / stored / duplicated / lost (acknowledged, not stored), seats stuck,
processes not back, seconds to recover per fault, `goals_met` and the goals missed (0 lost, 0
duplicated, 0 wrong, 0 stuck, every process back and calls answered again within 30 s of each
fault). It exits 0 either way: it is a bench. A summary goes to stderr; --keep keeps the folder
with the demo's log and sipp's messages.

    python -m bench.chaos [--faults web,worker,...] [--calls-per-fault N] [--rate R] [--short]
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.acd.engine import AcdError
from callcenter.models import CallRecord
from dispatch.tickets.models import Ticket
from infra.db import make_engine
from infra.settings import DatabaseSettings
from tests.demo_process import SEATS
from tests.demo_process import Ports
from tests.demo_process import children
from tests.demo_process import demo_environment
from tests.demo_process import healthy
from tests.demo_process import registered
from tests.demo_process import stop

ROOT = Path(__file__).resolve().parents[1]
CALLER = ROOT / "callcenter" / "sipp" / "caller.xml"
FAULTS = ("web", "worker", "cron", "seat", "postgres", "redis_stop", "redis_freeze", "sip")
FINAL = ("answered", "abandoned", "overflow")
GOAL_SECONDS = 30.0  # every process back, and calls answered again, within this of a fault
AUTO_ANSWER_SECONDS = 0.2
STARTUP_SECONDS = 300  # migrate, load the demo city, train the router, start every process
# After the last call: the ACD closes a call the edge forgot after stale_ring_seconds (35 s
# with the shipped settings), `hotline cron` looks every 30 s; a seat that died mid-call is
# found within 50 s. A record not final by then will not be.
SETTLE_SECONDS = 75.0
TICKET_GIVE_UP_SECONDS = 90.0  # a client retries a ticket this long, then reports it failed
# The demo's children by command line (Kamailio's after `hotline sip` exec'd it).
PATTERNS = {
    "web": r"hotline\.cli web$",
    "worker": r"hotline\.cli worker$",
    "cron": r"hotline\.cli cron$",
    "sip": r"kamailio -DD",
    **{f"seat {s}": rf"hotline\.cli seat {s}\b" for s in SEATS},
}


@dataclass(frozen=True)
class Plan:
    """How long each part of a run lasts (--short: what CI runs)."""

    rate: float  # new calls per second
    talk_ms: int
    ticket_rate: float  # new tickets per second
    warmup: float  # seconds of load before the first fault
    quiet_calls: int  # calls placed after a fault has healed, before the next
    outage: float  # seconds Redis is stopped or frozen
    postgres_down: float
    cap: float  # longest wait for a process to be back or a call answered
    seats: tuple[str, ...]  # the seats killed by the fault "seat"
    drain: float  # longest wait for the calls under way once the load stops


# A call every 2 s keeps the four seats a third busy: a queue left by a fault drains within
# seconds, so "answered again" measures the fault, not the load (at a call a second with
# 1.5 s of talk the seats, which learn of a waiting call only at its next ask every 3 s, were
# nearly saturated and a queue once formed never drained).
FULL = Plan(
    rate=0.5, talk_ms=1000, ticket_rate=0.5, warmup=15, quiet_calls=10, outage=20,
    postgres_down=5, cap=90, seats=SEATS, drain=90,
)  # fmt: skip
SHORT = Plan(
    rate=0.5, talk_ms=1000, ticket_rate=0.5, warmup=5, quiet_calls=3, outage=10,
    postgres_down=5, cap=GOAL_SECONDS + 1, seats=SEATS[1:2], drain=15,
)  # fmt: skip


@dataclass
class Recovery:
    fault: str
    at: float  # wall clock of the fault
    healed: float  # wall clock of the restart (= `at` for a kill)
    back_seconds: float | None = None
    answered_seconds: float | None = None
    stuck: list[str] = field(default_factory=list)  # seats it left stuck: seat:state:call
    note: str = ""


# ---------------------------------------------------------------- servers of its own


class RedisServer:
    """A redis-server on one port and folder that saves on shutdown, as Debian's does."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.folder), "--save", "3600 1 300 100 60 10000",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        conn = redis.Redis.from_url(self.url, socket_timeout=1)
        _until(lambda: _pings(conn), 10, "redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server cannot save and exit
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)


class Postgres:
    """A PostgreSQL cluster in a folder of its own on one port (initdb as `postgres` when
    run as root: the server refuses to run as root)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.folder = Path(tempfile.mkdtemp(prefix="bench-chaos-pg-"))
        self.bin = _postgres_bin()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/hotline"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-A", "trust",
            "-U", "postgres", "-E", "UTF8", "--locale", "C", "--no-sync",
        )  # fmt: skip
        self.start()
        admin = sa.create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE hotline")
        admin.dispose()

    def start(self) -> None:
        # fsync off: the faults here are of processes, never of the machine or its disks.
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("start", "-w", "-o", options, "-l", str(self.folder / "postgres.log"))

    def crash(self) -> None:
        self._ctl("stop", "-m", "immediate")

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "fast")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)

    def _ctl(self, *args: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *args)


def _postgres_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not versions:
        sys.exit("PostgreSQL's pg_ctl not found: install it, or run with --no-postgres")
    return versions[-1].parent


# ---------------------------------------------------------------- load


class Calls:
    """sipp placing calls at a steady rate, and what each call saw (its short message log:
    date, time, epoch, S/R, Call-ID, CSeq, first line)."""

    def __init__(self, folder: Path, sip_port: int, ports: Ports, plan: Plan) -> None:
        self.log = folder / "sipp-messages.tsv"
        self.folder = folder
        self.sip_port, self.ports, self.plan = sip_port, ports, plan
        self.proc: subprocess.Popen[bytes] | None = None
        self.invited: dict[str, float] = {}  # Call-ID → epoch of the first INVITE
        self.answered: dict[str, float] = {}  # → epoch of the 200 to the INVITE
        self.refused: dict[str, int] = {}  # → final status other than 200 (486: busy)
        self.ended: dict[str, float] = {}  # → epoch of its BYE, CANCEL or final refusal
        self.cut: set[str] = set()  # calls still under way when sipp was stopped
        self._pos = 0
        self._rest = ""

    def start(self) -> None:
        ports = self.ports
        # The argv of `hotline call`, at a steady rate until stopped, with every message
        # logged; a call is given up after the longest wait in the queue and a ring.
        argv = [
            "sipp", "-sf", str(CALLER), f"127.0.0.1:{self.sip_port}", "-s", "12345",
            "-m", "1000000", "-r", str(self.plan.rate), "-d", str(self.plan.talk_ms),
            "-l", "60", "-i", "127.0.0.1", "-p", str(ports.one(socket.SOCK_DGRAM)),
            "-mp", str(ports.run(4, socket.SOCK_DGRAM)), "-recv_timeout", "80000",
            "-nostdin", "-trace_err", "-trace_shortmsg", "-shortmessage_file", str(self.log),
        ]  # fmt: skip
        with (self.folder / "sipp.out").open("wb") as out:
            self.proc = subprocess.Popen(argv, cwd=self.folder, stdout=out, stderr=out)

    def stop(self, timeout: float) -> None:
        """No new calls; wait for the calls under way to end, then cut the rest off."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGUSR1)  # sipp's soft exit
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.read()
        self.cut = set(self.invited) - set(self.ended)

    def read(self) -> None:
        try:
            with self.log.open(encoding="utf-8", errors="replace") as fh:
                fh.seek(self._pos)
                text = self._rest + fh.read()
                self._pos = fh.tell()
        except FileNotFoundError:
            return
        lines = text.split("\n")
        self._rest = lines.pop()
        for line in lines:
            self._take(line.split("\t"))

    def _take(self, cols: list[str]) -> None:
        if len(cols) < 7:
            return
        epoch, way, call, method, first = float(cols[2]), cols[3], cols[4], cols[5], cols[6]
        if way == "S" and first.startswith("INVITE"):
            self.invited.setdefault(call, epoch)
        elif way == "S" and first.startswith(("BYE", "CANCEL")):
            self.ended.setdefault(call, epoch)
        elif way == "R" and method.endswith("INVITE") and first.startswith("SIP/2.0 "):
            code = int(first.split()[1])
            if code == 200:
                self.answered.setdefault(call, epoch)
            elif code >= 300:
                self.refused.setdefault(call, code)
                self.ended.setdefault(call, epoch)

    def answered_after(self, since: float) -> float | None:
        """When the first call placed at or after `since` was answered."""
        self.read()
        times = [t for c, t in self.answered.items() if self.invited.get(c, 0.0) >= since]
        return min(times) if times else None


@dataclass
class Filed:
    status: int | None = None  # the last answer's status (None: no answer at all)
    ticket_id: int | None = None  # set once acknowledged (200 or 201)
    attempts: int = 0


class Tickets:
    """A client filing tickets through the API at a steady rate, each with its own
    client_token, sent again with the same token after a connection error or a 5xx."""

    def __init__(self, url: str, token: str, rate: float, run: str) -> None:
        self.url, self.token, self.rate, self.run = url, token, rate, run
        self.filed: dict[str, Filed] = {}
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ticket")
        self._thread = threading.Thread(target=self._loop, name="tickets", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _loop(self) -> None:
        n = 0
        while not self._stop.wait(1 / self.rate):
            n += 1
            token = f"chaos-{self.run}-{n:05d}"
            self.filed[token] = Filed()
            self._pool.submit(self._file, token, n)

    def _file(self, token: str, n: int) -> None:
        body = json.dumps(
            {
                "request_type": "complaint",
                "title": f"小区路灯不亮（压测 {n}）",
                "content": "某小区3号楼门前路灯连续一周不亮，夜间出行不便，请尽快维修。",
                "caller_phone": f"139{n % 100000000:08d}",
                "client_token": token,
                "auto_dispatch": True,
            },
            ensure_ascii=False,
        ).encode()
        filed, backoff = self.filed[token], 1.0
        deadline = time.monotonic() + TICKET_GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            filed.attempts += 1
            filed.status, ticket_id = self._post(body)
            if filed.status in (200, 201):
                filed.ticket_id = ticket_id
                return
            if filed.status is not None and filed.status < 500 and filed.status != 429:
                return  # refused: sending it again would be refused again
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _post(self, body: bytes) -> tuple[int | None, int | None]:
        request = urllib.request.Request(
            f"{self.url}/api/tickets",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as resp:
                return resp.status, int(json.loads(resp.read())["id"])
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            return None, None  # refused, reset, timed out, a body cut off


# ---------------------------------------------------------------- the demo


class Stack:
    """The demo, its Redis and database, and what the bench reads of them."""

    def __init__(self, folder: Path, postgres: bool) -> None:
        self.folder = folder
        self.ports = Ports()
        self.redis = RedisServer(self.ports.one(socket.SOCK_STREAM), folder / "redis")
        self.pg = Postgres(self.ports.one(socket.SOCK_STREAM)) if postgres else None
        self.log = folder / "demo.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        self.url = ""
        self.conn = redis.Redis.from_url(self.redis.url, socket_timeout=2)

    def start(self) -> None:
        self.redis.start()
        if self.pg is not None:
            self.pg.init()
            database = self.pg.url
        else:
            database = f"sqlite:///{self.folder / 'instance' / 'hotline.db'}"
        run_dir = self.folder / "run"
        run_dir.mkdir()
        self.env = demo_environment(
            self.ports, self.redis.url, run_dir, str(self.folder / "instance"), database
        )
        # As bench.sip: no wrap-up, so that four seats keep up with a call a second.
        self.env["HOTLINE_TELEPHONY__WRAP_UP_SECONDS"] = "0"
        self.url = f"http://127.0.0.1:{self.env['HOTLINE_WEB__PORT']}"
        argv = [sys.executable, "-m", "hotline.cli", "demo", "--auto-answer"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*argv, str(AUTO_ANSWER_SECONDS)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        _until(self._ready, STARTUP_SECONDS, "the demo to be ready")
        acd = Acd(self.conn)
        for i, seat in enumerate(SEATS, start=1):
            acd.login(seat, f"agent-{i}")  # as bench.sip: no console to keep alive
            acd.ready(seat)

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            sys.exit(f"hotline demo exited with {self.proc.returncode}:\n{self.tail()}")
        text = self.log.read_text(encoding="utf-8", errors="replace")
        if "未安装 kamailio" in text:
            sys.exit("kamailio is not installed: the demo has no telephony")
        return "热线演示已就绪" in text and healthy(self.url) and registered(self.log) >= set(SEATS)

    def api_token(self) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "hotline.cli", "user", "token", "operator1", "--name", "chaos"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, group=True)
        self.redis.stop()
        if self.pg is not None:
            self.pg.stop()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def pid(self, kind: str) -> int | None:
        """The live process of this kind among the demo's children."""
        assert self.proc is not None
        for pid, cmd in children(self.proc.pid).items():
            if re.search(PATTERNS[kind], cmd):
                return pid
        return None

    def log_count(self, text: str) -> int:
        return self.log.read_text(encoding="utf-8", errors="replace").count(text)

    def scheduler_since(self, since: float) -> bool:
        """The cron scheduler has sent a heartbeat since then."""
        from rq.cron_scheduler_registry import get_registry_key

        try:
            return bool(self.conn.zrangebyscore(get_registry_key(), since, "+inf"))
        except redis.RedisError:
            return False

    def jobs_run(self) -> Callable[[], bool]:
        """A check that a job enqueued now (or, Redis away, as soon as it answers) has run:
        `os.getpid` on the queue the worker takes last, a probe with no side effect."""
        from rq import Queue

        job: list[Any] = []

        def check() -> bool:
            try:
                if not job:
                    queue = Queue("default", connection=self.conn)
                    job.append(queue.enqueue("os.getpid", job_timeout=30, result_ttl=600))
                return bool(job[0].get_status(refresh=True) == "finished")
            except redis.RedisError:
                return False

        return check


# ---------------------------------------------------------------- faults


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every process under it, as a service manager's kill of the
    unit's control group: gunicorn's workers, Kamailio's children, an rq work horse."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(c for c, parent in parents.items() if parent == p)
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def inject(stack: Stack, fault: str, plan: Plan) -> tuple[Recovery, Callable[[], bool]]:
    """Do the fault; return its record and the check that says it is back and serving."""
    now = time.time()
    if fault in PATTERNS:
        return _kill(stack, fault, now)
    if fault == "postgres":
        assert stack.pg is not None
        stack.pg.crash()
        time.sleep(plan.postgres_down)
        stack.pg.start()
        return Recovery(fault, now, time.time()), lambda: healthy(stack.url)
    if fault == "redis_stop":
        stack.redis.stop()
        time.sleep(plan.outage)
        stack.redis.start()
        healed = time.time()
        jobs_run = stack.jobs_run()

        def reconnected() -> bool:
            # the scheduler's loop and the worker's are back on Redis
            return healthy(stack.url) and stack.scheduler_since(healed) and jobs_run()

        return Recovery(fault, now, healed), reconnected
    if fault == "redis_freeze":
        stack.redis.signal(signal.SIGSTOP)
        time.sleep(plan.outage)
        stack.redis.signal(signal.SIGCONT)
        return Recovery(fault, now, time.time()), lambda: healthy(stack.url)
    raise ValueError(fault)


def _kill(stack: Stack, kind: str, now: float) -> tuple[Recovery, Callable[[], bool]]:
    old = stack.pid(kind)
    if old is None:
        return Recovery(kind, now, now, note="no such process to kill"), lambda: False
    seat = kind.split()[-1]
    before = {
        "seat": stack.log_count(f"seat {seat} registration: 200"),
        "sip": stack.log_count("Listening on"),
    }
    kill_tree(old)
    jobs_run = stack.jobs_run()

    def serving() -> bool:
        new = stack.pid(kind)
        if new is None or new == old:
            return False
        if kind == "web":
            return healthy(stack.url)
        if kind == "worker":
            return jobs_run()
        if kind == "cron":
            return stack.scheduler_since(now)
        if kind == "sip":
            return stack.log_count("Listening on") > before["sip"]
        return stack.log_count(f"seat {seat} registration: 200") > before["seat"]

    return Recovery(kind, now, now, note=f"pid {old}"), serving


def measure(rec: Recovery, serving: Callable[[], bool], calls: Calls, cap: float) -> None:
    """Seconds from the fault's healing until it serves again and a new call is answered."""
    while time.time() - rec.healed < cap:
        elapsed = time.time() - rec.healed
        if rec.back_seconds is None and serving():
            rec.back_seconds = round(elapsed, 1)
        if rec.answered_seconds is None:
            answered = calls.answered_after(rec.healed)
            if answered is not None:
                rec.answered_seconds = round(answered - rec.healed, 1)
        if rec.back_seconds is not None and rec.answered_seconds is not None:
            return
        time.sleep(0.25)


# ---------------------------------------------------------------- figures


def settle(calls: Calls, engine: sa.Engine, deadline: float) -> dict[str, str]:
    """Call id → outcome of the record, once none can still become final (or the deadline).

    A waiting or ringing call the edge forgot is closed by `hotline cron`, and a call cut off
    with sipp ends at the seat; a record left talking after its end was reported, or missing,
    stays so: no use waiting for it."""
    wanted = set(calls.invited)
    while True:
        with engine.connect() as c:
            rows = c.execute(
                sa.select(CallRecord.call_id, CallRecord.outcome).where(
                    CallRecord.call_id.in_(wanted)
                )
            ).all()
        outcomes = {r.call_id: r.outcome for r in rows}
        waiting = [c for c in wanted if outcomes.get(c) in ("queued", "ringing")]
        cut = [c for c in calls.cut if outcomes.get(c) not in FINAL]
        if not (waiting or cut) or time.monotonic() > deadline:
            return outcomes
        time.sleep(2)


def call_figures(calls: Calls, outcomes: dict[str, str]) -> dict[str, Any]:
    offered = set(calls.invited)
    final = {c for c in offered if outcomes.get(c) in FINAL}
    # A call cut off with sipp may still be under way at its seat (sipp sends no BYE when it
    # is killed): lost only when the hotline has no record of it at all.
    lost = {c for c in offered - final if c not in calls.cut or c not in outcomes}
    # one side says answered, the other not (sipp cannot say it of a call it was stopped in)
    wrong = sorted(
        c for c in final - calls.cut if (c in calls.answered) != (outcomes[c] == "answered")
    )
    return {
        "offered": len(offered),
        "answered": len(offered & calls.answered.keys()),
        "busy": sum(1 for c in offered if calls.refused.get(c) == 486),
        "recorded": len(final),
        "lost": len(lost),
        "wrong": len(wrong),
        "cut_off": len(calls.cut),
        "not_final": sorted(f"{c}:{outcomes.get(c, 'none')}" for c in lost)[:20],
        "wrong_calls": [
            f"{c}:{'200' if c in calls.answered else 'no 200'}/{outcomes[c]}" for c in wrong
        ][:20],
    }


def ticket_figures(tickets: Tickets, engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as c:
        rows = c.execute(
            sa.select(Ticket.client_token, Ticket.id).where(
                Ticket.client_token.like(f"chaos-{tickets.run}-%")
            )
        ).all()
    stored: dict[str, list[int]] = {}
    for token, ticket_id in rows:
        stored.setdefault(token or "", []).append(ticket_id)
    acked = {t: f.ticket_id for t, f in tickets.filed.items() if f.ticket_id is not None}
    return {
        "tickets_sent": len(tickets.filed),
        "tickets_acknowledged": len(acked),
        "tickets_stored": len(stored),
        "tickets_duplicated": sum(len(ids) - 1 for ids in stored.values()),
        "tickets_lost": sum(1 for t, i in acked.items() if i not in stored.get(t, [])),
        "tickets_unacknowledged": len(tickets.filed) - len(acked),
        "tickets_retried": sum(1 for f in tickets.filed.values() if f.attempts > 1),
    }


def free_stuck_seats(stack: Stack, calls: Calls, *, over: bool = False) -> list[str]:
    """Seats the ACD has ringing or talking on a call the caller ended at least 5 s ago: a
    report lost on the way. Each is freed by ending its call in the ACD (as a team lead's 复位
    would, but leaving the seat ready), so that the next fault is measured on four seats.
    `over`: sipp has ended, and every call with it."""
    calls.read()
    acd = Acd(stack.conn, AcdConfig(wrap_up_seconds=0))
    stuck, now = [], time.time()
    for seat in SEATS:
        state = acd.seat(seat)
        call = state.get("call", "")
        if (
            state.get("state") in ("ringing", "talking")
            and calls.ended.get(call, 0.0 if over else now) < now - 5
            and call not in calls.cut  # its caller was cut off with sipp: no end to report
        ):
            stuck.append(f"{seat}:{state['state']}:{call}")
            try:
                acd.ended(call, by="caller")
            except AcdError:
                pass
    return stuck


def processes_not_back(stack: Stack) -> list[str]:
    missing = [kind for kind in PATTERNS if stack.pid(kind) is None]
    if "cron" not in missing and not stack.scheduler_since(time.time() - 60):
        missing.append("cron (no heartbeat for 60 s)")
    if "worker" not in missing and not _within(stack.jobs_run(), GOAL_SECONDS):
        missing.append(f"worker (a job not run within {GOAL_SECONDS:.0f} s)")
    return missing


def goals(figures: dict[str, Any], recoveries: list[Recovery]) -> list[str]:
    failed = [
        name for name in ("lost", "wrong", "tickets_duplicated", "tickets_lost") if figures[name]
    ]
    if figures["seats_stuck"]:
        failed.append("seats_stuck")
    if figures["processes_not_back"]:
        failed.append("processes_not_back")
    for rec in recoveries:
        for what, seconds in (("back", rec.back_seconds), ("answered", rec.answered_seconds)):
            if seconds is None or seconds > GOAL_SECONDS:
                failed.append(f"{rec.fault}: {what} within {GOAL_SECONDS:.0f} s")
    return failed


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated, in order")
    parser.add_argument("--calls-per-fault", type=int, help="calls placed after each fault")
    parser.add_argument("--rate", type=float, help="new calls per second (0.5)")
    parser.add_argument("--short", action="store_true", help="the bounded run CI does")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite, no postgres fault")
    parser.add_argument("--keep", action="store_true", help="keep the folder with every log")
    args = parser.parse_args()
    plan = SHORT if args.short else FULL
    if args.calls_per_fault:
        plan = replace(plan, quiet_calls=args.calls_per_fault)
    if args.rate:
        plan = replace(plan, rate=args.rate)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        sys.exit(f"unknown faults: {', '.join(sorted(unknown))} (known: {', '.join(FAULTS)})")
    if args.no_postgres and "postgres" in faults:
        faults.remove("postgres")
    missing = [t for t in ("kamailio", "sipp", "redis-server") if not _installed(t)]
    if missing:
        sys.exit(f"not installed: {', '.join(missing)}")

    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    stack = Stack(folder, postgres=not args.no_postgres)
    try:
        result = run(stack, plan, faults, started)
        result["mode"] = "short" if args.short else "full"
    finally:
        stack.stop()
    if args.keep:
        _say(f"logs kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))


def run(stack: Stack, plan: Plan, faults: list[str], started: float) -> dict[str, Any]:
    stack.start()
    ready = time.monotonic()
    _say(f"demo ready in {ready - started:.0f} s ({stack.folder})")
    sip_port = int(stack.env["HOTLINE_TELEPHONY__SIP_PORT"])
    calls = Calls(stack.folder, sip_port, stack.ports, plan)
    tickets = Tickets(stack.url, stack.api_token(), plan.ticket_rate, uuid.uuid4().hex[:8])
    calls.start()
    tickets.start()
    load_started = time.time()
    try:
        recoveries = _faults(stack, plan, faults, calls, load_started)
    finally:
        calls.stop(timeout=plan.drain)
        tickets.stop()
    _say(f"load stopped at +{time.time() - load_started:.0f} s")
    engine = make_engine(DatabaseSettings(url=stack.env["HOTLINE_DATABASE__URL"]))
    outcomes = settle(calls, engine, time.monotonic() + SETTLE_SECONDS)
    figures: dict[str, Any] = {
        **call_figures(calls, outcomes),
        **ticket_figures(tickets, engine),
    }
    engine.dispose()
    stuck = [s for r in recoveries for s in r.stuck] + free_stuck_seats(stack, calls, over=True)
    figures["seats_stuck"] = len(stuck)
    figures["seats_stuck_detail"] = stuck
    figures["processes_not_back"] = processes_not_back(stack)
    figures["recover_seconds"] = {
        r.fault: {
            "at": round(r.at - load_started, 1),
            "back": r.back_seconds,
            "answered": r.answered_seconds,
            "seats_stuck": len(r.stuck),
        }
        for r in recoveries
    }
    failed = goals(figures, recoveries)
    figures.update(
        {
            "database": "postgresql" if stack.pg else "sqlite",
            "faults": [r.fault for r in recoveries],
            "startup_seconds": round(ready - started, 1),
            "wall_seconds": round(time.monotonic() - started, 1),
            "goals_met": not failed,
            "failed_goals": failed,
        }
    )
    _summary(figures)
    return figures


def _faults(
    stack: Stack, plan: Plan, faults: list[str], calls: Calls, load_started: float
) -> list[Recovery]:
    time.sleep(plan.warmup)
    recoveries = []
    for fault in faults:
        for kind in [f"seat {s}" for s in plan.seats] if fault == "seat" else [fault]:
            rec, serving = inject(stack, kind, plan)
            measure(rec, serving, calls, plan.cap)
            time.sleep(plan.quiet_calls / plan.rate)
            rec.stuck = free_stuck_seats(stack, calls)
            recoveries.append(rec)
            since = "the restart" if rec.healed > rec.at else "the fault"
            _say(
                f"{kind} at +{rec.at - load_started:.0f} s: back in {rec.back_seconds} s, "
                f"a new call answered in {rec.answered_seconds} s, from {since}; "
                f"seats stuck: {rec.stuck or 'none'} {rec.note}"
            )
    return recoveries


def _summary(f: dict[str, Any]) -> None:
    _say(
        f"calls: {f['offered']} offered, {f['answered']} answered, {f['recorded']} recorded, "
        f"{f['lost']} lost, {f['wrong']} wrong; tickets: {f['tickets_sent']} sent, "
        f"{f['tickets_stored']} stored, {f['tickets_duplicated']} duplicated, "
        f"{f['tickets_lost']} lost; seats stuck: {f['seats_stuck']}; "
        f"processes not back: {f['processes_not_back'] or 'none'}"
    )
    for line in f["not_final"] + f["wrong_calls"]:
        _say(f"  {line}")
    _say("goals met" if f["goals_met"] else f"goals missed: {'; '.join(f['failed_goals'])}")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _installed(tool: str) -> bool:
    return shutil.which(tool) is not None or Path("/usr/sbin", tool).exists()


def _pings(conn: "redis.Redis") -> bool:
    try:
        return bool(conn.ping())
    except redis.RedisError:
        return False


def _within(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    if not _within(check, timeout):
        sys.exit(f"timed out waiting for {what}")


if __name__ == "__main__":
    main()
