"""The survey call's script: its questions, what each key means, when to ask again, say goodbye
or give up, and the outcome each call reports.

Pure: plain data in, decisions out; no pjsua2, no Redis, no database. The dialer
(`callcenter.survey.dialer`) keeps one `SurveyState` per call, asks `due` what to do on each
turn of its loop and carries out the `Play` or `HangUp` it gets.

On answer the citizen hears two questions (solved? satisfied?), each answered with one key
(RFC 2833 DTMF, barge-in allowed); a wrong key or silence gets the question once more, then
the call ends. After the last answer the goodbye plays and the call is hung up half a second
after it ends.

outcome: answered (both questions), hung_up (answered, then hung up or no valid key: partial
answers kept), no_answer (not answered within ring_seconds, 408, 480), busy (486, 600, 603),
failed (anything else, also "survey process stopped").
"""

import datetime as dt
import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any

OUTCOMES = ("answered", "no_answer", "busy", "failed", "hung_up")
STOPPED = "survey process stopped"
TRIES = 2  # how often a question is played before the call gives up on it
GOODBYE_HANGUP_SECONDS = 0.5  # after the goodbye's end


@dataclass(frozen=True, slots=True)
class Question:
    key: str  # the answer's name in the result's "answers"
    text: str  # spoken to the citizen
    valid: tuple[str, ...]  # the keys that answer it


QUESTIONS: tuple[Question, ...] = (
    Question(
        "solved",
        "您好，这里是12345政务服务便民热线回访。您反映的问题是否已经解决？"
        "已解决请按1，未解决请按2。",
        ("1", "2"),
    ),
    Question(
        "satisfaction",
        "请您对办理结果进行评价：非常满意请按1，满意请按2，基本满意请按3，"
        "不满意请按4，非常不满意请按5。",
        ("1", "2", "3", "4", "5"),
    ),
)
GOODBYE = "感谢您的评价，再见。"
PROMPTS = (*(q.text for q in QUESTIONS), GOODBYE)  # prompt index: a question's, then goodbye


def outcome_for_status(code: int) -> str:
    """The outcome of a call that ended before it was answered, from its SIP status."""
    if code in (408, 480):
        return "no_answer"
    if code in (486, 600, 603):
        return "busy"
    return "failed"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


# --- Tasks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Task:
    attempt_id: int
    ticket_id: int
    phone: str
    ring_seconds: float = 30.0
    answer_seconds: float = 10.0


def parse_task(raw: bytes | str) -> Task:
    """A task from the queue; ValueError for anything that is not one."""
    try:
        data = json.loads(raw)
        phone = str(data["phone"]).strip()
        task = Task(
            attempt_id=int(data["attempt_id"]),
            ticket_id=int(data.get("ticket_id") or 0),
            phone=phone,
            ring_seconds=float(data.get("ring_seconds") or 30),
            answer_seconds=float(data.get("answer_seconds") or 10),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a survey task: {exc}") from exc
    if not (phone.lstrip("+").isdigit() and 3 <= len(phone) <= 20):
        raise ValueError(f"not a phone number: {phone!r}")
    if task.ring_seconds <= 0 or task.answer_seconds <= 0:
        raise ValueError("ring_seconds and answer_seconds must be positive")
    return task


def attempt_id(raw: bytes | str) -> int | None:
    """The attempt a task that is no task names, if any (so its failure can be reported)."""
    try:
        return int(json.loads(raw)["attempt_id"])
    except (ValueError, TypeError, KeyError):
        return None


# --- One call's script ---------------------------------------------------------------------


@dataclass(slots=True)
class SurveyState:
    """Where one survey call is: ringing, answered, which question, which keys came."""

    task: Task
    ring_until: float  # monotonic: not answered by then, the call ends as no_answer
    confirmed: bool = False
    gone: bool = False
    status: int | None = None
    reason: str = ""
    answered_at: str | None = None
    step: int = -1  # index into QUESTIONS; len(QUESTIONS): goodbye; -1: not started
    tries: int = 0  # how often the current question was played
    prompt_end: float = 0.0
    hangup_at: float | None = None
    digits: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    outcome: str | None = None  # decided by us (hang-up reasons); else from the ending
    detail: str = ""
    reported: bool = False

    def answered(self, at: str) -> None:
        """The citizen picked up (the first CONFIRMED)."""
        if not self.confirmed:
            self.confirmed = True
            self.answered_at = at
            self.status = 200

    def ended(self, status: int, reason: str) -> None:
        """The call is over; an unanswered one keeps its SIP status for the outcome."""
        self.gone = True
        if not self.confirmed:
            self.status = status
            self.reason = reason

    def ending(self, outcome: str | None, detail: str) -> None:
        """We hang up: the first outcome we decide sticks; no goodbye hang-up is pending."""
        if outcome is not None and self.outcome is None:
            self.outcome, self.detail = outcome, detail
        self.hangup_at = None

    def played(self, index: int, started: float, seconds: float) -> None:
        """Prompt `index` started playing; after the goodbye, the call is hung up."""
        self.prompt_end = started + seconds
        if index >= len(QUESTIONS):
            self.hangup_at = self.prompt_end + GOODBYE_HANGUP_SECONDS

    @property
    def complete(self) -> bool:
        """Every question has its answer."""
        return all(q.key in self.answers for q in QUESTIONS)


@dataclass(frozen=True, slots=True)
class Play:
    """Play prompt `index` from its start: a question's, or the goodbye's (then hang up)."""

    index: int
    refused: str | None = None  # the key that was no answer, if that is why it is asked again


@dataclass(frozen=True, slots=True)
class HangUp:
    """End the call; `outcome` None: as its ending says (answered, hung_up)."""

    outcome: str | None
    detail: str
    silence: bool = False  # stop the prompt first
    refused: str | None = None  # the key that was no answer, if that is why


Move = Play | HangUp


def due(s: SurveyState, now: float, media: bool) -> Move | None:
    """What one call needs now: ring timeout, the goodbye's hang-up, the script's next step.

    `media`: the call's audio flows (nothing is played or asked before)."""
    if s.gone:
        return None
    if not s.confirmed:
        if now >= s.ring_until and s.outcome is None:
            return HangUp("no_answer", f"not answered within {s.task.ring_seconds:g} s")
        return None
    if s.hangup_at is not None and now >= s.hangup_at:
        return HangUp(None, "")
    return advance(s, now, media)


def advance(s: SurveyState, now: float, media: bool) -> Move | None:
    """Move one answered call's script along: keys, timeouts, the next prompt."""
    if not media or s.hangup_at is not None:
        return None
    if s.step < 0:
        return ask(s, 0)
    question = QUESTIONS[s.step]
    if s.digits:
        key = s.digits.pop(0)
        if key in question.valid:
            s.answers[question.key] = key
            return ask(s, s.step + 1)
        return retry(s, f"no valid key for {question.key}", refused=key)
    if now >= s.prompt_end + s.task.answer_seconds:
        return retry(s, f"no key for {question.key}")
    return None


def ask(s: SurveyState, step: int) -> Play:
    """Ask question `step` (once more if it is the current one); past the last: goodbye."""
    if step != s.step:
        s.step, s.tries = step, 0
    s.tries += 1
    s.digits.clear()
    return Play(min(step, len(QUESTIONS)))


def retry(s: SurveyState, why: str, refused: str | None = None) -> Move:
    """The question once more, or, when it was asked twice already, give up on the call."""
    if s.tries < TRIES:
        return Play(ask(s, s.step).index, refused)
    return HangUp("hung_up", why, silence=True, refused=refused)


def stop_outcome(s: SurveyState) -> str | None:
    """Stopping the process: a finished script stays answered, anything else failed."""
    return None if s.complete else "failed"


# --- What the calls report -----------------------------------------------------------------


def calling_event(attempt: int, worker: str, at: str) -> dict[str, Any]:
    return {"type": "calling", "attempt_id": attempt, "worker": worker, "at": at}


def result_event(s: SurveyState, worker: str) -> dict[str, Any] | None:
    """The call's result, once (None when it was reported already)."""
    if s.reported:
        return None
    s.reported = True
    if s.outcome is not None:
        outcome = s.outcome
    elif s.confirmed:
        done = s.complete
        outcome = "answered" if done else "hung_up"
        s.detail = s.detail or ("" if done else "citizen hung up")
    else:
        outcome = outcome_for_status(s.status or 0)
        s.detail = s.detail or f"{s.status} {s.reason}".strip()
    return {
        "type": "result",
        "attempt_id": s.task.attempt_id,
        "worker": worker,
        "outcome": outcome,
        "answers": dict(s.answers),
        "sip_status": s.status,
        "answered_at": s.answered_at,
        "ended_at": utc_now(),
        "detail": s.detail,
    }


def dropped_task_events(attempt: int, worker: str, detail: str) -> list[dict[str, Any]]:
    """A task that is no task fails at once: its attempt is reported called and failed."""
    return [
        calling_event(attempt, worker, utc_now()),
        {
            "type": "result", "attempt_id": attempt, "worker": worker,
            "outcome": "failed", "answers": {}, "sip_status": None,
            "answered_at": None, "ended_at": utc_now(), "detail": detail,
        },
    ]  # fmt: skip
