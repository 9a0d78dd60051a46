"""What a seat plays and records: the operator-ID prompt (工号播报), tones, recording names."""

import logging
import math
import re
import subprocess
import time
import wave
from pathlib import Path

# One logger for the whole seat package: its processes' logs read as they always did.
log = logging.getLogger("callcenter.seat")
_DIGITS = "零一二三四五六七八九"


def recording_name(call_id: str, when: float) -> str:
    """The recording's path under the recordings directory: day folder, safe file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:120]
    return f"{time.strftime('%Y%m%d', time.localtime(when))}/{safe}.wav"


def staff_number(agent: str) -> str:
    """工号: the digits of the agent's id, four at least (agent "u7" speaks as 0007)."""
    digits = "".join(ch for ch in agent if ch.isdigit())
    return digits.zfill(4) if digits else ""


def prompt_text(staff_no: str) -> str:
    spoken = "".join(_DIGITS[int(d)] for d in staff_no)
    return f"您好，{spoken}号话务员为您服务。"


def make_prompt(path: Path, staff_no: str) -> Path:
    """Speak the operator-ID prompt into a WAV with espeak-ng; a chime when it is missing."""
    return speak_wav(path, prompt_text(staff_no))


def speak_wav(path: Path, text: str, speed: int = 150) -> Path:
    """Speak Mandarin text into a WAV with espeak-ng (`speed` in words a minute); a chime
    when it is missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    try:
        subprocess.run(
            ["espeak-ng", "-v", "cmn", "-s", str(speed), "-w", str(tmp), text],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng could not speak the prompt (%s): a chime instead", exc)
        write_tone(tmp, [660.0, 880.0], 0.4)
    tmp.replace(path)
    return path


def write_tone(path: Path, freqs: list[float], seconds_each: float, rate: int = 8000) -> Path:
    """A WAV of pure tones one after another (16-bit mono): chimes, and test signals."""
    frames = bytearray()
    for freq in freqs:
        for i in range(int(rate * seconds_each)):
            sample = int(12000 * math.sin(2 * math.pi * freq * i / rate))
            frames += sample.to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path
