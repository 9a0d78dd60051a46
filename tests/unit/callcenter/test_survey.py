"""The survey's script as data, the meaning of its keys, tasks and the offer's DTMF (no pjsua2)."""

import json
import sys
import wave
from pathlib import Path

import pytest

from callcenter.edge.kamailio import SipEdge
from callcenter.survey import GOODBYE
from callcenter.survey import OUTCOMES
from callcenter.survey import QUESTIONS
from callcenter.survey import SurveyConfig
from callcenter.survey import dtmf_as_101
from callcenter.survey import outcome_for_status
from callcenter.survey import parse_task
from callcenter.survey import prompt_path
from callcenter.survey import speak
from callcenter.survey import wav_seconds
from dispatch.followup.survey import SATISFACTION_KEYS as SATISFACTION
from dispatch.followup.survey import TASKS_KEY
from dispatch.followup.survey import answers_meaning


def test_the_contract_constants() -> None:
    assert TASKS_KEY == "survey:tasks"
    assert OUTCOMES == ("answered", "no_answer", "busy", "failed", "hung_up")


def test_the_questions_are_data_with_their_keys() -> None:
    solved, satisfaction = QUESTIONS
    assert solved.key == "solved" and solved.valid == ("1", "2")
    assert "是否已经解决" in solved.text and "已解决请按1，未解决请按2" in solved.text
    assert solved.text.startswith("您好，这里是12345政务服务便民热线回访。")
    assert satisfaction.key == "satisfaction"
    assert satisfaction.valid == ("1", "2", "3", "4", "5")
    assert "非常满意请按1" in satisfaction.text and "非常不满意请按5" in satisfaction.text
    assert GOODBYE == "感谢您的评价，再见。"
    assert set(SATISFACTION) == set(satisfaction.valid)


@pytest.mark.parametrize(
    ("answers", "meaning"),
    [
        ({"solved": "1", "satisfaction": "1"}, (True, "very_satisfied")),
        ({"solved": "2", "satisfaction": "2"}, (False, "satisfied")),
        ({"solved": "1", "satisfaction": "3"}, (True, "basically_satisfied")),
        ({"solved": "1", "satisfaction": "4"}, (True, "dissatisfied")),
        ({"solved": "2", "satisfaction": "5"}, (False, "very_dissatisfied")),
        ({"solved": "1"}, (True, None)),  # hung up before the second question
        ({}, (None, None)),
        ({"solved": "3", "satisfaction": "9"}, (None, None)),  # not valid keys
        ({"solved": "#", "satisfaction": ""}, (None, None)),
    ],
)
def test_answers_meaning(answers: dict[str, str], meaning: tuple[bool | None, str | None]) -> None:
    assert answers_meaning(answers) == meaning


def test_sip_status_outcomes_of_unanswered_calls() -> None:
    assert [outcome_for_status(c) for c in (408, 480)] == ["no_answer", "no_answer"]
    assert [outcome_for_status(c) for c in (486, 600, 603)] == ["busy"] * 3
    assert [outcome_for_status(c) for c in (404, 500, 503, 0)] == ["failed"] * 4


def test_tasks_are_checked() -> None:
    raw = {"attempt_id": 3, "ticket_id": 9, "phone": "13800138000", "ring_seconds": 30,
           "answer_seconds": 10}  # fmt: skip
    task = parse_task(json.dumps(raw).encode())
    assert (task.attempt_id, task.ticket_id, task.phone) == (3, 9, "13800138000")
    assert (task.ring_seconds, task.answer_seconds) == (30, 10)
    wrong = [{**raw, "phone": "sip:x@y"}, {**raw, "attempt_id": "x"}, {**raw, "ring_seconds": -1}]
    for bad in ["nope", "{}", *(json.dumps(w) for w in wrong)]:
        with pytest.raises(ValueError, match="not|must"):
            parse_task(bad)


def test_max_calls_is_what_pjsua2_allows() -> None:
    assert SurveyConfig("survey1", 5171, max_calls=4).max_calls == 4
    for wrong in (0, 5):
        with pytest.raises(ValueError, match="1..4"):
            SurveyConfig("survey1", 5171, max_calls=wrong)


def test_the_offer_numbers_telephone_event_101() -> None:
    offer = (
        "v=0\r\nm=audio 31000 RTP/AVP 0 8 120 121\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:8 PCMA/8000\r\na=rtpmap:120 telephone-event/16000\r\n"
        "a=fmtp:120 0-16\r\na=rtpmap:121 telephone-event/8000\r\na=fmtp:121 0-16\r\n"
    )
    out = dtmf_as_101(offer)
    assert "m=audio 31000 RTP/AVP 0 8 120 101\r\n" in out
    assert "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n" in out
    assert "a=rtpmap:120 telephone-event/16000" in out  # the others stay
    assert dtmf_as_101(out) == out
    taken = "m=audio 1 RTP/AVP 101 121\r\na=rtpmap:121 telephone-event/8000\r\n"
    assert dtmf_as_101(taken) == taken
    assert dtmf_as_101("m=audio 1 RTP/AVP 0\r\n") == "m=audio 1 RTP/AVP 0\r\n"


def test_prompts_are_spoken_once_per_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no espeak-ng: a chime
    path = prompt_path(tmp_path, QUESTIONS[0].text)
    assert path != prompt_path(tmp_path, QUESTIONS[1].text)
    speak(path, QUESTIONS[0].text)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
    assert wav_seconds(path) == pytest.approx(0.8)
    before = path.stat().st_mtime_ns
    speak(path, QUESTIONS[0].text)
    assert path.stat().st_mtime_ns == before


def test_the_edge_routes_our_calls_to_citizens() -> None:
    ours = 'is_method("INVITE") && $rU =~ "^[+]?[0-9]{5,}$")'
    block = SipEdge().config().split(ours)[1].split("\n    }\n")[0]
    assert 'lookup("location")' in block and "$du" not in block
    block = SipEdge(gateway="10.0.0.5:5060").config().split(ours)[1].split("\n    }\n")[0]
    assert block.index('lookup("location")') < block.index('$du = "sip:10.0.0.5:5060"')
