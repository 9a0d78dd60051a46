"""Pages of the admin area: user accounts, the unit catalogue and the effective settings.

Plain HTML forms, no script needed: every POST carries the session's CSRF token as a field
(checked by `current_actor()` before a view runs), redirects after success with a flash
message, and re-renders with 422 and messages next to the fields when input is refused.
The rules live in `dispatch.admin.service`.
"""

from collections.abc import Mapping
from typing import Any
from typing import cast

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from agents_ui import reveal
from agents_ui.web import LABELS
from agents_ui.web import page
from agents_ui.web import render_page
from agents_ui.wiring import container
from callcenter.cti.console import sign_out_seat
from dispatch.admin import service as admin
from dispatch.routing import learning
from infra.http import current_actor
from infra.http import login_guard
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import Role
from kernel.units import UnitKind
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Duration

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/admin")

UNIT_KIND_LABELS: dict[UnitKind, str] = {
    UnitKind.DEPARTMENT: "委办局",
    UnitKind.UTILITY: "公共事业单位",
    UnitKind.DISTRICT: "区",
    UnitKind.STREET: "街道",
    UnitKind.COMMUNITY: "社区",
}
URGENCIES = (Urgency.CRITICAL, Urgency.URGENT, Urgency.NORMAL)
Page = str | tuple[str, int] | Response


def cron_words(expr: str) -> str:
    """A schedule as people say it: '30 2 * * *' → '每天 02:30' ('0 7 * * 1' → '每周一 07:00')."""
    parts = expr.split()
    if len(parts) == 5 and parts[0].isdigit() and parts[1].isdigit() and parts[2:4] == ["*", "*"]:
        at = f"{int(parts[1]):02d}:{int(parts[0]):02d}"
        if parts[4] == "*":
            return f"每天 {at}"
        if parts[4].isdigit() and 0 <= int(parts[4]) <= 7:
            return f"每周{'日一二三四五六日'[int(parts[4])]} {at}"
    return f"按计划（{expr}）"


def duration_label(text: str | None) -> str:
    """'5wd' → '5个工作日'; None (not overridden) → '—'."""
    if text is None:
        return "—"
    return Duration.parse(text).spoken()


def _actor_id() -> int:
    actor_id = current_actor().user_id
    assert actor_id is not None  # pages are session-authenticated: always a real user
    return actor_id


def _refused(exc: ValidationError) -> str:
    return f"{exc.message}，请按输入框下方的提示修改后重新提交。"


def _not_found(message: str) -> tuple[str, int]:
    return render_page("error.html", message=message), 404


# ---------------------------------------------------------------- users


def _users_page(
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    alert: str | None = None,
    status: int = 200,
) -> Page:
    c = container()
    users = admin.list_users(c.uow())
    rules = c.settings.auth
    html = render_page(
        "admin_users.html",
        users=users,
        locked=login_guard().locked([u.username for u in users]),
        password_rule=f"至少{rules.password_min_length}位，"
        f"含小写字母、大写字母、数字、符号中的至少{rules.password_classes}种",
        units=[u for u in admin.list_units(c.uow()) if u.active],
        roles=list(Role),
        form=form or {"role": Role.OPERATOR.value},
        errors=errors or {},
        alert=alert,
        me=current_actor().user_id,
    )
    return (html, status) if status != 200 else html


@bp.get("/")
@page(Role.ADMIN)
def index() -> Page:
    return _users_page()


@bp.post("/users")
@page(Role.ADMIN)
def create_user() -> Page:
    form = {k: request.form.get(k, "") for k in ("username", "display_name", "role", "unit")}
    new = admin.UserInput(
        username=form["username"],
        display_name=form["display_name"],
        role=form["role"],
        password=request.form.get("password", ""),
        unit_code=form["unit"] if form["role"] == Role.LIAISON.value else None,
    )
    try:
        admin.create_user(
            container().uow(),
            _actor_id(),
            new,
            ip=request.remote_addr,
            rules=container().settings.auth,
        )
    except ValidationError as exc:
        return _users_page(form, exc.field_errors, _refused(exc), 422)
    flash(f"已创建用户 {new.username.strip()}，请将初始密码告知本人并提醒其登录后修改。")
    return redirect(url_for("admin.index"))


def _user_row(user_id: int) -> admin.UserRow:
    return next(u for u in admin.list_users(container().uow()) if u.id == user_id)


@bp.post("/users/<int:user_id>/active")
@page(Role.ADMIN)
def set_user_active(user_id: int) -> Page:
    active = request.form.get("active") == "1"
    try:
        changed = admin.set_user_active(
            container().uow(), _actor_id(), user_id, active, ip=request.remote_addr
        )
    except NotFound as exc:
        return _not_found(exc.message)
    except ValidationError as exc:
        return _users_page(alert=exc.field_errors["active"], status=422)
    if changed and not active:
        # This process forgets the user's cached tokens now; other processes within 10 s.
        container().tokens.clear()
        # A deactivated operator takes no more calls, even with a console still open.
        sign_out_seat(user_id)
    user = _user_row(user_id)
    flash(f"已{'启用' if active else '停用'}用户 {user.username}" if changed else "账号状态未变")
    return redirect(url_for("admin.index"))


@bp.post("/users/<int:user_id>/password")
@page(Role.ADMIN)
def reset_password(user_id: int) -> Page:
    try:
        temporary = admin.reset_password(
            container().uow(), _actor_id(), user_id, ip=request.remote_addr
        )
    except NotFound as exc:
        return _not_found(exc.message)
    # Shown once, on the page this redirects to: reloading it resets nothing again.
    shown = reveal.keep("password", {"user_id": user_id, "temporary": temporary}, _actor_id())
    if shown is None:
        return render_page("admin_password.html", user=_user_row(user_id), temporary=temporary)
    return redirect(url_for("admin.password_shown", user_id=user_id, shown=shown))


@bp.post("/users/<int:user_id>/unlock")
@page(Role.ADMIN)
def unlock_user(user_id: int) -> Page:
    try:
        unlocked = admin.unlock_user(
            container().uow(), _actor_id(), user_id, login_guard(), ip=request.remote_addr
        )
    except NotFound as exc:
        return _not_found(exc.message)
    user = _user_row(user_id)
    flash(
        f"已解锁用户 {user.username}，可以重新登录"
        if unlocked
        else f"用户 {user.username} 未被锁定"
    )
    return redirect(url_for("admin.index"))


@bp.get("/users/<int:user_id>/password")
@page(Role.ADMIN)
def password_shown(user_id: int) -> Page:
    kept = reveal.take("password", request.args.get("shown", ""), _actor_id())
    if kept is None or kept.get("user_id") != user_id:
        flash("临时密码已显示过，不能再次查看；如未记下，请再次重置。")
        return redirect(url_for("admin.index"))
    user = _user_row(user_id)
    return render_page("admin_password.html", user=user, temporary=kept["temporary"])


# ---------------------------------------------------------------- units


def _units_page(
    new: dict[str, str] | None = None,
    new_errors: dict[str, str] | None = None,
    edit_id: int | None = None,
    edit_form: dict[str, Any] | None = None,
    edit_errors: dict[str, str] | None = None,
    alert: str | None = None,
    status: int = 200,
) -> Page:
    """The units page; `edit_id` opens that unit's edit form (with the values as sent)."""
    units = admin.list_units(container().uow())
    editing = next((u for u in units if u.id == edit_id), None)
    if edit_id is not None and editing is None:
        return _not_found("单位不存在")
    if editing is not None and edit_form is None:
        edit_form = {
            "name": editing.name,
            "responsibility": editing.responsibility,
            "keywords": " ".join(editing.keywords),
            "places": " ".join(editing.places),
            "phone": editing.phone or "",
            "head_name": editing.head_name or "",
            "head_phone": editing.head_phone or "",
            "active": editing.active,
        }
    html = render_page(
        "admin_units.html",
        units=units,
        kinds=list(UNIT_KIND_LABELS),
        kind_labels=UNIT_KIND_LABELS,
        parent_kinds=admin.PARENT_KIND,
        new=new or {},
        new_errors=new_errors or {},
        editing=editing,
        edit_form=edit_form or {},
        edit_errors=edit_errors or {},
        alert=alert,
    )
    return (html, status) if status != 200 else html


@bp.get("/units")
@page(Role.ADMIN)
def units() -> Page:
    raw = request.args.get("edit", "")
    return _units_page(edit_id=int(raw) if raw.isdecimal() and len(raw) < 10 else None)


@bp.post("/units")
@page(Role.ADMIN)
def create_unit() -> Page:
    form = {k: request.form.get(k, "") for k in ("code", "name", "kind", "parent_id")}
    try:
        admin.create_unit(
            container().uow(), _actor_id(), admin.UnitInput(**form), ip=request.remote_addr
        )
    except ValidationError as exc:
        return _units_page(new=form, new_errors=exc.field_errors, alert=_refused(exc), status=422)
    flash(f"已添加单位 {form['name'].strip()}，请在下方补充职责、关键词和电话。")
    return redirect(url_for("admin.units"))


@bp.post("/units/<int:unit_id>")
@page(Role.ADMIN)
def update_unit(unit_id: int) -> Page:
    fields = ("name", "responsibility", "keywords", "phone", "places", "head_name", "head_phone")
    form = {k: request.form.get(k, "") for k in fields}
    changes = admin.UnitChanges(**form, active=request.form.get("active") == "1")
    try:
        changed = admin.update_unit(
            container().uow(), _actor_id(), unit_id, changes, ip=request.remote_addr
        )
    except NotFound as exc:
        return _not_found(exc.message)
    except ValidationError as exc:
        return _units_page(
            edit_id=unit_id,
            edit_form={**form, "active": changes.active},
            edit_errors=exc.field_errors,
            alert=_refused(exc),
            status=422,
        )
    if changed:
        container().assistant.router.invalidate()
    flash(f"已保存单位 {changes.name.strip()}" if changed else "单位信息未变")
    return redirect(url_for("admin.units") + f"#unit-{unit_id}")


# ---------------------------------------------------------------- settings


def _settings_page(
    errors: dict[str, str] | None = None, form: Mapping[str, str] | None = None, status: int = 200
) -> Page:
    c = container()
    s = c.settings
    urgency_labels = cast(Mapping[Urgency, str], LABELS["urgency"])
    type_labels = cast(Mapping[RequestType, str], LABELS["request_type"])
    rules = {(r.request_type, r.urgency): r for r in admin.list_sla_rules(c.uow())}
    clocks = []
    for u in URGENCIES:
        rule = rules.get(("*", u.value))
        clocks.append(
            {
                "urgency": u.value,
                "label": urgency_labels[u],
                "config_sign": s.sla.clocks[u.value].sign,
                "config_reply": s.sla.clocks[u.value].reply,
                "sign": rule.sign if rule else None,
                "reply": rule.reply if rule else None,
            }
        )
    overrides = [
        (type_labels[RequestType(rtype)], urgency_labels[Urgency(urgency)], o)
        for rtype, per_urgency in s.sla.overrides.items()
        for urgency, o in per_urgency.items()
    ]
    type_rules = [
        (r, type_labels[RequestType(r.request_type)], urgency_labels[Urgency(r.urgency)])
        for key, r in sorted(rules.items())
        if key[0] != "*"
    ]
    html = render_page(
        "admin_settings.html",
        sla=s.sla,
        clocks=clocks,
        overrides=overrides,
        type_rules=type_rules,
        days=admin.list_calendar_days(c.uow()),
        calendar=s.calendar,
        duration=duration_label,
        errors=errors or {},
        form=form or {},
        request_types=list(RequestType),
        urgencies=URGENCIES,
    )
    return (html, status) if status != 200 else html


@bp.get("/settings")
@page(Role.ADMIN)
def settings() -> Page:
    return _settings_page()


@bp.post("/settings/sla")
@page(Role.ADMIN)
def set_sla_rule() -> Page:
    f = request.form
    try:
        outcome = admin.set_sla_rule(
            container().uow(),
            _actor_id(),
            f.get("request_type", ""),
            f.get("urgency", ""),
            f.get("sign", ""),
            f.get("reply", ""),
            ip=request.remote_addr,
        )
    except ValidationError as exc:
        return _settings_page(exc.field_errors, f, 422)
    container().overlay.invalidate()
    flash(
        {
            "set": "已保存时限，新派的工单按新时限计算（其他服务进程30秒内生效）",
            "removed": "已清除该项，恢复为默认时限",
            "unchanged": "没有需要清除的设置",
        }[outcome]
    )
    return redirect(url_for("admin.settings") + "#sla-title")


@bp.post("/settings/calendar")
@page(Role.ADMIN)
def set_calendar_day() -> Page:
    f = request.form
    try:
        day = admin.set_calendar_day(
            container().uow(),
            _actor_id(),
            f.get("day", ""),
            f.get("workday", ""),
            f.get("note", ""),
            ip=request.remote_addr,
        )
    except ValidationError as exc:
        return _settings_page(exc.field_errors, f, 422)
    container().overlay.invalidate()
    flash(f"已设置 {day.isoformat()} 为{'上班' if f.get('workday') == 'true' else '休息'}日")
    return redirect(url_for("admin.settings") + "#calendar-title")


@bp.post("/settings/calendar/<day>/delete")
@page(Role.ADMIN)
def delete_calendar_day(day: str) -> Page:
    removed = admin.delete_calendar_day(container().uow(), _actor_id(), day, ip=request.remote_addr)
    container().overlay.invalidate()
    flash(f"已删除 {day} 的日历调整" if removed else "没有这一天的日历调整")
    return redirect(url_for("admin.settings") + "#calendar-title")


# ---------------------------------------------------------------- routing models

TASK_LABELS = {"target": "承办单位", "category": "事项分类", "request_type": "诉求类型"}
STATUS_LABELS = {"active": "启用中", "retired": "已被替换", "rejected": "未启用（不优于现版本）"}
TRIGGER_LABELS = {"schedule": "定时", "manual": "管理员", "cli": "命令行", "demo": "演示数据"}


def _routing_page(
    form: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    alert: str | None = None,
    status: int = 200,
) -> Page:
    c = container()
    with c.uow() as uow:
        versions = learning.versions_view(uow.session)
        matters = admin.list_matters(uow.session)
    departments = [
        u for u in admin.list_units(c.uow()) if u.active and u.kind in admin.MATTER_TARGET_KINDS
    ]
    html = render_page(
        "admin_routing.html",
        versions=versions["items"],
        active=versions["active"],
        matters=matters,
        departments=departments,
        form=form or {},
        errors=errors or {},
        alert=alert,
        routing=c.settings.routing,
        cron_text=cron_words(c.settings.routing.retrain_cron),
        task_labels=TASK_LABELS,
        status_labels=STATUS_LABELS,
        trigger_labels=TRIGGER_LABELS,
    )
    return (html, status) if status != 200 else html


@bp.get("/routing")
@page(Role.ADMIN)
def routing() -> Page:
    return _routing_page()


@bp.post("/routing/matters")
@page(Role.ADMIN)
def save_matter() -> Page:
    f = request.form
    form = {k: f.get(k, "") for k in ("path", "unit_id", "keywords")} | {
        "local": "1" if f.get("local") == "1" else ""
    }
    new = admin.MatterInput(form["path"], form["unit_id"], bool(form["local"]), form["keywords"])
    try:
        outcome = admin.save_matter(container().uow(), _actor_id(), new, ip=request.remote_addr)
    except ValidationError as exc:
        return _routing_page(form, exc.field_errors, _refused(exc), 422)
    container().assistant.router.invalidate()
    flash(
        {
            "added": "已添加事项，派单建议即刻按新目录给出（模型下次训练时学习它）",
            "changed": "已修改事项",
            "unchanged": "事项未变",
        }[outcome]
    )
    return redirect(url_for("admin.routing") + "#matters-title")


@bp.post("/routing/train")
@page(Role.ADMIN)
def train_routing() -> Page:
    import redis

    from dispatch.jobs import enqueue_retrain

    c = container()
    try:
        job, new = enqueue_retrain(c.redis, _actor_id())
    except redis.RedisError:
        flash("后台任务队列（Redis）不可用，未能提交训练任务，请稍后重试或联系运维。")
        return redirect(url_for("admin.routing"))
    admin.audit_retrain(c.uow(), _actor_id(), job.id, new, ip=request.remote_addr)
    flash(
        "已提交重新训练任务，完成后在下方列表显示新版本及其评分（通常一分钟内）。"
        if new
        else "已有一个训练任务在排队或进行中，请稍后刷新查看结果。"
    )
    return redirect(url_for("admin.routing"))
