"""The chaos bench, short, on the real demo: the faults in turn lose, duplicate and leave
stuck nothing, and every process comes back (issue 18, "Keep it fixed").

`python -m bench.chaos --short` runs as `make bench-chaos` runs it, from the repository root,
and must exit 0 with its JSON as the last line. The figures are judged on the goals that do
not depend on the machine's speed: 0 calls lost, 0 recorded wrong, 0 tickets duplicated or
lost, 0 seats stuck, 0 processes not back. Seconds to recover are printed, never asserted (the
machine is shared).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHORT_RUN_SECONDS = 600  # about 3 minutes when every goal is met, 4½ when faults take their cap
GOALS = (
    "lost",
    "wrong",
    "tickets_duplicated",
    "tickets_lost",
    "seats_stuck",
    "processes_not_back",
)


@pytest.mark.slow
def test_the_short_chaos_run_loses_duplicates_and_leaves_stuck_nothing() -> None:
    tools = ("kamailio", "sipp", "redis-server")
    missing = [t for t in tools if not (shutil.which(t) or Path("/usr/sbin", t).exists())]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    args = ["--short"]
    if not (shutil.which("pg_ctl") or list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))):
        args.append("--no-postgres")  # its own cluster needs the server's binaries
    # Its own folders are in the system's temporary folder, not pytest's: the PostgreSQL
    # server (user postgres) must reach its own, and a socket path has at most 107 bytes.
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.chaos", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SHORT_RUN_SECONDS,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["offered"] > 0 and figures["tickets_sent"] > 0, proc.stderr[-3000:]
    missed = [f"{goal}: {figures[goal]}" for goal in GOALS if figures[goal]]
    assert not missed, "; ".join(missed) + "\n" + proc.stderr[-2000:]
