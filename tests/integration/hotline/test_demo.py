"""The demo data: every state, consistent events, logins that work."""

import datetime as dt

import pytest
import sqlalchemy as sa

from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from hotline.bootstrap import Container
from hotline.demo import DEMO_PASSWORD
from hotline.demo import demo_logins
from hotline.demo import load_demo
from infra.auth import authenticate

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


@pytest.mark.slow
def test_demo_data_covers_every_state_and_replays_consistently(container: Container) -> None:
    assert load_demo(container, tickets=300, now=NOW)["tickets"] == 300
    with container.uow() as uow:
        s = uow.session
        states = set(s.scalars(sa.select(Ticket.status).distinct()))
        oldest = s.scalar(sa.select(sa.func.min(Ticket.created_at)))
        # The last transition of every ticket (a master's merge rows do not move it) must
        # land on the status the ticket has: the data was made by the real services.
        last_event = (
            sa.select(sa.func.max(TicketEventRecord.id))
            .where(
                sa.or_(
                    TicketEventRecord.event != TicketEvent.MERGE,
                    TicketEventRecord.to_status == TicketStatus.MERGED,
                )
            )
            .group_by(TicketEventRecord.ticket_id)
        )
        replayed = {
            tid: status
            for tid, status in s.execute(
                sa.select(TicketEventRecord.ticket_id, TicketEventRecord.to_status).where(
                    TicketEventRecord.id.in_(last_event)
                )
            )
        }
        actual = {tid: status for tid, status in s.execute(sa.select(Ticket.id, Ticket.status))}
    assert states == set(TicketStatus)
    assert oldest is not None and NOW - oldest > dt.timedelta(days=45)
    assert replayed == actual

    logins = demo_logins(container)
    roles = {role for _, role, _ in logins}
    assert roles == {"admin", "operator", "team_lead", "supervisor", "leader", "liaison"}
    with container.uow() as uow:
        assert authenticate(uow.session, "liaison-zjj", DEMO_PASSWORD) is not None
        assert authenticate(uow.session, "liaison-zjj", "wrong password") is None

    # the knowledge base: live, indexed, with its synonym table and flagged articles
    snap = container.kb_index.current()
    titles = {a.id: a.title for a in snap.index.articles}
    assert len(titles) >= 28 and len(snap.synonyms) > 40
    top = snap.index.search("小孩读书要带啥", k=3, synonyms=snap.synonyms)
    assert "孩子上小学、初中报名要什么材料" in [titles[h.id] for h in top]
    assert titles[snap.index.search("公积金怎么取", synonyms=snap.synonyms)[0].id].count("公积金")

    assert load_demo(container, tickets=10, now=NOW) == {"tickets": 0}  # loads only once


@pytest.mark.slow
def test_the_demo_city_routes_its_own_kind_of_tickets(container: Container) -> None:
    from dispatch.routing.learning import retrain
    from dispatch.routing.router import Draft

    load_demo(container, tickets=300, now=NOW)
    trained = retrain(container.uow(), trigger="demo")
    assert trained.status == "active" and trained.scores["candidate"]["target"]["n"] >= 20
    router = container.assistant.router
    router.invalidate()
    vendor = router.suggest(
        Draft(
            "路口有流动摊贩占道经营",
            "每天傍晚有人摆摊卖水果，堵住人行道",
            "东湖区湖滨街道滨江路88号",
        )
    )
    assert vendor.units[0].name == "湖滨街道" and vendor.model_version == trained.version
    housing = router.suggest(Draft("物业不修电梯", "小区电梯坏了半个月物业一直不修"))
    assert housing.units[0].name == "住房和城乡建设局"
    power = router.suggest(Draft("整栋楼停电", "晚上突然停电，供电抢修电话打不通"))
    assert power.units[0].name == "供电公司"
