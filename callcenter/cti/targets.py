"""Where an operator may transfer a caller or whom they may bring into a three-way call.

Numbers from two sources: `telephony.transfer_targets` (110/119/120/122 and any line the
centre lists) and the unit directory, each active unit's phone in 系统管理 → 单位
(0710-88881201 is dialled as 071088881201). Nothing else: a number not in this list is
refused before any seat dials it, and the edge lets a caller transferred onward through the
PSTN gateway reach only these numbers (`/acd/transfer_target`).

And, for a transfer only (not a three-way call), the hall itself (`seat_targets`): another
seat signed in now (`seat:S`), and the team lead on duty (`lead`: any team lead signed in at
a seat). The caller waits in the queue for that seat or a lead (callcenter.acd.transfers).
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa

from callcenter.acd.engine import Acd
from callcenter.acd.transfers import LEAD_SKILL
from callcenter.acd.transfers import SEAT_SKILL
from infra.db import UnitOfWork
from infra.models import Unit
from infra.models import User
from infra.settings import TelephonySettings

EMERGENCY = "紧急求助与专线"
UNITS = "成员单位"
SEATS = "坐席与值班班长"
LEAD = LEAD_SKILL
SEAT = SEAT_SKILL
_STATES = {
    "ready": "就绪",
    "not_ready": "示忙",
    "ringing": "振铃",
    "talking": "通话中",
    "wrap_up": "话后整理",
}
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


def seat_targets(acd: Acd, uow: UnitOfWork, own: str | None) -> list[Target]:
    """Seats signed in now other than the operator's own, and the team lead on duty when one
    is signed in at a seat: 值班班长 first, then the seats by name."""
    seats = []
    for seat in acd.seats():
        h = acd.seat(seat)
        if seat != own and h.get("state") in _STATES:
            seats.append((seat, h))
    ids = {int(h["agent"][1:]) for _, h in seats if h.get("agent", "")[1:].isdigit()}
    with uow:
        rows = uow.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids)))
        names = {f"u{uid}": name for uid, name in rows}
    out = []
    leads = [names.get(h.get("agent", ""), seat) for seat, h in seats if _lead(h)]
    if leads:
        out.append(Target(LEAD, f"值班班长（{'、'.join(sorted(leads))}）", SEATS))
    for seat, h in sorted(seats):
        who = names.get(h.get("agent", ""), "")
        state = _STATES[h["state"]]
        out.append(Target(SEAT + seat, f"坐席 {seat} {who}（{state}）".replace(" （", "（"), SEATS))
    return out


def _lead(h: dict[str, str]) -> bool:
    return LEAD in (h.get("skills") or "").split(",")
