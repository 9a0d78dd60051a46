"""The announcer's words, SDP and codecs, without a network."""

import warnings

import numpy as np
import pytest

from callcenter.edge.announcer import alaw
from callcenter.edge.announcer import answer_sdp
from callcenter.edge.announcer import count_words
from callcenter.edge.announcer import parse_offer
from callcenter.edge.announcer import position_text
from callcenter.edge.announcer import ringback
from callcenter.edge.announcer import ulaw
from callcenter.edge.announcer import ulaw_decode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop as reference


@pytest.mark.parametrize(
    ("n", "said"),
    [
        (1, "一"), (2, "两"), (3, "三"), (10, "十"), (12, "十二"), (20, "二十"),
        (22, "二十二"), (99, "九十九"), (100, "一百"), (105, "一百零五"), (120, "一百二十"),
    ],
)  # fmt: skip
def test_counts_are_said_as_mandarin_counts(n: int, said: str) -> None:
    assert count_words(n) == said


def test_the_place_in_line_and_the_expected_wait() -> None:
    assert position_text(0, 61) == "您是下一位，预计等待约两分钟，请不要挂机。"
    assert position_text(3, 180) == "您前面还有三位，预计等待约三分钟，请不要挂机。"
    assert position_text(1, 5) == "您前面还有一位，预计等待约一分钟，请不要挂机。"  # one at least
    assert position_text(12, None) == "您前面还有十二位，请耐心等待。"  # nobody staffed: no promise


OFFER = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 18 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def test_the_first_g711_payload_offered_is_taken() -> None:
    offer = parse_offer(OFFER)
    assert offer is not None and (offer.address, offer.port, offer.payload) == (
        "10.0.0.9",
        40000,
        8,
    )


def test_the_media_level_address_wins_over_the_session_level() -> None:
    offer = parse_offer(OFFER + "c=IN IP4 10.0.0.10\r\n")
    assert offer is not None and offer.address == "10.0.0.10"


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "garbage\x00\xff",
        OFFER.replace("18 8 0 101", "18 101"),  # no G.711
        OFFER.replace("10.0.0.9", "0.0.0.0"),  # on hold / no address
        OFFER.replace("IN IP4 10.0.0.9", "IN IP4 pbx.example"),  # a host name: not resolved
        OFFER.replace("IN IP4 10.0.0.9", "IN IP6 ::1"),
        OFFER.replace("audio 40000", "audio 0"),
        OFFER.replace("audio 40000", "audio 70000"),
        OFFER.replace("audio 40000 RTP/AVP", "audio 40000 RTP/SAVP"),
        OFFER.replace("m=audio", "m=video"),
    ],
)
def test_an_offer_it_cannot_answer_is_refused(sdp: str) -> None:
    assert parse_offer(sdp) is None


def test_the_answer_is_send_only_g711_from_our_address() -> None:
    sdp = answer_sdp("10.1.1.1", 31000, 8, 42)
    assert "c=IN IP4 10.1.1.1\r\n" in sdp and "m=audio 31000 RTP/AVP 8\r\n" in sdp
    assert "a=rtpmap:8 PCMA/8000\r\n" in sdp and "a=sendonly\r\n" in sdp
    assert sdp.startswith("v=0\r\n") and sdp.endswith("\r\n")


def test_g711_matches_the_reference_encoder_on_every_sample() -> None:
    samples = np.arange(-32768, 32768, dtype=np.int16)
    pcm = samples.tobytes()
    assert ulaw(samples) == reference.lin2ulaw(pcm, 2)
    assert alaw(samples) == reference.lin2alaw(pcm, 2)
    codes = bytes(range(256))
    assert ulaw_decode(codes).tobytes() == reference.ulaw2lin(codes, 2)


def test_the_ring_back_tone_is_one_second_on_four_off() -> None:
    tone = ringback().astype(float)
    assert len(tone) == 5 * 8000
    assert np.abs(tone[:8000]).max() > 5000 and not tone[8000:].any()
    spectrum = np.abs(np.fft.rfft(tone[:8000]))
    assert int(np.argmax(spectrum)) == 450  # 1 Hz bins over one second
