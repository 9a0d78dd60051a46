"""回访: the hotline's follow-up queues, human (人工回访) and automated (自动回访).

The page is rendered from the same service as `GET /api/followups`; its live region is
fetched again whenever "ticket.changed" arrives, and 重新自动回访 posts to the JSON API.
"""

from flask import Blueprint
from flask import request

from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from dispatch.followup import queues as followup_admin
from infra.http import current_actor
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES

bp = Blueprint("followups", __name__, template_folder="templates")

PAGE_SIZE = 50


@bp.get("/followups")
@page(*HOTLINE_ROLES)
def index() -> str:
    c = container()
    actor = current_actor()
    queue = request.args.get("queue", followup_admin.MANUAL)
    if queue not in (followup_admin.MANUAL, followup_admin.AUTO):
        queue = followup_admin.MANUAL
    raw_page = request.args.get("page", "1")
    number = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) < 100_000 else 1
    size = min(PAGE_SIZE, c.settings.tickets.page_size_max)
    query = followup_admin.QueueQuery(queue=queue, page=number, page_size=size)
    result = followup_admin.list_queue(c.uow(), c.dispatch, actor, query)
    return render_page(
        "followups.html",
        result=result,
        queue=queue,
        may_retry=actor.role in SUPERVISE_ROLES,
        tries=c.settings.followup.tries,
        call_hours=c.settings.followup.call_hours,
        has_more=result["total"] > number * size,
    )
