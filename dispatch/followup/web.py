"""JSON API of follow-up (回访) at /api/followups: the queues, a ticket's tries, retry, and
the SMS gateway's callback for the citizens' replies.

The callback (`POST /api/followups/sms-inbound`) is authorised by the `X-SMS-Token` header
alone, never by a session cookie, so it needs no CSRF token; with no token configured
(`followup.sms_inbound_token` empty) the route is off and answers 404.
"""

import hmac
from typing import Any

import pydantic
from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from dispatch.followup import queues as followup_admin
from dispatch.followup import survey as followup
from dispatch.wiring import container
from infra.http import Unauthorized
from infra.http import current_actor
from infra.http import login_required
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES

bp = Blueprint("followups_api", __name__, url_prefix="/api")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class SmsReply(pydantic.BaseModel):
    """A citizen's reply as the SMS gateway posts it."""

    model_config = pydantic.ConfigDict(extra="ignore", str_strip_whitespace=True)

    phone: str = pydantic.Field(min_length=3, max_length=32, pattern=r"^\+?[0-9-]+$")
    text: str = pydantic.Field(min_length=1, max_length=500)


def parse_queue_args(args: dict[str, list[str]], page_size_max: int) -> followup_admin.QueueQuery:
    """Read queue, page and page_size, collecting every bad parameter into one 422."""
    errors: dict[str, str] = {}
    for name in sorted(set(args) - {"queue", "page", "page_size"}):
        errors[name] = "不支持的查询参数"

    def one(name: str) -> str | None:
        values = [v for v in args.get(name, []) if v != ""]
        return values[-1] if values else None

    queue = one("queue") or followup_admin.MANUAL
    if queue not in followup_admin.QUEUES:
        errors["queue"] = f"取值无效，可选：{', '.join(followup_admin.QUEUES)}"

    def number(name: str, default: int, high: int) -> int:
        raw = one(name)
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= high:
            errors[name] = f"应为 1 到 {high} 之间的整数"
            return default
        return int(raw)

    page = number("page", 1, 100_000)
    page_size = number("page_size", 20, page_size_max)
    if errors:
        raise ValidationError(errors, "查询参数有误")
    return followup_admin.QueueQuery(queue=queue, page=page, page_size=page_size)


@bp.get("/followups")
@login_required(*HOTLINE_ROLES)
def queue() -> Response:
    c = container()
    query = parse_queue_args(request.args.to_dict(flat=False), c.settings.tickets.page_size_max)
    return jsonify(followup_admin.list_queue(c.uow(), c.dispatch, current_actor(), query))


@bp.get("/tickets/<int:ticket_id>/followups")
@login_required()
def ticket_tries(ticket_id: int) -> Response:
    c = container()
    return jsonify(followup_admin.ticket_tries(c.uow(), c.dispatch, current_actor(), ticket_id))


@bp.post("/followups/<int:ticket_id>/retry")
@login_required(*SUPERVISE_ROLES)
def retry(ticket_id: int) -> Response:
    c = container()
    channel = c.settings.followup.channel
    view = followup_admin.retry(c.uow(), c.dispatch, current_actor(), ticket_id, channel=channel)
    return jsonify(view)


@bp.post("/followups/sms-inbound")
def sms_inbound() -> Response:
    """Take a citizen's reply from the SMS gateway (token in X-SMS-Token; JSON or form)."""
    c = container()
    expected = c.settings.followup.sms_inbound_token
    if not expected:
        raise NotFound("短信回复接口未启用", {})
    sent = request.headers.get("X-SMS-Token", "")
    if not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8")):
        raise Unauthorized("X-SMS-Token 缺失或错误", {})
    reply = SmsReply.model_validate(_body())
    result = followup.record_sms_reply(
        c.uow(), c.dispatch, c.settings.followup, reply.phone, reply.text
    )
    return jsonify(result)


def _body() -> dict[str, Any]:
    if request.mimetype in FORM_TYPES:
        return {k: v for k, v in request.form.items()}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"_body": "应为 JSON 对象或表单：phone、text"}, "请求体有误")
    return data
