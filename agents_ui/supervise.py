"""The supervision desk (督办工作台): today's figures, overdue tickets, review and follow-up.

The page reads through the same services as the API; 催办 and 督办 are posted by the page's
script to the JSON API, and the live region is re-rendered from this view.
"""

import datetime as dt
from typing import Any

import redis
from flask import Blueprint

from agents_ui.dashboard import call_values
from agents_ui.dashboard import live_hall
from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from callcenter import duty
from callcenter.cti import hall as hall_api
from callcenter.records import kpis
from dispatch.routing import pending
from dispatch.supervision import stats
from dispatch.tickets import reads
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.units import list_units
from infra.http import current_actor
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES
from kernel.worktime import Light

bp = Blueprint("supervise", __name__, template_folder="templates")

# Most tickets one section lists; the section links to the full ticket list beyond that.
SECTION_LIMIT = 100
WEEKDAYS = "一二三四五六日"


def _sorted_by_due(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Longest overdue first; tickets without a reply clock (sign clock only) last.
    return sorted(items, key=lambda t: (t["reply_due_at"] is None, t["reply_due_at"] or ""))


@bp.get("/supervise")
@page(*SUPERVISE_ROLES)
def index() -> str:
    c = container()
    actor = current_actor()
    tz = c.dispatch.policy.calendar.tz
    limit = min(SECTION_LIMIT, c.settings.tickets.page_size_max)

    def fetch(**criteria: Any) -> dict[str, Any]:
        # Work lists: earliest deadline first, and no caller identity (none is shown here).
        flt = reads.TicketFilter(
            per_page=limit, tz=tz, order="due", with_identity=False, **criteria
        )
        return reads.list_tickets(c.uow(), c.dispatch, actor, flt)

    counts = stats.ticket_counts_today(c.uow(), c.dispatch)
    red = fetch(light=Light.RED)
    yellow = fetch(light=Light.YELLOW)
    review = fetch(statuses=(TicketStatus.RETURNED, TicketStatus.REPLIED))
    follow_up = fetch(statuses=(TicketStatus.REVIEWED,))

    marks = stats.supervision_marks(c.uow(), [t["id"] for t in red["items"] + yellow["items"]])
    for item in red["items"] + yellow["items"]:
        mark = marks.get(item["id"])
        item["remind_count"] = mark.remind_count if mark else 0
        item["supervised_at"] = (
            mark.supervised_at.isoformat() if mark and mark.supervised_at else None
        )

    # Returned tickets wait on the hotline's decision (改派/审定): they come first; then
    # the longest waiting.
    review_items = sorted(
        review["items"],
        key=lambda t: (t["status"] != TicketStatus.RETURNED.value, t["updated_at"]),
    )
    follow_up_items = sorted(follow_up["items"], key=lambda t: t["updated_at"])

    now = c.dispatch.utcnow().astimezone(tz)
    waiting = pending.list_pending(c.uow(), c.dispatch, c.assistant, actor, limit=5)
    return render_page(
        "supervise.html",
        waiting=waiting,
        counts=counts,
        calls=_call_figures(now),
        today=f"{now:%Y-%m-%d} 星期{WEEKDAYS[now.weekday()]}",
        as_of=f"{now:%H:%M}",
        red=_section(red, _sorted_by_due(red["items"])),
        yellow=_section(yellow, _sorted_by_due(yellow["items"])),
        review=_section(review, review_items),
        follow_up=_section(follow_up, follow_up_items),
    )


@bp.get("/dispatch-queue")
@page(*sorted(HOTLINE_ROLES))
def dispatch_queue() -> str:
    """待派单: every ticket accepted but not given to a unit, each one click from its unit."""
    c = container()
    queue = pending.list_pending(c.uow(), c.dispatch, c.assistant, current_actor())
    return render_page("dispatch_queue.html", queue=queue, units=list_units(c.uow()))


@bp.app_template_filter("waited")
def waited(minutes: int) -> str:
    """How long a ticket has waited, as people say it: 12 分钟, 3 小时 20 分, 2 天."""
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} 小时" + (f" {rest} 分" if rest else "")
    return f"{minutes // (24 * 60)} 天"


@bp.get("/supervise/hall")
@page(*SUPERVISE_ROLES)
def hall() -> str:
    """坐席监控: every seat and the queue, live; the leaders' duty schedule."""
    c = container()
    actor = current_actor()
    try:
        snapshot: dict[str, Any] | None = hall_api.hall_snapshot(c.acd, hall_api.user_names)
    except redis.RedisError:
        snapshot = None  # the page says so and keeps trying
    manages_duties = actor.role in hall_api.DUTY_ROLES
    return render_page(
        "hall.html",
        snapshot=snapshot,
        duties=duty.list_duties(c.uow(), c.dispatch.utcnow()),
        leaders=duty.list_leaders(c.uow()) if manages_duties else [],
        manages_duties=manages_duties,
        timezone=c.settings.calendar.timezone,
    )


def _call_figures(now: dt.datetime) -> dict[str, str | None]:
    """The wallboard's call figures: the hall now (None when Redis is down) and today's KPIs."""
    c = container()
    start, end = stats.local_day_bounds(now, c.dispatch.policy.calendar.tz)
    today = call_values(kpis.call_figures(c.uow(), start, end))
    live = live_hall()
    return {
        "queued": str(live["queued"]) if live else None,
        "longest_wait": live["longest_wait_text"] if live else None,
        "seats_online": str(live["seats_online"]) if live else None,
        "ready": str(live["ready"]) if live else None,
        **{key: today[key]["value"] for key in ("offered", "answer_rate", "service_level")},
        "abandon_rate": today["abandon_rate"]["value"],
    }


def _section(result: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rows": items, "total": result["total"], "more": result["total"] > len(items)}
