"""The follow-up survey process (自动回访外呼) against real Kamailio and sipp citizens.

The survey process is the real one (callcenter/survey/ in its own process, as `hotline
survey` runs it) with a report that writes its events as JSON lines; tasks go through a Redis
list of the test's own. The citizens are sipp phones registered at the edge under their
numbers: one answers and presses RFC 2833 keys, one never picks up.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from callcenter.survey import SurveyConfig
from tests.conftest import REDIS_URL
from tests.telephony.conftest import CITIZEN_NO_ANSWER
from tests.telephony.conftest import CITIZEN_SURVEY
from tests.telephony.conftest import Stack
from tests.telephony.conftest import wait_for


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prompts are spoken once (espeak-ng) and shared by this module's survey processes."""
    return tmp_path_factory.mktemp("survey-prompts")


@pytest.fixture
def tasks() -> Iterator[tuple[Any, str]]:
    """The test's own task list in the test Redis database (dropped afterwards)."""
    conn = redis.Redis.from_url(REDIS_URL)
    key = f"test:{uuid.uuid4().hex}:{SurveyConfig.__dataclass_fields__['tasks_key'].default}"
    yield conn, key
    conn.delete(key)
    conn.close()


def push(conn: Any, key: str, attempt_id: int, phone: str, ring: int = 15) -> None:
    task = {
        "attempt_id": attempt_id,
        "ticket_id": 1000 + attempt_id,
        "phone": phone,
        "ring_seconds": ring,
        "answer_seconds": 5,
    }
    conn.rpush(key, json.dumps(task))


def events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def results(path: Path) -> list[dict[str, Any]]:
    return [e for e in events(path) if e["type"] == "result"]


def test_a_citizen_who_presses_1_then_2_has_answered(
    edge: Stack, tasks: tuple[Any, str], prompts: Path
) -> None:
    conn, key = tasks
    out = edge.tmp / "events.jsonl"
    edge.start_survey("survey1", out, tasks_key=key, max_calls=2, prompts_dir=str(prompts))
    phone = edge.citizen("13800138000", CITIZEN_SURVEY)
    push(conn, key, 7, "13800138000")

    wait_for(lambda: bool(results(out)), 40, "the survey's result")
    calling, result = events(out)
    assert calling["type"] == "calling"
    assert (calling["attempt_id"], calling["worker"]) == (7, "survey1")
    assert result["outcome"] == "answered", (result, edge.log("survey1")[-3000:])
    assert result["answers"] == {"solved": "1", "satisfaction": "2"}
    assert result["sip_status"] == 200 and result["answered_at"] is not None
    assert result["attempt_id"] == 7 and result["worker"] == "survey1"
    assert result["answered_at"] <= result["ended_at"]
    # the citizen's phone took the call, heard the survey out and got its BYE
    assert phone.wait(timeout=15) == 0
    assert conn.llen(key) == 0
    # the citizen's phone was offered RFC 2833 as 101 and showed the hotline number
    (messages,) = edge.tmp.glob("citizen-13800138000-*-messages.log")
    invite = messages.read_text(errors="replace").split("INVITE sip:", 1)[1]
    assert 'From: "12345" <sip:survey1@' in invite
    assert "a=rtpmap:101 telephone-event/8000" in invite


def test_a_citizen_who_never_answers_is_no_answer_after_the_ring_time(
    edge: Stack, tasks: tuple[Any, str], prompts: Path
) -> None:
    conn, key = tasks
    out = edge.tmp / "events.jsonl"
    edge.start_survey("survey2", out, tasks_key=key, max_calls=1, prompts_dir=str(prompts))
    phone = edge.citizen("13900139000", CITIZEN_NO_ANSWER)
    push(conn, key, 8, "13900139000", ring=5)

    wait_for(lambda: bool(results(out)), 30, "the survey's result")
    (result,) = results(out)
    assert result["outcome"] == "no_answer", result
    assert result["answers"] == {} and result["answered_at"] is None
    assert "5 s" in result["detail"]
    # the phone rang, was cancelled (200 to the CANCEL, 487 to the INVITE) and was done
    assert phone.wait(timeout=15) == 0


def test_a_number_nobody_has_fails_and_the_next_task_goes_on(
    edge: Stack, tasks: tuple[Any, str], prompts: Path
) -> None:
    conn, key = tasks
    out = edge.tmp / "events.jsonl"
    edge.start_survey("survey3", out, tasks_key=key, max_calls=1, prompts_dir=str(prompts))
    conn.rpush(key, "not json")
    push(conn, key, 9, "13700137000")  # not registered, no gateway: 404
    phone = edge.citizen("13600136000", CITIZEN_NO_ANSWER)
    push(conn, key, 10, "13600136000", ring=2)

    wait_for(lambda: len(results(out)) == 2, 30, "two results")
    by_attempt = {r["attempt_id"]: r for r in results(out)}
    assert by_attempt[9]["outcome"] == "failed" and by_attempt[9]["sip_status"] == 404
    assert by_attempt[10]["outcome"] == "no_answer"
    assert phone.wait(timeout=15) == 0


def test_the_process_never_holds_more_than_max_calls(
    edge: Stack, tasks: tuple[Any, str], prompts: Path
) -> None:
    conn, key = tasks
    out = edge.tmp / "events.jsonl"
    edge.start_survey("survey4", out, tasks_key=key, max_calls=2, prompts_dir=str(prompts))
    phones = [edge.citizen(n, CITIZEN_NO_ANSWER, calls=3) for n in ("13500135001", "13500135002")]
    for attempt in range(1, 7):
        push(conn, key, attempt, f"1350013500{1 + attempt % 2}", ring=2)

    wait_for(lambda: len(results(out)) == 6, 40, "six results")
    seen = events(out)
    assert sorted(r["attempt_id"] for r in results(out)) == [1, 2, 3, 4, 5, 6]
    assert all(r["outcome"] == "no_answer" for r in results(out))
    # Replay the events in order: a call is live from its "calling" to its "result".
    live: set[int] = set()
    most = 0
    for event in seen:
        if event["type"] == "calling":
            live.add(event["attempt_id"])
        else:
            live.discard(event["attempt_id"])
        most = max(most, len(live))
    assert most == 2
    # and by the clock: no moment is inside more than two calls
    spans = {e["attempt_id"]: [e["at"], None] for e in seen if e["type"] == "calling"}
    for r in results(out):
        spans[r["attempt_id"]][1] = r["ended_at"]
    for start, _ in spans.values():
        inside = [a for a, (s, e) in spans.items() if s <= start < e]
        assert len(inside) <= 2
    for phone in phones:
        assert phone.wait(timeout=15) == 0


def test_stopping_the_process_fails_its_live_calls(
    edge: Stack, tasks: tuple[Any, str], prompts: Path
) -> None:
    conn, key = tasks
    out = edge.tmp / "events.jsonl"
    edge.start_survey("survey5", out, tasks_key=key, max_calls=1, prompts_dir=str(prompts))
    edge.citizen("13300133000", CITIZEN_NO_ANSWER)
    push(conn, key, 11, "13300133000", ring=30)
    wait_for(lambda: len(events(out)) == 1, 15, "the call")
    wait_for(lambda: "EARLY" in edge.log("survey5"), 15, "the phone to ring")
    proc = edge.procs[list(edge.logs).index("survey5")]
    proc.terminate()
    assert proc.wait(timeout=15) == 0
    (result,) = results(out)
    assert result["outcome"] == "failed" and result["detail"] == "survey process stopped"
