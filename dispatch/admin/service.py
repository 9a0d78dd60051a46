"""Administration use cases: user accounts and the unit catalogue (成员单位 / 派单目录).

No Flask here. Every function runs one transaction on the given unit of work and writes an
audit row (action ``admin_<what>``) in that same transaction, so a change and its record
commit together or not at all. Bad input raises `ValidationError` with a message per field;
unknown ids raise `NotFound`.
"""

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.routing.models import Matter
from dispatch.tickets.models import CalendarOverride
from dispatch.tickets.models import SlaRule
from dispatch.tickets.policy import ANY_TYPE
from infra import auth
from infra.audit import record_audit
from infra.db import UnitOfWork
from infra.db import utcnow
from infra.models import Unit
from infra.models import User
from infra.settings import AuthSettings
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import Role
from kernel.units import UnitKind
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Duration

MAX_DISPLAY_NAME = 100
MAX_UNIT_CODE = 64
MAX_UNIT_NAME = 100
MAX_PHONE = 32
MAX_HEAD_NAME = 50
MAX_KEYWORD = 32
MAX_KEYWORDS = 100
MAX_PLACE = 50
MAX_PLACES = 300

# The level a unit's parent must have; kinds missing here stand alone (no parent).
PARENT_KIND: dict[UnitKind, UnitKind] = {
    UnitKind.STREET: UnitKind.DISTRICT,
    UnitKind.COMMUNITY: UnitKind.STREET,
}
_CODE = re.compile(r"[A-Za-z0-9_-]+")
_PHONE = re.compile(r"[0-9+\-() ]+")
# A head's phone is dialled or texted by people reading a 督办单: digits and hyphens only.
_HEAD_PHONE = re.compile(r"[0-9-]+")
_ID = re.compile(r"[0-9]{1,9}")
# Keywords are typed as one line: spaces, ASCII or Chinese commas, 、 and semicolons separate.
_KEYWORD_SEPARATORS = re.compile(r"[\s,，、;；]+")


# ---------------------------------------------------------------- users


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    display_name: str
    role: Role
    unit_id: int | None
    unit_name: str | None
    active: bool
    last_login_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class UserInput:
    """A new account as typed into the form; `role` is the raw value of the role select."""

    username: str
    display_name: str
    role: str
    password: str
    unit_code: str | None = None


def list_users(uow: UnitOfWork) -> list[UserRow]:
    """Every account, active or not, by username."""
    with uow:
        rows = uow.session.execute(
            sa.select(User, Unit.name)
            .outerjoin(Unit, Unit.id == User.unit_id)
            .order_by(User.username)
        ).all()
        return [
            UserRow(
                id=user.id,
                username=user.username,
                display_name=user.display_name,
                role=user.role,
                unit_id=user.unit_id,
                unit_name=unit_name,
                active=user.active,
                last_login_at=user.last_login_at,
            )
            for user, unit_name in rows
        ]


def create_user(
    uow: UnitOfWork,
    actor_id: int,
    new: UserInput,
    *,
    ip: str | None = None,
    rules: AuthSettings = auth.DEFAULT_RULES,
) -> int:
    """Create an account and return its id; the initial password must meet `rules`.

    The admin chose the initial password and tells it to the person: at the first sign-in
    every page leads to 修改密码 until they pick their own (as after a reset).

    :raises ValidationError: unknown role, bad username/password/display name, duplicate
        username, or a unit that does not fit the role.
    """
    try:
        role = Role(new.role)
    except ValueError:
        raise ValidationError({"role": "请选择角色"}, "用户信息有误") from None
    errors: dict[str, str] = {}
    display_name = new.display_name.strip()
    if len(display_name) > MAX_DISPLAY_NAME:
        errors["display_name"] = f"姓名不能超过{MAX_DISPLAY_NAME}个字符"
    with uow:
        try:
            user = auth.create_user(
                uow.session,
                auth.NewUser(
                    username=new.username.strip(),
                    password=new.password,
                    role=role,
                    display_name=display_name,
                    unit_code=new.unit_code or None,
                ),
                rules,
            )
        except ValidationError as exc:
            raise ValidationError({**exc.field_errors, **errors}, exc.message) from None
        if errors:
            raise ValidationError(errors, "用户信息有误")  # rolled back: nothing is kept
        user.must_change_password = True
        record_audit(
            uow.session,
            actor_id,
            "admin_create_user",
            None,
            {
                "user_id": user.id,
                "username": user.username,
                "role": role.value,
                "unit_id": user.unit_id,
            },
            ip=ip,
        )
        uow.commit()
        return user.id


def set_user_active(
    uow: UnitOfWork, actor_id: int, user_id: int, active: bool, *, ip: str | None = None
) -> bool:
    """Deactivate (停用) or reactivate (启用) an account.

    Deactivation ends the user's sessions (refused at their next request); API tokens are
    cached per process for a few seconds (see `auth.TokenCache`), so they stop within that
    time.

    Return whether anything changed (it is already so: no change, no audit row).

    :raises ValidationError: an admin tries to deactivate their own account.
    :raises NotFound: no such user.
    """
    if user_id == actor_id and not active:
        raise ValidationError({"active": "不能停用自己的账号，请由其他管理员操作"}, "不能停用自己")
    with uow:
        user = _user(uow, user_id)
        if user.active == active:
            return False
        user.active = active
        if not active:
            auth.end_sessions(user)
        record_audit(
            uow.session,
            actor_id,
            "admin_activate_user" if active else "admin_deactivate_user",
            None,
            {"user_id": user.id, "username": user.username},
            ip=ip,
        )
        uow.commit()
        return True


def reset_password(uow: UnitOfWork, actor_id: int, user_id: int, *, ip: str | None = None) -> str:
    """Give the user a random temporary password and return it (shown once, never stored).

    The user's sessions end, and at the next sign-in every page leads to 修改密码 until they
    pick their own password: the admin who read the temporary one must not know it.

    :raises NotFound: no such user.
    """
    temporary = auth.temporary_password()
    with uow:
        user = _user(uow, user_id)
        user.password_hash = auth.hash_password(temporary)
        user.must_change_password = True
        auth.end_sessions(user)
        record_audit(
            uow.session,
            actor_id,
            "admin_reset_password",
            None,
            {"user_id": user.id, "username": user.username},
            ip=ip,
        )
        uow.commit()
    return temporary


def unlock_user(
    uow: UnitOfWork, actor_id: int, user_id: int, guard: auth.LoginGuard, *, ip: str | None = None
) -> bool:
    """Lift a lock that failed sign-ins put on the account; return whether it was locked.

    :raises NotFound: no such user.
    """
    with uow:
        user = _user(uow, user_id)
        if not guard.unlock(user.username):
            return False
        record_audit(
            uow.session,
            actor_id,
            "admin_unlock_user",
            None,
            {"user_id": user.id, "username": user.username},
            ip=ip,
        )
        uow.commit()
        return True


def _user(uow: UnitOfWork, user_id: int) -> User:
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在", {"user_id": user_id})
    return user


# ---------------------------------------------------------------- units


@dataclass(frozen=True, slots=True)
class UnitRow:
    id: int
    code: str
    name: str
    kind: UnitKind
    parent_id: int | None
    parent_name: str | None
    responsibility: str
    keywords: tuple[str, ...]
    phone: str | None
    active: bool
    places: tuple[str, ...] = ()
    head_name: str | None = None  # 单位负责人, copied on supervision orders (督办单)
    head_phone: str | None = None


@dataclass(frozen=True, slots=True)
class UnitInput:
    """A new unit as typed into the form; `kind` and `parent_id` are raw form values."""

    code: str
    name: str
    kind: str
    parent_id: str = ""


@dataclass(frozen=True, slots=True)
class UnitChanges:
    """An edited catalogue entry; `keywords` is the one-line text of the form."""

    name: str
    responsibility: str
    keywords: str
    phone: str
    active: bool
    places: str = ""  # roads, estates, landmarks: the locality gazetteer reads them
    head_name: str = ""  # 单位负责人: copied on supervision orders (督办单); optional
    head_phone: str = ""


def parse_keywords(text: str) -> list[str]:
    """Split "物业 电梯，燃气" into ["物业", "电梯", "燃气"], dropping repeats."""
    return list(dict.fromkeys(k for k in _KEYWORD_SEPARATORS.split(text) if k))


def list_units(uow: UnitOfWork) -> list[UnitRow]:
    """Every unit, active or not, parents before children."""
    with uow:
        units = uow.session.scalars(
            sa.select(Unit).order_by(Unit.parent_id.nulls_first(), Unit.id)
        ).all()
        names = {u.id: u.name for u in units}
        return [
            UnitRow(
                id=u.id,
                code=u.code,
                name=u.name,
                kind=u.kind,
                parent_id=u.parent_id,
                parent_name=names.get(u.parent_id) if u.parent_id else None,
                responsibility=u.responsibility,
                keywords=tuple(u.keywords),
                phone=u.phone,
                active=u.active,
                places=tuple(u.places or ()),
                head_name=u.head_name,
                head_phone=u.head_phone,
            )
            for u in units
        ]


def create_unit(uow: UnitOfWork, actor_id: int, new: UnitInput, *, ip: str | None = None) -> int:
    """Add a unit to the catalogue and return its id.

    :raises ValidationError: empty or bad code/name, duplicate code, unknown kind, or a parent
        of the wrong level (a street's parent is a district, a community's a street; other
        kinds have none).
    """
    code, name = new.code.strip(), new.name.strip()
    errors: dict[str, str] = {}
    if not code:
        errors["code"] = "请填写单位代码"
    elif len(code) > MAX_UNIT_CODE or not _CODE.fullmatch(code):
        errors["code"] = f"代码只能包含字母、数字、连字符和下划线，最多{MAX_UNIT_CODE}位"
    _check_name(name, errors)
    kind: UnitKind | None = None
    try:
        kind = UnitKind(new.kind)
    except ValueError:
        errors["kind"] = "请选择单位类型"
    with uow:
        s = uow.session
        if "code" not in errors and s.scalar(sa.select(Unit.id).where(Unit.code == code)):
            errors["code"] = "单位代码已存在"
        parent = _parent(uow, new.parent_id, errors)
        if kind is not None and "parent" not in errors:
            _check_parent(kind, parent, errors)
        if errors:
            raise ValidationError(errors, "单位信息有误")
        assert kind is not None
        unit = Unit(
            code=code,
            name=name,
            kind=kind,
            parent_id=parent.id if parent else None,
            responsibility="",
            keywords=[],
        )
        s.add(unit)
        s.flush()
        record_audit(
            s,
            actor_id,
            "admin_create_unit",
            None,
            {
                "unit_id": unit.id,
                "code": code,
                "name": name,
                "kind": kind.value,
                "parent_id": unit.parent_id,
            },
            ip=ip,
        )
        uow.commit()
        return unit.id


def update_unit(
    uow: UnitOfWork, actor_id: int, unit_id: int, changes: UnitChanges, *, ip: str | None = None
) -> bool:
    """Edit a unit's catalogue entry: name, responsibility, keywords, phone, head, active.

    Return whether anything changed (an unchanged form writes no audit row).

    :raises ValidationError: empty or too long name, bad phone, too many or too long keywords,
        too long head name, bad head phone.
    :raises NotFound: no such unit.
    """
    name = changes.name.strip()
    responsibility = changes.responsibility.strip()
    phone = changes.phone.strip() or None
    keywords = parse_keywords(changes.keywords)
    places = parse_keywords(changes.places)
    head_name = changes.head_name.strip() or None
    head_phone = changes.head_phone.strip() or None
    errors: dict[str, str] = {}
    _check_name(name, errors)
    if head_name is not None and len(head_name) > MAX_HEAD_NAME:
        errors["head_name"] = f"负责人姓名不能超过{MAX_HEAD_NAME}个字符"
    if head_phone is not None and (
        len(head_phone) > MAX_PHONE or not _HEAD_PHONE.fullmatch(head_phone)
    ):
        errors["head_phone"] = f"负责人电话只能包含数字和连字符（-），最多{MAX_PHONE}位"
    if len(places) > MAX_PLACES:
        errors["places"] = f"地名最多{MAX_PLACES}个"
    elif any(len(p) > MAX_PLACE for p in places):
        errors["places"] = f"每个地名不能超过{MAX_PLACE}个字符"
    if phone is not None and (len(phone) > MAX_PHONE or not _PHONE.fullmatch(phone)):
        errors["phone"] = f"电话只能包含数字、空格、+、-和括号，最多{MAX_PHONE}位"
    if len(keywords) > MAX_KEYWORDS:
        errors["keywords"] = f"关键词最多{MAX_KEYWORDS}个"
    elif any(len(k) > MAX_KEYWORD for k in keywords):
        errors["keywords"] = f"每个关键词不能超过{MAX_KEYWORD}个字符"
    with uow:
        unit = uow.session.get(Unit, unit_id)
        if unit is None:
            raise NotFound("单位不存在", {"unit_id": unit_id})
        if errors:
            raise ValidationError(errors, "单位信息有误")
        after = {
            "name": name,
            "responsibility": responsibility,
            "keywords": keywords,
            "places": places,
            "phone": phone,
            "head_name": head_name,
            "head_phone": head_phone,
            "active": changes.active,
        }
        changed = {k: v for k, v in after.items() if getattr(unit, k) != v}
        if not changed:
            return False
        for key, value in changed.items():
            setattr(unit, key, value)
        record_audit(
            uow.session,
            actor_id,
            "admin_update_unit",
            None,
            {"unit_id": unit.id, "code": unit.code, "changed": changed},
            ip=ip,
        )
        uow.commit()
        return True


def _check_name(name: str, errors: dict[str, str]) -> None:
    if not name:
        errors["name"] = "请填写单位名称"
    elif len(name) > MAX_UNIT_NAME:
        errors["name"] = f"单位名称不能超过{MAX_UNIT_NAME}个字符"


def _parent(uow: UnitOfWork, raw: str, errors: dict[str, str]) -> Unit | None:
    raw = raw.strip()
    if not raw:
        return None
    parent = uow.session.get(Unit, int(raw)) if _ID.fullmatch(raw) else None
    if parent is None:
        errors["parent"] = "上级单位不存在"
    return parent


def _check_parent(kind: UnitKind, parent: Unit | None, errors: dict[str, str]) -> None:
    wanted = PARENT_KIND.get(kind)
    if wanted is None:
        if parent is not None:
            errors["parent"] = "委办局、公共事业单位和区不设上级单位"
    elif parent is None or parent.kind is not wanted:
        errors["parent"] = (
            "街道的上级单位必须是区" if kind is UnitKind.STREET else "社区的上级单位必须是街道"
        )


# ---------------------------------------------------------------- SLA rules and calendar days


@dataclass(frozen=True, slots=True)
class SlaRuleRow:
    request_type: str  # a RequestType value, or "*" for every type of that urgency
    urgency: str
    sign: str | None
    reply: str | None
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CalendarDayRow:
    day: dt.date
    workday: bool
    note: str | None


def list_sla_rules(uow: UnitOfWork) -> list[SlaRuleRow]:
    with uow:
        rules = uow.session.scalars(sa.select(SlaRule).order_by(SlaRule.request_type, SlaRule.id))
        return [
            SlaRuleRow(r.request_type, r.urgency.value, r.sign, r.reply, r.updated_at)
            for r in rules
        ]


def set_sla_rule(
    uow: UnitOfWork,
    actor_id: int,
    request_type: str,
    urgency: str,
    sign: str,
    reply: str,
    *,
    ip: str | None = None,
) -> str:
    """Set (or, with both durations blank, remove) a clock rule; return what happened.

    :raises ValidationError: unknown type or urgency, or a duration that does not parse.
    """
    errors: dict[str, str] = {}
    if request_type != ANY_TYPE and request_type not in {t.value for t in RequestType}:
        errors["request_type"] = "请选择诉求类型"
    if urgency not in {u.value for u in Urgency}:
        errors["urgency"] = "请选择紧急程度"
    values: dict[str, str | None] = {}
    for name, raw in (("sign", sign), ("reply", reply)):
        text = raw.strip()
        if not text:
            values[name] = None
            continue
        try:
            values[name] = str(Duration.parse_spoken(text))
        except ValueError:
            errors[name] = "请写数字加单位，如 30分钟、2小时、1个工作日、4个工作小时"
    if errors:
        raise ValidationError(errors, "时限设置有误")
    with uow:
        rule = uow.session.scalar(
            sa.select(SlaRule).where(
                SlaRule.request_type == request_type, SlaRule.urgency == Urgency(urgency)
            )
        )
        if values["sign"] is None and values["reply"] is None:
            if rule is None:
                return "unchanged"
            uow.session.delete(rule)
            outcome = "removed"
        elif rule is None:
            uow.session.add(
                SlaRule(
                    request_type=request_type,
                    urgency=Urgency(urgency),
                    sign=values["sign"],
                    reply=values["reply"],
                    updated_by_id=actor_id,
                    updated_at=utcnow(),
                )
            )
            outcome = "set"
        else:
            rule.sign, rule.reply = values["sign"], values["reply"]
            rule.updated_by_id, rule.updated_at = actor_id, utcnow()
            outcome = "set"
        record_audit(
            uow.session,
            actor_id,
            "admin_set_sla_rule",
            None,
            {"request_type": request_type, "urgency": urgency, **values, "outcome": outcome},
            ip=ip,
        )
        uow.commit()
        return outcome


def list_calendar_days(uow: UnitOfWork) -> list[CalendarDayRow]:
    with uow:
        days = uow.session.scalars(sa.select(CalendarOverride).order_by(CalendarOverride.day))
        return [CalendarDayRow(d.day, d.workday, d.note) for d in days]


def set_calendar_day(
    uow: UnitOfWork, actor_id: int, day: str, workday: str, note: str, *, ip: str | None = None
) -> dt.date:
    """Declare a day working or off (over the official calendar and config.yaml).

    :raises ValidationError: a bad date or choice, or a note over 100 characters.
    """
    errors: dict[str, str] = {}
    try:
        parsed = dt.date.fromisoformat(day.strip())
    except ValueError:
        errors["day"] = "日期格式应为 YYYY-MM-DD"
    if workday not in ("true", "false"):
        errors["workday"] = "请选择上班或休息"
    if len(note.strip()) > 100:
        errors["note"] = "说明不能超过100个字符"
    if errors:
        raise ValidationError(errors, "日历调整有误")
    with uow:
        row = uow.session.get(CalendarOverride, parsed)
        if row is None:
            row = CalendarOverride(day=parsed, workday=workday == "true")
            uow.session.add(row)
        row.workday = workday == "true"
        row.note = note.strip() or None
        row.updated_by_id, row.updated_at = actor_id, utcnow()
        record_audit(
            uow.session,
            actor_id,
            "admin_set_calendar_day",
            None,
            {"day": parsed.isoformat(), "workday": row.workday},
            ip=ip,
        )
        uow.commit()
        return parsed


def delete_calendar_day(uow: UnitOfWork, actor_id: int, day: str, *, ip: str | None = None) -> bool:
    """Remove an admin's day; return False when there was none."""
    try:
        parsed = dt.date.fromisoformat(day)
    except ValueError:
        raise NotFound("没有这一天的日历调整", {"day": day}) from None
    with uow:
        row = uow.session.get(CalendarOverride, parsed)
        if row is None:
            return False
        uow.session.delete(row)
        record_audit(
            uow.session,
            actor_id,
            "admin_delete_calendar_day",
            None,
            {"day": parsed.isoformat()},
            ip=ip,
        )
        uow.commit()
        return True


@dataclass(frozen=True, slots=True)
class MatterRow:
    path: str
    unit_name: str | None
    local: bool
    unit_id: int | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatterInput:
    """A matter of the 事项目录 as typed into the form (raw form values)."""

    path: str
    unit_id: str
    local: bool
    keywords: str = ""


MAX_MATTER_PATH = 200
MATTER_TARGET_KINDS = (UnitKind.DEPARTMENT, UnitKind.UTILITY)


def save_matter(uow: UnitOfWork, actor_id: int, new: MatterInput, *, ip: str | None = None) -> str:
    """Add a matter to the catalogue, or change the one with the same path; return "added",
    "changed" or "unchanged".

    :raises ValidationError: an empty or malformed path, a local matter with a unit, a city
        matter without one, a unit that is not an active department or utility, bad keywords.
    """
    levels = [level.strip() for level in new.path.replace("／", "/").split("/")]
    path = "/".join(levels)
    keywords = parse_keywords(new.keywords)
    errors: dict[str, str] = {}
    if not new.path.strip():
        errors["path"] = "请填写事项分类，如 城市管理/市容秩序/占道经营"
    elif any(not level for level in levels) or len(levels) < 2:
        errors["path"] = "事项分类至少两级，用 / 分隔，每级不能为空"
    elif len(path) > MAX_MATTER_PATH:
        errors["path"] = f"事项分类不能超过{MAX_MATTER_PATH}个字符"
    if len(keywords) > MAX_KEYWORDS or any(len(k) > MAX_KEYWORD for k in keywords):
        errors["keywords"] = f"关键词最多{MAX_KEYWORDS}个，每个不超过{MAX_KEYWORD}个字符"
    with uow:
        s = uow.session
        unit_id: int | None = None
        if new.local:
            if new.unit_id:
                errors["unit_id"] = "属地办理的事项不指定主管部门（派往诉求发生地的街道）"
        elif not _ID.fullmatch(new.unit_id or ""):
            errors["unit_id"] = "请选择主管部门，或勾选属地办理"
        else:
            unit = s.get(Unit, int(new.unit_id))
            if unit is None or not unit.active or unit.kind not in MATTER_TARGET_KINDS:
                errors["unit_id"] = "主管部门应为启用中的委办局或公共事业单位"
            else:
                unit_id = unit.id
        if errors:
            raise ValidationError(errors, "事项信息有误")
        matter = s.scalar(sa.select(Matter).where(Matter.path == path))
        after = {"unit_id": unit_id, "local": new.local, "keywords": keywords, "active": True}
        if matter is None:
            matter = Matter(path=path, **after)
            s.add(matter)
            outcome = "added"
        else:
            changed = {k: v for k, v in after.items() if getattr(matter, k) != v}
            if not changed:
                return "unchanged"
            for key, value in changed.items():
                setattr(matter, key, value)
            outcome = "changed"
        record_audit(
            s,
            actor_id,
            "admin_save_matter",
            None,
            {"path": path, "unit_id": unit_id, "local": new.local, "outcome": outcome},
            ip=ip,
        )
        uow.commit()
        return outcome


def list_matters(session: Session) -> list[MatterRow]:
    """The matter catalogue (事项目录): who handles each category, or that it is local."""
    rows = session.execute(
        sa.select(Matter.path, Unit.name, Matter.local, Matter.unit_id, Matter.keywords)
        .outerjoin(Unit, Unit.id == Matter.unit_id)
        .where(Matter.active)
        .order_by(Matter.path)
    )
    return [
        MatterRow(path, name, local, unit_id, tuple(keywords or ()))
        for path, name, local, unit_id, keywords in rows
    ]


def audit_retrain(
    uow: UnitOfWork, actor_id: int | None, job_id: str, new: bool, *, ip: str | None = None
) -> None:
    with uow:
        record_audit(
            uow.session, actor_id, "routing.retrain", None, {"job": job_id, "new": new}, ip=ip
        )
        uow.commit()
