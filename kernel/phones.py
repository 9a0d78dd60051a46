"""Telephone numbers as people type them and as the hotline stores them.

Every entry of a number (the console, the public form, Open311, follow-up replies, searches)
goes through `normalize_phone`, so one number has one spelling and searches find it:

- Chinese numbers are kept as their national digits, without spaces or dashes: mobiles
  `13912345679`, landlines with their area code `051885551234`, 400/800 numbers
  `4008123123`; a leading +86 or 0086 is dropped.
- Numbers of other countries are kept in E.164, with their plus: `+447911123456`.

A number `phonenumbers` does not know as valid (a 10-digit mobile, a landline without its
area code, a short code) is refused with a message a person can act on.
"""

import re

import phonenumbers

# What people put between digits: spaces (also full-width), dashes, dots, brackets.
_SEPARATORS = re.compile(r"[\s\-－—.()（）]+")
_ALLOWED = re.compile(r"^\+?[0-9]{3,20}$")


class InvalidPhone(ValueError):
    """The text is not a telephone number the hotline can call back."""


def normalize_phone(text: str) -> str:
    """Return the number as stored, or raise InvalidPhone with a message in Chinese."""
    compact = _SEPARATORS.sub("", text.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _ALLOWED.match(compact):
        raise InvalidPhone("电话号码只能包含数字，国际号码以 + 开头")
    try:
        number = phonenumbers.parse(compact, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidPhone("无法识别的电话号码") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_why_invalid(compact, number))
    if number.country_code == 86:
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return re.sub(r"\D", "", national)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _why_invalid(compact: str, number: phonenumbers.PhoneNumber) -> str:
    if number.country_code != 86:
        return "不是有效的国际电话号码"
    digits = str(number.national_number)
    if digits.startswith("1") and len(digits) == 11:
        return "没有这个手机号段，请核对号码"
    if digits.startswith("1") and len(digits) >= 9:
        return f"手机号码应为11位数字（现为{len(digits)}位）"
    if not compact.lstrip("+").startswith(("0", "86")) and len(digits) in (7, 8):
        return "固定电话请加区号，例如 0518-85551234"
    return "不是有效的电话号码"


def phone_or_none(text: str | None) -> str | None:
    """Normalise an optional number: empty text is no number."""
    if text is None or not text.strip():
        return None
    return normalize_phone(text)
