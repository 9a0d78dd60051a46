"""漏接回拨 over JSON: list the call-back tasks, claim, dial from one's seat, record, cancel.

Hotline staff only (operator, team lead, supervisor, admin); cancelling is for team leads
and above. Every change is pushed as `callback.changed` (room `hotline`) once committed.
Every answer carries callers' full numbers (they are to be dialled), so every answer is
audited: `list_personal_data` for the list, `view_personal_data` for one task.
"""

from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from callcenter.callbacks import service as callbacks
from callcenter.cti.hall import notify_hall
from callcenter.records.sync import sync_record
from callcenter.wiring import container
from infra.audit import audit_act
from infra.http import current_actor
from infra.http import login_required
from infra.http import parse_body
from kernel.errors import ValidationError
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES

bp = Blueprint("callbacks_api", __name__, url_prefix="/api/callbacks")
ROLES = tuple(sorted(HOTLINE_ROLES))
MAX_PER_PAGE = 100


def audit_callers(items: list[dict[str, Any]], via: str, *, one: bool = False) -> None:
    """Record who was shown these tasks' numbers (the list page renders them too)."""
    shown = [item["id"] for item in items if item.get("caller")]
    if not shown:
        return
    actor = current_actor()
    with container().uow() as uow:
        if one:
            details = {"via": via, "task_id": shown[0]}
            audit_act(uow.session, actor, "view_personal_data", items[0].get("ticket_id"), details)
        else:
            details = {"via": via, "task_ids": shown}
            audit_act(uow.session, actor, "list_personal_data", None, details)
        uow.commit()


def _audited(view: dict[str, Any], via: str) -> dict[str, Any]:
    audit_callers([view], via, one=True)
    return view


def parse_list_args(args: Any) -> tuple[tuple[str, ...], int, int]:
    """`status` (comma-separated, default open,claimed), `page`, `per_page` (≤ 100).

    :raises ValidationError: an unknown status or a page that is not a positive number.
    """
    errors: dict[str, str] = {}
    raw = str(args.get("status", "") or "open,claimed")
    statuses = tuple(dict.fromkeys(s.strip() for s in raw.split(",") if s.strip()))
    if not statuses or any(s not in callbacks.STATUSES for s in statuses):
        errors["status"] = f"可选：{'、'.join(callbacks.STATUSES)}（可逗号分隔多个）"
    page = _positive(args.get("page", "1"), "page", errors)
    per_page = _positive(args.get("per_page", "20"), "per_page", errors)
    if per_page > MAX_PER_PAGE:
        errors["per_page"] = f"不能大于{MAX_PER_PAGE}"
    if errors:
        raise ValidationError(errors, "查询条件有误")
    return statuses, page, per_page


def _positive(raw: Any, name: str, errors: dict[str, str]) -> int:
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1 or len(text) > 6:
        errors[name] = "应为正整数"
        return 1
    return int(text)


@bp.get("")
@login_required(*ROLES)
def list_tasks() -> Response:
    """Tasks newest first: open and claimed unless `status` says otherwise."""
    statuses, page, per_page = parse_list_args(request.args)
    result = callbacks.list_tasks(container().uow(), statuses, page, per_page)
    audit_callers(result["items"], "callbacks")
    return jsonify(result)


@bp.post("/<int:task_id>/claim")
@login_required(*ROLES)
def claim(task_id: int) -> Response:
    c = container()
    view = callbacks.claim(
        c.uow(), current_actor(), task_id, c.dispatch.utcnow(), c.dispatch.publish
    )
    return jsonify(_audited(view, "callbacks.claim"))


@bp.post("/<int:task_id>/dial")
@login_required(*ROLES)
def dial(task_id: int) -> tuple[Response, int]:
    """The operator's own seat softphone calls the number back (202: the call is placed)."""
    c = container()

    def synced(call_id: str) -> None:
        # 话后整理 ended for the call-back: the last call's record gets its real wrap-up
        sync_record(c.uow(), call_id, c.acd.call(call_id))

    view = callbacks.dial(
        c.uow(),
        c.acd,
        current_actor(),
        task_id,
        c.dispatch.utcnow(),
        c.dispatch.publish,
        synced,
    )
    notify_hall()  # the seat went not ready
    return jsonify(_audited(view, "callbacks.dial")), 202


@bp.post("/<int:task_id>/done")
@login_required(*ROLES)
def done(task_id: int) -> Response:
    cmd = parse_body(callbacks.FinishCallback)
    c = container()
    view = callbacks.finish(
        c.uow(), current_actor(), task_id, cmd, c.dispatch.utcnow(), c.dispatch.publish
    )
    return jsonify(_audited(view, "callbacks.done"))


@bp.post("/<int:task_id>/cancel")
@login_required(*SUPERVISE_ROLES)
def cancel(task_id: int) -> Response:
    cmd = parse_body(callbacks.CancelCallback)
    c = container()
    view = callbacks.cancel(
        c.uow(), current_actor(), task_id, cmd, c.dispatch.utcnow(), c.dispatch.publish
    )
    return jsonify(_audited(view, "callbacks.cancel"))
