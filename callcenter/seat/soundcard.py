"""The operator PC's sound card as the operator's microphone and earpiece at a desk seat.

pjsua2's wheel from PyPI has no sound-card backend (it lists no device at all), so the card
is reached through PortAudio (`sounddevice`: WASAPI/MME on Windows, Core Audio on macOS,
ALSA or PulseAudio/PipeWire on Linux) and joined to the seat's conference bridge as one
pjsua2 `AudioMediaPort`: what the bridge sends it is played, what the microphone captured is
what it gives back. The card and the bridge keep their own clocks; between them sit two short
queues of 20 ms frames (at most `QUEUE_FRAMES`): a queue that runs dry gives silence, a full
one drops its oldest frame, so the delay never grows past 100 ms either way.

`hotline seat --list-devices`, `--test-tone` and `--echo-test` use the same streams without
pjsua2, so an operator can check the headset before the first call.
"""

import collections
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RATE = 16_000  # the bridge's clock (pjsua2's default), and the card's
FRAME_SAMPLES = RATE // 50  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2  # 16-bit mono
QUEUE_FRAMES = 5  # 100 ms
SILENCE = bytes(FRAME_BYTES)


class SoundCardError(Exception):
    """The card cannot be used; the message is for the operator (Chinese)."""


@dataclass(frozen=True, slots=True)
class Device:
    index: int
    name: str
    inputs: int
    outputs: int
    default: bool


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as exc:
        raise SoundCardError("未安装声卡支持（pip install sounddevice）") from exc
    except OSError as exc:  # the PortAudio library itself is missing
        raise SoundCardError(
            "找不到声卡驱动库 PortAudio（Debian/Ubuntu：apt install libportaudio2）"
        ) from exc
    return sounddevice


def devices() -> list[Device]:
    """The sound devices PortAudio finds, with how many input and output channels each has."""
    sd = _sounddevice()
    found = sd.query_devices()
    defaults = set(sd.default.device) if sd.default.device else set()
    return [
        Device(
            index=int(d["index"]),
            name=str(d["name"]),
            inputs=int(d["max_input_channels"]),
            outputs=int(d["max_output_channels"]),
            default=int(d["index"]) in defaults,
        )
        for d in found
    ]


def find_device(wanted: str) -> Device:
    """The device named (exactly, else the only one whose name contains it) or numbered."""
    found = devices()
    usable = [d for d in found if d.inputs and d.outputs]
    if wanted.isdigit():
        match = [d for d in usable if d.index == int(wanted)]
    else:
        match = [d for d in usable if d.name == wanted] or [
            d for d in usable if wanted.casefold() in d.name.casefold()
        ]
    if len(match) == 1:
        return match[0]
    names = "、".join(d.name for d in usable) or "无"
    if not match:
        raise SoundCardError(f"没有既能录音又能放音的声卡“{wanted}”（可用：{names}）")
    raise SoundCardError(f"“{wanted}”对应多个声卡，请写全名或序号（可用：{names}）")


class Card:
    """The card's microphone and earpiece as two queues of 20 ms frames (16 kHz, 16-bit)."""

    def __init__(self, device: Device, latency: float = 0.1) -> None:
        self.device = device
        self.mic: collections.deque[bytes] = collections.deque(maxlen=QUEUE_FRAMES)
        self.ear: collections.deque[bytes] = collections.deque(maxlen=QUEUE_FRAMES)
        self.peak = 0  # the microphone's loudest sample since last asked (`level`)
        self._lock = threading.Lock()
        sd = _sounddevice()
        options = {
            "device": device.index,
            "samplerate": RATE,
            "channels": 1,
            "dtype": "int16",
            "blocksize": FRAME_SAMPLES,
            "latency": latency,
        }
        try:
            self._in = sd.RawInputStream(callback=self._captured, **options)
            self._out = sd.RawOutputStream(callback=self._wanted, **options)
        except Exception as exc:  # noqa: BLE001 - PortAudio's own errors, for the operator
            raise SoundCardError(f"声卡“{device.name}”无法打开：{exc}") from exc

    def start(self) -> None:
        self._in.start()
        self._out.start()

    def close(self) -> None:
        for stream in (self._in, self._out):
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001, S110 - closing a card that went away
                pass

    def _captured(self, data: Any, frames: int, _time: Any, _status: Any) -> None:
        chunk = bytes(data)
        self.mic.append(chunk[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))
        peak = max((abs(int.from_bytes(chunk[i : i + 2], "little", signed=True))
                    for i in range(0, len(chunk), 64)), default=0)  # fmt: skip
        with self._lock:
            self.peak = max(self.peak, peak)

    def _wanted(self, data: Any, frames: int, _time: Any, _status: Any) -> None:
        try:
            chunk = self.ear.popleft()
        except IndexError:
            chunk = SILENCE
        data[:] = chunk[: len(data)].ljust(len(data), b"\0")

    def level(self) -> float:
        """The microphone's peak since the last call, in dBFS (-96 for silence)."""
        with self._lock:
            peak, self.peak = self.peak, 0
        return 20 * math.log10(peak / 32768) if peak else -96.0

    def take(self) -> bytes:
        """The next 20 ms from the microphone (silence when none is waiting)."""
        try:
            return self.mic.popleft()
        except IndexError:
            return SILENCE

    def give(self, frame: bytes) -> None:
        """20 ms for the earpiece."""
        self.ear.append(frame[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))


def card_port(pj: Any, card: Card) -> Any:
    """A pjsua2 media port that is the card: connect calls to it and from it like the
    operator's own sound device. pjsua2 calls it from the bridge's clock thread."""

    class CardPort(pj.AudioMediaPort):  # type: ignore[misc]
        def onFrameRequested(self, frame: Any) -> None:  # noqa: N802 - pjsua2's names
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(card.take())
            frame.size = FRAME_BYTES

        def onFrameReceived(self, frame: Any) -> None:  # noqa: N802
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                card.give(bytes(frame.buf))

    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.clockRate = RATE
    fmt.channelCount = 1
    fmt.bitsPerSample = 16
    fmt.frameTimeUsec = 20_000
    port = CardPort()
    port.createPort("soundcard", fmt)
    return port


def tone(hz: float = 1000.0, seconds: float = 0.02, start: int = 0, volume: float = 0.3) -> bytes:
    """`seconds` of a sine at `hz` (16 kHz, 16-bit), from sample `start` on."""
    count = int(RATE * seconds)
    amplitude = 32767 * volume
    return b"".join(
        int(amplitude * math.sin(2 * math.pi * hz * (start + i) / RATE)).to_bytes(
            2, "little", signed=True
        )
        for i in range(count)
    )


def test_tone(card: Card, seconds: float, say: Callable[[str], None]) -> None:
    """Play 1 kHz on the earpiece for `seconds`, saying the microphone's level each second."""
    _run(card, seconds, say, lambda n: tone(1000.0, 0.02, n * FRAME_SAMPLES))


def echo_test(card: Card, seconds: float, say: Callable[[str], None], delay: float = 0.5) -> None:
    """What the microphone hears comes back on the earpiece `delay` seconds later."""
    behind: collections.deque[bytes] = collections.deque([SILENCE] * int(delay * 50))

    def next_frame(_n: int) -> bytes:
        behind.append(card.take())
        return behind.popleft()

    _run(card, seconds, say, next_frame)


def _run(
    card: Card, seconds: float, say: Callable[[str], None], frame: Callable[[int], bytes]
) -> None:
    card.start()
    try:
        started = time.monotonic()
        n = 0
        next_say = started + 1
        while (now := time.monotonic()) < started + seconds:
            while len(card.ear) < 3:  # keep 60 ms queued for the earpiece
                card.give(frame(n))
                n += 1
            if now >= next_say:
                say(f"麦克风音量 {card.level():.0f} dBFS")
                next_say += 1
            time.sleep(0.01)
    finally:
        card.close()
