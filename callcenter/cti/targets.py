"""Where an operator may transfer a caller or whom they may bring into a three-way call.

Two sources: `telephony.transfer_targets` (110/119/120/122 and any line the centre lists)
and the unit directory, each active unit's phone in 系统管理 → 单位 (0710-88881201 is dialled
as 071088881201). Nothing else: a number not in this list is refused before any seat dials
it, and the edge lets a caller transferred onward through the PSTN gateway reach only these
numbers (`/acd/transfer_target`).
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa

from infra.db import UnitOfWork
from infra.models import Unit
from infra.settings import TelephonySettings

EMERGENCY = "紧急求助与专线"
UNITS = "成员单位"
_DIALLABLE = re.compile(r"^[0-9]{3,20}$")


@dataclass(frozen=True, slots=True)
class Target:
    number: str
    name: str
    group: str


def dialled(phone: str | None) -> str | None:
    """A directory phone as the edge dials it (digits only), None when it is no number."""
    digits = re.sub(r"[\s()-]", "", phone or "")
    return digits if _DIALLABLE.match(digits) else None


def transfer_targets(tel: TelephonySettings, uow: UnitOfWork) -> list[Target]:
    """The centre's listed numbers first, then the units by name; each number once."""
    out = [Target(n, name, EMERGENCY) for n, name in tel.transfer_targets.items()]
    seen = {t.number for t in out}
    with uow:
        rows = uow.session.execute(
            sa.select(Unit.name, Unit.phone).where(Unit.active).order_by(Unit.name)
        ).all()
    for name, phone in rows:
        number = dialled(phone)
        if number is not None and number not in seen and number != tel.number:
            out.append(Target(number, name, UNITS))
            seen.add(number)
    return out


def allowed(tel: TelephonySettings, uow: UnitOfWork, number: str) -> bool:
    return any(t.number == number for t in transfer_targets(tel, uow))
