"""A desk seat (`hotline seat NAME --server URL`) through the real SIP stack and the web app.

The seat process has no Redis and no ACD secret: it registers at Kamailio with its digest
password and reaches the app only through `/seat-link/*` with the same credentials. The
operator's console answers a citizen's call at it; the call's record holds the recording the
seat uploaded once the call was over, and nothing is left in its spool. With a sound card
(a PulseAudio server of the test's own), the operator speaks and hears through it.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.records.sync import recordings_root
from callcenter.seat import write_tone
from callcenter.seat.link import wav_complete
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for


def test_a_desk_seat_takes_a_call_answered_from_the_console_and_uploads_its_recording(
    stack: Stack, container: Container, real_redis: Any, api: Api
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=60, wrap_up_seconds=1), prefix=prefix)
    container._acd = acd
    stack.start_edge()
    spool = stack.tmp / "spool-s05"
    stack.start_seat(
        "s05",
        auto_answer=None,
        acd_prefix=prefix,
        acd_secret="",  # not given to a desk seat
        server_url=stack.acd_url.removesuffix("/acd"),
        recordings_dir=str(spool),
        prompts_dir=str(stack.tmp / "prompts"),
    )
    assert api.post("/api/cti/seat", {"seat": "s05"}).status_code == 200
    assert api.post("/api/cti/state", {"state": "ready"}).status_code == 200
    acd.r.set(acd.keys.alive("s05"), "1", ex=300)  # the console is open
    wait_for(lambda: acd.r.exists(acd.keys.seat_link("s05")), 10, "the seat's first poll")

    caller = stack.call_in_background(talk_ms=3000)
    wait_for(lambda: acd.seat("s05").get("state") == "ringing", 15, "the seat to ring")
    call_id = acd.seat("s05")["call"]
    # The operator answers in the console: the command reaches the seat through its link.
    answered = api.post("/api/cti/call", {"action": "answer"})
    assert answered.status_code == 202, answered.get_json()
    wait_for(lambda: acd.call(call_id).get("state") == "talking", 10, "the answer")
    # The seat notes its recording once the call's audio flows, just after the answer.
    noted = lambda: acd.call(call_id).get("recording", "").endswith(".wav")  # noqa: E731
    wait_for(noted, 10, "the recording's name, noted through the link")
    caller.wait(timeout=30)
    assert caller.returncode == 0
    wait_for(lambda: acd.call(call_id).get("state") == "ended", 10, "the end of the call")
    record = call_record(container, call_id)
    assert record.outcome == "answered" and record.recording
    stored = recordings_root(container.settings) / record.recording
    wait_for(stored.exists, 20, "the recording's upload")
    data = stored.read_bytes()
    assert data[:4] == b"RIFF" and len(data) > 16_000 * 2  # more than a second of the call
    assert not list(spool.rglob("*.wav"))  # uploaded: nothing left on the PC
    log = stack.log("s05")
    assert "uploaded" in log and "refused" not in log


CITIZEN_HZ = 440.0
OPERATOR_HZ = 1250.0


class SoundServer:
    """A PulseAudio server of this test's own standing in for an operator PC's sound card:
    what the seat plays goes to the null sink `ear` (recorded from its monitor), and what
    the operator says is a tone played into the null sink `mouth`, whose monitor is the seat's
    microphone. The seat's PortAudio reaches it as the ALSA device "pulse"."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pa-", dir="/tmp"))  # a short socket path
        self.socket = self.folder / "native"
        self.env = {
            **os.environ,
            "HOME": str(self.folder),
            "XDG_RUNTIME_DIR": str(self.folder),
            "PULSE_SERVER": f"unix:{self.socket}",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        server = [
            "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
            "--log-target=stderr", "-L", f"module-native-protocol-unix socket={self.socket}",
            "-L", "module-null-sink sink_name=ear rate=16000 channels=1",
            "-L", "module-null-sink sink_name=mouth rate=16000 channels=1",
        ]  # fmt: skip
        self._spawn(server, "pulseaudio.log")
        wait_for(self._answers, 15, "the sound server")

    def _spawn(self, argv: list[str], log: str, **kw: Any) -> "subprocess.Popen[bytes]":
        with (self.folder / log).open("wb") as out:
            proc = subprocess.Popen(argv, env=self.env, stdout=kw.get("stdout", out), stderr=out)
        self.procs.append(proc)
        return proc

    def _answers(self) -> bool:
        done = subprocess.run(["pactl", "info"], env=self.env, capture_output=True, timeout=10)
        return done.returncode == 0

    def seat_env(self) -> dict[str, str]:
        """What the seat process needs to find its card: the server, its sink and source."""
        return {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_SINK": "ear",
            "PULSE_SOURCE": "mouth.monitor",
            "HOME": str(self.folder),
            "XDG_RUNTIME_DIR": str(self.folder),
        }

    def say(self, wav: Path) -> None:
        """The operator speaks: `wav` into the mouth, again and again."""
        self._spawn(["sh", "-c", f"while paplay -d mouth {wav}; do :; done"], "mouth.log")

    def listen(self, raw: Path) -> None:
        """Record what the earpiece plays (16 kHz, 16-bit mono, raw) into `raw`."""
        with raw.open("wb") as sink:
            self._spawn(
                ["parec", "-d", "ear.monitor", "--raw", "--rate=16000", "--channels=1",
                 "--format=s16le", "--latency-msec=20"],
                "ear.log",
                stdout=sink,
            )  # fmt: skip

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def strength(samples: np.ndarray, rate: int, hz: float) -> float:
    """One frequency's peak against the spectrum's median (a pure tone: thousands)."""
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    return float(
        spectrum[(freqs > hz - 15) & (freqs < hz + 15)].max() / (np.median(spectrum) + 1e-9)
    )


def test_the_operator_talks_through_the_pcs_sound_card_at_a_desk_seat(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    """The desk seat's card is the operator: the citizen's tone comes out of its earpiece,
    the tone the operator 'says' into its microphone reaches the citizen, and both are in
    the call's recording."""
    if not shutil.which("pulseaudio"):
        pytest.fail("pulseaudio missing (make test installs pulseaudio and libasound2-plugins)")
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=60, wrap_up_seconds=1), prefix=prefix)
    container._acd = acd
    sound = SoundServer()
    try:
        stack.start_edge()
        citizen = stack.phone("citizen", acd_prefix=prefix)
        spool = tmp_path / "spool-s06"
        os.environ.update(sound.seat_env())  # the seat process inherits it
        try:
            stack.start_seat(
                "s06",
                auto_answer=0.3,
                acd_prefix=prefix,
                acd_secret="",
                server_url=stack.acd_url.removesuffix("/acd"),
                recordings_dir=str(spool),
                audio_device="pulse",
            )
        finally:
            for key in sound.seat_env():
                os.environ.pop(key, None)
        assert "sound card pulse" in stack.log("s06")
        acd.login("s06", "u8")
        acd.ready("s06")
        sound.say(write_tone(tmp_path / "operator.wav", [OPERATOR_HZ], 2.0, rate=16000))
        ear = tmp_path / "ear.raw"
        sound.listen(ear)
        tone = write_tone(tmp_path / "citizen.wav", [CITIZEN_HZ], 2.0)
        dial = {"action": "dial", "target": "12345", "play": str(tone)}
        assert real_redis.publish(f"{prefix}seatcmd:citizen", json.dumps(dial)) == 1
        wait_for(lambda: acd.seat("s06").get("state") == "talking", 20, "the desk seat's answer")
        call_id = acd.seat("s06")["call"]
        time.sleep(5)  # they talk
        assert real_redis.publish(f"{prefix}seatcmd:citizen", json.dumps({"action": "hangup"}))
        wait_for(lambda: acd.call(call_id).get("state") == "ended", 10, "the end of the call")
        heard = np.frombuffer(ear.read_bytes(), dtype="<i2").astype(float)
        assert heard.size > 16_000 * 2, "the earpiece played almost nothing"
        assert strength(heard, 16_000, CITIZEN_HZ) > 50  # the operator heard the citizen
        citizen_heard = citizen_recording(citizen)
        assert strength(citizen_heard, 16_000, OPERATOR_HZ) > 50  # and the citizen them
        record = call_record(container, call_id)
        stored = recordings_root(container.settings) / (record.recording or "-")
        wait_for(stored.exists, 20, "the recording's upload")
        with wave.open(str(stored)) as w:
            mix = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
            rate = w.getframerate()
        assert strength(mix, rate, CITIZEN_HZ) > 50 and strength(mix, rate, OPERATOR_HZ) > 50
    finally:
        sound.stop()


def citizen_recording(folder: Path) -> np.ndarray:
    """What the citizen's phone heard (its recording, once closed)."""

    def closed() -> bool:
        files = sorted(folder.rglob("*.wav"))
        return bool(files) and all(wav_complete(f.read_bytes()) for f in files)

    wait_for(closed, 10, "the citizen's recording")
    with wave.open(str(sorted(folder.rglob("*.wav"))[-1])) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
