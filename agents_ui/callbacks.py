"""漏接回拨: the page where operators call back the callers the hotline missed.

The first view is rendered from the same service as `GET /api/callbacks`; the page's script
(static/callbacks.js) then claims, dials and records through the JSON API and fetches the
list again whenever `callback.changed` arrives.
"""

from flask import Blueprint

from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from callcenter.callbacks import service as callbacks
from callcenter.cti.callbacks import audit_callers
from infra.http import current_actor
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES

bp = Blueprint("callbacks", __name__, template_folder="templates")


@bp.get("/callbacks")
@page(*HOTLINE_ROLES)
def index() -> str:
    """The open and claimed tasks, newest first, live."""
    c = container()
    actor = current_actor()
    initial = callbacks.list_tasks(c.uow(), callbacks.ACTIVE, 1, 100)
    audit_callers(initial["items"], "callbacks.page")
    return render_page(
        "callbacks.html",
        initial=initial,
        me=actor.user_id,
        may_cancel=actor.role in SUPERVISE_ROLES,
        timezone=c.settings.calendar.timezone,
    )
