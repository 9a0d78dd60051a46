"""The operator's headset in the browser: real voices through every part.

Chromium as the operator, its fake microphone playing one tone, registered as the console's
headset at Kamailio's WebSocket; rtpengine bridging its DTLS-SRTP with the seat's RTP; the
seat's pjsua2 softphone keeping the agent leg and mixing it into the call of a citizen's
pjsua2 softphone playing another tone. Who hears what is told by frequency: the citizen's
recording, the seat's recording, and the browser's received audio (WebAudio, in the page).
"""

import dataclasses
import json
import socket
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.edge.kamailio import stop_stale_edges
from callcenter.seat import write_tone
from hotline.bootstrap import Container
from infra.settings import Settings
from tests.conftest import CHROMIUM
from tests.conftest import CHROMIUM_ARGS
from tests.e2e.conftest import shot
from tests.telephony.conftest import SIPP
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import free_tcp_port
from tests.telephony.conftest import free_udp_port
from tests.telephony.conftest import wait_for
from tests.telephony.test_features import closed
from tests.telephony.test_features import recordings
from tests.telephony.test_features import tone_level
from tests.telephony.test_features import wav_closed

CITIZEN = "13912345678"
CITIZEN_HZ = 440.0
OPERATOR_HZ = 1000.0
SUPERVISOR_HZ = 1800.0


def _rtp_ports() -> tuple[int, int]:
    """100 UDP ports for rtpengine, free now (a test's own range)."""
    for base in range(40000 + (free_udp_port() % 200) * 100, 60000, 100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", base))
            except OSError:
                continue
        return base, base + 99
    raise AssertionError("no free UDP range for rtpengine")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Headsets on: a WebSocket port of the test's own, and its own rtpengine."""
    low, high = _rtp_ports()
    tel = dataclasses.replace(
        settings.telephony,
        ws_port=free_tcp_port(),
        rtpengine=f"127.0.0.1:{free_udp_port()}",
        rtp_port_min=low,
        rtp_port_max=high,
    )
    return dataclasses.replace(settings, telephony=tel)


def _chromium_speaking(browser: Any, folder: Path, hz: float) -> Any:
    """A chromium whose microphone plays one tone (launched by the session's playwright)."""
    mic = write_tone(folder / f"mic-{int(hz)}.wav", [hz], 60.0, 48000)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    return browser.browser_type.launch(executable_path=CHROMIUM, args=args)


@pytest.fixture
def headset_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The operator's chromium: its microphone plays the operator's tone."""
    own = _chromium_speaking(browser, tmp_path_factory.mktemp("mic"), OPERATOR_HZ)
    yield own
    own.close()


@pytest.fixture
def supervisor_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The supervisor's chromium: its microphone plays the supervisor's tone."""
    own = _chromium_speaking(browser, tmp_path_factory.mktemp("mic"), SUPERVISOR_HZ)
    yield own
    own.close()


def _console(headset_browser: Any, live_server: str, world: Any, who: str = "operator") -> Any:
    context = headset_browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill(who)
    page.get_by_label("密码").fill(world.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server}/console")
    return page


def _heard(page: Any, hz: float) -> float:
    """How far above the median bin one frequency stands in what the browser receives (dB),
    the best of a few looks."""
    best = -1e9
    for _ in range(10):
        spectrum = page.evaluate("window.HotlineHeadset.spectrum()")
        if spectrum:
            data = np.maximum(np.array(spectrum["data"], dtype=float), -200.0)
            bin_hz = spectrum["binHz"]
            at = int(round(hz / bin_hz))
            # against the telephone band (G.711 carries nothing above 4 kHz)
            band = data[int(200 / bin_hz) : int(3400 / bin_hz)]
            best = max(best, float(data[at - 2 : at + 3].max() - np.median(band)))
        time.sleep(0.2)
    return best


def _open(stack: Stack, settings: Settings) -> None:
    tel = settings.telephony
    stack.start_edge(ws_port=tel.ws_port, rtpengine=tel.rtpengine)
    stack.start_media(tel)
    stack.phone("s01")
    stack.phone(CITIZEN)


def _sign_in_with_headset(page: Any, seat: str = "s01") -> None:
    page.get_by_label("坐席号").fill(seat)
    page.get_by_role("button", name="签入坐席").click()
    page.locator("#seat-state").get_by_text(f"坐席 {seat}：示忙").wait_for()
    page.locator("#headset-state").get_by_text("网页耳机已接通").wait_for(timeout=30_000)


def _ready(page: Any) -> None:
    page.get_by_role("button", name="就绪").click()
    page.locator("#seat-state").get_by_text("坐席 s01：就绪").wait_for()


def _citizen_calls_and_is_answered(page: Any, real_redis: Any, tmp_path: Path) -> None:
    """The citizen's phone plays its tone into a call to 12345; the operator answers."""
    tone = write_tone(tmp_path / "citizen.wav", [CITIZEN_HZ], 1.0)
    dial = {"action": "dial", "target": "12345", "play": str(tone)}
    assert real_redis.publish(f"acd:seatcmd:{CITIZEN}", json.dumps(dial)) == 1
    page.locator("#incoming").get_by_text(f"来电 {CITIZEN}").wait_for()
    page.get_by_role("button", name="接听").click()
    page.locator("#seat-state").get_by_text("通话中").wait_for()


def test_the_operator_and_the_caller_hear_each_other_through_the_browser_headset(
    stack: Stack,
    settings: Settings,
    headset_browser: Any,
    live_server: str,
    world: Any,
    container: Container,
    real_redis: Any,
    tmp_path: Path,
) -> None:
    _open(stack, settings)
    page = _console(headset_browser, live_server, world)
    _sign_in_with_headset(page)
    _ready(page)
    _citizen_calls_and_is_answered(page, real_redis, tmp_path)
    time.sleep(3)
    shot(page, "console-headset-in-call")
    # The operator hears the caller in the browser, and not their own microphone.
    assert _heard(page, CITIZEN_HZ) > 25
    assert _heard(page, OPERATOR_HZ) < 15
    call_id = container.acd.seat("s01")["call"]
    assert real_redis.publish(f"acd:seatcmd:{CITIZEN}", json.dumps({"action": "hangup"})) == 1
    page.locator("#seat-state").get_by_text("话后整理").wait_for()

    # The caller heard the operator's microphone; the seat's recording holds both voices.
    wait_for(lambda: closed(tmp_path / f"rec-{CITIZEN}"), 10, "the citizen's recording")
    assert any(tone_level(f, OPERATOR_HZ) > 50 for f in recordings(tmp_path / f"rec-{CITIZEN}"))
    wait_for(lambda: call_record(container, call_id).recording is not None, 10, "the record")
    wav = tmp_path / "rec-s01" / str(call_record(container, call_id).recording)
    wait_for(lambda: wav_closed(wav), 10, "the seat's recording")
    assert tone_level(wav, OPERATOR_HZ) > 50 and tone_level(wav, CITIZEN_HZ) > 50
    # The agent leg outlives the call: ready for the next one.
    assert page.locator("#headset-state").inner_text() == "网页耳机已接通"


def test_a_lost_headset_takes_the_seat_out_of_the_queue(
    stack: Stack,
    settings: Settings,
    headset_browser: Any,
    live_server: str,
    world: Any,
    container: Container,
    tmp_path: Path,
) -> None:
    _open(stack, settings)
    page = _console(headset_browser, live_server, world)
    _sign_in_with_headset(page)
    _ready(page)
    stop_stale_edges(tmp_path / "kamailio.cfg")  # the edge gone, the headset's WebSocket too
    page.locator("#seat-state").get_by_text("坐席 s01：示忙（耳机断开）").wait_for()
    page.locator("#headset-state").get_by_text("断开").wait_for()
    seat = container.acd.seat("s01")
    assert (seat["state"], seat["reason"]) == ("not_ready", "headset")
    assert "s01" not in [s.decode() for s in container.redis.zrange(container.acd.keys.idle, 0, -1)]


# A fresh headset password, then a call placed over the headset's own WebSocket.
CALL_OUT = """async () => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const r = await fetch("/api/cti/headset", {method: "POST", headers: {"X-CSRF-Token": csrf}});
  const c = await r.json();
  return await new Promise((resolve) => {
    const ua = new JsSIP.UA({sockets: [new JsSIP.WebSocketInterface(c.ws_url)], uri: c.uri,
                             authorization_user: c.name, password: c.password, register: false});
    ua.on("connected", () => {
      const s = ua.call("sip:110@127.0.0.1", {mediaConstraints: {audio: true, video: false}});
      const done = (status) => { ua.stop(); resolve({password: c.password, status}); };
      s.on("failed", (e) => done(e.message ? e.message.status_code : 0));
      s.on("confirmed", () => done(200));
    });
    ua.start();
  });
}"""


def _sipp(stack: Stack, scenario: str, *args: str) -> "subprocess.CompletedProcess[str]":
    argv = [
        SIPP, "-sf", str(Path(__file__).parent / scenario), f"127.0.0.1:{stack.port}",
        *args, "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", "1",
        "-nostdin", "-timeout", "15s", "-timeout_error",
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=stack.tmp)


def test_a_headsets_credentials_reach_nothing_but_its_own_seats_call(
    stack: Stack,
    settings: Settings,
    headset_browser: Any,
    live_server: str,
    world: Any,
) -> None:
    _open(stack, settings)
    page = _console(headset_browser, live_server, world)
    _sign_in_with_headset(page)
    # Script in the operator's page (theirs or injected) calls out with the headset: refused.
    outcome = page.evaluate(CALL_OUT)
    assert outcome["status"] == 403, outcome
    # The same name and password over UDP, from anywhere on the network: refused.
    udp = _sipp(stack, "headset_register_udp.xml", "-s", "hs-s01", "-au", "hs-s01",
                "-ap", outcome["password"])  # fmt: skip
    assert udp.returncode == 0, udp.stdout[-2000:] + udp.stderr[-2000:]
    # Another seat, signed in as itself, calling s01's headset (to hear that operator): refused.
    other = _sipp(stack, "headset_other_seat.xml", "-s", "s02", "-au", "s02",
                  "-ap", stack.password("s02"), "-key", "headset", "hs-s01")  # fmt: skip
    assert other.returncode == 0, other.stdout[-2000:] + other.stderr[-2000:]
    edge = stack.log("kamailio")
    assert "headset credentials 'hs-s01' used over udp" in edge
    assert "'s02' calling headset 'hs-s01' refused" in edge


def _level(samples: "np.ndarray[Any, Any]", rate: int, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    band = spectrum[(freqs > hz - 15) & (freqs < hz + 15)].max()
    return float(band / (np.median(spectrum) + 1e-9))


def test_whisper_reaches_the_operator_alone_and_barge_everyone_from_the_supervisors_browser(
    stack: Stack,
    settings: Settings,
    headset_browser: Any,
    supervisor_browser: Any,
    live_server: str,
    world: Any,
    container: Container,
    real_redis: Any,
    tmp_path: Path,
) -> None:
    _open(stack, settings)
    stack.phone("sup")
    operator = _console(headset_browser, live_server, world)
    _sign_in_with_headset(operator)
    _ready(operator)
    # The supervisor keeps their console (and headset) open in one tab, the hall in another.
    console = _console(supervisor_browser, live_server, world, "supervisor")
    _sign_in_with_headset(console, "sup")
    hall = console.context.new_page()
    hall.goto(f"{live_server}/supervise/hall")

    _citizen_calls_and_is_answered(operator, real_redis, tmp_path)
    answered = time.monotonic()

    row = hall.locator("tr", has_text="s01")
    row.get_by_role("button", name="耳语").click()
    wait_for(lambda: "event spy_started" in stack.log("sup"), 15, "the supervisor's seat")
    time.sleep(2)
    # Whisper: the supervisor hears caller and operator; the operator hears the supervisor.
    assert _heard(console, CITIZEN_HZ) > 25 and _heard(console, OPERATOR_HZ) > 25
    assert _heard(operator, SUPERVISOR_HZ) > 25
    barged = time.monotonic()
    row.get_by_role("button", name="强插").click()
    wait_for(lambda: stack.log("s01").count("spy_in media up") >= 2, 15, "the barge-in")
    time.sleep(3)
    assert real_redis.publish(f"acd:seatcmd:{CITIZEN}", json.dumps({"action": "hangup"})) == 1
    shot(hall, "hall-whisper-barge-headset")

    # The citizen's recording: no supervisor while they whispered, the supervisor once barged.
    folder = tmp_path / f"rec-{CITIZEN}"
    wait_for(lambda: closed(folder), 10, "the citizen's recording")
    [wav] = recordings(folder)
    with wave.open(str(wav)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    split = int((barged - answered) * rate)
    assert _level(samples[: split - rate // 2], rate, SUPERVISOR_HZ) < 20
    assert _level(samples[split + 2 * rate :], rate, SUPERVISOR_HZ) > 50
