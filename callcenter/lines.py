"""Merged lines (合并热线): the numbers besides the hotline's own that reach its seats.

Cities merge department lines into 12345 (烟台 merged 53); some keep the old number ringing
the hotline, some forward it (双号并行). A call belongs to a line when it dials the line's
number, or dials the hotline with the line's number in its Diversion header (a forwarded
call). Its call carries the line's name (the screen pop, the call record, 坐席监控) and the
line's skill: the ACD gives it only to seats whose operator is one of the line's operators
(`skills_of`, at 签入坐席). Calls to the hotline number itself carry no skill: any seat.

Lines are kept in the database and set in 系统管理 → 热线号码 (admins, audited).
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa

from callcenter.models import PhoneLine
from infra.audit import record_audit
from infra.db import UnitOfWork
from infra.db import utcnow
from infra.models import User
from kernel.errors import NotFound
from kernel.errors import ValidationError
from kernel.roles import HOTLINE_ROLES

NUMBER = re.compile(r"^[0-9]{3,20}$")


@dataclass(frozen=True, slots=True)
class Line:
    id: int
    number: str
    name: str
    skill: str
    user_ids: tuple[int, ...]
    active: bool


def _line(row: PhoneLine) -> Line:
    return Line(
        row.id, row.number, row.name, row.skill, tuple(int(u) for u in row.user_ids), row.active
    )


def skill_of(number: str) -> str:
    """The ACD skill of a line: derived from its number, so nobody has to invent one."""
    return f"line{number}"


def list_lines(uow: UnitOfWork) -> list[Line]:
    with uow:
        rows = uow.session.scalars(sa.select(PhoneLine).order_by(PhoneLine.id)).all()
        return [_line(r) for r in rows]


def line_of_call(uow: UnitOfWork, dialled: str, diverted_from: str) -> Line | None:
    """The active line a call belongs to: the number it dialled, else the number that
    forwarded it to the hotline (Diversion); None for the hotline's own calls."""
    wanted = [n for n in (dialled, diverted_from) if n and NUMBER.match(n)]
    if not wanted:
        return None
    with uow:
        rows = {
            r.number: r
            for r in uow.session.scalars(
                sa.select(PhoneLine).where(PhoneLine.number.in_(wanted), PhoneLine.active)
            )
        }
        for number in wanted:
            if number in rows:
                return _line(rows[number])
    return None


def skills_of(uow: UnitOfWork, user_id: int) -> tuple[str, ...]:
    """The skills of the active lines this operator takes."""
    with uow:
        rows = uow.session.scalars(sa.select(PhoneLine).where(PhoneLine.active)).all()
        return tuple(sorted(r.skill for r in rows if user_id in [int(u) for u in r.user_ids]))


def save_line(
    uow: UnitOfWork,
    actor_id: int | None,
    *,
    line_id: int | None,
    number: str,
    name: str,
    user_ids: list[int],
    active: bool = True,
    hotline_number: str,
    ip: str | None = None,
) -> Line:
    """Create a line (`line_id` None) or change one; checked whole before anything is kept.

    :raises ValidationError: a field is wrong (each named), or the number or skill is taken.
    :raises NotFound: no such line.
    """
    number, name = number.strip(), name.strip()
    skill = skill_of(number)
    errors: dict[str, str] = {}
    if not NUMBER.match(number):
        errors["number"] = "号码为 3 到 20 位数字，例如 83333333"
    elif number == hotline_number:
        errors["number"] = "这是热线本身的号码，无需登记"
    if not 1 <= len(name) <= 50:
        errors["name"] = "请填写线路名称（50 字以内），例如 原市长热线"
    with uow:
        s = uow.session
        staff = set(
            s.scalars(
                sa.select(User.id).where(
                    User.id.in_(user_ids), User.active, User.role.in_(sorted(HOTLINE_ROLES))
                )
            )
        )
        if set(user_ids) - staff:
            errors["user_ids"] = "只能选择在用的坐席人员（话务员、班长、督办或管理员）"
        others = sa.select(PhoneLine).where(PhoneLine.id != (line_id or 0))
        if not errors.get("number") and s.scalar(others.where(PhoneLine.number == number)):
            errors["number"] = "该号码已登记为另一条线路"
        if errors:
            raise ValidationError(errors, "热线号码信息有误")
        if line_id is None:
            row = PhoneLine(number=number, name=name, skill=skill, created_at=utcnow())
            s.add(row)
        else:
            found = s.get(PhoneLine, line_id)
            if found is None:
                raise NotFound("线路不存在", {"line_id": line_id})
            row = found
            row.number, row.name, row.skill = number, name, skill
        row.user_ids = sorted(staff)
        row.active = active
        s.flush()
        details = {"number": number, "name": name, "skill": skill, "user_ids": sorted(staff)}
        action = "line_created" if line_id is None else "line_changed"
        record_audit(s, actor_id, action, None, details | {"active": active}, ip=ip)
        saved = _line(row)
        uow.commit()
    return saved
