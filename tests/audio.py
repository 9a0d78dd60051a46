"""Finding a known sound in a recording: what a caller heard, checked against what was said."""

import numpy as np


def found_at(heard: np.ndarray, said: np.ndarray) -> tuple[float, int]:
    """Where `said` best matches in `heard`: (normalised correlation, sample offset). G.711
    keeps a waveform to within a few per cent, so a sentence that was sent scores above 0.9
    and one that was not stays far below."""
    t = said.astype(np.float64)
    heard = heard.astype(np.float64)
    if len(heard) < len(t):
        return 0.0, 0
    size = 1 << (len(heard) + len(t) - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(heard, size) * np.conj(np.fft.rfft(t, size)), size)
    corr = corr[: len(heard) - len(t) + 1]
    window = np.concatenate([[0.0], np.cumsum(heard**2)])
    energy = np.sqrt(np.maximum(window[len(t) :] - window[: -len(t)], 1e-9))
    score = corr / (energy * np.linalg.norm(t))
    best = int(np.argmax(score))
    return float(score[best]), best
