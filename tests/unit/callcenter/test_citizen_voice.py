"""The demo citizen's voice: espeak-ng's WAV as the G.711 µ-law sipp streams."""

from pathlib import Path

import numpy as np

from callcenter.cli import _mulaw_wav
from callcenter.seat.prompts import write_tone


def _decode(byte: int) -> int:
    """ITU-T G.711 µ-law to linear, the reference decoder."""
    u = ~byte & 0xFF
    magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84
    return -magnitude if u & 0x80 else magnitude


def test_the_voice_is_8_khz_mu_law_that_decodes_to_the_same_sound(tmp_path: Path) -> None:
    source = write_tone(tmp_path / "tone.wav", [440.0], 0.5, 22050)  # espeak-ng's rate
    target = _mulaw_wav(source, tmp_path / "tone.ulaw.wav")
    data = target.read_bytes()
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and data[36:40] == b"data"
    number = lambda at, size: int.from_bytes(data[at : at + size], "little")  # noqa: E731
    # format 7 (µ-law), mono, 8000 samples a second, 8 bits each, 4000 of them
    assert (number(20, 2), number(22, 2), number(24, 4), number(34, 2)) == (7, 1, 8000, 8)
    assert number(40, 4) == len(data) - 44 == 4000
    decoded = np.array([_decode(b) for b in target.read_bytes()[44:]], dtype=float)
    expected = 12000 * np.sin(2 * np.pi * 440 * np.arange(decoded.size) / 8000)
    assert np.corrcoef(decoded, expected)[0, 1] > 0.999
    assert abs(decoded.max() - 12000) < 200 and abs(decoded.min() + 12000) < 200
    assert _decode(0xFF) == 0 and _decode(0x7F) == 0  # silence both ways round
