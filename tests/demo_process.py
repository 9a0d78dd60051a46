"""The real `hotline demo` as a process of its own beside any other on this machine.

Shared by the journeys (tests/journeys/conftest.py) and the chaos bench (bench/chaos.py),
which both start the demo the README starts, changing only its environment: free ports, its
own instance folder, database and Redis. Nothing here needs pytest.
"""

import os
import random
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

SEATS = ("s01", "s02", "s03", "s04")  # hotline.cli.DEMO_SEATS
# Ports are drawn from here: clear of the default demo's (8000, 5060, 5070-5080,
# 5170-5180), of pjsua2's RTP ports (4000 up, 31000 up) and of the kernel's ephemeral range.
PORT_RANGE = (20000, 30000)


def _free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Ports:
    """Free loopback ports, none handed out twice."""

    def __init__(self) -> None:
        self.taken: set[int] = set()

    def run(self, count: int, kind: int) -> int:
        """A base such that base+1 ... base+count are free (`seat_port_base` style)."""
        for _ in range(500):
            base = random.randrange(*PORT_RANGE)
            wanted = range(base + 1, base + count + 1)
            if not self.taken & set(wanted) and all(_free(p, kind) for p in wanted):
                self.taken.update(wanted)
                return base
        raise RuntimeError(f"no free ports in {PORT_RANGE}")

    def one(self, kind: int) -> int:
        return self.run(1, kind) + 1


def demo_environment(
    ports: Ports, redis_url: str, run_dir: Path, instance: str, database_url: str
) -> dict[str, str]:
    """The environment of a demo on free ports with its own instance, database and Redis."""
    web = ports.one(socket.SOCK_STREAM)
    rtp = ports.run(200, socket.SOCK_DGRAM)
    announce = ports.run(40, socket.SOCK_DGRAM)
    # A developer's or CI's own HOTLINE_ settings must not leak into the demo: it runs on the
    # shipped config.yaml and the overrides below only.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        {
            "HOTLINE_INSTANCE_PATH": instance,
            "HOTLINE_DATABASE__URL": database_url,
            "HOTLINE_WEB__PORT": str(web),
            "HOTLINE_TELEPHONY__ACD_URL": f"http://127.0.0.1:{web}/acd",
            "HOTLINE_TELEPHONY__SIP_PORT": str(ports.one(socket.SOCK_DGRAM)),
            "HOTLINE_TELEPHONY__SEAT_PORT_BASE": str(ports.run(len(SEATS), socket.SOCK_DGRAM)),
            "HOTLINE_FOLLOWUP__SURVEY_PORT_BASE": str(ports.run(1, socket.SOCK_DGRAM)),
            # the consoles' headsets: the edge's WebSocket, rtpengine's control and media ports
            "HOTLINE_TELEPHONY__WS_PORT": str(ports.one(socket.SOCK_STREAM)),
            "HOTLINE_TELEPHONY__RTPENGINE": f"127.0.0.1:{ports.one(socket.SOCK_DGRAM)}",
            "HOTLINE_TELEPHONY__RTP_PORT_MIN": str(rtp + 1),
            "HOTLINE_TELEPHONY__RTP_PORT_MAX": str(rtp + 200),
            # the queue announcer's control and the RTP ports it sends waiting callers from
            "HOTLINE_TELEPHONY__ANNOUNCER": f"127.0.0.1:{ports.one(socket.SOCK_STREAM)}",
            "HOTLINE_TELEPHONY__ANNOUNCE_PORT_MIN": str(announce + 1),
            "HOTLINE_TELEPHONY__ANNOUNCE_PORT_MAX": str(announce + 40),
            "HOTLINE_REDIS__URL": redis_url,
            "XDG_RUNTIME_DIR": str(run_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def healthy(url: str) -> bool:
    """`/healthz` answers 200: this web app can serve (database and Redis answer)."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)
    except Exception:  # noqa: BLE001 - not up yet
        return False


def registered(log: Path) -> set[str]:
    """The seats whose registration at the edge the demo's log has shown."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return set(re.findall(r"seat (s\d+) registration: 200", text))


def children(root: int) -> dict[int, str]:
    """Pid → command line of the processes `root` started (not their own children: an rq
    worker forks a work horse with the same command line for each job)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == root:
            found[int(entry.name)] = cmd.strip()
    return found


def stop(proc: "subprocess.Popen[bytes]", group: bool) -> None:
    """SIGTERM (to the whole process group), then SIGKILL after 20 s."""
    if proc.poll() is None or group:
        try:
            if group:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.terminate()
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        alive = proc.poll() is None
        if group and not alive:
            try:
                os.killpg(proc.pid, 0)  # children of the demo still there?
                alive = True
            except ProcessLookupError:
                alive = False
        if not alive:
            break
        time.sleep(0.2)
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
        except ProcessLookupError:
            pass
    proc.wait()
