"""系统管理 → 热线号码: the merged lines (合并热线) and the operators who take each.

Plain forms with the session's CSRF token, as 话机账号 (`agents_ui.sipaccounts`). The rules
live in `callcenter.lines`; every change is audited there.
"""

import sqlalchemy as sa
from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from callcenter import lines
from infra.http import current_actor
from infra.models import User
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import HOTLINE_ROLES
from kernel.roles import Role

bp = Blueprint("lines", __name__, template_folder="templates", url_prefix="/admin/lines")

Page = str | tuple[str, int] | Response
FIELDS = ("number", "name")


def _staff() -> list[tuple[int, str]]:
    """Who may take a line: active hotline staff, by name."""
    with container().uow() as uow:
        rows = uow.session.execute(
            sa.select(User.id, User.display_name, User.username)
            .where(User.active, User.role.in_(sorted(HOTLINE_ROLES)))
            .order_by(User.display_name)
        ).all()
    return [(uid, f"{name}（{username}）") for uid, name, username in rows]


def _page(
    form: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    alert: str | None = None,
    editing: int | None = None,
    status: int = 200,
) -> Page:
    html = render_page(
        "admin_lines.html",
        lines=lines.list_lines(container().uow()),
        staff=_staff(),
        hotline_number=container().settings.telephony.number,
        form=form or {"user_ids": []},
        errors=errors or {},
        alert=alert,
        editing=editing,
    )
    return (html, status) if status != 200 else html


def _read_form() -> dict[str, object]:
    form: dict[str, object] = {k: request.form.get(k, "") for k in FIELDS}
    ids = [v for v in request.form.getlist("user_ids") if v.isdigit()]
    form["user_ids"] = [int(v) for v in ids]
    form["active"] = request.form.get("active", "1") == "1"
    return form


@bp.get("/")
@page(Role.ADMIN)
def index() -> Page:
    return _page()


@bp.post("/")
@page(Role.ADMIN)
def create() -> Page:
    return _save(None)


@bp.post("/<int:line_id>")
@page(Role.ADMIN)
def update(line_id: int) -> Page:
    return _save(line_id)


def _save(line_id: int | None) -> Page:
    form = _read_form()
    actor_id = current_actor().user_id
    try:
        saved = lines.save_line(
            container().uow(),
            actor_id,
            line_id=line_id,
            number=str(form["number"]),
            name=str(form["name"]),
            user_ids=list(form["user_ids"]),  # type: ignore[call-overload]
            active=bool(form["active"]),
            hotline_number=container().settings.telephony.number,
            ip=request.remote_addr,
        )
    except ValidationError as exc:
        alert = f"{exc.message}，请按输入框下方的提示修改后重新提交。"
        return _page(form, exc.field_errors, alert, editing=line_id, status=422)
    except NotFound as exc:
        return render_page("error.html", message=exc.message), 404
    flash(f"已保存线路 {saved.name}（{saved.number}）；话务员下次签入坐席时生效")
    return redirect(url_for("lines.index") + f"#line-{saved.id}")
