"""Pages for people: sign-in, role homes, tickets, the operator's form, the unit inbox.

Pages render their first view on the server from the same services the API uses, then
talk to the JSON API (with the session's CSRF token) and listen on Socket.IO for changes.
No business rule lives here.
"""

import datetime as dt
import functools
import hmac
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import TypeVar
from typing import cast
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from werkzeug.wrappers import Response

from agents_ui.wiring import container
from callcenter.cti.console import sign_out_seat
from callcenter.cti.targets import transfer_targets
from dispatch.followup import queues as followup_admin
from dispatch.tickets import reads
from dispatch.tickets.commands import MAX_CONTENT
from dispatch.tickets.commands import MAX_TITLE
from dispatch.tickets.domain import ACTION_LABELS
from dispatch.tickets.domain import CHANNEL_LABELS
from dispatch.tickets.domain import EVENT_LABELS
from dispatch.tickets.domain import READ_ALL_ROLES
from dispatch.tickets.domain import REQUEST_TYPE_LABELS
from dispatch.tickets.domain import SATISFACTION_LABELS
from dispatch.tickets.domain import STATUS_LABELS
from dispatch.tickets.domain import URGENCY_LABELS
from dispatch.tickets.domain import Channel
from dispatch.tickets.domain import ReturnReason
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.units import list_units
from dispatch.web import parse_filter
from infra.audit import record_audit
from infra.auth import authenticate
from infra.auth import end_sessions
from infra.auth import hash_password
from infra.auth import password_problem
from infra.http import PasswordChangeRequired
from infra.http import TooManyAttempts
from infra.http import Unauthorized
from infra.http import csrf_token
from infra.http import current_actor
from infra.http import end_this_and_other_sessions
from infra.http import safe_next
from infra.http import sign_in
from infra.models import User
from kb.usage import ticket_articles
from kernel.errors import DomainError
from kernel.errors import PermissionDenied
from kernel.roles import HOTLINE_ROLES
from kernel.roles import ROLE_LABELS
from kernel.roles import SUPERVISE_ROLES
from kernel.roles import Role
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Light

bp = Blueprint(
    "agents_ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

F = TypeVar("F", bound=Callable[..., Any])

LABELS = {
    "request_type": REQUEST_TYPE_LABELS,
    "urgency": URGENCY_LABELS,
    "channel": CHANNEL_LABELS,
    "light": {Light.RED: "红灯（超期）", Light.YELLOW: "黄灯（预警）", Light.GREEN: "绿灯"},
    "return_reason": {
        ReturnReason.NOT_OURS: "非本单位职责",
        ReturnReason.WRONG_LOCALITY: "属地错误",
        ReturnReason.UNCLEAR_OWNERSHIP: "职责不清",
    },
    "satisfaction": SATISFACTION_LABELS,
    "status": STATUS_LABELS,
    "action": ACTION_LABELS,
    "event": EVENT_LABELS,
    "role": ROLE_LABELS,
}

HOME_BY_ROLE = {
    Role.OPERATOR: "agents_ui.console",
    Role.LIAISON: "agents_ui.unit_inbox",
    Role.TEAM_LEAD: "supervise.index",
    Role.SUPERVISOR: "supervise.index",
    Role.LEADER: "dashboard.index",
    Role.ADMIN: "admin.index",
}


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    from flask import current_app

    endpoints = {rule.endpoint for rule in current_app.url_map.iter_rules()}
    return {
        "labels": LABELS,
        "csrf": csrf_token(),
        "statuses": list(TicketStatus),
        "nav_endpoints": endpoints,
    }


@bp.app_template_filter("seconds")
def seconds_text(value: float | None) -> str:
    """A duration as people read it: 8 秒, 2 分 05 秒."""
    if value is None:
        return "—"
    total = max(0, round(value))
    minutes, rest = divmod(total, 60)
    return f"{minutes} 分 {rest:02d} 秒" if minutes else f"{rest} 秒"


@bp.app_template_filter("local")
def local_time(value: str | None) -> str:
    """Show an ISO UTC timestamp as local wall time, minutes precision: 2026-11-16 10:00."""
    if not value:
        return ""
    moment = dt.datetime.fromisoformat(value).astimezone(container().dispatch.policy.calendar.tz)
    return f"{moment:%Y-%m-%d %H:%M}"


def page(*roles: Role) -> Callable[[F], F]:
    """Require a signed-in user (else the sign-in page) with one of `roles` (else 403)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                actor = current_actor()
            except Unauthorized:
                return redirect(url_for("agents_ui.login", next=request.full_path))
            except PasswordChangeRequired:
                return redirect(url_for("agents_ui.password"))
            if roles and actor.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def render_page(template: str, **context: Any) -> str:
    actor = current_actor()
    return render_template(template, actor=actor, role_label=ROLE_LABELS[actor.role], **context)


# ---------------------------------------------------------------- sign-in


_FAVICON: list[bytes] = []


@bp.get("/favicon.ico")
def favicon() -> Response:
    """The tab icon browsers ask for on every page (the pages link it too)."""
    # Read whole and kept (a few hundred bytes): no open file handed to the server, which a
    # client that drops the connection would leave for the garbage collector.
    if not _FAVICON:
        folder = bp.static_folder
        assert folder is not None
        _FAVICON.append((Path(folder) / "favicon.ico").read_bytes())
    resp = Response(_FAVICON[0], mimetype="image/vnd.microsoft.icon")
    resp.cache_control.public = True
    resp.cache_control.max_age = 86400
    return resp


@bp.get("/login")
def login() -> str:
    return render_template("login.html", error=None, next=safe_next(request.args.get("next", "")))


@bp.post("/login")
def login_post() -> tuple[str, int] | tuple[str, int, dict[str, str]] | Response:
    # Login CSRF: the form must come from our sign-in page (its token is in the session),
    # else a page elsewhere could sign a visitor in as the attacker.
    sent, expected = request.form.get("csrf", ""), str(session.get("csrf", ""))
    if not expected or not hmac.compare_digest(sent, expected):
        return render_template("login.html", error="页面已过期，请重新登录", next=None), 400
    target = safe_next(request.form.get("next", ""))
    try:
        who = sign_in(
            request.form.get("username", ""), request.form.get("password", ""), via="form"
        )
    except TooManyAttempts as exc:
        html = render_template("login.html", error=exc.message, next=target)
        return html, 429, {"Retry-After": str(exc.retry_after)}
    if who is None:
        return render_template("login.html", error="用户名或密码错误", next=target), 401
    return redirect(target or url_for("agents_ui.index"))


@bp.post("/logout")
def logout() -> Response:
    if hmac.compare_digest(request.form.get("csrf", ""), str(session.get("csrf", ""))):
        user_id = session.get("user_id")
        if user_id is not None:
            # Signing out ends every session of the user: a copied cookie is worth nothing.
            end_this_and_other_sessions(int(user_id))
            sign_out_seat(int(user_id))  # nobody is at the seat any more
        session.clear()
    return redirect(url_for("agents_ui.login"))


@bp.get("/")
@page()
def index() -> Response:
    actor = current_actor()
    return redirect(url_for(HOME_BY_ROLE.get(actor.role, "agents_ui.tickets")))


@bp.route("/password", methods=["GET", "POST"])
@page()
def password() -> str | tuple[str, int]:
    errors: dict[str, str] = {}
    done = False
    rules = container().settings.auth
    with container().uow() as uow:
        user = uow.session.get(User, current_actor().user_id)
        assert user is not None
        forced = user.must_change_password
    if request.method == "POST":
        errors, done = _change_password(forced)
        forced = forced and not done
    page_html = render_page("password.html", errors=errors, done=done, forced=forced, rules=rules)
    return (page_html, 422) if errors else page_html


def _change_password(forced: bool) -> tuple[dict[str, str], bool]:
    """Check and save a new password; the user's other sessions end, this one stays."""
    errors: dict[str, str] = {}
    if not hmac.compare_digest(request.form.get("csrf", ""), str(session.get("csrf", ""))):
        errors["_form"] = "页面已过期，请刷新后重试"
    current, new, again = (request.form.get(k, "") for k in ("current", "new", "again"))
    with container().uow() as uow:
        user = uow.session.get(User, current_actor().user_id)
        assert user is not None
        if not errors and authenticate(uow.session, user.username, current) is None:
            errors["current"] = "管理员告知的密码不正确" if forced else "当前密码不正确"
        problem = password_problem(new, user.username, container().settings.auth)
        if problem:
            errors["new"] = problem
        elif new == current:
            errors["new"] = "新密码不能与当前密码相同"
        if new != again:
            errors["again"] = "两次输入的新密码不一致"
        if errors:
            return errors, False
        user.password_hash = hash_password(new)
        user.must_change_password = False
        end_sessions(user)
        generation = user.session_generation
        record_audit(
            uow.session,
            user.id,
            "change_password",
            None,
            {"forced": forced},
            ip=request.remote_addr,
        )
        uow.commit()
    session["gen"] = generation  # this session carries on under the new generation
    return {}, True


# ---------------------------------------------------------------- tickets


def _filter_from_request(per_page: int = 50) -> tuple[reads.TicketFilter | None, dict[str, str]]:
    args = {k: v for k, v in request.args.to_dict(flat=False).items() if any(v)}
    args.setdefault("per_page", [str(per_page)])
    c = container()
    try:
        return parse_filter(
            args, c.settings.tickets.page_size_max, c.dispatch.policy.calendar.tz
        ), {}
    except DomainError as exc:
        fields = exc.details.get("fields", {})
        return None, dict(fields) if isinstance(fields, dict) else {}


@bp.get("/tickets")
@page()
def tickets() -> str:
    c = container()
    flt, errors = _filter_from_request()
    result: dict[str, Any] = {"items": [], "total": 0, "page": 1, "per_page": 50}
    refused = None
    if flt:
        try:
            result = reads.list_tickets(c.uow(), c.dispatch, current_actor(), flt)
        except PermissionDenied as exc:  # a unit searching by caller identity (audited)
            refused = exc.message
    units = list_units(c.uow())
    # 导出 Excel carries the list's filters (not its page): the export takes every match.
    export_query = urlencode(
        [(k, v) for k, v in request.args.items(multi=True) if v and k not in ("page", "per_page")]
    )
    return render_page(
        "tickets.html",
        page=result,
        errors=errors,
        refused=refused,
        args=request.args,
        units=units,
        export_query=export_query,
    )


@bp.get("/tickets/<int:ticket_id>")
@page()
def ticket(ticket_id: int) -> str | tuple[str, int]:
    c = container()
    try:
        view = reads.get_ticket(c.uow(), c.dispatch, current_actor(), ticket_id)
    except DomainError as exc:
        status = 404 if exc.code == "not_found" else 403
        return render_page("error.html", message=exc.message), status
    actor = current_actor()
    units = list_units(c.uow())
    # The page shows the caller's numbers already (audited by get_ticket): tries without.
    followups = followup_admin.ticket_tries(c.uow(), c.dispatch, actor, ticket_id, with_phone=False)
    actions = likely_first(view["allowed_actions"], view["status"], bool(_pending_extension(view)))
    return render_page(
        "ticket.html",
        t=view,
        actions=actions,
        units=units,
        suggested_unit=_suggested_unit(view) if {"dispatch", "reassign"} & set(actions) else None,
        calls=_calls(view["id"], actor) if actor.role in READ_ALL_ROLES else [],
        max_file_mb=c.attachments.max_bytes // (1024 * 1024),
        kb_links=ticket_articles(c.uow(), ticket_id),
        followups=followups,
    )


# What people most likely do next with a ticket in each status: that panel opens first.
NEXT_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "accepted": ("dispatch", "resolve_directly", "merge"),
    "dispatched": ("sign", "return", "remind", "supervise"),
    "signed": ("reply", "extend", "return", "remind", "supervise"),
    "returned": ("reassign", "uphold"),
    "replied": ("review",),
    "reviewed": ("follow_up", "close"),
    "followed_up": ("close", "reopen"),
    "closed": ("reopen",),
}


def likely_first(allowed: list[str], status: str, extension_pending: bool) -> list[str]:
    """The allowed actions with the likely next one first (an extension waiting: decide it)."""
    order = list(NEXT_ACTIONS.get(status, ()))
    if extension_pending:
        order.insert(0, "decide_extension")
    rank = {action: i for i, action in enumerate(order)}
    return sorted(allowed, key=lambda a: rank.get(a, len(order)))


def _pending_extension(view: Mapping[str, Any]) -> bool:
    return any(x["approved"] is None for x in view.get("extensions", []))


def _suggested_unit(view: Mapping[str, Any]) -> int | None:
    """The unit routing suggests for the ticket as it stands (preselected in 派单)."""
    from dispatch.routing.router import Draft

    locality = view.get("locality") or {}
    draft = Draft(
        title=view["title"],
        content=view.get("content") or "",
        address=view.get("address"),
        district_id=(locality.get("district") or {}).get("id"),
        street_id=(locality.get("street") or {}).get("id"),
        community_id=(locality.get("community") or {}).get("id"),
    )
    try:
        top = container().assistant.router.suggest(draft).top
    except Exception:  # noqa: BLE001 - a suggestion is help, not a condition of the page
        return None
    current = (view.get("lead_unit") or {}).get("id")
    return top.unit_id if top and top.unit_id != current else None


def _calls(ticket_id: int, actor: Any) -> list[dict[str, Any]]:
    """The ticket's calls, with who answered and whether this viewer may hear each one."""
    from callcenter.records.sync import ticket_calls

    calls = ticket_calls(container().uow(), ticket_id)
    ids = {
        int(x["agent"][1:])
        for x in calls
        if (x["agent"] or "").startswith("u") and x["agent"][1:].isdigit()
    }
    names = _display_names(ids)
    for call in calls:
        agent = call["agent"] or ""
        uid = int(agent[1:]) if agent.startswith("u") and agent[1:].isdigit() else None
        call["agent_name"] = names.get(uid, "") if uid is not None else ""
        call["may_listen"] = call["has_recording"] and (
            actor.role in SUPERVISE_ROLES or agent == f"u{actor.user_id}"
        )
    return calls


def _display_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    with container().uow() as uow:
        rows = uow.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids)))
        return {uid: name for uid, name in rows}


def _transfer_groups() -> dict[str, list[Any]]:
    """The console's 转接号码 list, in its groups (emergency lines, then the units)."""
    groups: dict[str, list[Any]] = {}
    for target in transfer_targets(container().settings.telephony, container().uow()):
        groups.setdefault(target.group, []).append(target)
    return groups


@bp.get("/console")
@page(*HOTLINE_ROLES, Role.LEADER)  # leaders on duty take calls here (领导接听)
def console() -> str:
    units = list_units(container().uow())
    return render_page(
        "console.html",
        units=units,
        channels=list(Channel),
        request_types=list(RequestType),
        urgencies=[Urgency.NORMAL, Urgency.URGENT, Urgency.CRITICAL],
        request_type_labels={
            t.value: label
            for t, label in cast(Mapping[RequestType, str], LABELS["request_type"]).items()
        },
        transfer_groups=_transfer_groups(),
        headsets=container().settings.telephony.headsets,
        max_title=MAX_TITLE,
        max_content=MAX_CONTENT,
    )


@bp.get("/unit")
@page(Role.LIAISON)
def unit_inbox() -> str:
    c = container()
    actor = current_actor()
    flt = reads.TicketFilter(
        statuses=(TicketStatus.DISPATCHED, TicketStatus.SIGNED, TicketStatus.RETURNED),
        per_page=100,
        tz=c.dispatch.policy.calendar.tz,
    )
    result = reads.list_tickets(c.uow(), c.dispatch, actor, flt)
    order = {"red": 0, "yellow": 1, "green": 2, None: 3}
    items = sorted(result["items"], key=lambda t: (order[t["light"]], t["reply_due_at"] or ""))
    return render_page("unit.html", items=items, total=result["total"])
