"""Telephone numbers: one spelling for each number, and a reason for each refusal."""

import pytest

from kernel.phones import InvalidPhone
from kernel.phones import normalize_phone


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13912345679", "13912345679"),
        ("139-1234-5679", "13912345679"),
        ("139 1234 5679", "13912345679"),
        ("+86 139 1234 5679", "13912345679"),
        ("0086 13912345679", "13912345679"),
        ("0518-85551234", "051885551234"),
        ("（0518）85551234", "051885551234"),
        ("010-12345678", "01012345678"),
        ("400-812-3123", "4008123123"),
        ("800 810 1234", "8008101234"),
        ("+44 7911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+1 (415) 555-2671", "+14155552671"),
    ],
)
def test_numbers_are_kept_in_one_spelling(typed: str, stored: str) -> None:
    assert normalize_phone(typed) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("1391234567", "手机号码应为11位数字（现为10位）"),
        ("139123456789", "手机号码应为11位数字（现为12位）"),
        ("17940087375", "没有这个手机号段，请核对号码"),
        ("85551234", "固定电话请加区号，例如 0518-85551234"),
        ("12345", "不是有效的电话号码"),
        ("call me", "电话号码只能包含数字，国际号码以 + 开头"),
        ("139#1234", "电话号码只能包含数字，国际号码以 + 开头"),
        ("+1 415 555 267", "不是有效的国际电话号码"),
        ("", "电话号码只能包含数字，国际号码以 + 开头"),
    ],
)
def test_numbers_nobody_can_call_back_are_refused_with_a_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as refused:
        normalize_phone(typed)
    assert str(refused.value) == reason
