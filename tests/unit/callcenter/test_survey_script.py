"""The survey call's script (callcenter.survey.script): what plays when, which key means what,
when the call is asked again, said goodbye to or given up, and what it reports; no pjsua2."""

import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.survey import script
from callcenter.survey.script import GOODBYE
from callcenter.survey.script import QUESTIONS
from callcenter.survey.script import HangUp
from callcenter.survey.script import Play
from callcenter.survey.script import SurveyState
from callcenter.survey.script import Task
from callcenter.survey.script import due

GOODBYE_INDEX = len(QUESTIONS)


def ringing(ring_seconds: float = 30.0, answer_seconds: float = 10.0) -> SurveyState:
    task = Task(7, 3, "13800138000", ring_seconds=ring_seconds, answer_seconds=answer_seconds)
    return SurveyState(task, ring_until=100.0 + ring_seconds)


def answered(**kw: float) -> SurveyState:
    s = ringing(**kw)
    s.answered("2025-01-01T00:00:00+00:00")
    return s


def asked(s: SurveyState, now: float, prompt_seconds: float = 4.0) -> Play:
    """The script's next move, which must be a prompt; played as the dialer would."""
    move = due(s, now, media=True)
    assert isinstance(move, Play), move
    s.played(move.index, now, prompt_seconds)
    return move


def test_the_prompts_are_the_questions_then_the_goodbye() -> None:
    assert script.PROMPTS == (QUESTIONS[0].text, QUESTIONS[1].text, GOODBYE)


def test_an_unanswered_call_ends_as_no_answer_when_its_ring_time_is_up() -> None:
    s = ringing(ring_seconds=30)
    assert due(s, 129.9, media=False) is None
    assert due(s, 130.0, media=False) == HangUp("no_answer", "not answered within 30 s")
    assert due(ringing(2.5), 102.5, media=False) == HangUp("no_answer", "not answered within 2.5 s")


def test_a_call_we_already_ended_or_that_is_gone_needs_nothing() -> None:
    s = ringing()
    s.ending("no_answer", "not answered within 30 s")
    assert due(s, 500.0, media=False) is None  # cancelled: waiting for DISCONNECTED
    s.ended(487, "Request Terminated")
    assert s.gone and due(s, 500.0, media=False) is None


def test_nothing_is_asked_before_the_audio_flows() -> None:
    s = answered()
    assert due(s, 101.0, media=False) is None
    assert s.step == -1


def test_the_first_question_on_answer_then_the_second_then_goodbye_and_hang_up() -> None:
    s = answered()
    assert asked(s, 101.0) == Play(0)
    assert (s.step, s.tries, s.prompt_end) == (0, 1, 105.0)
    assert due(s, 102.0, media=True) is None  # the citizen listens
    s.digits.append("1")  # barge-in: a key before the prompt's end counts
    assert asked(s, 103.0) == Play(1)
    assert s.answers == {"solved": "1"}
    s.digits.append("4")
    assert asked(s, 110.0, prompt_seconds=2.0) == Play(GOODBYE_INDEX)
    assert s.answers == {"solved": "1", "satisfaction": "4"} and s.complete
    assert s.hangup_at == pytest.approx(112.5)  # half a second after the goodbye
    s.digits.append("9")
    assert due(s, 112.4, media=True) is None  # no more questions, keys are ignored
    assert due(s, 112.5, media=True) == HangUp(None, "")
    s.ending(None, "")
    assert s.hangup_at is None and s.outcome is None


def test_a_key_that_answers_nothing_gets_the_question_once_more_then_gives_up() -> None:
    s = answered()
    asked(s, 101.0)
    s.digits.append("3")  # 1 or 2 only
    assert asked(s, 102.0) == Play(0, refused="3")
    assert (s.step, s.tries) == (0, 2)
    s.digits.append("#")
    give_up = due(s, 103.0, media=True)
    assert give_up == HangUp("hung_up", "no valid key for solved", silence=True, refused="#")
    assert s.answers == {}


def test_silence_gets_the_question_once_more_then_gives_up() -> None:
    s = answered(answer_seconds=10)
    asked(s, 101.0, prompt_seconds=4.0)  # ends at 105
    assert due(s, 114.9, media=True) is None
    assert asked(s, 115.0, prompt_seconds=4.0) == Play(0)  # ends at 119
    assert due(s, 128.9, media=True) is None
    assert due(s, 129.0, media=True) == HangUp("hung_up", "no key for solved", silence=True)


def test_each_question_gets_its_own_two_tries() -> None:
    s = answered()
    asked(s, 101.0)
    s.digits.append("7")
    asked(s, 102.0)  # solved, second try
    s.digits.append("2")
    assert asked(s, 103.0) == Play(1) and s.tries == 1
    s.digits.append("0")
    assert asked(s, 104.0) == Play(1, refused="0")  # asked again, not given up
    s.digits.append("5")
    assert asked(s, 105.0) == Play(GOODBYE_INDEX)
    assert s.answers == {"solved": "2", "satisfaction": "5"}


def test_one_key_per_question_the_rest_is_dropped_with_the_new_prompt() -> None:
    s = answered()
    asked(s, 101.0)
    s.digits.extend(["1", "5"])  # both came in one turn of the loop
    assert asked(s, 102.0) == Play(1)
    assert s.answers == {"solved": "1"} and s.digits == []
    assert due(s, 103.0, media=True) is None  # the second question waits for its own key


def test_answer_and_end_keep_what_the_call_said_first() -> None:
    s = ringing()
    s.answered("first")
    s.answered("second")  # a re-INVITE confirms again
    assert (s.confirmed, s.answered_at, s.status) == (True, "first", 200)
    s.ended(200, "Normal call clearing")
    assert s.gone and s.status == 200 and s.reason == ""
    unanswered = ringing()
    unanswered.ended(486, "Busy Here")
    assert (unanswered.status, unanswered.reason) == (486, "Busy Here")


def test_the_first_outcome_we_decide_sticks() -> None:
    s = answered()
    s.played(GOODBYE_INDEX, 4.0, 0.5)  # a goodbye hang-up pending
    s.ending("hung_up", "no key for solved")
    s.ending("failed", "survey process stopped")
    s.ending(None, "")
    assert (s.outcome, s.detail, s.hangup_at) == ("hung_up", "no key for solved", None)


def result(s: SurveyState) -> dict[str, object]:
    event = script.result_event(s, "survey1")
    assert event is not None
    assert isinstance(event.pop("ended_at"), str)
    return event


def test_a_call_that_answered_both_questions_reports_answered() -> None:
    s = answered()
    s.answers.update(solved="1", satisfaction="2")
    s.ended(200, "")
    assert result(s) == {
        "type": "result", "attempt_id": 7, "worker": "survey1", "outcome": "answered",
        "answers": {"solved": "1", "satisfaction": "2"}, "sip_status": 200,
        "answered_at": "2025-01-01T00:00:00+00:00", "detail": "",
    }  # fmt: skip
    assert script.result_event(s, "survey1") is None  # reported once


def test_a_citizen_who_hangs_up_midway_keeps_the_answers_given() -> None:
    s = answered()
    s.answers["solved"] = "2"
    s.ended(200, "")
    event = result(s)
    assert (event["outcome"], event["detail"], event["answers"]) == (
        "hung_up",
        "citizen hung up",
        {"solved": "2"},
    )


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [(486, "Busy Here", "busy"), (480, "Temporarily Unavailable", "no_answer"),
     (404, "Not Found", "failed")],
)  # fmt: skip
def test_an_unanswered_call_reports_its_sip_status(status: int, reason: str, outcome: str) -> None:
    s = ringing()
    s.ended(status, reason)
    event = result(s)
    assert (event["outcome"], event["sip_status"]) == (outcome, status)
    assert event["detail"] == f"{status} {reason}" and event["answered_at"] is None


def test_an_outcome_we_decided_is_reported_as_decided() -> None:
    s = answered()
    s.answers["solved"] = "1"
    s.ending("hung_up", "no valid key for satisfaction")
    s.ended(200, "")
    event = result(s)
    assert (event["outcome"], event["detail"]) == ("hung_up", "no valid key for satisfaction")


def test_stopping_leaves_a_finished_script_answered_and_fails_the_rest() -> None:
    done = answered()
    done.answers.update(solved="1", satisfaction="1")
    assert script.stop_outcome(done) is None
    partial = answered()
    partial.answers["solved"] = "1"
    assert script.stop_outcome(partial) == "failed"
    assert script.stop_outcome(ringing()) == "failed"


def test_a_task_that_is_no_task_is_reported_called_and_failed() -> None:
    assert script.attempt_id(b'{"attempt_id": 12, "phone": "x"}') == 12
    assert script.attempt_id(b"nope") is None and script.attempt_id(b"{}") is None
    calling, failed = script.dropped_task_events(12, "survey1", "not a phone number: 'x'")
    assert calling["type"] == "calling" and calling["attempt_id"] == 12
    assert failed["outcome"] == "failed" and failed["detail"] == "not a phone number: 'x'"
    assert (failed["answers"], failed["sip_status"], failed["answered_at"]) == ({}, None, None)


def test_the_script_loads_without_pjsua2_redis_or_the_database() -> None:
    # The module alone, not through its package (whose config imports the follow-up sweep).
    path = Path(script.__file__).resolve()
    code = (
        "import importlib.util, sys;"
        f"spec = importlib.util.spec_from_file_location('script', {str(path)!r});"
        "module = importlib.util.module_from_spec(spec); sys.modules['script'] = module;"
        "spec.loader.exec_module(module);"
        "print(sorted({m.split('.')[0] for m in sys.modules} &"
        " {'pjsua2', 'redis', 'flask', 'sqlalchemy', 'callcenter', 'dispatch'}))"
    )
    argv = [sys.executable, "-c", code]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=path.parent)
    assert out.stdout.strip() == "[]"
