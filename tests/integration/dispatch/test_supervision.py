"""The supervision sweep (dispatch.supervision): 催办, 督办, 通报 and 提级督办, once each.

T0 is Monday 16 Nov 2026 10:00 (Shanghai). A normal complaint dispatched then has a sign-for
clock of 1 working day (due Tue 10:00, yellow at 75%: Mon 16:00 with 09:00–17:00 days …);
the tests read the deadlines from the ticket rather than working them out again.
"""

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.supervision.sweep import Notice
from dispatch.supervision.sweep import SweepResult
from dispatch.supervision.sweep import sweep
from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from hotline.bootstrap import Container
from infra.models import Unit
from kernel.worktime import Duration
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World

FIVE_WD = Duration.parse("5wd")


class Collect:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def send(self, notice: Notice) -> None:
        self.notices.append(notice)


@pytest.fixture
def notifier() -> Collect:
    return Collect()


def run(container: Container, notifier: Collect) -> SweepResult:
    return sweep(container.uow(), container.dispatch, notice_after=FIVE_WD, notifier=notifier)


def clocks(api: Api, ticket_id: int) -> dict[str, Any]:
    view = api.get(f"/api/tickets/{ticket_id}", as_="supervisor").get_json()
    return {
        name: {k: dt.datetime.fromisoformat(v) for k, v in c.items() if k in ("due", "warn_at")}
        for name, c in view["clocks"].items()
        if c
    }


def events(container: Container, ticket_id: int) -> list[TicketEventRecord]:
    with container.uow() as uow:
        rows = uow.session.scalars(
            sa.select(TicketEventRecord)
            .where(TicketEventRecord.ticket_id == ticket_id)
            .order_by(TicketEventRecord.id)
        ).all()
        uow.session.expunge_all()
        return list(rows)


def system_events(container: Container, ticket_id: int) -> list[tuple[str, str]]:
    return [
        (e.event.value, e.data.get("clock") or e.data.get("level") or "")
        for e in events(container, ticket_id)
        if e.actor_role == "system"
    ]


def set_head(container: Container, world: World, code: str) -> None:
    with container.uow() as uow:
        unit = uow.session.get(Unit, world.units[code])
        assert unit is not None
        unit.head_name, unit.head_phone = "王局长", "0571-88000000"
        uow.commit()


def test_each_clock_gets_one_reminder_then_one_order_then_a_notice(
    api: Api, container: Container, clock: Clock, world: World, notifier: Collect
) -> None:
    set_head(container, world, "zjj")
    ticket = api.dispatched("zjj")
    tid = ticket["id"]
    c = clocks(api, tid)
    assert run(container, notifier).as_dict()["reminded"] == []  # nothing is due yet

    clock.set(c["sign"]["warn_at"] + dt.timedelta(minutes=1))
    first = run(container, notifier)
    assert first.reminded == [tid]
    assert run(container, notifier).reminded == []  # the sweep is idempotent
    assert system_events(container, tid) == [("remind", "sign")]
    remind = notifier.notices[-1]
    assert remind.kind == "remind" and "住房和城乡建设局联络员" in remind.to[0]
    assert "zjj用户" in remind.to[0] and "zjj2用户" in remind.to[0]

    clock.set(c["sign"]["due"] + dt.timedelta(minutes=1))
    assert run(container, notifier).supervised == [tid]
    assert run(container, notifier).supervised == []
    order = events(container, tid)[-1]
    assert order.event.value == "supervise" and order.data["order"].startswith("DB20261117")
    assert order.data["cc"] == {"name": "王局长", "phone": "0571-88000000"}
    assert "签收时限已于" in (order.reason or "")
    assert any("抄送 单位负责人：王局长" in line for line in notifier.notices[-1].to)

    api.act(tid, "sign", as_="zjj")
    clock.set(c["reply"]["warn_at"] + dt.timedelta(minutes=1))
    assert run(container, notifier).reminded == [tid]
    clock.set(c["reply"]["due"] + dt.timedelta(minutes=1))
    assert run(container, notifier).supervised == [tid]
    assert run(container, notifier).noticed == []  # not yet 5 working days late
    clock.set(container.dispatch.policy.calendar.add(c["reply"]["due"], FIVE_WD))
    assert run(container, notifier).noticed == [tid]
    assert run(container, notifier).noticed == []
    assert system_events(container, tid) == [
        ("remind", "sign"),
        ("supervise", "sign"),
        ("remind", "reply"),
        ("supervise", "reply"),
        ("notice", ""),
    ]
    view = api.get(f"/api/tickets/{tid}", as_="supervisor").get_json()
    assert view["remind_count"] == 2 and view["noticed_at"] is not None


def test_a_new_deadline_is_watched_afresh(
    api: Api, container: Container, clock: Clock, notifier: Collect
) -> None:
    tid = api.signed("zjj")["id"]
    c = clocks(api, tid)
    clock.set(c["reply"]["warn_at"] + dt.timedelta(minutes=1))
    assert run(container, notifier).reminded == [tid]
    api.act(tid, "extend", {"days": 5, "reason": "需要现场勘查"}, as_="zjj")
    api.act(tid, "decide_extension", {"approve": True}, as_="lead")
    extended = clocks(api, tid)["reply"]
    assert extended["due"] > c["reply"]["due"]
    assert run(container, notifier).reminded == []  # the new clock is not yellow yet
    clock.set(extended["warn_at"] + dt.timedelta(minutes=1))
    assert run(container, notifier).reminded == [tid]
    assert [e for e in system_events(container, tid)] == [("remind", "reply"), ("remind", "reply")]


def test_tickets_done_in_time_are_left_alone(
    api: Api, container: Container, clock: Clock, notifier: Collect
) -> None:
    tid = api.signed("cgj")["id"]
    api.act(tid, "reply", {"text": "已处理完毕"}, as_="cgj")
    clock.advance(days=30)
    result = run(container, notifier)
    assert tid not in result.reminded + result.supervised + result.noticed
    assert notifier.notices == []


def test_a_problem_ticket_is_escalated_once(
    api: Api, container: Container, clock: Clock, notifier: Collect
) -> None:
    tid = api.signed("cgj")["id"]
    for _ in range(3):
        api.act(tid, "reply", {"text": "已处理"}, as_="cgj")
        api.act(tid, "review", {"approve": True}, as_="lead")
        api.act(
            tid,
            "follow_up",
            {"reached": True, "solved": False, "satisfaction": "dissatisfied"},
            as_="lead",
        )
        api.act(tid, "reopen", {"reason": "问题依旧"}, as_="lead")
        api.act(tid, "sign", as_="cgj")
    assert api.get(f"/api/tickets/{tid}", as_="lead").get_json()["problem"] is True
    assert run(container, notifier).escalated == [tid]
    assert run(container, notifier).escalated == []
    raised = [e for e in events(container, tid) if e.data.get("level") == "raised"]
    assert len(raised) == 1 and "重办3次" in (raised[0].reason or "")
    assert notifier.notices[-1].kind == "escalate"


def test_a_failing_notifier_loses_no_supervision(
    api: Api, container: Container, clock: Clock
) -> None:
    class Broken:
        def send(self, notice: Notice) -> None:
            raise OSError("sms gateway down")

    tid = api.dispatched("zjj")["id"]
    clock.advance(days=10)
    result = sweep(container.uow(), container.dispatch, notice_after=FIVE_WD, notifier=Broken())
    assert tid in result.supervised
    assert ("supervise", "sign") in system_events(container, tid)


def test_the_sweep_job_and_its_schedule(
    api: Api, container: Container, clock: Clock, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fakeredis

    from dispatch.jobs import sweep_supervision
    from hotline.jobs import schedule
    from reports.jobs import build_weekly_brief

    # Long ago, so that every deadline has passed whenever the suite runs.
    clock.set(dt.datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI))
    tid = api.dispatched("gdgs")["id"]
    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)
    monkeypatch.setenv("HOTLINE_WEB__LIVE_UPDATES_VIA_REDIS", "false")
    first = sweep_supervision()
    assert tid in first["supervised"] and tid in first["noticed"]
    again = sweep_supervision()
    assert tid not in again["supervised"] + again["noticed"] + again["reminded"]
    with container.uow() as uow:
        ticket = uow.session.get(Ticket, tid)
        assert ticket is not None and ticket.noticed_at is not None
    jobs = {j.func: j for j in schedule(container.settings, fakeredis.FakeRedis()).get_jobs()}
    assert jobs[sweep_supervision].interval == 60
    assert jobs[sweep_supervision].queue_name == "dispatch"
    assert jobs[build_weekly_brief].cron == "0 23 * * 0"  # Monday 07:00 in Shanghai
