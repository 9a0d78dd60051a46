"""The queue announcer against real Redis: the place in line, the expected wait, its control.

Speech is a fixed tone here (the announcer's `say`): what is said is checked as text, the
sound through the real edge in tests/telephony/test_queue_announcements.py.
"""

import base64
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.acd.keys import ACD_SECRET_HEADER
from callcenter.edge.announcer import PUTTING_THROUGH
from callcenter.edge.announcer import Announcer
from callcenter.edge.announcer import AnnouncerConfig
from callcenter.edge.announcer import position_text
from callcenter.edge.announcer import ulaw
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis

PREFIX = "ann:"
SECRET = "s3cret-of-this-instance"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def said(text: str) -> np.ndarray:
    """A stand-in for espeak-ng: 0.1 s of tone a character, its pitch the text's own."""
    t = np.arange(800 * len(text)) / 8000
    pitch = 300 + sum(map(ord, text)) % 1500
    return np.round(8000 * np.sin(2 * np.pi * pitch * t)).astype(np.int16)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hall(real_redis: Any) -> tuple[Acd, Clock]:
    clock = Clock()
    return Acd(real_redis, AcdConfig(wrap_up_seconds=0), prefix=PREFIX, clock=clock), clock


def announcer(**options: Any) -> Announcer:
    config = AnnouncerConfig(
        redis_url=REDIS_URL, acd_prefix=PREFIX, acd_secret=SECRET, wrap_up_seconds=15, **options
    )
    return Announcer(config, say=said)


def test_the_place_in_line_and_the_expected_wait_worked_by_hand(hall: tuple[Acd, Clock]) -> None:
    acd, clock = hall
    acd.login("s1", "a1")
    acd.login("s2", "a2")
    acd.login("s3", "a3", skills=("line83333333",))  # takes the merged line only, on a break
    acd.login("s4", "a4")  # signed in, never ready: set aside, not staffed
    acd.ready("s1")
    acd.ready("s2")
    # Five calls answered and ended: talk 60, 90, 120, 150 and 180 s, mean 120 s.
    for i, talk in enumerate((60, 90, 120, 150, 180)):
        seat = acd.route(f"done{i}", "139").seat
        assert seat is not None
        acd.answered(f"done{i}", seat)
        clock.now += talk
        acd.ended(f"done{i}", by="caller")
        clock.now += 1
    # Both seats then busy, and four callers wait, one of them on the merged line.
    for call in ("x1", "x2"):
        seat = acd.route(call, "139").seat
        assert seat is not None
        acd.answered(call, seat)
    for call, skill in (("q1", ""), ("q2", "line83333333"), ("q3", ""), ("q4", "")):
        clock.now += 1
        assert acd.route(call, "139", skill=skill).action == "wait"
    a = announcer()
    # Handle time: mean talk 120 s + 15 s wrap-up = 135 s. q4 has q1 and q3 ahead with its
    # skill (q2 is another line's), two seats staffed: (2 + 1) x 135 / 2 = 202.5 s.
    assert a.handle_seconds() == 135.0
    assert a.place("q4", "") == (2, 202.5)
    assert position_text(2, 202.5) == "您前面还有两位，预计等待约四分钟，请不要挂机。"
    assert a.place("q1", "") == (0, 67.5)
    # The merged line's only operator is on a break: no expected wait is promised.
    assert a.place("q2", "line83333333") == (0, None)
    assert a.place("x1", "") == (0, None)  # not waiting any more


def test_with_too_few_ended_calls_the_configured_handle_time_is_used(
    hall: tuple[Acd, Clock],
) -> None:
    acd, clock = hall
    acd.login("s1", "a1")
    acd.ready("s1")
    for i in range(4):  # four samples: one short of five
        acd.route(f"d{i}", "139")
        acd.answered(f"d{i}", "s1")
        clock.now += 30
        acd.ended(f"d{i}", by="caller")
    assert announcer(default_handle_seconds=240).handle_seconds() == 240


@pytest.fixture
def control(real_redis: Any) -> Iterator[tuple[Announcer, str]]:
    base = free_port(socket.SOCK_DGRAM)
    a = announcer(control=f"127.0.0.1:{free_port()}", port_min=base, port_max=base + 10)
    thread = threading.Thread(target=a.serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://{a.config.control}/ping", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    yield a, f"http://{a.config.control}"
    a.stop()
    thread.join(timeout=5)


def ask(url: str, body: str | None = None, secret: str = SECRET) -> tuple[int, str]:
    request = urllib.request.Request(url, data=None if body is None else body.encode())
    if secret:
        request.add_header(ACD_SECRET_HEADER, secret)
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read().decode().strip()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode().strip()


class Phone:
    """A caller's audio port: the RTP packets it is sent."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]

    def offer(self, payloads: str = "0 101") -> str:
        return (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.port} RTP/AVP {payloads}\r\n"
        )

    def packets(self, count: int) -> list[bytes]:
        return [self.sock.recv(2048) for _ in range(count)]

    def close(self) -> None:
        self.sock.close()

    def quiet_for(self, seconds: float) -> bool:
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(2048)
        except TimeoutError:
            return True
        return False


@pytest.fixture
def phone() -> Iterator[Phone]:
    p = Phone()
    yield p
    p.close()


def test_a_waiting_caller_is_sent_g711_from_the_answered_port_until_answered(
    control: tuple[Announcer, str], hall: tuple[Acd, Clock], phone: Phone
) -> None:
    a, url = control
    acd, _ = hall
    assert acd.route("c1", "139").action == "wait"
    status, reply = ask(f"{url}/start?call_id=c1", phone.offer())
    assert status == 200 and reply.startswith("sdp ")
    sdp = base64.b64decode(reply.split()[1]).decode()
    port = int(sdp.split("m=audio ")[1].split()[0])
    assert a.config.port_min <= port <= a.config.port_max
    assert ask(f"{url}/start?call_id=c1", phone.offer()) == (200, reply)  # asked again: same
    packets = phone.packets(10)
    assert all(p[1] & 0x7F == 0 and len(p) == 12 + 160 for p in packets)
    seqs = [int.from_bytes(p[2:4], "big") for p in packets]
    assert seqs == [(seqs[0] + i) % 65536 for i in range(10)]
    assert len({p[8:12] for p in packets}) == 1  # one SSRC
    # The caller is answered at a seat: the announcer stops sending.
    acd.login("s1", "a1")
    acd.ready("s1")
    assert acd.route("c1", "139").seat == "s1"
    acd.answered("c1", "s1")
    time.sleep(0.6)
    while not phone.quiet_for(0.5):
        pass
    assert "c1" not in a.sessions


def test_overflow_says_goodbye_for_as_long_as_it_lasts_then_stops(
    control: tuple[Announcer, str], hall: tuple[Acd, Clock], phone: Phone
) -> None:
    a, url = control
    acd, _ = hall
    acd.route("c2", "139")
    assert ask(f"{url}/start?call_id=c2", phone.offer("8"))[1].startswith("sdp ")
    assert phone.packets(1)[0][1] & 0x7F == 8  # PCMA when that is what the phone offers
    seconds = len(said(a.config.goodbye)) / 8000 + 0.25 + 0.5
    assert ask(f"{url}/overflow?call_id=c2") == (200, str(int(np.ceil(seconds))))
    assert ask(f"{url}/overflow?call_id=nobody") == (200, "0")
    start = time.monotonic()
    while not phone.quiet_for(0.5):
        assert time.monotonic() - start < seconds + 3
    assert "c2" not in a.sessions


@pytest.mark.parametrize(
    ("path", "body", "secret", "status"),
    [
        ("/start?call_id=c3", "OFFER", "", 403),
        ("/start?call_id=c3", "OFFER", "not-the-secret", 403),
        ("/overflow?call_id=c3", None, "wrong", 403),
        ("/start", "OFFER", SECRET, 400),
        ("/start?call_id=" + "x" * 300, "OFFER", SECRET, 400),
        ("/start?call_id=c3", "v=0\r\n" + "a=x\r\n" * 3000, SECRET, 413),
        ("/elsewhere?call_id=c3", None, SECRET, 404),
    ],
)
def test_only_the_edge_with_the_secret_and_a_sane_request_starts_anything(
    control: tuple[Announcer, str],
    phone: Phone,
    path: str,
    body: str | None,
    secret: str,
    status: int,
) -> None:
    a, url = control
    if body == "OFFER":
        body = phone.offer()
    assert ask(url + path, body, secret)[0] == status
    assert a.sessions == {}
    assert phone.quiet_for(0.3)


def test_an_offer_without_g711_gets_no_media(control: tuple[Announcer, str], phone: Phone) -> None:
    a, url = control
    assert ask(f"{url}/start?call_id=c4", phone.offer("18 101")) == (200, "none")
    assert a.sessions == {} and phone.quiet_for(0.3)


def test_a_transferred_caller_hears_they_are_being_put_through_not_the_greeting(
    control: tuple[Announcer, str], hall: tuple[Acd, Clock], phone: Phone
) -> None:
    a, url = control
    acd, _ = hall
    acd.route("moved", "139", skill="lead")
    acd.r.hset(acd.keys.call("moved"), "transferred_from", "坐席 s01 王芳")
    acd.route("fresh", "139")
    other = Phone()
    assert ask(f"{url}/start?call_id=moved", phone.offer())[1].startswith("sdp ")
    assert ask(f"{url}/start?call_id=fresh", other.offer())[1].startswith("sdp ")
    moved, fresh = phone.packets(1)[0][12:], other.packets(1)[0][12:]
    other.close()
    assert moved == ulaw(said(PUTTING_THROUGH))[:160]
    assert fresh == ulaw(said(a.config.greeting))[:160]


def test_with_redis_away_a_caller_still_gets_the_greeting(real_redis: Any, phone: Phone) -> None:
    # Nothing listens at this Redis: the transfer check fails and the greeting is said anyway.
    config = AnnouncerConfig(
        redis_url="redis://127.0.0.1:1/0", acd_prefix=PREFIX, acd_secret=SECRET, control="x:1"
    )
    a = Announcer(config, say=said)
    sdp = a.start("r1", phone.offer())
    assert sdp.startswith("v=0")
    assert list(a.sessions["r1"].speech)[0] == ulaw(said(config.greeting))[:160]
    a.sessions["r1"].sock.close()
