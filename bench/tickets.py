"""Sustained ticket creation + dispatch through the HTTP API on PostgreSQL.

Starts `hotline web` against a fresh PostgreSQL database, drives it from client processes
over keep-alive connections (each ticket = POST /api/tickets, then POST .../actions/dispatch),
and prints one JSON object as the last line: tickets per second, requests per second and
latency percentiles. Everything runs on loopback and stops by itself.

    python -m bench.tickets [--seconds 20] [--clients 8] [--workers 2] [--threads 8]
"""

import argparse
import http.client
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent

ADMIN_URL = os.environ.get(
    "HOTLINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _seed(url: str) -> tuple[str, list[int]]:
    from infra.auth import NewUser
    from infra.auth import create_user
    from infra.auth import issue_token
    from infra.db import UnitOfWork
    from infra.db import make_engine
    from infra.db import make_session_factory
    from infra.models import Unit
    from infra.settings import DatabaseSettings
    from kernel.roles import Role
    from kernel.units import UnitKind

    engine = make_engine(DatabaseSettings(url=url))
    with UnitOfWork(make_session_factory(engine)) as uow:
        units = []
        for i, name in enumerate(["住房和城乡建设局", "城市管理局", "交通运输局", "供电公司"]):
            unit = Unit(code=f"u{i}", name=name, kind=UnitKind.DEPARTMENT, keywords=[])
            uow.session.add(unit)
            uow.session.flush()
            units.append(unit.id)
        user = create_user(
            uow.session, NewUser("bench", "bench-password", Role.OPERATOR), rules=None
        )
        token = issue_token(uow.session, user, "bench")
        uow.commit()
    engine.dispose()
    return token, units


def _client(
    port: int,
    token: str,
    units: list[int],
    start_at: float,
    warmup: float,
    stop_at: float,
    out: Any,
    threads: int,
    mode: str,
) -> None:
    """One client process: `threads` threads, each a keep-alive connection."""
    import threading

    results: list[tuple[str, float, int]] = []
    lock = threading.Lock()
    one_step = mode == "one-step"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def loop(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: list[tuple[str, float, int]] = []
        i = 0
        while time.monotonic() < start_at:
            time.sleep(0.01)
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            measured = now >= start_at + warmup
            i += 1
            body = json.dumps(
                {
                    "request_type": "complaint",
                    "urgency": "normal",
                    "channel": "phone",
                    "caller_phone": f"138{n:04d}{i % 10000:04d}",
                    "citizen_name": "测试",
                    "address": "东湖区湖滨街道滨江路88号",
                    "category": "城乡建设/物业管理/电梯",
                    "title": "小区电梯频繁故障无人维修",
                    "content": "来电人反映小区3号楼电梯近一个月内多次停运，希望督促物业尽快维修。",
                },
                ensure_ascii=False,
            ).encode()
            t0 = time.perf_counter()
            conn.request("POST", "/api/tickets", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            t1 = time.perf_counter()
            if measured:
                local.append(("create", t1 - t0, resp.status))
                if one_step and resp.status == 201:
                    local.append(("ticket", t1 - t0, resp.status))
            if resp.status != 201 or one_step:
                continue
            ticket_id = json.loads(data)["id"]
            body = json.dumps({"lead_unit_id": units[i % len(units)]}).encode()
            t2 = time.perf_counter()
            conn.request(
                "POST", f"/api/tickets/{ticket_id}/actions/dispatch", body=body, headers=headers
            )
            resp = conn.getresponse()
            resp.read()
            t3 = time.perf_counter()
            if measured:
                local.append(("dispatch", t3 - t2, resp.status))
                if resp.status == 200:
                    local.append(("ticket", t3 - t0, resp.status))
        conn.close()
        with lock:
            results.extend(local)

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--client-threads", type=int, default=4, help="connections per client")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument(
        "--mode",
        choices=["two-step", "one-step", "both"],
        default="both",
        help="two-step: POST ticket then POST dispatch action; one-step: POST "
        "ticket with its dispatch (受理并派单); both: run each in turn",
    )
    parser.add_argument(
        "--name", help="the throwaway database's name (default: hotline_bench_<random>)"
    )
    args = parser.parse_args()

    from infra.migrate import upgrade

    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = args.name or f"hotline_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        upgrade(url)
        token, units = _seed(url)
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server.
        server_log = open(f"/tmp/{name}-web.log", "wb")  # noqa: SIM115 - closed below
        env = {
            **os.environ,
            "HOTLINE_DATABASE__URL": url,
            "HOTLINE_LOG_LEVEL": "WARNING",
            "HOTLINE_WEB__SECRET_KEY": "bench",
            "HOTLINE_CONFIG": str(ROOT / "config.yaml"),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hotline.cli",
                "web",
                "--port",
                str(args.port),
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=server_log,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                c.request("GET", "/api/openapi.json")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("web server did not start")
            time.sleep(0.2)

        modes = ["two-step", "one-step"] if args.mode == "both" else [args.mode]
        runs = {mode: _drive(args, token, units, mode) for mode in modes}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
            server_log.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    report: dict[str, Any] = {
        "benchmark": "tickets created and dispatched over HTTP on PostgreSQL",
        "seconds_per_run": args.seconds,
        **{
            mode.replace("-", "_"): _summary(results, args.seconds)
            for mode, results in runs.items()
        },
        "setup": {
            "web_workers": args.workers,
            "threads_per_worker": args.threads,
            "client_processes": args.clients,
            "connections": args.clients * args.client_threads,
            "cpus": os.cpu_count(),
        },
        "target": {"tickets_per_second": 200, "p99_ms": 100},
    }
    print(json.dumps(report, ensure_ascii=False))


def _drive(args: argparse.Namespace, token: str, units: list[int], mode: str) -> list[Any]:
    ctx = mp.get_context("fork")
    out: Any = ctx.Queue()
    start_at = time.monotonic() + 1.0
    stop_at = start_at + args.warmup + args.seconds
    procs = [
        ctx.Process(
            target=_client,
            args=(
                args.port,
                token,
                units,
                start_at,
                args.warmup,
                stop_at,
                out,
                args.client_threads,
                mode,
            ),
        )
        for _ in range(args.clients)
    ]
    for p in procs:
        p.start()
    results: list[tuple[str, float, int]] = []
    for _ in procs:
        results.extend(out.get(timeout=args.warmup + args.seconds + 120))
    for p in procs:
        p.join()
    return results


def _summary(results: list[tuple[str, float, int]], seconds: float) -> dict[str, Any]:
    """Tickets per second and latency; `ticket` rows are whole create(+dispatch) times."""
    requests = [r for r in results if r[0] != "ticket"]
    ok = [r for r in requests if r[2] in (200, 201)]
    tickets = [r[1] * 1000 for r in results if r[0] == "ticket"]
    per_request = [r[1] * 1000 for r in ok]
    return {
        "tickets_per_second": round(len(tickets) / seconds, 1),
        "requests_per_second": round(len(ok) / seconds, 1),
        "errors": len(requests) - len(ok),
        "request_latency_ms": {
            "p50": round(_percentile(per_request, 0.50), 2),
            "p99": round(_percentile(per_request, 0.99), 2),
            "mean": round(statistics.fmean(per_request), 2) if per_request else None,
        },
        "ticket_latency_ms": {
            "p50": round(_percentile(tickets, 0.50), 2),
            "p99": round(_percentile(tickets, 0.99), 2),
        },
    }


if __name__ == "__main__":
    main()
