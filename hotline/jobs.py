"""The job side of the composition root: the schedule of every package's periodic jobs.

The jobs themselves live with their packages (`dispatch.jobs`, `callcenter.jobs`, `kb.jobs`,
`reports.jobs`); each registers its periodic ones on the schedule built here, run by
`hotline cron` (rq's CronScheduler) and worked by `hotline worker`. Jobs build the app's
services through `infra.assembly`, which the `hotline` package fills in when imported.
"""

from collections.abc import Callable
from typing import Any

import redis

from callcenter import jobs as callcenter_jobs
from dispatch import jobs as dispatch_jobs
from infra.settings import Settings
from kb import jobs as kb_jobs
from reports import jobs as reports_jobs

# Every package that has periodic jobs: each module has `register(cron, settings, tz)`.
JOB_MODULES = (dispatch_jobs, callcenter_jobs, kb_jobs, reports_jobs)

# Jobs queued before the jobs moved to their packages name them here; rq finds them by
# these names after an upgrade (a job waiting in Redis, a retry of a failed one).
LEGACY_JOBS: dict[str, Callable[..., Any]] = {
    "retrain_routing": dispatch_jobs.retrain_routing,
    "sweep_supervision": dispatch_jobs.sweep_supervision,
    "sweep_followup": dispatch_jobs.sweep_followup,
    "close_forgotten_calls": callcenter_jobs.close_forgotten_calls,
    "reindex_kb": kb_jobs.reindex_kb,
    "remind_kb_owners": kb_jobs.remind_kb_owners,
    "build_weekly_brief": reports_jobs.build_weekly_brief,
    "catch_up_weekly_brief": reports_jobs.catch_up_weekly_brief,
}


def schedule(settings: Settings, conn: "redis.Redis") -> Any:
    """Build the cron scheduler with every package's periodic jobs (times in local time)."""
    from zoneinfo import ZoneInfo

    from rq.cron import CronScheduler

    tz = ZoneInfo(settings.calendar.timezone)
    cron = CronScheduler(connection=conn, name="hotline")
    for jobs in JOB_MODULES:
        jobs.register(cron, settings, tz)
    return cron


def __getattr__(name: str) -> Callable[..., Any]:
    """A job by its name before the move (`hotline.jobs.reindex_kb`): the package's job now."""
    if name in LEGACY_JOBS:
        return LEGACY_JOBS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
