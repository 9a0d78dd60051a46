"""What a waiting caller hears (排队提示): announcements as early media, `hotline announce`.

While a citizen waits for a free seat, the edge answers their INVITE with 183 Session Progress
carrying an SDP from this process, which then sends the caller's phone RTP (G.711, 20 ms
frames): a greeting (a caller an operator transferred hears 正在为您转接 instead), their place
in line and the expected wait, soft music between, the place in line again every
`queue_announce_seconds`; the ring-back tone while a seat rings for them;
and, when the longest wait (`max_wait_seconds`) is reached, a last announcement, after which
the edge ends the call with 480 and the ACD's overflow opens a call-back task (漏接回拨). The
seat's 200 brings the seat's own media; this process sees the call leave the queue in Redis
(the ACD's call hash) within a quarter of a second and stops sending.

Control is HTTP on `telephony.announcer` (host:port, loopback), asked only by the edge, with
the ACD secret:

    POST /start?call_id=ID     body: the caller's SDP offer. Answer, on one line (the edge's
                               http_client keeps one): `sdp BASE64` (the SDP answer), or
                               `none` when the offer has no PCMU/PCMA audio or no port is
                               free. Asked again for the same call, the same session answers.
    GET  /overflow?call_id=ID  the last announcement starts; answer: the whole seconds it
                               lasts (0: no session, the edge says busy at once).

The expected wait is (calls ahead with the same skill + 1) x the average handle time / the
seats signed in with that skill and not set aside (ready, ringing, talking, wrap-up). The
average handle time is the mean talk time of the calls answered and ended among the ACD's last
`HANDLE_EVENTS` events plus the wrap-up time, or `queue_default_handle_seconds` when fewer
than `MIN_HANDLE_SAMPLES` such calls are there. It is said in whole minutes, rounded up, and
not at all while no seat is staffed. docs/telephony.md gives the same.
"""

import hmac
import logging
import math
import random
import re
import socket
import struct
import tempfile
import threading
import time
import wave
from base64 import b64encode
from collections import OrderedDict
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import numpy as np
import redis

from callcenter.acd.keys import ACD_SECRET_HEADER
from callcenter.acd.keys import DEFAULT_PREFIX
from callcenter.acd.keys import AcdKeys
from infra.settings import TelephonySettings

log = logging.getLogger("callcenter.announcer")

RATE = 8000
FRAME = 160  # samples in 20 ms
HANDLE_EVENTS = 2000
MIN_HANDLE_SAMPLES = 5
POLL_SECONDS = 0.25
MAX_SDP = 8192
_DIGITS = "零一二三四五六七八九"
STAFFED = ("ready", "ringing", "talking", "wrap_up")
PUTTING_THROUGH = "正在为您转接，请稍候。"


# --- words ------------------------------------------------------------------------------------


def count_words(n: int) -> str:
    """A count as said before a measure word: 1 一, 2 两, 12 十二, 20 二十, 105 一百零五."""
    if n == 2:
        return "两"
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _tens(n)
    if n < 1000:
        rest = n % 100
        tail = ""
        if rest:
            tail = ("零" + _DIGITS[rest]) if rest < 10 else _tens(rest)
        return _DIGITS[n // 100] + "百" + tail
    return "".join(_DIGITS[int(d)] for d in str(n))


def _tens(n: int) -> str:
    return _DIGITS[n // 10] + "十" + (_DIGITS[n % 10] if n % 10 else "")


def position_text(ahead: int, wait_seconds: float | None) -> str:
    """The place-in-line announcement: callers ahead, and the expected wait in minutes
    (rounded up, one at least) when there is one."""
    place = "您是下一位" if ahead == 0 else f"您前面还有{count_words(ahead)}位"
    if wait_seconds is None:
        return f"{place}，请耐心等待。"
    minutes = max(1, math.ceil(wait_seconds / 60))
    return f"{place}，预计等待约{count_words(minutes)}分钟，请不要挂机。"


# --- sound ------------------------------------------------------------------------------------


SPEED = 190  # espeak-ng's words a minute: its default 150 drags in Mandarin announcements


def speak(text: str) -> np.ndarray:
    """Mandarin text spoken by espeak-ng, as 8 kHz 16-bit samples; a chime when it is missing."""
    from callcenter.seat.prompts import speak_wav

    with tempfile.TemporaryDirectory() as tmp:
        return read_wav_8k(speak_wav(Path(tmp) / "say.wav", text, SPEED))


def read_wav_8k(path: Path) -> np.ndarray:
    """A 16-bit mono WAV's samples at 8 kHz (resampled linearly when it has another rate)."""
    with wave.open(str(path)) as w:
        pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if rate != RATE:
        samples = np.interp(
            np.arange(0, len(samples), rate / RATE), np.arange(len(samples)), samples
        )
    return np.round(samples).astype(np.int16)


def music(seconds: float = 8.0) -> np.ndarray:
    """Soft waiting music: a slow pentatonic phrase of sine notes, each faded in and out."""
    notes = [523.25, 587.33, 659.25, 783.99, 880.0, 783.99, 659.25, 587.33]
    each = seconds / len(notes)
    t = np.arange(int(RATE * each)) / RATE
    envelope = np.minimum(1.0, np.minimum(t / 0.05, (each - t) / 0.3))
    phrase = [
        3000 * envelope * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t))
        for f in notes
    ]
    return np.round(np.concatenate(phrase)).astype(np.int16)


def ringback() -> np.ndarray:
    """China's ring-back tone (GB/T 3380 回铃音): 450 Hz, 1 s on, 4 s off."""
    t = np.arange(RATE) / RATE
    on = 6000 * np.sin(2 * np.pi * 450 * t)
    return np.concatenate([np.round(on), np.zeros(4 * RATE)]).astype(np.int16)


_SEG_U = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_SEG_A = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def ulaw(samples: np.ndarray) -> bytes:
    """G.711 µ-law (PCMU), as the reference encoder (Sun's g711.c) does it."""
    pcm = samples.astype(np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), 8159) + 33
    seg = np.searchsorted(_SEG_U, magnitude)
    code = np.where(seg >= 8, 0x7F, (seg << 4) | ((magnitude >> (seg + 1)) & 0x0F))
    return bytes((code ^ mask).astype(np.uint8))


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 µ-law bytes back to 16-bit samples."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
    return np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def alaw(samples: np.ndarray) -> bytes:
    """G.711 A-law (PCMA), as the reference encoder (Sun's g711.c) does it."""
    pcm = samples.astype(np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(_SEG_A, magnitude)
    low = np.where(seg < 2, magnitude >> 1, magnitude >> np.maximum(seg, 1)) & 0x0F
    code = np.where(seg >= 8, 0x7F, (seg << 4) | low)
    return bytes((code ^ mask).astype(np.uint8))


CODECS: dict[int, tuple[str, Callable[[np.ndarray], bytes]]] = {
    0: ("PCMU", ulaw),
    8: ("PCMA", alaw),
}


# --- SDP --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    address: str
    port: int
    payload: int  # 0 PCMU or 8 PCMA


def parse_offer(sdp: str) -> Offer | None:
    """The caller's audio address and the first G.711 payload type it offers, or None."""
    session_c = ""
    media_c = ""
    port = 0
    payloads: list[int] = []
    in_audio = False
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if port:
                break  # only the first audio stream
            parts = line[2:].split()
            in_audio = len(parts) >= 4 and parts[0] == "audio" and parts[2] == "RTP/AVP"
            if in_audio:
                try:
                    port = int(parts[1])
                    payloads = [int(p) for p in parts[3:] if p.isdigit()]
                except ValueError:
                    return None
        elif line.startswith("c=IN IP4 "):
            address = line[9:].split("/")[0].strip()
            if in_audio:
                media_c = address
            elif not port:
                session_c = address
    address = media_c or session_c
    chosen = next((p for p in payloads if p in CODECS), None)
    if not (0 < port < 65536) or chosen is None or not _ipv4(address):
        return None
    return Offer(address, port, chosen)


def _ipv4(text: str) -> bool:
    try:
        socket.inet_aton(text)
    except OSError:
        return False
    return bool(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", text)) and text != "0.0.0.0"


def answer_sdp(address: str, port: int, payload: int, session: int) -> str:
    name = CODECS[payload][0]
    return (
        "v=0\r\n"
        f"o=hotline {session} 1 IN IP4 {address}\r\n"
        "s=hotline\r\n"
        f"c=IN IP4 {address}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP {payload}\r\n"
        f"a=rtpmap:{payload} {name}/8000\r\n"
        "a=ptime:20\r\n"
        "a=sendonly\r\n"
    )


# --- sessions ---------------------------------------------------------------------------------


@dataclass
class Session:
    """One waiting caller: where their audio goes and what plays next."""

    call_id: str
    sock: socket.socket
    port: int
    offer: Offer
    sdp: str
    started: float
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    seq: int = field(default_factory=lambda: random.getrandbits(16))
    ts: int = field(default_factory=lambda: random.getrandbits(32))
    speech: deque[bytes] = field(default_factory=deque)  # frames said before the background
    background: str = "music"  # "music", "ringback" or "" (silence)
    bg_at: int = 0
    next_position: float = 0.0  # when the place in line is said next (monotonic)
    pending_text: bool = False
    close_at: float | None = None  # set by the last announcement
    marker: bool = True

    def packet(self, frame: bytes) -> bytes:
        header = struct.pack(
            "!BBHII",
            0x80,
            (0x80 if self.marker else 0) | self.offer.payload,
            self.seq & 0xFFFF,
            self.ts & 0xFFFFFFFF,
            self.ssrc,
        )
        self.marker = False
        self.seq += 1
        self.ts += FRAME
        return header + frame


_TELEPHONY = TelephonySettings()


@dataclass(frozen=True, slots=True)
class AnnouncerConfig:
    control: str = "127.0.0.1:2224"  # host:port of the HTTP control (loopback)
    media_host: str = "127.0.0.1"  # where the RTP leaves from and the SDP points
    port_min: int = 31000
    port_max: int = 31499
    redis_url: str = "redis://127.0.0.1:6379/0"
    acd_prefix: str = DEFAULT_PREFIX
    acd_secret: str = ""
    greeting: str = _TELEPHONY.queue_greeting
    goodbye: str = _TELEPHONY.queue_goodbye
    announce_seconds: float = _TELEPHONY.queue_announce_seconds
    default_handle_seconds: float = _TELEPHONY.queue_handle_seconds
    wrap_up_seconds: float = _TELEPHONY.wrap_up_seconds
    max_session_seconds: float = 600.0  # the edge's longest hold, at least


class Announcer:
    """The sessions, the media clock that sends their frames, and the watcher that follows
    each call's state in the ACD."""

    def __init__(self, config: AnnouncerConfig, say: Callable[[str], np.ndarray] = speak) -> None:
        self.config = config
        self.say = say
        self.keys = AcdKeys(config.acd_prefix)
        self.redis: Any = redis.Redis.from_url(config.redis_url, decode_responses=True)
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._next_port = config.port_min
        self._said: OrderedDict[str, np.ndarray] = OrderedDict()
        self._tts = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tts")
        self._encoded: dict[tuple[str, int], bytes] = {}
        self.greeting = self._speech(config.greeting)
        self.goodbye = self._speech(config.goodbye)
        self.putting_through = self._speech(PUTTING_THROUGH)
        self.sounds = {"music": music(), "ringback": ringback()}
        self._handle_cache: tuple[float, float] = (0.0, config.default_handle_seconds)
        self.server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------------- control

    def start(self, call_id: str, sdp: str) -> str:
        """The SDP answer for a waiting caller ("" when their offer has no G.711)."""
        with self.lock:
            known = self.sessions.get(call_id)
            if known is not None:
                return known.sdp
        offer = parse_offer(sdp)
        if offer is None:
            log.info("call %s: no G.711 audio in the offer, no announcements", call_id)
            return ""
        sock, port = self._bind()
        if sock is None:
            log.warning(
                "call %s: no free port in %s-%s",
                call_id,
                self.config.port_min,
                self.config.port_max,
            )
            return ""
        now = time.monotonic()
        session = Session(
            call_id,
            sock,
            port,
            offer,
            answer_sdp(self.config.media_host, port, offer.payload, random.getrandbits(31)),
            now,
            next_position=now,
        )
        # A caller an operator transferred to a seat or to the lead on duty has been greeted:
        # they hear that they are being put through.
        try:
            transferred = self.redis.hexists(self.keys.call(call_id), "transferred_from")
        except redis.RedisError:  # Redis away: the caller still hears the queue
            transferred = False
        self._queue_speech(session, self.putting_through if transferred else self.greeting)
        with self.lock:
            other = self.sessions.setdefault(call_id, session)
        if other is not session:  # started twice at once: keep the first
            sock.close()
            return other.sdp
        log.info(
            "call %s: announcements to %s:%s from port %s", call_id, offer.address, offer.port, port
        )
        return session.sdp

    def overflow(self, call_id: str) -> int:
        """Say the last announcement; the whole seconds it lasts (0: no such caller)."""
        with self.lock:
            session = self.sessions.get(call_id)
            if session is None:
                return 0
            session.speech.clear()
            session.background = ""
            session.pending_text = True  # no place-in-line announcement any more
            self._queue_speech(session, self.goodbye)
            seconds = len(session.speech) * FRAME / RATE
            session.close_at = time.monotonic() + seconds + 0.5
        log.info("call %s: overflow, last announcement %.1f s", call_id, seconds)
        return math.ceil(seconds + 0.5)

    # ---------------------------------------------------------------------- media

    def _bind(self) -> tuple[socket.socket | None, int]:
        span = self.config.port_max - self.config.port_min + 1
        for _ in range(span):
            port = self._next_port
            self._next_port = self.config.port_min + (port + 2 - self.config.port_min) % span
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.config.media_host, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            return sock, port
        return None, 0

    def _speech(self, text: str) -> np.ndarray:
        cached = self._said.get(text)
        if cached is None:
            cached = self.say(text)
            self._said[text] = cached
            while len(self._said) > 200:
                self._said.popitem(last=False)
        return cached

    def _encode(self, samples: np.ndarray, payload: int) -> bytes:
        return CODECS[payload][1](samples)

    def _queue_speech(self, session: Session, samples: np.ndarray) -> None:
        data = self._encode(samples, session.offer.payload)
        pad = (-len(data)) % FRAME
        silence = self._encode(np.zeros(FRAME, dtype=np.int16), session.offer.payload)[:1]
        data += silence * pad
        # a quarter second of quiet after each sentence
        data += silence * (RATE // 4)
        session.speech.extend(data[i : i + FRAME] for i in range(0, len(data), FRAME))

    def _background_frame(self, session: Session) -> bytes:
        """The next 20 ms of the music, the ring-back tone or silence, looped."""
        key = (session.background, session.offer.payload)
        data = self._encoded.get(key)
        if data is None:
            samples = self.sounds.get(session.background, np.zeros(FRAME, dtype=np.int16))
            samples = np.pad(samples, (0, (-len(samples)) % FRAME))  # whole frames: no seam
            data = self._encoded[key] = self._encode(samples, session.offer.payload)
        start = session.bg_at % len(data)
        session.bg_at = start + FRAME
        return data[start : start + FRAME]

    def media_loop(self) -> None:
        """Every 20 ms, one frame to each session's caller (on a clock that does not drift)."""
        tick = time.monotonic()
        while not self.stopping.is_set():
            tick += FRAME / RATE
            with self.lock:
                sessions = list(self.sessions.values())
            for session in sessions:
                frame = (
                    session.speech.popleft() if session.speech else self._background_frame(session)
                )
                try:
                    session.sock.sendto(
                        session.packet(frame), (session.offer.address, session.offer.port)
                    )
                except OSError:
                    pass  # an unreachable phone: the watcher closes the session in time
                self._drain(session.sock)
            delay = tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                tick = time.monotonic()  # the machine stalled: do not burst to catch up

    @staticmethod
    def _drain(sock: socket.socket) -> None:
        """Read and drop what the caller's phone sends (its RTP, ICMP errors)."""
        for _ in range(8):
            try:
                sock.recv(2048)
            except OSError:
                return

    # ---------------------------------------------------------------------- watcher

    def watch_loop(self) -> None:
        while not self.stopping.wait(POLL_SECONDS):
            try:
                self.watch_once()
            except redis.RedisError as exc:
                log.warning("Redis: %s", exc)

    def watch_once(self) -> None:
        with self.lock:
            sessions = list(self.sessions.values())
        if not sessions:
            return
        pipe = self.redis.pipeline(transaction=False)
        for session in sessions:
            pipe.hmget(self.keys.call(session.call_id), "state", "skill")
        states = pipe.execute()
        now = time.monotonic()
        for session, (state, skill) in zip(sessions, states, strict=True):
            if session.close_at is not None:
                if now >= session.close_at:
                    self._close(session, "last announcement said")
                continue
            if state == "queued":
                session.background = "music"
                if now >= session.next_position and not session.pending_text:
                    session.pending_text = True
                    session.next_position = now + self.config.announce_seconds
                    self._tts.submit(self._say_position, session, skill or "")
            elif state == "ringing":
                session.background = "ringback"
            elif state == "overflow":
                # the edge has not asked for the last announcement (yet): give it a moment
                if now - session.started > self.config.max_session_seconds:
                    self._close(session, "overflow")
            else:
                self._close(session, state or "gone")
                continue
            if now - session.started > self.config.max_session_seconds:
                self._close(session, "too long")

    def _say_position(self, session: Session, skill: str) -> None:
        try:
            ahead, wait = self.place(session.call_id, skill)
            samples = self._speech(position_text(ahead, wait))
            with self.lock:
                # after whatever is being said (the greeting, the first time)
                if session.close_at is None and session.call_id in self.sessions:
                    self._queue_speech(session, samples)
        except Exception:  # noqa: BLE001 - a caller hears music instead
            log.exception("call %s: place in line", session.call_id)
        finally:
            session.pending_text = session.close_at is not None

    def place(self, call_id: str, skill: str) -> tuple[int, float | None]:
        """Calls ahead with the same skill, and the expected wait in seconds (None: nobody
        staffed to take it)."""
        queue = self.redis.zrange(self.keys.queue, 0, -1)
        if call_id not in queue:
            return 0, None
        before = queue[: queue.index(call_id)]
        pipe = self.redis.pipeline(transaction=False)
        for other in before:
            pipe.hget(self.keys.call(other), "skill")
        ahead = sum(1 for s in pipe.execute() if (s or "") == skill)
        seats = sorted(self.redis.smembers(self.keys.seats))
        pipe = self.redis.pipeline(transaction=False)
        for seat in seats:
            pipe.hmget(self.keys.seat(seat), "state", "skills")
        staffed = sum(
            1
            for state, skills in pipe.execute()
            if state in STAFFED and (not skill or skill in (skills or "").split(","))
        )
        if staffed == 0:
            return ahead, None
        return ahead, (ahead + 1) * self.handle_seconds() / staffed

    def handle_seconds(self) -> float:
        """Average handle time: mean talk of the calls answered and ended among the last
        HANDLE_EVENTS events, plus wrap-up; the default with fewer than MIN_HANDLE_SAMPLES."""
        at, value = self._handle_cache
        if time.monotonic() - at < 30:
            return value
        answered: dict[str, float] = {}
        talks: list[float] = []
        for _, fields in reversed(self.redis.xrevrange(self.keys.events, count=HANDLE_EVENTS)):
            kind, call = fields.get("type"), fields.get("call", "")
            if kind == "answered":
                answered[call] = float(fields["at"])
            elif kind == "ended" and call in answered:
                talks.append(float(fields["at"]) - answered.pop(call))
        value = self.config.default_handle_seconds
        if len(talks) >= MIN_HANDLE_SAMPLES:
            value = sum(talks) / len(talks) + self.config.wrap_up_seconds
        self._handle_cache = (time.monotonic(), value)
        return value

    def _close(self, session: Session, why: str) -> None:
        with self.lock:
            if self.sessions.get(session.call_id) is session:
                del self.sessions[session.call_id]
        session.sock.close()
        log.info("call %s: announcements over (%s)", session.call_id, why)

    # ---------------------------------------------------------------------- process

    def serve(self) -> None:
        """Answer the edge, send the media and watch the calls until `stop`."""
        host, _, port = self.config.control.rpartition(":")
        server = ThreadingHTTPServer((host, int(port)), _handler(self))
        server.daemon_threads = True
        self.server = server
        threads = [
            threading.Thread(target=self.media_loop, name="media", daemon=True),
            threading.Thread(target=self.watch_loop, name="watch", daemon=True),
        ]
        for thread in threads:
            thread.start()
        log.info("announcer on %s, media from %s", self.config.control, self.config.media_host)
        try:
            server.serve_forever(poll_interval=0.5)
        finally:
            self.stopping.set()
            server.server_close()
            self._tts.shutdown(wait=False)
            with self.lock:
                for session in self.sessions.values():
                    session.sock.close()
                self.sessions.clear()

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()


def _handler(announcer: Announcer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hotline-announcer"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            log.debug(format, *args)

        def _reply(self, status: int, body: str) -> None:
            data = (body + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _call_id(self) -> str | None:
            secret = self.headers.get(ACD_SECRET_HEADER, "")
            if not hmac.compare_digest(secret.encode(), announcer.config.acd_secret.encode()):
                self._reply(HTTPStatus.FORBIDDEN, "forbidden")
                return None
            query = parse_qs(urlsplit(self.path).query)
            call_id = (query.get("call_id") or [""])[0]
            if not call_id or len(call_id) > 256:
                self._reply(HTTPStatus.BAD_REQUEST, "call_id")
                return None
            return call_id

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = urlsplit(self.path).path
            if path == "/ping":
                self._reply(HTTPStatus.OK, "pong")
                return
            if path != "/overflow":
                self._reply(HTTPStatus.NOT_FOUND, "")
                return
            call_id = self._call_id()
            if call_id is not None:
                self._reply(HTTPStatus.OK, str(announcer.overflow(call_id)))

        def do_POST(self) -> None:  # noqa: N802
            if urlsplit(self.path).path != "/start":
                self._reply(HTTPStatus.NOT_FOUND, "")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_SDP:
                self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "")
                return
            body = self.rfile.read(length).decode("utf-8", "replace")
            call_id = self._call_id()
            if call_id is not None:
                sdp = announcer.start(call_id, body)
                self._reply(
                    HTTPStatus.OK, f"sdp {b64encode(sdp.encode()).decode()}" if sdp else "none"
                )

    return Handler


def announcer_answers(control: str, timeout: float = 0.5) -> bool:
    """Whether the announcer answers on its control port (for /healthz)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{control}/ping", timeout=timeout) as reply:  # noqa: S310 - our own loopback URL
            return bool(reply.read().strip() == b"pong")
    except OSError:
        return False
