"""What the survey's calls sound like: its spoken prompts and the DTMF payload type it offers."""

import hashlib
import re
import wave
from pathlib import Path

from callcenter.seat.prompts import speak_wav

_EVENT_8K = re.compile(r"^a=rtpmap:(\d+) telephone-event/8000\s*$", re.MULTILINE)


def dtmf_as_101(sdp: str) -> str:
    """Our offer with telephone-event/8000 as payload type 101, the number most phones and
    gateways (and sipp's DTMF pcaps) use; pjmedia numbers it from 120 upwards. Unchanged
    when there is no such event or 101 is taken."""
    found = _EVENT_8K.search(sdp)
    if found is None or found.group(1) == "101":
        return sdp
    old = found.group(1)
    lines = sdp.splitlines(keepends=True)
    out: list[str] = []
    for line in lines:
        if line.startswith("m=audio "):
            head, *fmts = line.rstrip("\r\n").split(" ")
            if "101" in fmts[2:]:
                return sdp
            fmts = [("101" if i >= 2 and f == old else f) for i, f in enumerate(fmts)]
            line = " ".join([head, *fmts]) + line[len(line.rstrip("\r\n")) :]
        elif line.startswith((f"a=rtpmap:{old} ", f"a=fmtp:{old} ")):
            line = line.replace(f":{old} ", ":101 ", 1)
        out.append(line)
    return "".join(out)


def prompt_path(prompts_dir: Path, text: str) -> Path:
    """Prompts are cached by their text: a changed text is spoken again."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]  # noqa: S324 - a file name
    return prompts_dir / f"survey-{digest}.wav"


def speak(path: Path, text: str) -> Path:
    """Speak a prompt into a WAV with espeak-ng (Mandarin); a chime when it is missing."""
    if path.exists():
        return path
    return speak_wav(path, text)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())
