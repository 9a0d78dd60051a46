"""What operators and supervisors do during a call, through real softphones.

The citizen is a pjsua2 softphone too (a seat process that dials out), so that it can follow a
transfer and play a tone into the call; every softphone records what it hears, and the tones
found in the recordings (by their frequency) show whose audio reached whom.
"""

import json
import time
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.acd.spytoken import issue_spy_token
from callcenter.models import CallRecord
from callcenter.seat import write_tone
from hotline.bootstrap import Container
from tests.telephony.conftest import ROOT
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for

CITIZEN_HZ = 440.0
SUPERVISOR_HZ = 1250.0


class Hall:
    """One test's hall: the ACD under its own prefix and softphones that obey it."""

    def __init__(self, stack: Stack, container: Container, redis_conn: Any, tmp: Path) -> None:
        self.stack = stack
        self.redis = redis_conn
        self.prefix = f"t{uuid.uuid4().hex[:8]}:"
        self.acd = Acd(redis_conn, AcdConfig(wrap_up_seconds=30), prefix=self.prefix)
        container._acd = self.acd
        self.container = container
        self.tmp = tmp
        self.citizen_tone = write_tone(tmp / "citizen.wav", [CITIZEN_HZ], 2.0)
        self.supervisor_tone = write_tone(tmp / "supervisor.wav", [SUPERVISOR_HZ], 2.0)

    def phone(self, name: str, auto_answer: float | None = None) -> Path:
        """A recording softphone of this hall; returns its recordings folder."""
        return self.stack.phone(name, auto_answer, acd_prefix=self.prefix)

    def operator(self, seat: str = "s01", agent: str = "u7") -> Path:
        folder = self.phone(seat, auto_answer=0.3)
        self.acd.login(seat, agent)
        self.acd.ready(seat)
        return folder

    def open(self, *answering: str, **edge: Any) -> dict[str, Path]:
        """The edge, a ready operator at s01, a citizen's phone and phones that answer by
        themselves (transfer targets, units, a supervisor's); returns their recording folders.
        """
        self.stack.start_edge(**edge)
        folders = {"s01": self.operator(), "citizen": self.phone("citizen")}
        for name in answering:
            folders[name] = self.phone(name, auto_answer=None if name == "sup" else 0.2)
        return folders

    def citizen_hangs_up(self, call_id: str) -> None:
        self.command("citizen", action="hangup")
        wait_for(lambda: self.ended(call_id), 10, "the end of the call")

    def command(self, phone: str, **cmd: str) -> None:
        if cmd.get("action") == "spy":  # what /api/cti/spy does: a token for this listening in
            cmd["token"] = issue_spy_token(
                self.redis,
                self.prefix,
                supervisor_id=1,
                from_seat=phone,
                seat=cmd["seat"],
                call_id=self.acd.seat(cmd["seat"]).get("call", ""),
                mode=cmd["mode"],
            )
        heard = self.redis.publish(f"{self.prefix}seatcmd:{phone}", json.dumps(cmd))
        assert heard == 1, f"{phone} is not listening"

    def citizen_calls(self) -> str:
        """The citizen dials 12345, playing its tone; returns the call's id once answered."""
        self.command("citizen", action="dial", target="12345", play=str(self.citizen_tone))
        wait_for(lambda: self._answered() is not None, 20, "the call to be answered")
        call_id = self._answered()
        assert call_id is not None
        return call_id

    def _answered(self) -> str | None:
        for e in self.acd.events():
            if e["type"] == "answered":
                return e["call"]
        return None

    def record(self, call_id: str) -> CallRecord:
        return call_record(self.container, call_id)

    def ended(self, call_id: str) -> bool:
        return self.acd.call(call_id).get("state") in ("ended", "abandoned")


def wav_closed(path: Path) -> bool:
    """Whether the seat has closed the recording: pjmedia writes the RIFF header last, so a
    file still being written (on a busy machine, a moment after the call) does not parse."""
    try:
        with wave.open(str(path)) as w:
            return w.getnframes() > 0
    except (OSError, EOFError, wave.Error):
        return False


def tone_level(path: Path, hz: float) -> float:
    """How strong one frequency is in a recording, against the rest of the spectrum."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    assert samples.size > rate // 2, f"{path} holds almost nothing"
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    band = spectrum[(freqs > hz - 15) & (freqs < hz + 15)].max()
    return float(band / (np.median(spectrum) + 1e-9))


def recordings(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.wav"))


def closed(folder: Path) -> bool:
    """Every recording in the folder is finished (pjmedia writes the header on closing)."""
    files = recordings(folder)
    return bool(files) and all(_readable(f) for f in files)


def _readable(path: Path) -> bool:
    try:
        with wave.open(str(path)) as w:
            return w.getnframes() > 0
    except (wave.Error, EOFError):
        return False


def hears(folder: Path, hz: float) -> bool:
    wait_for(lambda: closed(folder), 10, f"the recordings in {folder.name}")
    files = recordings(folder)
    return any(tone_level(f, hz) > 50 for f in files)


def test_a_call_is_recorded_at_the_seat_with_both_sides_and_the_operator_id_prompt(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    seat_recordings = hall.open()["s01"]
    call_id = hall.citizen_calls()
    wait_for(lambda: (tmp_path / "prompts" / "staff-0007.wav").exists(), 10, "the prompt")
    time.sleep(4)  # the prompt, and the citizen talking
    hall.citizen_hangs_up(call_id)
    wait_for(lambda: hall.record(call_id).recording is not None, 5, "the recording's name")
    cdr = hall.record(call_id)
    assert cdr.end_reason == "caller"
    assert cdr.outcome == "answered" and cdr.wrap_up_seconds == 30
    wav = seat_recordings / str(cdr.recording)
    wait_for(lambda: wav_closed(wav), 10, "the WAV to be closed")
    # the citizen's voice is in it, and so is the prompt the seat played to them
    assert tone_level(wav, CITIZEN_HZ) > 50
    with wave.open(str(wav)) as w:
        assert w.getnframes() / w.getframerate() >= 3
    wait_for(lambda: closed(tmp_path / "rec-citizen"), 10, "the citizen's recording")
    citizen_heard = recordings(tmp_path / "rec-citizen")
    prompt = np.frombuffer(citizen_heard[0].read_bytes()[44:], dtype="<i2")
    assert np.abs(prompt.astype(float)).max() > 1000  # the caller heard the prompt


def test_blind_transfer_hands_the_caller_to_the_target_and_leaves_the_seat(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    police = hall.open("110", transfer_targets=("110", "120"))["110"]
    call_id = hall.citizen_calls()
    hall.command("s01", action="transfer", target="110")
    wait_for(lambda: hall.ended(call_id), 15, "the seat to leave the call")
    wait_for(lambda: bool(recordings(police)), 10, "110 to answer")
    time.sleep(2)
    hall.command("citizen", action="hangup")
    wait_for(lambda: closed(police), 10, "110's recording")
    assert hears(police, CITIZEN_HZ)  # the citizen now talked to 110
    cdr = hall.record(call_id)
    assert (cdr.transfer_target, cdr.end_reason) == ("110", "transfer")
    assert hall.acd.seat("s01")["state"] == "wrap_up"


def test_transfer_to_a_number_nobody_answers_keeps_the_call_with_the_operator(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    hall.open(transfer_targets=("119",))
    call_id = hall.citizen_calls()
    hall.command("s01", action="transfer", target="119")  # nothing registered as 119
    wait_for(lambda: "event transfer_failed" in stack.log("s01"), 15, "the refusal")
    assert "transfer_target" not in hall.acd.call(call_id)
    assert hall.acd.call(call_id)["state"] == "talking"
    hall.citizen_hangs_up(call_id)
    cdr = hall.record(call_id)
    assert cdr.transfer_target is None and cdr.end_reason == "caller"


def test_three_way_call_mixes_citizen_operator_and_unit(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    unit = hall.open("12319", transfer_targets=("12319",))["12319"]
    call_id = hall.citizen_calls()
    hall.command("s01", action="conference", target="12319")
    wait_for(lambda: bool(recordings(unit)), 10, "the unit to answer")
    time.sleep(2.5)
    hall.command("s01", action="conference_end")
    time.sleep(0.5)
    assert hall.acd.call(call_id)["state"] == "talking"  # the citizen stays with the operator
    hall.citizen_hangs_up(call_id)
    assert hears(unit, CITIZEN_HZ)  # the unit heard the citizen through the seat's bridge
    assert hall.record(call_id).conference_target == "12319"


def test_monitor_hears_the_call_and_the_caller_never_hears_the_supervisor(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    supervisor = hall.open("sup")["sup"]
    call_id = hall.citizen_calls()
    for mode in ("monitor", "whisper"):
        hall.command("sup", action="spy", seat="s01", mode=mode, play=str(hall.supervisor_tone))
        time.sleep(2.5)
    hall.command("sup", action="spy_end")
    hall.citizen_hangs_up(call_id)
    wait_for(lambda: len(recordings(supervisor)) == 2, 10, "the supervisor's two recordings")
    wait_for(lambda: closed(supervisor), 10, "the supervisor's recordings to close")
    assert all(tone_level(f, CITIZEN_HZ) > 50 for f in recordings(supervisor))
    assert not hears(tmp_path / "rec-citizen", SUPERVISOR_HZ)


def test_barge_in_speaks_to_the_caller(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    hall.open("sup")
    call_id = hall.citizen_calls()
    hall.command("sup", action="spy", seat="s01", mode="barge", play=str(hall.supervisor_tone))
    time.sleep(3)
    hall.citizen_hangs_up(call_id)
    time.sleep(0.5)
    assert hears(tmp_path / "rec-citizen", SUPERVISOR_HZ)


def test_listening_in_is_challenged_for_phones_without_credentials(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    stack.start_edge()
    result = stack.sipp(ROOT / "tests" / "telephony" / "spy_stranger.xml")
    assert result.returncode == 0, result.stdout[-2000:]


def test_a_seat_killed_mid_call_closes_the_record_and_goes_offline(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    hall.open()
    call_id = hall.citizen_calls()
    stack.kill("s01")
    # the edge's keepalive (30 s at least, then 10 s) finds the seat gone
    wait_for(lambda: hall.ended(call_id), 75, "the edge to notice the seat is gone")
    cdr = hall.record(call_id)
    assert (cdr.outcome, cdr.end_reason) == ("answered", "lost")
    assert cdr.talk_seconds is not None
    seat = hall.acd.seat("s01")
    assert (seat["state"], seat["reason"]) == ("offline", "seat_lost")
    # the citizen was not left in silence: the edge hung up their side too
    wait_for(lambda: ": DISCONNECTED" in stack.log("citizen"), 15, "the citizen's BYE")


def test_malformed_sip_does_not_take_the_edge_down(
    stack: Stack, container: Container, real_redis: Any, tmp_path: Path
) -> None:
    hall = Hall(stack, container, real_redis, tmp_path)
    stack.start_edge()
    hall.operator()
    garbage = stack.sipp(ROOT / "tests" / "telephony" / "malformed.xml")
    assert garbage.returncode == 0, garbage.stdout[-2000:]
    result = stack.call(talk_ms=300)  # a real caller still gets through
    assert result.returncode == 0, result.stdout[-2000:]
    assert [e["type"] for e in hall.acd.events() if e["type"] == "answered"] == ["answered"]
