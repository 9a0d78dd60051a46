"""Automated follow-up end to end: a ticket waiting for 回访, the follow-up sweep, the real
`hotline survey` process calling through Kamailio, a sipp citizen pressing keys, and the
answers recorded on the ticket as its follow-up."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from dispatch.followup import survey as followup
from dispatch.followup.models import FollowUpAttempt
from dispatch.tickets.models import Ticket
from hotline.bootstrap import Container
from tests.conftest import REDIS_URL
from tests.conftest import Api
from tests.telephony.conftest import CITIZEN_SURVEY
from tests.telephony.conftest import Stack
from tests.telephony.conftest import free_udp_port
from tests.telephony.conftest import wait_for

HOTLINE = Path(sys.executable).parent / "hotline"


@pytest.fixture
def tasks() -> Iterator[Any]:
    conn = redis.Redis.from_url(REDIS_URL)
    conn.delete(followup.TASKS_KEY)
    yield conn
    conn.delete(followup.TASKS_KEY)
    conn.close()


def test_a_survey_call_answered_with_keys_becomes_the_tickets_follow_up(
    api: Api,
    container: Container,
    db_url: str,
    edge: Stack,
    tasks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = api.signed("zjj", caller_phone="13700137000")
    api.act(t["id"], "reply", {"text": "已督促物业修复电梯"}, as_="zjj")
    api.act(t["id"], "review", {"approve": True}, as_="lead")
    swept = followup.sweep(
        container.uow(),
        container.dispatch,
        container.settings.followup,
        push=lambda task: tasks.rpush(followup.TASKS_KEY, json.dumps(task)),
        sms=followup.LogSms(),
    )
    assert swept.scheduled == [t["id"]] and len(swept.queued) == 1
    phone = edge.citizen("13700137000", CITIZEN_SURVEY)  # presses 1, then 2

    for key, value in {
        "HOTLINE_DATABASE__URL": db_url,
        "HOTLINE_REDIS__URL": REDIS_URL,
        "HOTLINE_TELEPHONY__SIP_PORT": str(edge.port),
        "HOTLINE_FOLLOWUP__SURVEY_PORT_BASE": str(free_udp_port() - 1),
        "HOTLINE_INSTANCE_PATH": str(edge.tmp / "instance"),
        "HOTLINE_LOG_LEVEL": "INFO",
        # its SIP password, as an admin would issue it in 系统管理 → 话机账号
        "HOTLINE_SIP_PASSWORD": edge.password("survey1", "survey"),
    }.items():
        monkeypatch.setenv(key, value)
    edge._spawn("survey1", [str(HOTLINE), "survey", "1"])

    def status() -> str:
        with container.uow() as uow:
            ticket = uow.session.get(Ticket, t["id"])
            assert ticket is not None
            return ticket.status.value

    wait_for(lambda: status() == "closed", 90, "the survey to follow the ticket up")
    view = api.get(f"/api/tickets/{t['id']}", as_="operator").get_json()
    assert view["follow_up"]["reached"] is True
    assert (view["follow_up"]["solved"], view["follow_up"]["satisfaction"]) == (True, "satisfied")
    assert view["follow_up"]["note"] == "自动回访（语音，第1次尝试）"
    with container.uow() as uow:
        (attempt,) = uow.session.scalars(
            sa.select(FollowUpAttempt).where(FollowUpAttempt.ticket_id == t["id"])
        ).all()
        assert (attempt.status, attempt.worker, attempt.sip_status) == ("answered", "survey1", 200)
        assert attempt.answers == {"solved": "1", "satisfaction": "2"}
        assert attempt.started_at is not None and attempt.answered_at is not None
    assert phone.wait(timeout=15) == 0
    assert tasks.llen(followup.TASKS_KEY) == 0
