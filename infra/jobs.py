"""The job runtime (rq): how a package's job gets the app's services, queues, and the cron clock.

Each package keeps its own jobs (`dispatch.jobs`, `callcenter.jobs`, `kb.jobs`, `reports.jobs`)
and registers them on the schedule; the composition root (`hotline.jobs`) only assembles the
schedule. Jobs take plain values, never objects, and build their own services from the
settings (the worker forks a work horse per job) with `infra.assembly.services`, closed when
they end, however they end.
"""

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus

from infra.settings import Settings

log = logging.getLogger(__name__)
PENDING = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def emitter(settings: Settings) -> Callable[[str, dict[str, Any], list[str]], None]:
    """A publish function that reaches the browsers through the Socket.IO message queue."""
    if not settings.web.live_updates_via_redis:
        return lambda event, payload, rooms: None
    from flask_socketio import SocketIO

    sio = SocketIO(message_queue=settings.redis.url, channel="hotline")

    def publish(event: str, payload: dict[str, Any], rooms: list[str]) -> None:
        sio.emit(event, payload, to=rooms, namespace="/live")

    return publish


def pending_job(conn: "redis.Redis", job_id: str, statuses: tuple[JobStatus, ...]) -> Job | None:
    """The job of this id if it is in one of `statuses` (one at a time), else None."""
    try:
        job = Job.fetch(job_id, connection=conn)
    except NoSuchJobError:
        return None
    return job if job.get_status(refresh=True) in statuses else None


def job_view(job: Job) -> dict[str, Any]:
    status = job.get_status(refresh=False)
    return {
        "id": job.id,
        "status": status.value if status else None,
        "enqueued_at": job.enqueued_at.isoformat() if job.enqueued_at else None,
    }


def utc_cron(expression: str, tz: dt.tzinfo, on: dt.datetime | None = None) -> str:
    """Turn a cron expression in the hotline's local time into rq's, which runs on UTC.

    config.yaml says "02:30" meaning 02:30 in the hotline's zone; rq's scheduler reads the
    hour as UTC (02:30 UTC is 10:30 in Shanghai). A fixed time of day (minute and hour plain
    numbers, any day of the month and month) is moved by the zone's offset, days of the week
    moving with it across midnight; anything else (*/5, ranges of hours) is left as UTC.
    The offset is the zone's on `on` (today): in a zone with summer time, a job moves by an
    hour at the change until the scheduler restarts.
    """
    fields = expression.split()
    if len(fields) != 5 or not (fields[0].isdigit() and fields[1].isdigit()):
        return expression
    minute, hour, dom, month, dow = fields
    if dom != "*" or month != "*":
        return expression
    moment = on or dt.datetime.now(dt.UTC)
    offset = moment.astimezone(tz).utcoffset() or dt.timedelta(0)
    total = int(hour) * 60 + int(minute) - int(offset.total_seconds() // 60)
    days, minutes = divmod(total, 24 * 60)
    if dow != "*":
        try:
            dow = ",".join(str((int(d) + days) % 7) for d in dow.split(","))
        except ValueError:
            return expression  # names or ranges of weekdays: left as they are
    return f"{minutes % 60} {minutes // 60} * * {dow}"
