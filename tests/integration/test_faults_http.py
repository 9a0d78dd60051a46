"""Faults that used to answer misleadingly: an outage, NUL characters, opposite merges,
a chunked body too large, and two `hotline web` on one machine (issue 18, items 6, 9, 10)."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SKIP_PG

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = ROOT / ".venv" / "bin" / "hotline"
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
needs_pg = pytest.mark.skipif(SKIP_PG, reason="HOTLINE_TEST_SKIP_POSTGRES=1")


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
