"""The seat's call roles and who hears whom (callcenter.seat.mixing), without pjsua2."""

import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.seat import mixing
from callcenter.seat.mixing import OPERATOR
from callcenter.seat.mixing import LegView
from callcenter.seat.mixing import Link
from callcenter.seat.mixing import Port
from callcenter.seat.mixing import call
from callcenter.seat.mixing import player
from callcenter.seat.mixing import recorder

CITIZEN, PARTY, SUPERVISOR, WATCHED = 0, 1, 2, 3
C, Q, S, W = call(CITIZEN), call(PARTY), call(SUPERVISOR), call(WATCHED)
REC = recorder(CITIZEN)


def leg(
    key: int,
    role: str,
    mode: str = "",
    *,
    confirmed: bool = True,
    gone: bool = False,
    media: bool = True,
    rec: bool = False,
    play: bool = False,
) -> LegView:
    return LegView(key, role, mode, confirmed, gone, media, rec, play)


def citizen(
    *,
    confirmed: bool = True,
    gone: bool = False,
    media: bool = True,
    rec: bool = False,
    play: bool = False,
) -> LegView:
    return leg(CITIZEN, "inbound", confirmed=confirmed, gone=gone, media=media, rec=rec, play=play)


def mix(*legs: LegView, muted: bool = False) -> set[Link]:
    links = mixing.links(legs, muted)
    assert len(links) == len(set(links))  # each path is opened once
    return set(links)


def hearers(links: set[Link], source: Port) -> set[Port]:
    return {dst for src, dst in links if src == source}


def sources(links: set[Link], sink: Port) -> set[Port]:
    return {src for src, dst in links if dst == sink}


def test_the_caller_and_the_operator_hear_each_other() -> None:
    assert mix(citizen()) == {(C, OPERATOR), (OPERATOR, C)}
    outbound = leg(CITIZEN, "outbound")  # a softphone that dialled: the same
    assert mix(outbound) == {(C, OPERATOR), (OPERATOR, C)}


def test_the_recorder_gets_the_caller_and_the_operator() -> None:
    links = mix(citizen(rec=True))
    assert sources(links, REC) == {C, OPERATOR}
    assert hearers(links, REC) == set()


def test_the_prompt_plays_to_the_caller_and_into_the_recording_only() -> None:
    links = mix(citizen(rec=True, play=True))
    assert hearers(links, player(CITIZEN)) == {C, REC}
    assert hearers(mix(citizen(play=True)), player(CITIZEN)) == {C}  # no recording: no path


def test_a_muted_operator_is_heard_neither_by_the_caller_nor_the_recording() -> None:
    links = mix(citizen(rec=True), muted=True)
    assert links == {(C, OPERATOR), (C, REC)}
    three_way = mix(citizen(), leg(PARTY, "party"), muted=True)
    assert hearers(three_way, OPERATOR) == set()
    assert (Q, C) in three_way and (C, Q) in three_way  # the others still talk


def test_a_muted_operator_is_still_heard_by_a_supervisor_listening_in() -> None:
    links = mix(citizen(), leg(SUPERVISOR, "spy_in", "monitor"), muted=True)
    assert hearers(links, OPERATOR) == {S}


def test_a_held_caller_hears_nothing_and_is_heard_by_nobody() -> None:
    # On hold (either side) the call's audio is not active: it is mixed with nobody, and
    # nothing goes into its recording.
    assert mix(citizen(media=False, rec=True, play=True)) == set()
    links = mix(citizen(media=False, rec=True), leg(PARTY, "party"))
    assert links == {(Q, OPERATOR), (OPERATOR, Q)}  # the operator goes on with the party


def test_a_supervisor_hears_nothing_while_the_call_is_on_hold() -> None:
    links = mix(citizen(media=False), leg(PARTY, "party"), leg(SUPERVISOR, "spy_in", "barge"))
    assert hearers(links, S) == set() and sources(links, S) == set()


def test_early_media_is_no_conversation() -> None:
    ringing = citizen(confirmed=False, rec=True, play=True)
    assert mix(ringing) == set()
    assert mixing.media_to_start([ringing]) == []


def test_three_way_everyone_hears_everyone_and_the_recording_gets_both_calls() -> None:
    links = mix(citizen(rec=True), leg(PARTY, "party"))
    assert hearers(links, C) == {OPERATOR, Q, REC}
    assert hearers(links, Q) == {OPERATOR, C, REC}
    assert hearers(links, OPERATOR) == {C, Q, REC}


def test_a_party_without_the_citizen_talks_with_the_operator_alone() -> None:
    assert mix(leg(PARTY, "party")) == {(Q, OPERATOR), (OPERATOR, Q)}


def test_monitor_hears_everyone_and_is_heard_by_nobody() -> None:
    links = mix(citizen(rec=True), leg(PARTY, "party"), leg(SUPERVISOR, "spy_in", "monitor"))
    assert sources(links, S) == {C, Q, OPERATOR}
    assert hearers(links, S) == set()
    assert S not in sources(links, REC)


def test_whisper_is_heard_only_by_the_operator() -> None:
    links = mix(citizen(rec=True), leg(PARTY, "party"), leg(SUPERVISOR, "spy_in", "whisper"))
    assert hearers(links, S) == {OPERATOR}
    assert sources(links, S) == {C, Q, OPERATOR}


def test_barge_is_heard_by_everyone_and_recorded() -> None:
    links = mix(citizen(rec=True), leg(PARTY, "party"), leg(SUPERVISOR, "spy_in", "barge"))
    assert hearers(links, S) == {OPERATOR, C, Q, REC}
    assert sources(links, S) == {C, Q, OPERATOR}
    assert hearers(mix(citizen(), leg(SUPERVISOR, "spy_in", "barge")), S) == {OPERATOR, C}


def test_a_listener_without_a_call_to_listen_to_is_mixed_with_nobody() -> None:
    assert mix(leg(SUPERVISOR, "spy_in", "barge")) == set()
    assert mix(leg(PARTY, "party"), leg(SUPERVISOR, "spy_in", "monitor")) == {
        (Q, OPERATOR),
        (OPERATOR, Q),
    }


def test_listening_in_on_another_seat() -> None:
    spying = leg(WATCHED, "spy_out", "monitor", rec=True, play=True)
    links = mix(spying, muted=True)  # the seat's mute is for its own calls
    assert links == {(W, OPERATOR), (OPERATOR, W), (player(WATCHED), W), (W, recorder(WATCHED))}
    both = mix(citizen(), spying)
    assert (W, C) not in both and (C, W) not in both


def test_rejected_gone_and_replaced_calls_are_left_out() -> None:
    assert mix(leg(CITIZEN, "rejected")) == set()
    assert mix(citizen(gone=True, rec=True)) == set()
    # Of one role the latest call counts; a citizen's call before a dialled one.
    later = leg(9, "inbound")
    assert mix(citizen(), later) == {(call(9), OPERATOR), (OPERATOR, call(9))}
    dialled = leg(7, "outbound")
    assert mix(citizen(), dialled) == {(C, OPERATOR), (OPERATOR, C)}


def test_recordings_and_players_start_for_the_main_call_and_the_own_listening_in() -> None:
    legs = [
        leg(SUPERVISOR, "spy_in", "barge"),
        citizen(),
        leg(PARTY, "party"),
        leg(WATCHED, "spy_out"),
        leg(5, "outbound", confirmed=False),
    ]
    assert mixing.media_to_start(legs) == [CITIZEN, WATCHED]
    assert mixing.media_to_start([leg(PARTY, "party"), leg(SUPERVISOR, "spy_in")]) == []


class _Leg:
    def __init__(self, role: str, gone: bool = False) -> None:
        self.role, self.gone = role, gone


def test_the_latest_live_call_of_a_role() -> None:
    first, second, ended = _Leg("inbound"), _Leg("outbound"), _Leg("inbound", gone=True)
    legs = [first, second, ended, _Leg("party")]
    assert mixing.latest(legs, mixing.MAIN_ROLES) is second
    assert mixing.latest(legs, ("inbound",)) is first
    assert mixing.latest(legs, ("spy_in",)) is None


def test_a_second_citizen_call_is_busy() -> None:
    assert mixing.admit_call(has_call=False) == mixing.Admission("inbound", 180)
    assert mixing.admit_call(has_call=True) == mixing.Admission("rejected", 486)


@pytest.mark.parametrize(
    ("mode", "has_call", "token_ok", "admission", "checked"),
    [
        ("monitor", True, True, ("spy_in", 200), True),
        ("barge", True, False, ("rejected", 403), True),
        ("whisper", False, True, ("rejected", 480), False),  # nothing to listen to
        ("shout", True, True, ("rejected", 480), False),  # no such mode
    ],
)
def test_listening_in_needs_a_call_a_mode_and_the_token(
    mode: str, has_call: bool, token_ok: bool, admission: tuple[str, int], checked: bool
) -> None:
    asked: list[bool] = []

    def check() -> bool:
        asked.append(True)
        return token_ok

    assert mixing.admit_spy(mode, has_call, check) == mixing.Admission(*admission)
    assert asked == ([True] if checked else [])  # the token is used up only when it counts


def test_the_listening_in_headers_are_read_from_the_invite() -> None:
    invite = (
        "INVITE sip:s01@127.0.0.1 SIP/2.0\r\n"
        'From: "Sup" <sip:s09@127.0.0.1>;tag=1\r\n'
        "X-Hotline-Spy: Whisper\r\n"
        "X-Hotline-Spy-Token: abc_DEF-123\r\n\r\n"
    )
    assert mixing.spy_mode(invite) == "whisper"
    assert mixing.spy_token(invite) == "abc_DEF-123"
    assert mixing.sender(invite) == "s09"
    assert mixing.sender("f: <sips:s07@edge>;tag=2\r\n") == "s07"
    plain = "INVITE sip:s01@127.0.0.1 SIP/2.0\r\nFrom: <sip:13800138000@edge>\r\n\r\n"
    assert mixing.spy_mode(plain) is None and mixing.spy_token(plain) is None
    assert mixing.spy_mode("") is None and mixing.sender("") is None


def test_the_mixing_rules_load_without_pjsua2_redis_or_the_web_stack() -> None:
    # The module alone, not through its package (whose other modules may import more).
    path = Path(mixing.__file__).resolve()
    code = (
        "import importlib.util, sys;"
        f"spec = importlib.util.spec_from_file_location('mixing', {str(path)!r});"
        "module = importlib.util.module_from_spec(spec); sys.modules['mixing'] = module;"
        "spec.loader.exec_module(module);"
        "print(sorted({m.split('.')[0] for m in sys.modules} &"
        " {'pjsua2', 'redis', 'flask', 'sqlalchemy', 'callcenter'}))"
    )
    argv = [sys.executable, "-c", code]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=path.parent)
    assert out.stdout.strip() == "[]"
