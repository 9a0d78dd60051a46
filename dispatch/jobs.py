"""Dispatch's background jobs: routing retraining, the supervision sweep, automated follow-up."""

import datetime as dt
import json
from typing import Any

import redis
from rq import Queue
from rq import Retry
from rq.job import Job

from dispatch.wiring import DispatchServices
from infra.assembly import services
from infra.jobs import PENDING
from infra.jobs import emitter
from infra.jobs import pending_job
from infra.jobs import utc_cron
from infra.settings import Settings

RETRAIN_JOB_ID = "routing-retrain"
RETRAIN_TIMEOUT = 1800


def retrain_routing(trigger: str = "schedule", user_id: int | None = None) -> dict[str, Any]:
    """Retrain the routing models from the hotline's decisions; keep the new one if not worse."""
    from dispatch.routing.learning import retrain

    with services() as built:
        c: DispatchServices = built
        result = retrain(c.uow(), trigger=trigger, user_id=user_id)
    return {"version": result.version, "status": result.status, "note": result.note}


def enqueue_retrain(conn: "redis.Redis", user_id: int | None) -> tuple[Job, bool]:
    """Queue a retraining unless one is already waiting or running; return it and whether new."""
    job = pending_job(conn, RETRAIN_JOB_ID, PENDING)
    if job is not None:
        return job, False
    job = Queue("dispatch", connection=conn).enqueue(
        retrain_routing,
        "manual",
        user_id,
        job_id=RETRAIN_JOB_ID,
        job_timeout=RETRAIN_TIMEOUT,
        result_ttl=86400,
        failure_ttl=86400,
        # A retraining that fails or is abandoned (its worker killed) runs again.
        retry=Retry(max=2, interval=[60, 300]),
    )
    return job, True


def sweep_supervision() -> dict[str, Any]:
    """The supervision sweep (催办, 督办, 通报, 提级督办); pushes reach open pages via Redis."""
    from dispatch.supervision.sweep import sweep
    from kernel.worktime import Duration

    with services() as built:
        c: DispatchServices = built
        c.dispatch.publish = emitter(c.settings)
        result = sweep(
            c.uow(),
            c.dispatch,
            notice_after=Duration.parse(c.settings.supervision.notice_after),
        )
        return result.as_dict()


def sweep_followup() -> dict[str, Any]:
    """Move automated follow-ups along: first tries, survey tasks, retries, hand-overs."""
    from dispatch.followup.survey import TASKS_KEY
    from dispatch.followup.survey import LogSms
    from dispatch.followup.survey import sweep

    with services() as built:
        c: DispatchServices = built
        conn = redis.Redis.from_url(c.settings.redis.url)
        try:
            c.dispatch.publish = emitter(c.settings)
            result = sweep(
                c.uow(),
                c.dispatch,
                c.settings.followup,
                push=lambda task: conn.rpush(TASKS_KEY, json.dumps(task)),
                sms=LogSms(),
            )
            return result.as_dict()
        finally:
            conn.close()


def register(cron: Any, settings: Settings, tz: dt.tzinfo) -> None:
    """Put dispatch's periodic jobs on the schedule (times in the hotline's local time)."""
    if settings.routing.retrain_cron:
        cron.register(
            retrain_routing,
            queue_name="dispatch",
            args=("schedule",),
            cron=utc_cron(settings.routing.retrain_cron, tz),
            job_timeout=RETRAIN_TIMEOUT,
        )
    cron.register(
        sweep_supervision,
        queue_name="dispatch",
        interval=settings.supervision.sweep_seconds,
        job_timeout=600,
    )
    if settings.followup.enabled:
        cron.register(
            sweep_followup,
            queue_name="dispatch",
            interval=settings.followup.sweep_seconds,
            job_timeout=600,
        )
