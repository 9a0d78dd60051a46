"""系统管理 → 话机账号: SIP passwords of our own user agents (seats, survey processes, phones).

Same pattern as 开放接口 (`agents_ui.apikeys`): plain forms with the session's CSRF token, a new
or rotated password shown once on the page the POST redirects to (`agents_ui.reveal`). The
rules live in `callcenter.edge.credentials`; every issue, rotation and disabling is audited.
"""

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from agents_ui import reveal
from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from callcenter.edge import credentials
from infra.http import current_actor
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import Role

bp = Blueprint(
    "sipaccounts", __name__, template_folder="templates", url_prefix="/admin/sip-accounts"
)

Page = str | tuple[str, int] | Response


def _actor_id() -> int:
    actor_id = current_actor().user_id
    assert actor_id is not None  # pages are session-authenticated: always a real user
    return actor_id


def _realm() -> str:
    return container().settings.telephony.sip_realm


def _accounts_page(
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    alert: str | None = None,
    new: credentials.NewSipPassword | None = None,
    status: int = 200,
) -> Page:
    html = render_page(
        "admin_sip_accounts.html",
        accounts=credentials.list_accounts(container().uow(), _realm()),
        kinds=credentials.KINDS,
        form=form or {"kind": "seat"},
        errors=errors or {},
        alert=alert,
        new=new,
    )
    return (html, status) if status != 200 else html


def _shown(new: credentials.NewSipPassword) -> Page:
    payload = {"id": new.id, "name": new.name, "password": new.password, "rotated": new.rotated}
    shown = reveal.keep("sip_password", payload, _actor_id())
    if shown is None:
        return _accounts_page(new=new)
    return redirect(url_for("sipaccounts.index", shown=shown))


@bp.get("/")
@page(Role.ADMIN)
def index() -> Page:
    shown = request.args.get("shown", "")
    kept = reveal.take("sip_password", shown, _actor_id()) if shown else None
    new = None
    if kept:
        new = credentials.NewSipPassword(
            int(kept["id"]), str(kept["name"]), str(kept["password"]), bool(kept["rotated"])
        )
    alert = None
    if shown and new is None:
        alert = "该密码已显示过，不能再次查看；如未保存，请重置密码。"
    return _accounts_page(new=new, alert=alert)


@bp.post("/")
@page(Role.ADMIN)
def create() -> Page:
    form = {k: request.form.get(k, "") for k in ("name", "kind", "note")}
    try:
        new = credentials.issue_account(
            container().uow(),
            _actor_id(),
            form["name"],
            form["kind"],
            form["note"],
            realm=_realm(),
            ip=request.remote_addr,
        )
    except ValidationError as exc:
        alert = f"{exc.message}，请按输入框下方的提示修改后重新提交。"
        return _accounts_page(form, exc.field_errors, alert, status=422)
    return _shown(new)


@bp.post("/<int:account_id>/rotate")
@page(Role.ADMIN)
def rotate(account_id: int) -> Page:
    try:
        new = credentials.rotate_password(
            container().uow(), _actor_id(), account_id, realm=_realm(), ip=request.remote_addr
        )
    except NotFound as exc:
        return render_page("error.html", message=exc.message), 404
    return _shown(new)


@bp.post("/<int:account_id>/disable")
@page(Role.ADMIN)
def disable(account_id: int) -> Page:
    try:
        done = credentials.disable_account(
            container().uow(), _actor_id(), account_id, ip=request.remote_addr
        )
    except NotFound as exc:
        return render_page("error.html", message=exc.message), 404
    flash("已停用该话机账号，它的下一次注册和呼叫将被拒绝" if done else "该话机账号此前已停用")
    return redirect(url_for("sipaccounts.index") + f"#sip-{account_id}")
