"""Voice through the browser headset, and what a seat costs (issue 20: seat density, figures).

Starts on loopback, as production runs them, the web app (`hotline web`, one gunicorn worker),
Kamailio (`edge_from_settings`, WebSocket for headsets), rtpengine (`rtpengine_argv`, as
`hotline media`) and seat softphones (`hotline seat NAME`), with a fresh SQLite database, its own
Redis database and its own ports, and prints, as the last line, one JSON object with five parts
(`--only` picks some):

idle
    N seats (`--idle-seats`, default 20) registered at the edge, no browser, no call. Over a
    window (`--window` s) after they registered: CPU per seat from /proc/PID/stat
    (utime+stime, every thread of the process, including threads that ended), as % of one
    core, and how many such seats one core holds; memory per seat from
    /proc/PID/smaps_rollup: PSS (shared pages split between the processes sharing them: what
    one more seat adds), RSS and USS (private pages). The threads' share of the CPU comes
    from /proc/PID/task/*/schedstat.

idle_with_headset (`headset`)
    The same figures for K seats (`--operators`, default 6) whose operators are signed in at
    the console in headless chromium with the browser headset up (the agent leg), no call: the
    state of a staffed seat waiting for a caller.

delay
    Mouth-to-ear delay through the headset path, measured in the operator's browser on one
    clock (its WebAudio clock). The browser's fake microphone plays 40 ms tone bursts at
    irregular intervals (0.7-1.3 s). The citizen is sipp (`callcenter/sipp/caller.xml`) with
    `-rtp_echo`: it sends every RTP packet it gets straight back, adding no jitter buffer and
    no delay. So a burst goes browser (WebRTC: capture, encoder) -> rtpengine (DTLS-SRTP to RTP)
    -> the seat (jitter buffer, conference bridge, encoder) -> sipp, and back the same way to
    the browser (jitter buffer, decoder). A script put into the page (not the console's code)
    records, in one AudioContext, the track the browser sends and the track it receives, and
    the delay of each burst is the time between its onset in the first and in the second:
    the round trip. Half of it is the one-way delay the headset path adds in each direction
    (the two directions are the same path). Included: the browser's WebRTC pipeline both ways
    (capture to packet, jitter buffer to playout), rtpengine, the seat's jitter buffers and
    bridge. Excluded: the citizen phone's own jitter buffer and the carrier network (sipp
    reflects packets), sound cards and acoustics, a real network (loopback). Two calls of 12 s
    recorded from the answer on, the second after the agent leg idled 5 s; the operator-ID
    prompt is silence here (the echo would bring it back among the bursts). Each call also
    gives the browser's own jitter buffer delay (`getStats`: jitterBufferDelay per frame).

load
    The K operators above, each a headless chromium context signed in to the console at its
    own seat with the headset up (agent leg), their seats answering by themselves
    (`hotline seat --auto-answer 0.3`: the bench does not click 接听). sipp places `--calls`
    calls at `--rate` a second, `--talk-ms` each, echoing the operator's voice back as above.
    Offered, answered, abandoned, busy and lost (no final record) come from the call records;
    calls at once is the peak of answered calls overlapping; the CPU of each part during the
    calls (chromium is the operators' PCs in production, not the server's).

queue
    `--waiting` citizens (sipp, 20 new calls a second) waiting at once with no seat signed in,
    each hearing `hotline announce` (greeting, place in line, music: early media). Every
    caller's SDP names one UDP port of the bench, which tells the streams apart by SSRC. Over
    the window: the announcer's CPU (all its threads, and espeak-ng speaking new sentences) per
    waiting caller and its PSS, the frames each caller got and the RTP sequence numbers
    missing, and how far the gap between two frames of one caller strays from 20 ms (p50, p99,
    max): what a phone's jitter buffer must absorb.

    python -m bench.voice [--only idle,headset,delay,load,queue] [--idle-seats 20] [--window 30]
                          [--operators 6] [--calls 72] [--rate 1.2] [--talk-ms 4000]
                          [--waiting 100]
"""

import argparse
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import redis
import sqlalchemy as sa

from callcenter.acd.engine import Acd
from callcenter.edge.credentials import acd_secret
from callcenter.edge.credentials import password_path
from callcenter.edge.credentials import provision
from callcenter.edge.ear import Ear
from callcenter.edge.kamailio import edge_from_settings
from callcenter.edge.kamailio import stop_stale_edges
from callcenter.edge.media import rtpengine_answers
from callcenter.edge.media import rtpengine_argv
from callcenter.edge.media import rtpengine_binary
from callcenter.models import CallRecord
from callcenter.records.sync import close_forgotten
from callcenter.seat import staff_number
from hotline.bootstrap import bootstrap
from infra.auth import NewUser
from infra.auth import create_user
from infra.db import UnitOfWork
from infra.db import make_engine
from infra.db import make_session_factory
from infra.migrate import upgrade
from infra.settings import DatabaseSettings
from infra.settings import Settings
from infra.settings import load_settings
from kernel.roles import Role

ROOT = Path(__file__).resolve().parents[1]
CALLER = ROOT / "callcenter" / "sipp" / "caller.xml"
CHROMIUM = os.environ.get("HOTLINE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "bench voice headset"
FINAL = ("answered", "abandoned", "overflow")
TICK = os.sysconf("SC_CLK_TCK")

# Every RTCPeerConnection the page makes, for the recorder below (the console's own code is
# not touched: this wraps the browser's constructor before any script of the page runs).
KEEP_PEER_CONNECTIONS = """(() => {
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  window.__benchPcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__benchPcs.push(this); }
  };
})();"""

# Record, on one AudioContext, the envelope (max |sample| per `hop` samples) of what the
# headset sends (its microphone track) and of what it receives, for `seconds`.
RECORD = """async (seconds) => {
  const pc = window.__benchPcs.filter((p) => p.connectionState !== "closed").pop();
  const sent = pc.getSenders().find((s) => s.track && s.track.kind === "audio").track;
  const heard = pc.getReceivers().find((r) => r.track && r.track.kind === "audio").track;
  const jitter = async () => {
    let out = null;
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") out = r;
    });
    return out ? [out.jitterBufferDelay || 0, out.jitterBufferEmittedCount || 0] : [0, 0];
  };
  const jb0 = await jitter();
  const ctx = new AudioContext();
  await ctx.resume();
  const merge = ctx.createChannelMerger(2);
  ctx.createMediaStreamSource(new MediaStream([sent])).connect(merge, 0, 0);
  ctx.createMediaStreamSource(new MediaStream([heard])).connect(merge, 0, 1);
  const proc = ctx.createScriptProcessor(4096, 2, 1);
  const hop = 32;
  const env = [[], []];
  proc.onaudioprocess = (ev) => {
    for (let ch = 0; ch < 2; ch++) {
      const d = ev.inputBuffer.getChannelData(ch);
      for (let i = 0; i + hop <= d.length; i += hop) {
        let m = 0;
        for (let j = i; j < i + hop; j++) { const v = Math.abs(d[j]); if (v > m) m = v; }
        env[ch].push(m);
      }
    }
  };
  merge.connect(proc);
  proc.connect(ctx.destination);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  proc.disconnect();
  merge.disconnect();
  const rate = ctx.sampleRate;
  await ctx.close();
  const jb1 = await jitter();
  const emitted = jb1[1] - jb0[1];
  const jitterMs = emitted > 0 ? (1000 * (jb1[0] - jb0[0])) / emitted : null;
  return {rate, hop, sent: env[0], heard: env[1], jitterMs};
}"""


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_range(count: int) -> int:
    """The first of `count` consecutive UDP ports free now (a bench's own range), below the
    kernel's ephemeral ports (32768 on), which any process may be handed at any time."""
    for base in range(12000 + random.randrange(150) * 100, 32768 - count, 100):
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    sys.exit(f"no {count} free UDP ports in a row")


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
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


# --- What a process costs ---------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads, ended ones too), in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_seconds_with_children(pid: int) -> float:
    """cpu_seconds plus what its ended children used (cutime + cstime: espeak-ng's runs)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK


def thread_ns(pid: int) -> dict[str, int]:
    """Nanoseconds on the CPU of each live thread of the process, by thread name."""
    out: dict[str, int] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            ns = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except OSError:
            continue
        out[name] = out.get(name, 0) + ns
    return out


def memory_kb(pid: int) -> dict[str, int]:
    """PSS, RSS and USS (private pages) of the process, in kB."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                values[parts[0][:-1]] = int(parts[1])
    return {
        "pss": values.get("Pss", 0),
        "rss": values.get("Rss", 0),
        "uss": values.get("Private_Clean", 0) + values.get("Private_Dirty", 0),
    }


def tree(pid: int) -> list[int]:
    """The process and all its descendants (chromium's renderers, gunicorn's worker)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def tree_cpu(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(p)
    return total


def box_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --- Bursts, onsets ---------------------------------------------------------------------------


def write_bursts(path: Path, seconds: float = 120.0, rate: int = 48000, seed: int = 20) -> Path:
    """A WAV of 40 ms 1 kHz bursts at irregular intervals (0.7-1.3 s): the operator's mouth.
    Irregular, so that no echo canceller finds a steady delay between one burst and the next."""
    rng = random.Random(seed)
    samples = np.zeros(int(seconds * rate), dtype=np.float64)
    burst = int(0.040 * rate)
    ramp = int(0.001 * rate)
    t = np.arange(burst) / rate
    shape = np.sin(2 * np.pi * 1000.0 * t) * 0.5
    shape[:ramp] *= np.linspace(0, 1, ramp)
    shape[-ramp:] *= np.linspace(1, 0, ramp)
    at = 0.5
    while at + 0.05 < seconds:
        start = int(at * rate)
        samples[start : start + burst] = shape
        at += rng.uniform(0.7, 1.3)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def onsets(env: list[float], step: float, gap: float = 0.3) -> list[float]:
    """Times (s) where the envelope first rises above a quarter of its loud level, at least
    `gap` seconds apart."""
    data = np.asarray(env, dtype=float)
    if data.size == 0:
        return []
    loud = float(np.percentile(data, 99.5))
    if loud <= 1e-4:
        return []
    above = data > loud / 4
    found: list[float] = []
    for i in np.flatnonzero(above[1:] & ~above[:-1]) + 1:
        moment = float(i) * step
        if not found or moment - found[-1] >= gap:
            found.append(moment)
    return found


def round_trips(sent: list[float], heard: list[float], limit: float = 0.65) -> list[float]:
    """For each burst sent, the delay to the first burst heard after it (within `limit` s)."""
    delays = []
    for s in sent:
        later = [h - s for h in heard if 0 < h - s <= limit]
        if later:
            delays.append(min(later))
    return delays


# --- The rig ----------------------------------------------------------------------------------


class Rig:
    """The web app, the edge, rtpengine and seats on loopback, each a process of its own."""

    def __init__(self, redis_url: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-voice-"))
        self.db_url = f"sqlite:///{self.tmp / 'bench.db'}"
        upgrade(self.db_url)
        self.conn = redis.Redis.from_url(redis_url)
        self.conn.flushdb()
        self.web_port = free_port(socket.SOCK_STREAM)
        self.sip_port = free_port()
        low = free_udp_range(600)
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "HOTLINE_DATABASE__URL": self.db_url,
            "HOTLINE_REDIS__URL": redis_url,
            "HOTLINE_INSTANCE_PATH": str(self.tmp),
            "HOTLINE_WEB__LIVE_UPDATES_VIA_REDIS": "false",
            "HOTLINE_LOG_LEVEL": "WARNING",
            "HOTLINE_TELEPHONY__WRAP_UP_SECONDS": "0",
            "HOTLINE_TELEPHONY__SIP_PORT": str(self.sip_port),
            "HOTLINE_TELEPHONY__ACD_URL": f"http://127.0.0.1:{self.web_port}/acd",
            "HOTLINE_TELEPHONY__SEAT_PORT_BASE": str(low),  # seats: low+1 .. low+99
            "HOTLINE_TELEPHONY__WS_PORT": str(free_port(socket.SOCK_STREAM)),
            "HOTLINE_TELEPHONY__RTPENGINE": f"127.0.0.1:{free_port()}",
            "HOTLINE_TELEPHONY__RTP_PORT_MIN": str(low + 100),
            "HOTLINE_TELEPHONY__RTP_PORT_MAX": str(low + 399),
            "HOTLINE_TELEPHONY__ANNOUNCER": f"127.0.0.1:{free_port(socket.SOCK_STREAM)}",
            "HOTLINE_TELEPHONY__ANNOUNCE_PORT_MIN": str(low + 400),
            "HOTLINE_TELEPHONY__ANNOUNCE_PORT_MAX": str(low + 599),
        }
        self.settings: Settings = load_settings(environ=self.env)
        self.secret = acd_secret(self.settings)
        engine = make_engine(DatabaseSettings(url=self.db_url))
        self.engine = engine
        self.uow = UnitOfWork(make_session_factory(engine))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.hotline = [sys.executable, "-m", "hotline.cli"]

    def spawn(self, name: str, argv: list[str], **env: str) -> Path:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            self.procs[name] = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env={**self.env, **env}, cwd=ROOT
            )
        self.logs[name] = log
        return log

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def start(self) -> None:
        tel = self.settings.telephony
        web = [*self.hotline, "web", "--port", str(self.web_port), "--workers", "1"]
        self.spawn("web", [*web, "--threads", "32"])
        cfg = self.tmp / "kamailio.cfg"
        cfg.write_text(edge_from_settings(tel, self.secret).config(), encoding="utf-8")
        self.spawn("kamailio", ["kamailio", "-DD", "-E", "-f", str(cfg), "-Y", str(self.tmp)])
        wait_for(lambda: "Listening on" in self.log("kamailio"), 15, "kamailio")
        binary = rtpengine_binary()
        if binary is None:
            sys.exit("rtpengine missing (make services installs rtpengine-daemon)")
        self.spawn("rtpengine", rtpengine_argv(binary, tel))
        wait_for(lambda: rtpengine_answers(tel.rtpengine), 15, "rtpengine")
        wait_for(self.web_ok, 30, "the web app")

    def web_ok(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.web_port}/healthz"
            with urllib.request.urlopen(url) as r:  # noqa: S310 - our own loopback app
                return bool(r.status == 200)
        except OSError:
            return False

    def start_seats(self, names: list[str], first_index: int, auto_answer: float | None) -> None:
        """`hotline seat NAME --index I` for each, as production starts them; returns once
        every one has registered (its INFO log says so)."""
        tel = self.settings.telephony
        for offset, name in enumerate(names):
            provision(self.uow, name, "seat", tel.sip_realm, password_path(self.settings, name))
            argv = [*self.hotline, "seat", name, "--index", str(first_index + offset)]
            if auto_answer is not None:
                argv += ["--auto-answer", str(auto_answer)]
            self.spawn(name, argv, HOTLINE_LOG_LEVEL="INFO")
        wait_for(
            lambda: all("registration: 200" in self.log(n) for n in names),
            30 + 2 * len(names),
            "every seat to register",
        )

    def close(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stop_stale_edges(self.tmp / "kamailio.cfg")
        self.engine.dispose()
        self.conn.close()

    def sipp(self, calls: int, rate: float, talk_ms: int) -> list[str]:
        """sipp as the citizens: `caller.xml`, every RTP packet sent straight back."""
        return [
            "sipp", "-sf", str(CALLER), f"127.0.0.1:{self.sip_port}", "-s", "12345",
            "-r", str(rate), "-m", str(calls), "-d", str(talk_ms), "-l", str(max(calls, 1)),
            "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port()), "-rtp_echo",
            "-nostdin", "-timeout", "300s", "-timeout_error",
        ]  # fmt: skip

    def seat_state(self, name: str) -> dict[str, str]:
        raw = self.conn.hgetall(f"acd:seat:{name}")
        return {k.decode(): v.decode() for k, v in raw.items()}


# --- idle -------------------------------------------------------------------------------------


def measure_seats(rig: Rig, names: list[str], window: float) -> dict[str, Any]:
    """CPU and memory of the seats `names` over `window` seconds."""
    pids = {n: rig.procs[n].pid for n in names}
    cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
    threads0 = {n: thread_ns(p) for n, p in pids.items()}
    t0 = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - t0
    cpu = [100 * (cpu_seconds(p) - cpu0[n]) / elapsed for n, p in pids.items()]
    by_thread: dict[str, float] = {}
    for n, p in pids.items():
        for name, ns in thread_ns(p).items():
            before = threads0[n].get(name, 0)
            by_thread[name] = by_thread.get(name, 0.0) + (ns - before) / 1e9
    mem = [memory_kb(p) for p in pids.values()]
    per_seat = sum(cpu) / len(cpu)
    return {
        "seats": len(names),
        "window_seconds": round(elapsed, 1),
        "cpu_percent_of_a_core_per_seat": round(per_seat, 3),
        "cpu_percent_max_seat": round(max(cpu), 3),
        "seats_per_core": round(100 / per_seat) if per_seat > 0 else None,
        "cpu_percent_by_thread_per_seat": {
            k: round(100 * v / elapsed / len(names), 3)
            for k, v in sorted(by_thread.items(), key=lambda kv: -kv[1])
        },
        "pss_mb_per_seat": round(sum(m["pss"] for m in mem) / len(mem) / 1024, 1),
        "rss_mb_per_seat": round(sum(m["rss"] for m in mem) / len(mem) / 1024, 1),
        "uss_mb_per_seat": round(sum(m["uss"] for m in mem) / len(mem) / 1024, 1),
        "threads_per_seat": round(
            sum(len(os.listdir(f"/proc/{p}/task")) for p in pids.values()) / len(pids), 1
        ),
    }


def idle_part(rig: Rig, seats: int, window: float) -> dict[str, Any]:
    names = [f"i{i:03d}" for i in range(1, seats + 1)]
    rig.start_seats(names, 1, None)
    time.sleep(5)  # past the start: first reports, imports settled
    result = measure_seats(rig, names, window)
    for name in names:
        rig.procs[name].terminate()
    for name in names:
        rig.procs.pop(name).wait(timeout=15)
    return result


# --- the browsers -----------------------------------------------------------------------------


@contextlib.contextmanager
def browser(mic: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        sys.exit(f"chromium not found at {CHROMIUM} (make services installs Debian's chromium)")
    with sync_playwright() as pw:
        args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={mic}"]
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield chromium
        finally:
            chromium.close()


def operators(rig: Rig, count: int) -> list[str]:
    names = [f"op{i:02d}" for i in range(1, count + 1)]
    with rig.uow as uow:
        for name in names:
            create_user(uow.session, NewUser(name, PASSWORD, Role.OPERATOR, f"话务员{name}"), None)
        uow.commit()
    return names


def sign_in(chromium: Any, base: str, user: str, seat: str) -> Any:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    context.set_default_timeout(30_000)
    context.add_init_script(KEEP_PEER_CONNECTIONS)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{base}/console")
    page.get_by_label("坐席号").fill(seat)
    page.get_by_role("button", name="签入坐席").click()
    return page


def ready(page: Any, seat: str) -> None:
    page.get_by_role("button", name="就绪").click()
    page.locator("#seat-state").get_by_text(f"坐席 {seat}：就绪").wait_for()


# --- delay ------------------------------------------------------------------------------------


def silent_prompt(rig: Rig, seat: str) -> None:
    """The operator-ID prompt of the operator at `seat`, as silence: the citizen's echo would
    bring the spoken prompt back to the operator's ear, among the bursts."""
    staff_no = staff_number(rig.seat_state(seat).get("agent", ""))
    if not staff_no:
        return
    path = Path(rig.settings.instance_path) / "prompts" / f"staff-{staff_no}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 1600)


def delay_part(rig: Rig, page: Any, seat: str, calls: int = 2) -> dict[str, Any]:
    delays: list[float] = []
    per_call = []
    for n in range(calls):
        if n:
            time.sleep(5)  # the agent leg idles between calls
        sipp = subprocess.Popen(
            rig.sipp(1, 1, 14_000),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=rig.tmp,
        )
        try:
            wait_for(lambda: rig.seat_state(seat).get("state") == "talking", 20, "the answer")
            rec = page.evaluate(RECORD, 12)  # from the answer on
        finally:
            sipp.wait(timeout=60)
        step = rec["hop"] / rec["rate"]
        sent, heard = onsets(rec["sent"], step), onsets(rec["heard"], step)
        found = [1000 * d for d in round_trips(sent, heard)]
        per_call.append(
            {
                "bursts_sent": len(sent),
                "bursts_heard": len(found),
                "first_round_trip_ms": round(found[0], 1) if found else None,
                "round_trip_p50_ms": pct(found, 50),
                "browser_jitter_buffer_ms": (
                    round(rec["jitterMs"], 1) if rec["jitterMs"] is not None else None
                ),
            }
        )
        delays += found
    one_way = [d / 2 for d in delays]
    return {
        "what": (
            "round trip browser -> rtpengine -> seat -> citizen (sipp -rtp_echo, no delay) -> "
            "seat -> rtpengine -> browser, on the browser's WebAudio clock; one_way is half"
        ),
        "excluded": "citizen phone's jitter buffer, carrier network, sound cards, acoustics",
        "calls": per_call,
        "bursts": len(delays),
        "round_trip_p50_ms": pct(delays, 50),
        "round_trip_p95_ms": pct(delays, 95),
        "round_trip_max_ms": round(max(delays), 1) if delays else None,
        "one_way_p50_ms": pct(one_way, 50),
        "one_way_p95_ms": pct(one_way, 95),
        "target_one_way_ms": 150,
    }


# --- load -------------------------------------------------------------------------------------


def load_part(
    rig: Rig, seats: list[str], browser_pid: int, calls: int, rate: float, talk_ms: int
) -> dict[str, Any]:
    groups = {
        "seats": [rig.procs[s].pid for s in seats],
        "rtpengine": [rig.procs["rtpengine"].pid],
        "kamailio": [rig.procs["kamailio"].pid],
        "web": [rig.procs["web"].pid],
        "chromium": [browser_pid],
    }

    def cpu_of(group: str) -> float:
        return sum(tree_cpu(p) for p in groups[group])

    with rig.engine.connect() as c:
        earlier = set(c.execute(sa.select(CallRecord.id)).scalars())
    before = {g: cpu_of(g) for g in groups}
    busy0, total0 = box_busy()
    started = time.monotonic()
    sipp = subprocess.run(
        rig.sipp(calls, rate, talk_ms), capture_output=True, text=True, cwd=rig.tmp, timeout=600
    )
    elapsed = time.monotonic() - started
    busy1, total1 = box_busy()
    used = {g: round(100 * (cpu_of(g) - before[g]) / elapsed, 1) for g in groups}
    (rig.tmp / "sipp-load.out").write_text(sipp.stdout + sipp.stderr, encoding="utf-8")
    app = bootstrap(rig.settings)
    stale = app.acd.config.stale_ring_seconds

    def final() -> bool:
        close_forgotten(app.uow, app.acd)
        with rig.engine.connect() as c:
            pending = c.execute(
                sa.select(sa.func.count())
                .select_from(CallRecord)
                .where(CallRecord.outcome.not_in(FINAL))
            ).scalar()
        return pending == 0

    wait_for(final, stale + 30, "every call record to be final")
    app.close()
    with rig.engine.connect() as c:
        rows = [r for r in c.execute(sa.select(CallRecord)).all() if r.id not in earlier]
    outcomes = [r.outcome for r in rows]
    intervals = [(r.answered_at, r.ended_at) for r in rows if r.answered_at and r.ended_at]
    moments = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    peak = current = 0
    for _, step in moments:
        current += step
        peak = max(peak, current)
    offered_times = sorted(r.offered_at.timestamp() for r in rows)
    span = (offered_times[-1] - offered_times[0]) if len(offered_times) > 1 else 0
    return {
        "operators": len(seats),
        "answered_by": "the seats themselves (hotline seat --auto-answer 0.3), pages attached",
        "rate": rate,
        "talk_ms": talk_ms,
        "sipp_exit": sipp.returncode,
        "offered": len(rows),
        "answered": outcomes.count("answered"),
        "abandoned": outcomes.count("abandoned"),
        "busy": outcomes.count("overflow"),
        "lost": calls - sum(outcomes.count(o) for o in FINAL),
        "calls_per_second": round(len(rows) / span, 2) if span else None,
        "peak_calls_at_once": peak,
        "box_cpu_percent_of_2_cores": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
        "cpu_percent_of_a_core_by_part": used,
        "wall_seconds": round(elapsed, 1),
    }


# --- queue ------------------------------------------------------------------------------------


def queue_part(rig: Rig, callers: int, window: float) -> dict[str, Any]:
    """`callers` citizens waiting at once with nobody ready, hearing the announcer: its CPU
    per waiting caller, and how evenly each caller's 20 ms frames arrive."""
    acd = Acd(rig.conn)
    for seat in acd.seats():
        acd.logout(seat)  # nobody takes these calls: they wait
    rig.spawn("announce", [*rig.hotline, "announce"], HOTLINE_LOG_LEVEL="INFO")
    wait_for(lambda: "announcer on" in rig.log("announce"), 60, "the announcer")
    # every caller's SDP names this one port; the streams are told apart by SSRC
    ear = Ear(buffer_bytes=4 << 20)
    text = CALLER.read_text(encoding="utf-8")
    text = text.replace("m=audio [media_port]", f"m=audio {ear.port}")
    text = text.replace("c=IN IP[media_ip_type] [media_ip]", "c=IN IP4 127.0.0.1")
    scenario = rig.tmp / "queue_caller.xml"
    scenario.write_text(text, encoding="utf-8")
    argv = rig.sipp(callers, 20, 1000)
    argv[argv.index(str(CALLER))] = str(scenario)
    argv.remove("-rtp_echo")
    sipp = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=rig.tmp)
    try:
        wait_for(lambda: rig.conn.zcard("acd:queue") >= callers, 60, "every caller to wait")
        time.sleep(3)  # every greeting under way
        pid = rig.procs["announce"].pid
        cpu0, t0 = cpu_seconds_with_children(pid), time.monotonic()
        first = len(ear.packets)
        time.sleep(window)
        cpu = 100 * (cpu_seconds_with_children(pid) - cpu0) / (time.monotonic() - t0)
        seen = [
            (at, int.from_bytes(p[8:12], "big"), int.from_bytes(p[2:4], "big"))
            for at, p in ear.packets[first:]
        ]
    finally:
        sipp.terminate()
        sipp.wait(timeout=10)
        ear.close()
    by_ssrc: dict[int, list[tuple[float, int]]] = {}
    for at, ssrc, seq in seen:
        by_ssrc.setdefault(ssrc, []).append((at, seq))
    deviations, missing, frames = [], 0, 0
    for stream in by_ssrc.values():
        for (a0, s0), (a1, s1) in zip(stream, stream[1:], strict=False):
            deviations.append(abs((a1 - a0) * 1000 - 20.0))
            missing += (s1 - s0 - 1) % 65536
        frames += len(stream)
    memory = memory_kb(rig.procs["announce"].pid)
    return {
        "what": "callers waiting at once, nobody ready, hearing the announcer (early media)",
        "callers": callers,
        "streams_heard": len(by_ssrc),
        "window_seconds": window,
        "announcer_cpu_percent_of_a_core": round(cpu, 1),
        "announcer_cpu_percent_per_caller": round(cpu / callers, 3),
        "waiting_callers_per_core": round(100 * callers / cpu) if cpu > 0 else None,
        "announcer_pss_mb": round(memory["pss"] / 1024, 1),
        "frames": frames,
        "frames_missing": missing,
        "frame_interval_deviation_p50_ms": pct(deviations, 50),
        "frame_interval_deviation_p99_ms": pct(deviations, 99),
        "frame_interval_deviation_max_ms": round(max(deviations), 1) if deviations else None,
    }


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="idle,headset,delay,load,queue")
    parser.add_argument("--idle-seats", type=int, default=20)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--operators", type=int, default=6)
    parser.add_argument("--calls", type=int, default=72)
    parser.add_argument("--rate", type=float, default=1.2, help="new calls per second")
    parser.add_argument("--talk-ms", type=int, default=4000)
    parser.add_argument("--waiting", type=int, default=100, help="callers waiting at once")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    parts = set(args.only.split(","))

    rig = Rig(args.redis)
    result: dict[str, Any] = {"git": _git_head()}
    try:
        rig.start()
        if "idle" in parts:
            result["idle"] = idle_part(rig, args.idle_seats, args.window)
        if parts & {"headset", "delay", "load"}:
            result.update(_with_browsers(rig, args, parts))
        if "queue" in parts:
            result["queue"] = queue_part(rig, args.waiting, min(args.window, 20.0))
    finally:
        rig.close()
    print(json.dumps(result, ensure_ascii=False))


def _with_browsers(rig: Rig, args: argparse.Namespace, parts: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    count = args.operators if parts & {"headset", "load"} else 1
    seats = [f"s{i:02d}" for i in range(1, count + 1)]
    users = operators(rig, count)
    rig.start_seats(seats, 101, 0.3)
    base = f"http://127.0.0.1:{rig.web_port}"
    mic = write_bursts(rig.tmp / "mouth.wav")
    with browser(mic) as chromium:
        pages = [sign_in(chromium, base, u, s) for u, s in zip(users, seats, strict=True)]
        for page in pages:
            page.locator("#headset-state").get_by_text("网页耳机已接通").wait_for(timeout=60_000)
        for seat in seats:
            silent_prompt(rig, seat)
        time.sleep(3)
        out["idle_with_headset"] = measure_seats(rig, seats, min(args.window, 20.0))
        ready(pages[0], seats[0])
        if "delay" in parts:
            out["delay"] = delay_part(rig, pages[0], seats[0])
        if "load" in parts:
            for page, seat in zip(pages[1:], seats[1:], strict=True):
                ready(page, seat)
            pid = _browser_pid(chromium)
            out["load"] = load_part(rig, seats, pid, args.calls, args.rate, args.talk_ms)
            headsets = [p.locator("#headset-state").inner_text() for p in pages]
            out["load"]["headsets_up_after"] = sum(h == "网页耳机已接通" for h in headsets)
    return out


def _browser_pid(chromium: Any) -> int:
    """chromium's browser process: the one started with our fake microphone file."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"mouth.wav" in c for c in cmd) and not any(c.startswith(b"--type=") for c in cmd):
            return int(entry)
    return os.getpid()


def _git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


if __name__ == "__main__":
    main()
