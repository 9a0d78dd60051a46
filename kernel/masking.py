"""Caller masking: who sees a caller's name and phone, and masking them in fields and free text."""

import re
from collections.abc import Iterable
from typing import Final
from typing import overload

from kernel.roles import HOTLINE_ROLES
from kernel.roles import Role


def identity_visible(role: Role, *, confidential: bool, disclosure_allowed: bool) -> bool:
    """Tell whether a viewer of this role sees the caller's name and phone unmasked.

    The hotline sees them (and each view is audited). Units see them only when the ticket
    allows disclosure; a confidential (保密) ticket never shows them to a unit. Leaders read
    briefs and figures, not personal data.
    """
    if role in HOTLINE_ROLES:
        return True
    if role is Role.LIAISON:
        return disclosure_allowed and not confidential
    return False


def mask_phone(phone: str | None, *, full: bool = False) -> str | None:
    """Keep the first 3 and last 4 digits of a phone number: 138****5678.

    `full` (a confidential ticket seen by a unit) hides every digit and the length too.
    """
    if not phone:
        return phone
    if full:
        return FULL_PHONE_MASK
    if len(phone) <= 7:
        return phone[:1] + "*" * (len(phone) - 1)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str | None, *, full: bool = False) -> str | None:
    """Keep the surname only: 张** ; `full` hides the surname as well: ** ."""
    if not name:
        return name
    if full:
        return FULL_NAME_MASK
    return name[0] + "*" * max(1, len(name) - 1)


FULL_PHONE_MASK: Final = "***********"


FULL_NAME_MASK: Final = "**"


# What a masked name becomes inside free text: reads as Chinese (来电人某某反映) and hides
# the name's length.
NAME_IN_TEXT: Final = "某某"


# A run of digits (ASCII or full-width, as citizens type them on phones) that may be split
# by single spaces or hyphens into groups of 3 or more (138 1234 5678, 6222-0200-...), with
# an ID number's final X. Dates (2026-11-16) have 2-digit groups and stay whole.
_DIGIT = "[0-9０-９]"


_NUMBER_RUN = re.compile(
    rf"(?<![0-9０-９])(?:\+?86[ -]?)?{_DIGIT}{{3,}}(?:[ -]{_DIGIT}{{3,}})*[XxＸｘ]?(?![0-9０-９])"
)


# Seven digits or more is a telephone number (a local number has 7, a mobile 11), an ID
# number (15 or 18) or a bank card (12 to 19): nothing a unit needs to read.
_MIN_PERSONAL_DIGITS: Final = 7


# A ticket number (JC + local date + id) names no person: JC202611160000042 stays readable.
_TICKET_NUMBER = re.compile(r"[A-Za-z]{1,8}$")


_COMPOUND_SURNAMES: Final = frozenset(
    {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文"}
)


# How people are named by surname alone in a complaint: 张先生, 李女士, 王阿姨.
_SURNAME_TITLES: Final = (
    "先生",
    "女士",
    "小姐",
    "阿姨",
    "大爷",
    "大妈",
    "师傅",
    "老师",
    "同志",
    "某",
)


def _mask_number(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(ch.isdigit() for ch in run)
    if digits < _MIN_PERSONAL_DIGITS:
        return run
    before = match.string[: match.start()]
    if _TICKET_NUMBER.search(before) and run.isdigit() and run.startswith("20") and digits >= 15:
        return run
    return "".join("*" if ch.isdigit() or ch in "XxＸｘ" else ch for ch in run)


def _surname(name: str) -> str:
    return name[:2] if name[:2] in _COMPOUND_SURNAMES else name[:1]


@overload
def mask_free_text(text: str, names: Iterable[str | None] = ()) -> str: ...


@overload
def mask_free_text(text: None, names: Iterable[str | None] = ()) -> None: ...


def mask_free_text(text: str | None, names: Iterable[str | None] = ()) -> str | None:
    """Hide personal data inside free text: the given names, phones, ID and bank card numbers.

    Every name in `names` (the caller's) becomes 某某 wherever it appears, and its surname
    followed by a form of address (张先生) becomes 某先生. Every number of seven digits or
    more, with or without spaces or hyphens (phones, 身份证 numbers, bank cards), has its
    digits starred; shorter numbers (house numbers, amounts, dates) and ticket numbers stay.
    What cannot be recognised without a list (another person's name, a number written in
    Chinese characters) is not masked: units still get the text the hotline chose to send.
    """
    if not text:
        return text
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len)[::-1]:
        text = text.replace(name, NAME_IN_TEXT)
        surname = _surname(name)
        for title in _SURNAME_TITLES:
            text = text.replace(surname + title, "某" + title if title != "某" else "某某")
    return _NUMBER_RUN.sub(_mask_number, text)
