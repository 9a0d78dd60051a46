"""系统管理 → 开放接口: API keys of Open311 clients (other systems and apps).

Same pattern as the other admin pages: plain forms with the session's CSRF token, a flash
message after each change, 422 with messages next to the fields when input is refused.
A new key is shown once, on the page the POST redirects to (`agents_ui.reveal`), so
reloading shows nothing more and makes no second key. The rules live in `dispatch.open311.apikeys`.
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
from dispatch.open311 import apikeys
from infra.http import current_actor
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import Role

bp = Blueprint("apikeys", __name__, template_folder="templates", url_prefix="/admin/api-keys")

Page = str | tuple[str, int] | Response


def _actor_id() -> int:
    actor_id = current_actor().user_id
    assert actor_id is not None  # pages are session-authenticated: always a real user
    return actor_id


def _keys_page(
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    alert: str | None = None,
    new_key: apikeys.NewKey | None = None,
    rate_errors: dict[int, str] | None = None,
    status: int = 200,
) -> Page:
    c = container()
    html = render_page(
        "admin_apikeys.html",
        keys=apikeys.list_keys(c.uow()),
        form=form or {"rate_per_minute": str(c.settings.open311.rate_per_minute)},
        errors=errors or {},
        alert=alert,
        new_key=new_key,
        rate_errors=rate_errors or {},
        default_rate=c.settings.open311.rate_per_minute,
        max_rate=apikeys.MAX_RATE,
    )
    return (html, status) if status != 200 else html


@bp.get("/")
@page(Role.ADMIN)
def index() -> Page:
    shown = request.args.get("shown", "")
    kept = reveal.take("api_key", shown, _actor_id()) if shown else None
    new_key = apikeys.NewKey(int(kept["id"]), str(kept["name"]), str(kept["key"])) if kept else None
    alert = None
    if shown and new_key is None:
        alert = "该密钥已显示过，不能再次查看；如未保存，请吊销后重新创建。"
    return _keys_page(new_key=new_key, alert=alert)


@bp.post("/")
@page(Role.ADMIN)
def create() -> Page:
    form = {k: request.form.get(k, "") for k in ("name", "contact", "rate_per_minute")}
    c = container()
    try:
        new = apikeys.create_key(
            c.uow(),
            _actor_id(),
            form["name"],
            form["contact"],
            form["rate_per_minute"],
            default_rate=c.settings.open311.rate_per_minute,
            ip=request.remote_addr,
        )
    except ValidationError as exc:
        alert = f"{exc.message}，请按输入框下方的提示修改后重新提交。"
        return _keys_page(form, exc.field_errors, alert, status=422)
    # Shown once, on the page the redirect leads to: only its hash is kept.
    shown = reveal.keep("api_key", {"id": new.id, "name": new.name, "key": new.key}, _actor_id())
    if shown is None:
        return _keys_page(new_key=new)
    return redirect(url_for("apikeys.index", shown=shown))


@bp.post("/<int:key_id>/rate")
@page(Role.ADMIN)
def set_rate(key_id: int) -> Page:
    try:
        changed = apikeys.set_rate(
            container().uow(),
            _actor_id(),
            key_id,
            request.form.get("rate_per_minute", ""),
            ip=request.remote_addr,
        )
    except NotFound as exc:
        return render_page("error.html", message=exc.message), 404
    except ValidationError as exc:
        message = exc.field_errors["rate_per_minute"]
        return _keys_page(
            alert=f"调用频率未修改：{message}", rate_errors={key_id: message}, status=422
        )
    flash("已修改调用频率，一分钟内生效" if changed else "调用频率未变")
    return redirect(url_for("apikeys.index") + f"#key-{key_id}")


@bp.post("/<int:key_id>/revoke")
@page(Role.ADMIN)
def revoke(key_id: int) -> Page:
    c = container()
    try:
        revoked = apikeys.revoke_key(
            c.uow(), _actor_id(), key_id, now=c.dispatch.utcnow(), ip=request.remote_addr
        )
    except NotFound as exc:
        return render_page("error.html", message=exc.message), 404
    flash("已吊销该密钥，使用它的请求立即被拒绝" if revoked else "该密钥此前已吊销")
    return redirect(url_for("apikeys.index") + f"#key-{key_id}")
