"""A minimal start page: sign in, then see the tickets this role may see.

The full operator, liaison, supervisor and leader pages are built by the UI issue; this page
makes `make demo` useful on its own and shows the API working end to end.
"""

import hmac

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from werkzeug.wrappers import Response

from dispatch import services
from dispatch.domain import ROLE_LABELS
from hotline.audit import record_audit
from hotline.auth import authenticate
from hotline.http import Unauthorized
from hotline.http import container
from hotline.http import csrf_token
from hotline.http import current_actor

bp = Blueprint("agents_ui", __name__, template_folder="templates")


@bp.get("/")
def index() -> str | Response:
    try:
        actor = current_actor()
    except Unauthorized:
        return render_template("login.html", csrf=csrf_token(), error=None)
    c = container()
    page = services.list_tickets(
        c.uow(),
        c.dispatch,
        actor,
        services.TicketFilter(per_page=50, tz=c.dispatch.policy.calendar.tz),
    )
    return render_template(
        "home.html", actor=actor, role_label=ROLE_LABELS[actor.role], page=page, csrf=csrf_token()
    )


@bp.post("/login")
def login() -> tuple[str, int] | Response:
    if not hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
        return render_template("login.html", csrf=csrf_token(), error="页面已过期，请重新登录"), 400
    with container().uow() as uow:
        user = authenticate(
            uow.session, request.form.get("username", ""), request.form.get("password", "")
        )
        if user is None:
            return render_template("login.html", csrf=csrf_token(), error="用户名或密码错误"), 401
        record_audit(uow.session, user.id, "login", None, {"via": "form"}, ip=request.remote_addr)
        uow.commit()
        session.clear()
        session["user_id"] = user.id
    return redirect(url_for("agents_ui.index"))


@bp.post("/logout")
def logout() -> Response:
    if hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
        session.clear()
    return redirect(url_for("agents_ui.index"))
