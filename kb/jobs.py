"""The knowledge base's background jobs: indexing articles and reminding their owners."""

import datetime as dt
import logging
from typing import Any

import redis
from rq import Queue
from rq.job import JobStatus

from infra.assembly import services
from infra.jobs import emitter
from infra.jobs import pending_job
from infra.jobs import utc_cron
from infra.settings import Settings
from kb.wiring import KbServices

log = logging.getLogger(__name__)

KB_REINDEX_JOB_ID = "kb-reindex"


def reindex_kb(everything: bool = False) -> int:
    """Compute the search terms of live articles not indexed yet (all with `everything`)."""
    from kb.index import index_pending

    with services() as built:
        c: KbServices = built
        with c.uow() as uow:
            return index_pending(uow.session, everything=everything)


def enqueue_kb_reindex(conn: "redis.Redis", everything: bool = False) -> str | None:
    """Queue the knowledge index job (one at a time); None when Redis is unreachable.

    Nothing is lost without Redis: `hotline cron` runs the job every minute anyway.
    """
    try:
        waiting = pending_job(conn, KB_REINDEX_JOB_ID, (JobStatus.QUEUED, JobStatus.DEFERRED))
        if waiting is not None:
            return waiting.id
        return (
            Queue("kb", connection=conn)
            .enqueue(
                reindex_kb,
                everything,
                job_id=KB_REINDEX_JOB_ID,
                job_timeout=3600,
                result_ttl=3600,
            )
            .id
        )
    except redis.RedisError:
        log.warning("could not queue the knowledge index job; cron will run it", exc_info=True)
        return None


def remind_kb_owners() -> dict[str, list[int]]:
    """Flag expired and overdue articles, and tell their units (and the hotline's editors)."""
    from kb.bulk import remind_owners

    with services() as built:
        c: KbServices = built
        reminded = remind_owners(c.uow(), c.dispatch.today())
        _push_reminders(c.settings, reminded)
        return {str(unit): ids for unit, ids in reminded.items()}


def _push_reminders(settings: Settings, reminded: dict[int | None, list[int]]) -> None:
    """Tell the owners' open pages, through the Socket.IO message queue."""
    if not reminded:
        return
    publish = emitter(settings)
    for unit_id, ids in reminded.items():
        room = f"unit:{unit_id}" if unit_id is not None else "hotline"
        publish("kb.reminder", {"articles": ids, "count": len(ids)}, [room])


def register(cron: Any, settings: Settings, tz: dt.tzinfo) -> None:
    """Put the knowledge base's periodic jobs on the schedule."""
    # articles imported or published while no worker ran are indexed within a minute
    cron.register(reindex_kb, queue_name="kb", interval=60, job_timeout=3600)
    cron.register(
        remind_kb_owners,
        queue_name="kb",
        cron=utc_cron(settings.kb.remind_cron, tz),
        job_timeout=600,
    )
