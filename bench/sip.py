"""Calls through the whole SIP stack: Kamailio, the ACD (web app), N auto-answering pjsua2 seats.

Starts everything on loopback with a fresh SQLite database and its own Redis database,
drives calls with sipp (`callcenter/sipp/caller.xml`) at a fixed rate, waits until every call
has ended and prints, as the last line, one JSON object: offered, answered, abandoned, busy
(overflow), lost (a call with no final record), calls per second sustained, p50/p95/p99 of
INVITE → first 180 (sipp's response-time timer, through Kamailio, the ACD's HTTP answer and the
seat), p50/p99 of the ACD's offer → answer, and the peak number of calls talking at once.

    python -m bench.sip [--seats 50] [--rate 20] [--calls 600] [--talk-ms 2000]
"""

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from callcenter.acd.engine import Acd
from callcenter.edge.credentials import acd_secret
from callcenter.edge.credentials import provision
from callcenter.edge.credentials import read_password_file
from callcenter.edge.kamailio import SipEdge
from callcenter.models import CallRecord
from callcenter.records.sync import close_forgotten
from hotline.bootstrap import bootstrap
from infra.db import UnitOfWork
from infra.db import make_engine
from infra.db import make_session_factory
from infra.migrate import upgrade
from infra.settings import DatabaseSettings
from infra.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
CALLER = ROOT / "callcenter" / "sipp" / "caller.xml"
FINAL = ("answered", "abandoned", "overflow")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1)


def main() -> None:  # noqa: C901, PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0, help="new calls per second")
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--talk-ms", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(db_url)
    conn = redis.Redis.from_url(args.redis)
    conn.flushdb()
    web_port, sip_port = free_port(socket.SOCK_STREAM), free_port()
    env = {
        **os.environ,
        "HOTLINE_DATABASE__URL": db_url,
        "HOTLINE_REDIS__URL": args.redis,
        "HOTLINE_INSTANCE_PATH": str(tmp),
        "HOTLINE_WEB__LIVE_UPDATES_VIA_REDIS": "false",
        "HOTLINE_TELEPHONY__WRAP_UP_SECONDS": "0",
        "HOTLINE_LOG_LEVEL": "WARNING",
    }
    # As in production: the ACD secret proves Kamailio's and the seats' reports, and every
    # seat signs in with a digest password issued in the app's database.
    settings = load_settings(environ=env)
    secret = acd_secret(settings)
    realm = settings.telephony.sip_realm
    bench_engine = make_engine(DatabaseSettings(url=db_url))
    uow = UnitOfWork(make_session_factory(bench_engine))

    def password(name: str) -> str:
        path = tmp / "sip" / f"{name}.password"
        provision(uow, name, "seat", realm, path)
        return read_password_file(path)

    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, argv: list[str]) -> Path:
        log = tmp / f"{name}.log"
        with log.open("wb") as out:
            procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env))
        return log

    hotline = [sys.executable, "-m", "hotline.cli"]
    try:
        spawn(
            "web", [*hotline, "web", "--port", str(web_port), "--workers", "2", "--threads", "16"]
        )
        edge = SipEdge(
            port=sip_port,
            acd_url=f"http://127.0.0.1:{web_port}/acd",
            ring_seconds=10,
            max_wait_seconds=30,
            children=8,
            debug=1,
            realm=realm,
            acd_secret=secret,
        )
        cfg = tmp / "kamailio.cfg"
        cfg.write_text(edge.config(), encoding="utf-8")
        kam_log = spawn("kamailio", ["kamailio", "-DD", "-E", "-f", str(cfg), "-Y", str(tmp)])
        wait_for(lambda: "Listening on" in kam_log.read_text(errors="replace"), 15, "kamailio")
        wait_for(lambda: _http_ok(web_port), 30, "the web app")
        acd = Acd(conn)
        seat_logs = []
        for i in range(1, args.seats + 1):
            name = f"s{i:02d}"
            code = (
                # the seat's log says when it has registered (below)
                "import logging; logging.basicConfig(level=logging.WARNING);"
                "logging.getLogger('callcenter.seat').setLevel(logging.INFO);"
                "from callcenter.seat import SeatConfig, run_seat;"
                f"run_seat(SeatConfig({name!r}, {free_port()}, edge_port={sip_port},"
                " auto_answer_seconds=0.05, log_level=0,"
                f" password={password(name)!r}, acd_secret={secret!r},"
                # as in production: every call recorded at the seat
                f" recordings_dir={str(tmp / 'recordings')!r}, redis_url={args.redis!r}))"
            )
            seat_logs.append(spawn(name, [sys.executable, "-c", code]))
            acd.login(name, f"agent-{i}")
            acd.ready(name)
        # Calls before every seat has registered ring nowhere and wait: on a busy machine a
        # fixed pause was too short, and those first calls made the run's p99.
        wait_for(
            lambda: all(
                "registration: 200" in log.read_text(errors="replace") for log in seat_logs
            ),
            60 + args.seats,
            "every seat to register",
        )
        started = time.monotonic()
        sipp = subprocess.run(
            [
                "sipp",
                "-sf",
                str(CALLER),
                f"127.0.0.1:{sip_port}",
                "-s",
                "12345",
                "-r",
                str(args.rate),
                "-m",
                str(args.calls),
                "-d",
                str(args.talk_ms),
                "-l",
                str(args.seats * 3),
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port()),
                "-mp",
                str(free_port()),
                "-nostdin",
                "-trace_rtt",
                "-rtt_freq",
                "1",
                "-timeout",
                "300s",
                "-timeout_error",
            ],
            capture_output=True,
            text=True,
            cwd=tmp,
            timeout=600,
        )
        elapsed = time.monotonic() - started
        (tmp / "sipp.out").write_text(sipp.stdout + sipp.stderr, encoding="utf-8")
        engine = make_engine(DatabaseSettings(url=db_url))
        # In production `hotline cron` closes, every 30 s, the calls the edge dropped under
        # overload; nothing else does once the last call is in. Sweep as it does, or a run
        # with such a call waits for a record that never becomes final.
        app = bootstrap(settings)
        stale = app.acd.config.stale_ring_seconds

        def final() -> bool:
            close_forgotten(app.uow, app.acd)
            return _all_final(engine)

        wait_for(final, stale + 30, "every call record to be final")
        app.close()
        with engine.connect() as c:
            rows = c.execute(sa.select(CallRecord)).all()
        engine.dispose()
        rtt = []
        for path in tmp.glob("*_rtt.csv"):
            with path.open() as fh:
                for row in csv.DictReader(fh, delimiter=";"):  # Date_ms;response_time_ms;rtd_no
                    if row.get("rtd_no") == "ring" and row.get("response_time_ms"):
                        rtt.append(float(row["response_time_ms"]))
        outcomes = [r.outcome for r in rows]
        offered_times = sorted(r.offered_at.timestamp() for r in rows)
        span = (offered_times[-1] - offered_times[0]) if len(offered_times) > 1 else 0
        waits = [
            r.wait_seconds * 1000 for r in rows if r.wait_seconds is not None and r.answered_at
        ]
        intervals = [(r.answered_at, r.ended_at) for r in rows if r.answered_at and r.ended_at]
        moments = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
        peak = current = 0
        for _, step in moments:
            current += step
            peak = max(peak, current)
        result = {
            "seats": args.seats,
            "rate": args.rate,
            "calls": args.calls,
            "sipp_exit": sipp.returncode,
            "offered": len(rows),
            "answered": outcomes.count("answered"),
            "abandoned": outcomes.count("abandoned"),
            "busy": outcomes.count("overflow"),
            "lost": args.calls - sum(outcomes.count(o) for o in FINAL),
            "calls_per_second": round(len(rows) / span, 1) if span else None,
            "invite_to_ringing_p50_ms": pct(rtt, 50),
            "invite_to_ringing_p95_ms": pct(rtt, 95),
            "invite_to_ringing_p99_ms": pct(rtt, 99),
            "offer_to_answer_p50_ms": pct(waits, 50),
            "offer_to_answer_p99_ms": pct(waits, 99),
            "peak_concurrent_calls": peak,
            "recordings": sum(1 for r in rows if r.recording),
            "wall_seconds": round(elapsed, 1),
        }
        print(json.dumps(result))
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        conn.close()


def _http_ok(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:  # noqa: S310
            ok = r.status == 200
    except OSError:
        return False
    return ok


def _all_final(engine: sa.Engine) -> bool:
    with engine.connect() as c:
        pending = c.execute(
            sa.select(sa.func.count())
            .select_from(CallRecord)
            .where(CallRecord.outcome.not_in(FINAL))
        ).scalar()
    return pending == 0


if __name__ == "__main__":
    main()
