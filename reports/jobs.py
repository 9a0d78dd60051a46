"""The reports' background jobs: the weekly brief on schedule, and its catch-up."""

import datetime as dt
from typing import Any

from dispatch.wiring import DispatchServices
from infra.assembly import services
from infra.jobs import utc_cron
from infra.settings import Settings
from infra.settings import load_settings
from infra.settings import settings_path


def build_weekly_brief(week: str | None = None) -> list[dict[str, Any]]:
    """Build and keep a week's brief in every format (default: the week that just ended).

    Idempotent: a week the schedule already kept in every format is returned as it is, so
    a retry, a catch-up or a second scheduler adds no second set of rows.
    """
    from reports.brief.weekly import FORMATS
    from reports.brief.weekly import Sources
    from reports.brief.weekly import latest
    from reports.brief.weekly import store
    from reports.services import parse_week
    from reports.services import week_text

    with services() as built:
        c: DispatchServices = built
        today = c.dispatch.today()
        monday = parse_week(week) if week else today - dt.timedelta(days=today.weekday() + 7)
        kept = latest(c.uow(), week_text(monday), trigger="schedule")
        if {k["format"] for k in kept} >= set(FORMATS):
            return kept
        src = Sources(uow=c.uow, ctx=c.dispatch, settings=c.settings)
        missing = tuple(f for f in FORMATS if f not in {k["format"] for k in kept})
        return kept + store(src, monday, trigger="schedule", formats=missing)


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


def register(cron: Any, settings: Settings, tz: dt.tzinfo) -> None:
    """Put the weekly brief and its catch-up on the schedule."""
    cron.register(
        build_weekly_brief,
        queue_name="reports",
        cron=utc_cron(settings.reports.brief_cron, tz),
        job_timeout=1800,
    )
    # a lost Monday brief is built within 10 minutes (idempotent: nothing twice)
    cron.register(catch_up_weekly_brief, queue_name="reports", interval=600, job_timeout=1800)
