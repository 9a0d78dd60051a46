"""JSON API for tickets and units: parse, call a service, serialise. No rules here."""

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request
from flask import send_file
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from dispatch.admin.service import audit_retrain
from dispatch.routing import assist
from dispatch.routing import learning
from dispatch.routing import pending
from dispatch.tickets import actions
from dispatch.tickets import attachments
from dispatch.tickets import idempotency
from dispatch.tickets import reads
from dispatch.tickets import units
from dispatch.tickets import views
from dispatch.tickets.commands import ACTION_COMMANDS
from dispatch.tickets.commands import MAX_CONTENT
from dispatch.tickets.commands import MAX_TITLE
from dispatch.tickets.commands import CreateTicket
from dispatch.tickets.commands import Reply
from dispatch.tickets.commands import SuggestRequest
from dispatch.tickets.domain import Action
from dispatch.tickets.domain import TicketStatus
from dispatch.wiring import container
from infra.http import current_actor
from infra.http import login_required
from infra.http import parse_body
from infra.http import takes_files
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.phones import InvalidPhone
from kernel.phones import normalize_phone
from kernel.roles import Role
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Light

bp = Blueprint("dispatch", __name__, url_prefix="/api")


@bp.post("/tickets")
@login_required()
def create_ticket() -> tuple[Response, int]:
    actor = current_actor()
    cmd = parse_body(CreateTicket)
    c = container()
    auto, routing = None, None
    if cmd.auto_dispatch:
        cmd, auto, routing = assist.plan_auto_dispatch(c.uow(), c.dispatch, c.assistant, cmd)
    view, created = actions.create_ticket(c.uow(), c.dispatch, actor, cmd, auto=auto)
    if routing is None and view["status"] == "accepted" and cmd.merge_into is None:
        routing = assist.advise(c.uow(), c.dispatch, c.assistant, cmd)
    if routing is not None:
        view["routing"] = routing
    return jsonify(view), 201 if created else 200


@bp.post("/routing/suggest")
@login_required()
def suggest() -> Response:
    """Suggest units, category, request type and locality for a draft; list duplicates."""
    cmd = parse_body(SuggestRequest)
    c = container()
    return jsonify(assist.suggest(c.uow(), c.dispatch, c.assistant, current_actor(), cmd))


class UnitPreviewRequest(BaseModel):
    """A draft as the console holds it: what the unit would read of it (单位看到的内容)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=MAX_TITLE)
    content: str = Field("", max_length=MAX_CONTENT)
    address: str | None = Field(None, max_length=500)
    citizen_name: str | None = Field(None, max_length=100)
    caller_phone: str | None = Field(None, max_length=32)
    contact_phone: str | None = Field(None, max_length=32)
    confidential: bool = False
    disclosure_allowed: bool = False


@bp.post("/tickets/unit-preview")
@login_required()
def unit_preview() -> Response:
    """Show the operator, before dispatch, what a unit will read of a draft ticket.

    Computed by the same rules as the unit's ticket view (dispatch.tickets.views.unit_preview).
    """
    actor = current_actor()
    if not container().dispatch.may_accept(actor):
        raise PermissionDenied("当前角色无权受理工单", {"role": actor.role.value})
    cmd = parse_body(UnitPreviewRequest)
    return jsonify(views.unit_preview(**cmd.model_dump()))


@bp.get("/routing/models")
@login_required(Role.ADMIN)
def routing_models() -> Response:
    """The routing model versions, newest first, with their scores on the held-back slice."""
    c = container()
    with c.uow() as uow:
        return jsonify(learning.versions_view(uow.session))


@bp.post("/routing/models")
@login_required(Role.ADMIN)
def retrain_routing() -> tuple[Response, int]:
    """Queue a retraining (rq); the new version goes live only if it scores at least as well."""
    from dispatch.jobs import enqueue_retrain
    from infra.jobs import job_view

    actor = current_actor()
    c = container()
    job, new = enqueue_retrain(c.redis, actor.user_id)
    audit_retrain(c.uow(), actor.user_id, job.id, new, ip=request.remote_addr)
    return jsonify({"job": job_view(job), "queued": new}), 202


@bp.get("/tickets")
@login_required()
def list_tickets() -> Response:
    c = container()
    flt = parse_filter(
        request.args.to_dict(flat=False),
        c.settings.tickets.page_size_max,
        c.dispatch.policy.calendar.tz,
    )
    return jsonify(reads.list_tickets(c.uow(), c.dispatch, current_actor(), flt))


@bp.get("/tickets/<int:ticket_id>")
@login_required()
def get_ticket(ticket_id: int) -> Response:
    c = container()
    return jsonify(reads.get_ticket(c.uow(), c.dispatch, current_actor(), ticket_id))


@bp.post("/tickets/<int:ticket_id>/actions/<action>")
@takes_files(several=True)
@login_required()
def act(ticket_id: int, action: str) -> Response:
    actor = current_actor()
    try:
        chosen = Action(action)
    except ValueError:
        raise ValidationError(
            {"action": f"未知操作，可选：{', '.join(a.value for a in Action)}"}, "未知的工单操作"
        ) from None
    c = container()
    # A retry with the same Idempotency-Key gets the first answer back
    # (dispatch.tickets.idempotency).
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    if chosen is Action.REPLY and request.mimetype == "multipart/form-data":
        # 回复 with its files in one request: both are written, or neither.
        reply, uploads = _reply_form()
        once = _once(key, lambda: _form_digest(uploads))
        view = attachments.reply_with_files(
            c.uow(), c.dispatch, c.attachments, actor, ticket_id, reply, uploads, once
        )
        return _answer(view, once)
    cmd = parse_body(ACTION_COMMANDS[chosen])
    once = _once(key, lambda: idempotency.digest_json(json.loads(request.get_data() or b"{}")))
    view = actions.perform_action(c.uow(), c.dispatch, actor, ticket_id, chosen, cmd, once=once)
    return _answer(view, once)


def _once(key: str | None, digest: Callable[[], str]) -> idempotency.Once | None:
    return None if key is None else idempotency.Once(key, digest())


def _form_digest(uploads: list[attachments.Upload]) -> str:
    fields = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf"]
    return idempotency.digest_form(fields, [(u.filename, u.data) for u in uploads])


def _answer(view: dict[str, Any], once: idempotency.Once | None) -> Response:
    response = jsonify(view)
    if once is not None and once.replayed:
        response.status_code = once.status
        response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response


def _reply_form() -> tuple[Reply, list[attachments.Upload]]:
    """A reply sent as a form: its fields as text, its files under the name `files`."""
    fields: dict[str, Any] = {k: v for k, v in request.form.items() if k != "csrf"}
    if "attachment_ids" in fields:
        raise ValidationError({"attachment_ids": "表单提交时请直接附上文件"}, "提交的数据有误")
    if not fields.get("contacted_at"):
        fields.pop("contacted_at", None)
    reply = Reply.model_validate(fields)
    uploads = []
    limit = container().attachments.max_bytes + 1
    for upload in request.files.getlist("files"):
        try:
            uploads.append(attachments.Upload(upload.filename or "", upload.read(limit)))
        finally:
            upload.close()
    return reply, uploads


@bp.post("/tickets/<int:ticket_id>/attachments")
@takes_files()
@login_required()
def upload_attachment(ticket_id: int) -> tuple[Response, int]:
    actor = current_actor()
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError({"file": "请选择要上传的文件（表单字段 file）"}, "没有收到文件")
    c = container()
    try:
        data = upload.read(c.attachments.max_bytes + 1)
    finally:
        upload.close()  # large uploads spool to a temporary file: release it now
    view = attachments.add_attachment(
        c.uow(), c.attachments, actor, ticket_id, upload.filename or "", data
    )
    return jsonify(view), 201


@bp.get("/tickets/<int:ticket_id>/attachments/<int:attachment_id>")
@login_required()
def download_attachment(ticket_id: int, attachment_id: int) -> Response:
    c = container()
    meta, path = attachments.open_attachment(
        c.uow(), c.attachments, current_actor(), ticket_id, attachment_id
    )
    return send_file(
        path,
        mimetype=meta["content_type"],
        as_attachment=True,
        download_name=meta["filename"],
        max_age=0,
    )


@bp.get("/dispatch-queue")
@login_required()
def dispatch_queue() -> Response:
    """待派单: tickets accepted but not given to a unit, oldest first, with a suggestion."""
    c = container()
    return jsonify(pending.list_pending(c.uow(), c.dispatch, c.assistant, current_actor()))


@bp.get("/dispatch-queue/count")
@login_required()
def dispatch_queue_count() -> Response:
    """How many tickets wait for a unit (the pages' live count)."""
    return jsonify({"total": pending.count_pending(container().uow(), current_actor())})


@bp.get("/units")
@login_required()
def list_units() -> Response:
    return jsonify({"items": units.list_units(container().uow())})


def _one(args: dict[str, list[str]], name: str) -> str | None:
    values = [v for v in args.get(name, []) if v != ""]
    return values[-1] if values else None


def parse_filter(  # noqa: C901 - one branch per query parameter
    args: dict[str, list[str]], page_size_max: int, tz: Any
) -> reads.TicketFilter:
    """Parse the list query string, collecting every bad parameter into one 422."""
    errors: dict[str, str] = {}
    known = {
        "status",
        "unit_id",
        "request_type",
        "urgency",
        "light",
        "q",
        "from",
        "to",
        "caller_phone",
        "problem",
        "page",
        "per_page",
    }
    for name in sorted(set(args) - known):
        errors[name] = "不支持的查询参数"

    def enum_value(name: str, enum_cls: Any) -> Any:
        raw = _one(args, name)
        if raw is None:
            return None
        try:
            return enum_cls(raw)
        except ValueError:
            errors[name] = f"取值无效，可选：{', '.join(m.value for m in enum_cls)}"
            return None

    def int_value(name: str, default: int | None, low: int, high: int) -> int | None:
        raw = _one(args, name)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            errors[name] = f"应为 {low} 到 {high} 之间的整数"
            return default
        return int(raw)

    def date_value(name: str) -> dt.date | None:
        raw = _one(args, name)
        if raw is None:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            errors[name] = "日期格式应为 YYYY-MM-DD"
            return None

    statuses = []
    for raw in ",".join(args.get("status", [])).split(","):
        if raw:
            try:
                statuses.append(TicketStatus(raw))
            except ValueError:
                errors["status"] = f"未知状态：{raw}"
    problem_raw = _one(args, "problem")
    if problem_raw not in (None, "true", "false"):
        errors["problem"] = "应为 true 或 false"
    caller_phone = _one(args, "caller_phone")
    if caller_phone is not None:
        try:  # the stored spelling: 139-1234-5678 finds 13812345678's tickets
            caller_phone = normalize_phone(caller_phone)
        except InvalidPhone as exc:
            errors["caller_phone"] = str(exc)
    start, end = date_value("from"), date_value("to")
    if start and end and end < start:
        errors["to"] = "结束日期不能早于开始日期"
    flt = reads.TicketFilter(
        statuses=tuple(statuses),
        unit_id=int_value("unit_id", None, 1, 2**31 - 1),
        request_type=enum_value("request_type", RequestType),
        urgency=enum_value("urgency", Urgency),
        light=enum_value("light", Light),
        text=(_one(args, "q") or "")[:100] or None,
        created_from=start,
        created_to=end,
        tz=tz,
        caller_phone=caller_phone,
        problem=None if problem_raw is None else problem_raw == "true",
        page=int_value("page", 1, 1, 100_000) or 1,
        per_page=int_value("per_page", 20, 1, page_size_max) or 20,
    )
    if errors:
        raise ValidationError(errors, "查询参数有误")
    return flt
