"""Automated follow-up (自动回访): tries, answers, retries over two days, hand-over."""

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.followup import survey as followup
from dispatch.followup.models import FollowUpAttempt
from dispatch.tickets.models import Ticket
from hotline.bootstrap import Container
from infra.settings import FollowUpSettings
from tests.conftest import REDIS_URL
from tests.conftest import Api
from tests.conftest import Clock

SETTINGS = FollowUpSettings()


class Harness:
    """The sweep with its channels caught: survey tasks in a list, SMS in the log adapter."""

    def __init__(self, container: Container, clock: Clock, settings: FollowUpSettings) -> None:
        self.container = container
        self.clock = clock
        self.settings = settings
        self.tasks: list[dict[str, Any]] = []
        self.sms = followup.LogSms()

    def sweep(self) -> followup.SweepResult:
        return followup.sweep(
            self.container.uow(),
            self.container.dispatch,
            self.settings,
            push=self.tasks.append,
            sms=self.sms,
        )

    def report(self, **event: Any) -> None:
        followup.record_survey_event(
            self.container.uow(), self.container.dispatch, self.settings, event
        )

    def attempts(self, ticket_id: int) -> list[FollowUpAttempt]:
        with self.container.uow() as uow:
            rows = uow.session.scalars(
                sa.select(FollowUpAttempt)
                .where(FollowUpAttempt.ticket_id == ticket_id)
                .order_by(FollowUpAttempt.id)
            ).all()
            uow.session.expunge_all()
            return list(rows)

    def ticket(self, ticket_id: int) -> Ticket:
        with self.container.uow() as uow:
            t = uow.session.get(Ticket, ticket_id)
            assert t is not None
            uow.session.expunge(t)
            return t


@pytest.fixture
def fu(container: Container, clock: Clock) -> Harness:
    return Harness(container, clock, SETTINGS)


def reviewed(api: Api, **fields: Any) -> dict[str, Any]:
    t = api.signed("zjj", **fields)
    api.act(t["id"], "reply", {"text": "已督促物业修复电梯"}, as_="zjj")
    return api.act(t["id"], "review", {"approve": True}, as_="lead")


def test_an_answered_survey_call_becomes_the_follow_up_and_closes_the_ticket(
    api: Api, fu: Harness
) -> None:
    t = reviewed(api)
    first = fu.sweep()
    assert first.scheduled == [t["id"]]
    assert [task["phone"] for task in fu.tasks] == ["13812345678"]
    task = fu.tasks[0]
    assert fu.sweep().queued == []  # nothing more to hand over: idempotent
    fu.report(type="calling", attempt_id=task["attempt_id"], worker="survey1", at=None)
    assert fu.attempts(t["id"])[0].status == "calling"
    fu.report(
        type="result",
        attempt_id=task["attempt_id"],
        worker="survey1",
        outcome="answered",
        answers={"solved": "1", "satisfaction": "2"},
        sip_status=200,
        ended_at=None,
    )
    view = api.get(f"/api/tickets/{t['id']}", as_="operator").get_json()
    assert view["status"] == "closed"
    assert view["follow_up"]["solved"] is True
    assert view["follow_up"]["satisfaction"] == "satisfied"
    assert "自动回访" in view["follow_up"]["note"]
    assert fu.attempts(t["id"])[0].status == "answered"
    # The same report again changes nothing.
    fu.report(type="result", attempt_id=task["attempt_id"], outcome="no_answer", answers={})
    assert fu.attempts(t["id"])[0].status == "answered"


def test_an_unsolved_answer_is_recorded_and_left_for_a_lead(api: Api, fu: Harness) -> None:
    t = reviewed(api)
    fu.sweep()
    fu.report(
        type="result",
        attempt_id=fu.tasks[0]["attempt_id"],
        outcome="answered",
        answers={"solved": "2", "satisfaction": "4"},
    )
    view = api.get(f"/api/tickets/{t['id']}", as_="operator").get_json()
    assert view["status"] == "followed_up"
    assert (view["follow_up"]["solved"], view["follow_up"]["satisfaction"]) == (
        False,
        "dissatisfied",
    )


def test_three_tries_over_two_days_then_the_human_queue(
    api: Api, fu: Harness, clock: Clock
) -> None:
    t = reviewed(api)
    outcomes = ["no_answer", "busy", "answered"]  # the last one hangs up before answering
    for n, outcome in enumerate(outcomes, start=1):
        fu.sweep()
        assert len(fu.tasks) == n, f"try {n} was not handed over"
        fu.report(type="result", attempt_id=fu.tasks[-1]["attempt_id"], outcome=outcome, answers={})
        if n < 3:
            assert fu.ticket(t["id"]).followup_handover_at is None
            fu.sweep()
            assert len(fu.tasks) == n, "the next try waits a day"
            clock.advance(days=1)
    tries = fu.attempts(t["id"])
    assert [a.try_no for a in tries] == [1, 2, 3]
    assert [a.status for a in tries] == ["no_answer", "busy", "hung_up"]
    assert tries[-1].scheduled_at - tries[0].scheduled_at <= dt.timedelta(days=2, minutes=1)
    ticket = fu.ticket(t["id"])
    assert ticket.followup_handover_at is not None
    assert ticket.status.value == "reviewed"
    clock.advance(days=3)
    assert fu.sweep().scheduled == []  # handed over: no more automatic tries


def test_a_survey_process_that_dies_expires_the_try(api: Api, fu: Harness, clock: Clock) -> None:
    t = reviewed(api)
    fu.sweep()
    clock.advance(minutes=16)
    result = fu.sweep()
    assert result.expired == [fu.tasks[0]["attempt_id"]]
    assert [a.status for a in fu.attempts(t["id"])] == ["expired", "scheduled"]


def test_calls_wait_for_call_hours(api: Api, fu: Harness, clock: Clock) -> None:
    t = reviewed(api)
    clock.advance(hours=12)  # 22:00 in Shanghai
    fu.sweep()
    assert fu.tasks == []
    (attempt,) = fu.attempts(t["id"])
    local = attempt.scheduled_at.astimezone(fu.container.dispatch.policy.calendar.tz)
    assert (local.hour, local.minute) == (9, 0)
    clock.advance(hours=11, minutes=1)
    fu.sweep()
    assert len(fu.tasks) == 1


def test_a_person_following_up_first_cancels_the_tries(api: Api, fu: Harness) -> None:
    t = reviewed(api)
    fu.sweep()
    api.act(t["id"], "follow_up", {"solved": True, "satisfaction": "satisfied"})
    fu.report(
        type="result",
        attempt_id=fu.tasks[0]["attempt_id"],
        outcome="answered",
        answers={"solved": "2", "satisfaction": "5"},
    )
    view = api.get(f"/api/tickets/{t['id']}", as_="operator").get_json()
    assert view["follow_up"]["solved"] is True  # the person's answer stands


def test_no_phone_goes_straight_to_the_human_queue(api: Api, fu: Harness) -> None:
    t = reviewed(api, caller_phone=None, citizen_name=None, anonymous=True)
    assert fu.sweep().handed_over == [t["id"]]
    assert fu.tasks == []


def test_sms_channel_sends_the_survey_and_takes_the_reply(
    container: Container, clock: Clock, api: Api
) -> None:
    fu = Harness(container, clock, dataclasses.replace(SETTINGS, channel="sms"))
    t = reviewed(api)
    fu.sweep()
    ((phone, text),) = fu.sms.sent
    assert phone == "13812345678" and t["number"] in text
    reply = followup.record_sms_reply(container.uow(), container.dispatch, fu.settings, phone, "好")
    assert reply["matched"] and not reply["accepted"]
    reply = followup.record_sms_reply(
        container.uow(), container.dispatch, fu.settings, phone, "１ ３"
    )
    assert reply["accepted"]
    view = api.get(f"/api/tickets/{t['id']}", as_="operator").get_json()
    assert view["status"] == "closed"
    assert view["follow_up"]["satisfaction"] == "basically_satisfied"
    other = followup.record_sms_reply(
        container.uow(), container.dispatch, fu.settings, "13900000000", "11"
    )
    assert not other["matched"]


def test_a_reopened_ticket_gets_a_new_round(api: Api, fu: Harness, clock: Clock) -> None:
    t = reviewed(api, caller_phone=None, citizen_name=None, anonymous=True)
    fu.sweep()
    assert fu.ticket(t["id"]).followup_handover_at is not None
    api.act(t["id"], "close", {"note": "无法联系诉求人"}, as_="lead")
    api.act(t["id"], "reopen", {"reason": "市民来电反映未解决"}, as_="lead")
    assert fu.ticket(t["id"]).followup_handover_at is None


@pytest.mark.parametrize(
    ("text", "answers"),
    [("11", {"solved": "1", "satisfaction": "1"}), ("2，5", {"solved": "2", "satisfaction": "5"})],
)
def test_sms_replies_parse(text: str, answers: dict[str, str]) -> None:
    assert followup.parse_sms_reply(text) == answers


@pytest.mark.parametrize("text", ["1", "16", "31", "111", "好的"])
def test_sms_replies_that_are_not_answers(text: str) -> None:
    assert followup.parse_sms_reply(text) is None


@pytest.mark.redis
def test_the_sweep_job_puts_survey_tasks_on_redis_and_is_scheduled(
    api: Api,
    container: Container,
    db_url: str,
    real_redis: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    import fakeredis

    from dispatch.jobs import sweep_followup
    from hotline.jobs import schedule

    t = reviewed(api)
    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)
    monkeypatch.setenv("HOTLINE_REDIS__URL", REDIS_URL)
    monkeypatch.setenv("HOTLINE_WEB__LIVE_UPDATES_VIA_REDIS", "false")
    monkeypatch.setenv("HOTLINE_FOLLOWUP__CALL_HOURS", "00:00-24:00")  # whenever CI runs
    result = sweep_followup()
    assert result["scheduled"] == [t["id"]] and len(result["queued"]) == 1
    task = json.loads(real_redis.lpop(followup.TASKS_KEY))
    assert (task["ticket_id"], task["phone"]) == (t["id"], "13812345678")
    assert sweep_followup()["queued"] == []
    jobs = {j.func: j for j in schedule(container.settings, fakeredis.FakeRedis()).get_jobs()}
    assert jobs[sweep_followup].interval == 60
    assert jobs[sweep_followup].queue_name == "dispatch"


def test_an_sms_reply_from_the_number_in_international_form_matches(
    container: Container, clock: Clock, api: Api
) -> None:
    fu = Harness(container, clock, dataclasses.replace(SETTINGS, channel="sms"))
    t = reviewed(api, caller_phone="138-1234-5678")
    fu.sweep()
    reply = followup.record_sms_reply(
        container.uow(), container.dispatch, fu.settings, "+86 13812345678", "12"
    )
    assert reply["accepted"] and reply["ticket_id"] == t["id"]
    note = api.get(f"/api/tickets/{t['id']}", as_="operator").get_json()["follow_up"]["note"]
    assert note == "自动回访（短信，第1次尝试）"


def test_a_hand_over_is_pushed_to_the_hotline_pages(
    api: Api, fu: Harness, container: Container
) -> None:
    pushed: list[tuple[str, dict[str, Any], list[str]]] = []
    container.dispatch.publish = lambda event, payload, rooms: pushed.append(
        (event, payload, rooms)
    )
    t = reviewed(api, caller_phone=None, citizen_name=None, anonymous=True)
    pushed.clear()
    fu.sweep()
    assert pushed == [
        (
            "ticket.changed",
            {"v": 1, "ticket_id": t["id"], "event": "followup_handover"},
            ["hotline"],
        )
    ]
