"""`hotline survey N`: the automated follow-up survey calls (自动回访外呼).

Tickets waiting for follow-up (待回访) get a survey call. `dispatch.followup.survey` schedules
the tries and RPUSHes one JSON task per try onto the Redis list `survey:tasks`:

    {"attempt_id": 7, "ticket_id": 3, "phone": "13800138000", "ring_seconds": 30,
     "answer_seconds": 10}

Every call gives two events to `report` (a worker thread calls it, never the pjsua2 loop):

    {"type": "calling", "attempt_id", "worker", "at"}
    {"type": "result", "attempt_id", "worker", "outcome", "answers", "sip_status",
     "answered_at", "ended_at", "detail"}

- `script`: the questions, the keys, retries, hang-ups and outcomes (pure: no pjsua2);
- `dialer`: the pjsua2 process that plays it (`run_survey`);
- `media`: the spoken prompts and the DTMF payload type of the offer;
- `config`: `SurveyConfig` and the survey processes' RTP ports;
- `events`: how events leave the process (`jsonl_report` for tests and running without a DB).

pjsua2 loads only when `run_survey` runs.
"""

from collections.abc import Callable
from typing import Any

from callcenter.survey.config import RTP_PORT_BASE
from callcenter.survey.config import RTP_PORT_RANGE
from callcenter.survey.config import SurveyConfig
from callcenter.survey.events import jsonl_report
from callcenter.survey.media import dtmf_as_101
from callcenter.survey.media import prompt_path
from callcenter.survey.media import speak
from callcenter.survey.media import wav_seconds
from callcenter.survey.script import GOODBYE
from callcenter.survey.script import OUTCOMES
from callcenter.survey.script import QUESTIONS
from callcenter.survey.script import STOPPED
from callcenter.survey.script import Question
from callcenter.survey.script import Task
from callcenter.survey.script import outcome_for_status
from callcenter.survey.script import parse_task
from callcenter.survey.script import utc_now
from dispatch.followup.survey import TASKS_KEY  # the list the follow-up sweep fills

__all__ = [
    "GOODBYE",
    "OUTCOMES",
    "QUESTIONS",
    "RTP_PORT_BASE",
    "RTP_PORT_RANGE",
    "STOPPED",
    "TASKS_KEY",
    "Question",
    "SurveyConfig",
    "Task",
    "dtmf_as_101",
    "jsonl_report",
    "outcome_for_status",
    "parse_task",
    "prompt_path",
    "run_survey",
    "speak",
    "utc_now",
    "wav_seconds",
]


def run_survey(cfg: SurveyConfig, report: Callable[[dict[str, Any]], None]) -> None:
    """Run survey process `cfg.name` until SIGTERM or SIGINT (`callcenter.survey.dialer`)."""
    from callcenter.survey.dialer import run_survey as run

    run(cfg, report)
