"""Every bench runs, short, and prints its figures: a broken bench cannot land again.

Issue 18 found `make bench-sip` failing at once (bench/reports.py hid the `reports` package)
with nothing to notice it. Each bench runs here as `make` runs it, `python -m bench.NAME` from
the repository root, with the smallest sizes it takes, and must exit 0 with a JSON object
holding its figures as the last line. The figures are not judged: the machine is shared.

Benches on the shared labelled data (`../shared/data`, beside the repository and never in it)
skip when it is absent, as in a clean clone. The PostgreSQL benches use the test server
(HOTLINE_TEST_POSTGRES_URL) and a throwaway database `bench_ci`; Redis is the test server's.
"""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.conftest import SKIP_PG

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
SHARED = ROOT.parent / "shared" / "data"
# Databases 10 and 11 of the shared Redis are the benches' (the suite's own is elsewhere).
REDIS_URL = os.environ.get("HOTLINE_TEST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
CI_DATABASE = "bench_ci"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Bench:
    name: str
    args: list[str]
    keys: set[str]
    shared: str = ""  # the file of ../shared/data it cannot run without
    postgres: bool = False
    telephony: bool = False
    timeout: float = 120.0
    marks: list[Any] = field(default_factory=list)


BENCHES = [
    Bench("open311", ["-n", "3"], {"post_requests", "get_requests"}),
    Bench("pages", ["--repeat", "1"], {"pages", "slowest_max_ms"}),
    Bench("suggest", ["--drafts", "3"], {"router_p50_ms", "request_p99_ms"}),
    Bench(
        "routing",
        ["--folds", "2", "--fields", "title", "--rows", "400"],
        {"title", "rows"},
        shared="gov_messages_train.tsv",
    ),
    Bench(
        "knowledge",
        ["--questions", "300", "--distractors", "300"],
        {"mrr_at_10", "recall_at_5", "p50_ms"},
        shared="gov_replies.tsv",
    ),
    # Without the shared data it still runs its demo half and says what it skipped.
    Bench(
        "threshold",
        ["--folds", "2", "--seeds", "1", "--rows", "400", "--step", "0.2"],
        {"real", "demo", "demo_cold_start"},
    ),
    Bench(
        "tickets",
        ["--seconds", "1", "--warmup", "0.5", "--clients", "1", "--client-threads", "2"],
        {"two_step", "one_step", "setup"},
        postgres=True,
    ),
    Bench("reporting", ["--tickets", "2000"], {"tickets", "brief_pdf_seconds"}, postgres=True),
    Bench(
        "sip",
        ["--seats", "2", "--calls", "6", "--rate", "3", "--talk-ms", "300"],
        {"offered", "answered", "lost", "invite_to_ringing_p99_ms"},
        telephony=True,
        timeout=150.0,
    ),
    # Idle seats, two browser operators with the headset up taking calls from sipp, then
    # callers waiting for nobody, hearing the queue's announcements.
    Bench(
        "voice",
        ["--only", "idle,load,queue", "--idle-seats", "2", "--window", "3", "--operators", "2"]
        + ["--calls", "4", "--rate", "1", "--talk-ms", "1000", "--waiting", "5"],
        {"idle", "idle_with_headset", "load", "queue"},
        telephony=True,
        timeout=300.0,
    ),
]


def test_every_bench_is_run_here() -> None:
    # bench.chaos runs in test_chaos.py, where its goals are judged
    assert {b.name for b in BENCHES} | {"chaos"} == {p.stem for p in BENCH.glob("[!_]*.py")}


@pytest.mark.parametrize("path", sorted(BENCH.glob("[!_]*.py")), ids=lambda p: p.stem)
def test_no_bench_is_named_like_something_it_could_hide(path: Path) -> None:
    # Run as a script by mistake, bench/ comes first on sys.path: a bench named like a
    # package or module (`reports`, `kb`, a library) would hide it from every import.
    assert importlib.util.find_spec(path.stem) is None, f"bench/{path.name} hides a module"


def test_the_makefile_runs_benches_as_modules() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "python bench/" not in makefile
    for bench in (
        "tickets",
        "routing",
        "threshold",
        "knowledge",
        "reporting",
        "sip",
        "voice",
        "chaos",
    ):
        assert f"-m bench.{bench}\n" in makefile


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "HOTLINE_BENCH_POSTGRES_URL": PG_URL,
        "HOTLINE_BENCH_REDIS_URL": REDIS_URL,
        "HOTLINE_REDIS__URL": REDIS_URL,
        "TMPDIR": str(tmp_path),
    }
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture
def ci_database() -> Any:
    """`bench_ci` absent before and after (a bench that failed half-way may leave it)."""
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{CI_DATABASE}" WITH (FORCE)')

    drop()
    yield CI_DATABASE
    drop()
    admin.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("bench", BENCHES, ids=lambda b: b.name)
def test_bench_runs_and_prints_its_figures(
    bench: Bench, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    args = list(bench.args)
    if bench.shared and not (SHARED / bench.shared).exists():
        pytest.skip(f"../shared/data/{bench.shared} is not beside the repository")
    if bench.shared:
        args += ["--data", str(SHARED / bench.shared if bench.name == "routing" else SHARED)]
    if bench.postgres:
        if SKIP_PG:
            pytest.skip("HOTLINE_TEST_SKIP_POSTGRES=1")
        args += ["--name", request.getfixturevalue("ci_database")]
    if bench.name == "tickets":
        args += ["--port", str(free_port())]
    if bench.name == "reporting":
        args += ["--out-dir", str(tmp_path)]
    if bench.telephony:
        tools = ("kamailio", "sipp") + (("rtpengine", "chromium") if bench.name == "voice" else ())
        missing = [t for t in tools if shutil.which(t) is None]
        if missing:
            pytest.skip(f"not installed: {', '.join(missing)}")
        args += ["--redis", REDIS_URL]
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{bench.name}", *args],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=bench.timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {proc.stderr[-3000:]}"
    figures = json.loads(lines[-1])
    assert isinstance(figures, dict)
    assert bench.keys <= figures.keys(), sorted(figures)
