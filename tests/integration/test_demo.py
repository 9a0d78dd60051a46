"""The demo data: every state, consistent events, logins that work."""

import datetime as dt

import pytest
import sqlalchemy as sa

from dispatch.domain import TicketEvent
from dispatch.domain import TicketStatus
from dispatch.models import Ticket
from dispatch.models import TicketEventRecord
from hotline.auth import authenticate
from hotline.bootstrap import Container
from hotline.demo import DEMO_PASSWORD
from hotline.demo import demo_logins
from hotline.demo import load_demo

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

    assert load_demo(container, tickets=10, now=NOW) == {"tickets": 0}  # loads only once
