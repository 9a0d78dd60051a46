"""The call center's background job: calls the SIP edge forgot, deferred records, quiet seats."""

import datetime as dt
from typing import Any

from callcenter.wiring import CallcenterServices
from infra.assembly import services
from infra.jobs import emitter
from infra.settings import Settings


def close_forgotten_calls() -> list[str]:
    """Finish the records of calls the SIP edge forgot, when no new call comes to do it,
    write the records the database could not take when they changed, and take out the seats
    whose console has gone quiet."""
    from callcenter.records.sync import close_forgotten
    from callcenter.records.sync import sync_deferred

    with services() as built:
        c: CallcenterServices = built
        emit = emitter(c.settings)
        # Seats whose console went quiet, when no call and no hall page came to notice it.
        if c.acd.sweep_absent():
            emit("hall.changed", {"v": 1}, ["hall"])
        # the 漏接回拨 pages hear of the call-back tasks these records open
        closed = close_forgotten(c.uow, c.acd, emit)
        return closed + sync_deferred(c.uow, c.acd, emit)


def register(cron: Any, settings: Settings, tz: dt.tzinfo) -> None:
    """Put the call center's periodic job on the schedule."""
    cron.register(close_forgotten_calls, queue_name="default", interval=30, job_timeout=60)
