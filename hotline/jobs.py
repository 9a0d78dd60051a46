"""Background jobs (rq) and their schedule (rq's CronScheduler, run by `hotline cron`).

Jobs take plain values, never objects, and build their own container from the settings
(the worker forks a work horse per job).
"""

import datetime as dt
import logging
from typing import Any

import redis
from rq import Queue
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus

from hotline.settings import Settings
from hotline.settings import load_settings
from hotline.settings import settings_path

log = logging.getLogger(__name__)

RETRAIN_JOB_ID = "routing-retrain"
RETRAIN_TIMEOUT = 1800
_PENDING = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def retrain_routing(trigger: str = "schedule", user_id: int | None = None) -> dict[str, Any]:
    """Retrain the routing models from the hotline's decisions; keep the new one if not worse."""
    from dispatch.learning import retrain
    from hotline.bootstrap import bootstrap

    container = bootstrap(load_settings(settings_path()))
    try:
        result = retrain(container.uow(), trigger=trigger, user_id=user_id)
    finally:
        container.close()
    return {"version": result.version, "status": result.status, "note": result.note}


def close_forgotten_calls() -> list[str]:
    """Finish the records of calls the SIP edge forgot, when no new call comes to do it,
    write the records the database could not take when they changed, and take out the seats
    whose console has gone quiet."""
    from callcenter.records import close_forgotten
    from callcenter.records import sync_deferred
    from hotline.bootstrap import bootstrap

    settings = load_settings(settings_path())
    container = bootstrap(settings)
    try:
        emit = _emitter(settings)
        # Seats whose console went quiet, when no call and no hall page came to notice it.
        if container.acd.sweep_absent():
            emit("hall.changed", {"v": 1}, ["hall"])
        # the 漏接回拨 pages hear of the call-back tasks these records open
        closed = close_forgotten(container.uow, container.acd, emit)
        return closed + sync_deferred(container.uow, container.acd, emit)
    finally:
        container.close()


KB_REINDEX_JOB_ID = "kb-reindex"


def reindex_kb(everything: bool = False) -> int:
    """Compute the search terms of live articles not indexed yet (all with `everything`)."""
    from hotline.bootstrap import bootstrap
    from kb.index import index_pending

    container = bootstrap(load_settings(settings_path()))
    try:
        with container.uow() as uow:
            return index_pending(uow.session, everything=everything)
    finally:
        container.close()


def enqueue_kb_reindex(conn: "redis.Redis", everything: bool = False) -> str | None:
    """Queue the knowledge index job (one at a time); None when Redis is unreachable.

    Nothing is lost without Redis: `hotline cron` runs the job every minute anyway.
    """
    try:
        try:
            job = Job.fetch(KB_REINDEX_JOB_ID, connection=conn)
            if job.get_status(refresh=True) in (JobStatus.QUEUED, JobStatus.DEFERRED):
                return job.id
        except NoSuchJobError:
            pass
        queue = Queue("kb", connection=conn)
        return queue.enqueue(
            reindex_kb, everything, job_id=KB_REINDEX_JOB_ID, job_timeout=3600, result_ttl=3600
        ).id
    except redis.RedisError:
        log.warning("could not queue the knowledge index job; cron will run it", exc_info=True)
        return None


def remind_kb_owners() -> dict[str, list[int]]:
    """Flag expired and overdue articles, and tell their units (and the hotline's editors)."""
    from hotline.bootstrap import bootstrap
    from kb.services import remind_owners

    container = bootstrap(load_settings(settings_path()))
    try:
        reminded = remind_owners(container.uow(), container.dispatch.today())
        _push_reminders(container.settings, reminded)
        return {str(unit): ids for unit, ids in reminded.items()}
    finally:
        container.close()


def _push_reminders(settings: Settings, reminded: dict[int | None, list[int]]) -> None:
    """Tell the owners' open pages, through the Socket.IO message queue."""
    if not reminded or not settings.web.live_updates_via_redis:
        return
    from flask_socketio import SocketIO

    emitter = SocketIO(message_queue=settings.redis.url, channel="hotline")
    for unit_id, ids in reminded.items():
        room = f"unit:{unit_id}" if unit_id is not None else "hotline"
        emitter.emit(
            "kb.reminder", {"articles": ids, "count": len(ids)}, to=room, namespace="/live"
        )


def sweep_supervision() -> dict[str, Any]:
    """The supervision sweep (催办, 督办, 通报, 提级督办); pushes reach open pages via Redis."""
    from dispatch.clock import Duration
    from dispatch.supervision import sweep
    from hotline.bootstrap import bootstrap

    settings = load_settings(settings_path())
    container = bootstrap(settings)
    try:
        container.dispatch.publish = _emitter(settings)
        result = sweep(
            container.uow(),
            container.dispatch,
            notice_after=Duration.parse(settings.supervision.notice_after),
        )
        return result.as_dict()
    finally:
        container.close()


def sweep_followup() -> dict[str, Any]:
    """Move automated follow-ups along: first tries, survey tasks, retries, hand-overs."""
    import json

    import redis as redis_lib

    from dispatch.followup import TASKS_KEY
    from dispatch.followup import LogSms
    from dispatch.followup import sweep
    from hotline.bootstrap import bootstrap

    settings = load_settings(settings_path())
    container = bootstrap(settings)
    conn = redis_lib.Redis.from_url(settings.redis.url)
    try:
        container.dispatch.publish = _emitter(settings)
        result = sweep(
            container.uow(),
            container.dispatch,
            settings.followup,
            push=lambda task: conn.rpush(TASKS_KEY, json.dumps(task)),
            sms=LogSms(),
        )
        return result.as_dict()
    finally:
        conn.close()
        container.close()


def build_weekly_brief(week: str | None = None) -> list[dict[str, Any]]:
    """Build and keep a week's brief in every format (default: the week that just ended).

    Idempotent: a week the schedule already kept in every format is returned as it is, so
    a retry, a catch-up or a second scheduler adds no second set of rows.
    """
    from hotline.bootstrap import bootstrap
    from reports.services import parse_week
    from reports.services import week_text
    from reports.weekly import FORMATS
    from reports.weekly import Sources
    from reports.weekly import latest
    from reports.weekly import store

    container = bootstrap(load_settings(settings_path()))
    try:
        today = container.dispatch.today()
        monday = parse_week(week) if week else today - dt.timedelta(days=today.weekday() + 7)
        kept = latest(container.uow(), week_text(monday), trigger="schedule")
        if {k["format"] for k in kept} >= set(FORMATS):
            return kept
        src = Sources(uow=container.uow, ctx=container.dispatch, settings=container.settings)
        missing = tuple(f for f in FORMATS if f not in {k["format"] for k in kept})
        return kept + store(src, monday, trigger="schedule", formats=missing)
    finally:
        container.close()


def catch_up_weekly_brief() -> list[dict[str, Any]]:
    """Build last week's brief if its scheduled time has passed and it is not kept yet.

    The Monday job can be lost (its worker killed mid-run, no worker at 07:00, Redis down):
    this runs every few minutes and fills the gap; it does nothing once the brief is kept.
    """
    from zoneinfo import ZoneInfo

    from croniter import croniter

    from reports.services import week_text

    settings = load_settings(settings_path())
    tz = ZoneInfo(settings.calendar.timezone)
    now = dt.datetime.now(tz)
    due = croniter(settings.reports.brief_cron, now).get_prev(dt.datetime)
    return build_weekly_brief(week_text(due.date() - dt.timedelta(days=due.weekday() + 7)))


def _emitter(settings: Settings) -> Any:
    """A publish function that reaches the browsers through the Socket.IO message queue."""
    if not settings.web.live_updates_via_redis:
        return lambda event, payload, rooms: None
    from flask_socketio import SocketIO

    emitter = SocketIO(message_queue=settings.redis.url, channel="hotline")

    def publish(event: str, payload: dict[str, Any], rooms: list[str]) -> None:
        emitter.emit(event, payload, to=rooms, namespace="/live")

    return publish


def enqueue_retrain(conn: "redis.Redis", user_id: int | None) -> tuple[Job, bool]:
    """Queue a retraining unless one is already waiting or running; return it and whether new."""
    try:
        job = Job.fetch(RETRAIN_JOB_ID, connection=conn)
        if job.get_status(refresh=True) in _PENDING:
            return job, False
    except NoSuchJobError:
        pass
    queue = Queue("dispatch", connection=conn)
    job = queue.enqueue(
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


def schedule(settings: Settings, conn: "redis.Redis") -> Any:
    """Build the cron scheduler with the hotline's periodic jobs (times in local time)."""
    from zoneinfo import ZoneInfo

    from rq.cron import CronScheduler

    tz = ZoneInfo(settings.calendar.timezone)
    cron = CronScheduler(connection=conn, name="hotline")
    if settings.routing.retrain_cron:
        cron.register(
            retrain_routing,
            queue_name="dispatch",
            args=("schedule",),
            cron=utc_cron(settings.routing.retrain_cron, tz),
            job_timeout=RETRAIN_TIMEOUT,
        )
    cron.register(close_forgotten_calls, queue_name="default", interval=30, job_timeout=60)
    # articles imported or published while no worker ran are indexed within a minute
    cron.register(reindex_kb, queue_name="kb", interval=60, job_timeout=3600)
    cron.register(
        remind_kb_owners,
        queue_name="kb",
        cron=utc_cron(settings.kb.remind_cron, tz),
        job_timeout=600,
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
    cron.register(
        build_weekly_brief,
        queue_name="reports",
        cron=utc_cron(settings.reports.brief_cron, tz),
        job_timeout=1800,
    )
    # a lost Monday brief is built within 10 minutes (idempotent: nothing twice)
    cron.register(catch_up_weekly_brief, queue_name="reports", interval=600, job_timeout=1800)
    return cron


def rescue_abandoned(conn: "redis.Redis", queues: list[Queue]) -> list[str]:
    """Hand back at once the jobs a dead worker of this machine held (SIGKILL, OOM).

    rq finds an abandoned job only when its last heartbeat's lease (60 s and more) runs out,
    then at its next maintenance: a minute and a half in all. A worker started again (by
    `hotline demo` or systemd) looks for workers of this host whose process is gone and moves
    their jobs on now, through rq's own cleanup (a retry if the job has retries left, else
    failed). Returns the ids of the jobs handed back.
    """
    import socket

    from rq import Worker
    from rq import worker_registration
    from rq.registry import StartedJobRegistry
    from rq.scheduler import RQScheduler

    from hotline.lifeline import running

    host = socket.gethostname()

    def dead_here(hostname: Any, pid: Any) -> bool:
        return _str(hostname) == host and bool(pid) and not running(int(pid))

    # A dead scheduler's lock would hold the retries below back until it expires (60 s+).
    for queue in queues:
        lock = RQScheduler.get_locking_key(queue.name)
        holder: Any = conn.get(lock)
        if holder is not None:
            owner = conn.hmget(f"rq:scheduler:{_str(holder)}", "hostname", "pid")
            if dead_here(*owner):
                conn.delete(lock)
    gone = [w for w in Worker.all(connection=conn) if dead_here(w.hostname, w.pid)]
    if not gone:
        return []
    dead = {w.name for w in gone}
    rescued: list[str] = []
    for queue in queues:
        registry = StartedJobRegistry(queue.name, connection=conn)
        members: Any = conn.zrange(registry.key, 0, -1)
        for member in members:
            entry = _str(member)
            job = Job.fetch_many([entry.split(":", 1)[0]], connection=conn)[0]
            if job is not None and job.worker_name in dead:
                conn.zadd(registry.key, {entry: 0})  # expired: the cleanup below takes it
                rescued.append(job.id)
        registry.cleanup()
    for worker in gone:  # nor does /healthz count them alive any longer
        worker_registration.unregister(worker)
        conn.delete(worker.key)
    if rescued:
        log.warning("jobs of dead workers %s handed back: %s", sorted(dead), rescued)
    return rescued


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
