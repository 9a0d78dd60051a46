import logging
import math
from collections.abc import Callable
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.workdays import ChineseWorkdays
from kernel.worktime import MAX_SEARCH_DAYS
from kernel.worktime import Deadline
from kernel.worktime import Duration
from kernel.worktime import DurationUnit
from kernel.worktime import Light
from kernel.worktime import WorkCalendar
from kernel.worktime import elapsed_share
from kernel.worktime import light

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """Return an aware Asia/Shanghai datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class WeekdaysOnly:
    """Monday to Friday working, no holidays."""

    def __init__(self) -> None:
        self.calls = 0

    def is_workday(self, day: date) -> bool:
        self.calls += 1
        return day.weekday() < 5


class NeverWorks:
    """A misconfigured calendar without any working day."""

    def __init__(self) -> None:
        self.calls = 0

    def is_workday(self, day: date) -> bool:
        self.calls += 1
        return False


@pytest.fixture
def weekdays() -> WorkCalendar:
    return WorkCalendar(WeekdaysOnly())


@pytest.fixture
def official() -> WorkCalendar:
    return WorkCalendar(ChineseWorkdays())


# March 2024 with the weekdays-only fake: Fri 8, Sat 9, Sun 10, Mon 11, Tue 12.
FRIDAY = (2024, 3, 8)
SATURDAY = (2024, 3, 9)
MONDAY = (2024, 3, 11)
TUESDAY = (2024, 3, 12)
WEDNESDAY = (2024, 3, 13)


# --- Duration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("15m", 15, DurationUnit.MINUTES),
        ("2h", 2, DurationUnit.HOURS),
        ("3d", 3, DurationUnit.DAYS),
        ("8wh", 8, DurationUnit.WORK_HOURS),
        ("1wd", 1, DurationUnit.WORK_DAYS),
        ("0m", 0, DurationUnit.MINUTES),
        ("  10wd \n", 10, DurationUnit.WORK_DAYS),
    ],
)
def test_parse_accepts_whole_amounts_with_a_known_unit(text: str, amount: int, unit: DurationUnit):
    assert Duration.parse(text) == Duration(amount, unit)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "5", "-1wd", "1.5h", "1 week", "1 wd", "abc", "wd", "1w", "1WD", "１wd", "2h30m"],
)
def test_parse_rejects_anything_else_naming_the_text_and_the_accepted_forms(text: str):
    with pytest.raises(ValueError, match="invalid duration") as info:
        Duration.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert "'15m'" in message and "'1wd'" in message


def test_parse_rejects_none():
    with pytest.raises(ValueError, match="invalid duration None"):
        Duration.parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["15m", "2h", "3d", "8wh", "1wd", "0wd"])
def test_duration_str_round_trips_through_parse(text: str):
    assert str(Duration.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "working"),
    [("15m", False), ("2h", False), ("3d", False), ("8wh", True), ("1wd", True)],
)
def test_only_wh_and_wd_count_working_time(text: str, working: bool):
    assert Duration.parse(text).working is working


@pytest.mark.parametrize("amount", [-1, True, 1.5])
def test_duration_rejects_negative_or_non_integer_amounts(amount: Any):
    with pytest.raises(ValueError, match="non-negative integer"):
        Duration(amount, DurationUnit.HOURS)


def test_duration_coerces_a_plain_unit_string_and_rejects_unknown_units():
    assert Duration(1, "wd").unit is DurationUnit.WORK_DAYS  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown duration unit"):
        Duration(1, "week")  # type: ignore[arg-type]


# --- WorkCalendar construction ------------------------------------------------------------


@pytest.mark.parametrize(("start", "end"), [(time(18), time(9)), (time(9), time(9))])
def test_calendar_rejects_working_hours_that_do_not_open_before_they_close(start: time, end: time):
    with pytest.raises(ValueError, match="must be before day_end"):
        WorkCalendar(WeekdaysOnly(), day_start=start, day_end=end)


def test_calendar_defaults_to_shanghai_nine_to_six():
    calendar = WorkCalendar(WeekdaysOnly())
    assert calendar.tz == SHANGHAI
    assert (calendar.day_start, calendar.day_end) == (time(9), time(18))


# --- calendar-time clocks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "text", "due"),
    [
        # National Day 2026 holiday and a weekend night: calendar clocks keep running.
        (local(2026, 10, 1, 10), "15m", local(2026, 10, 1, 10, 15)),
        (local(2026, 10, 3, 23), "2h", local(2026, 10, 4, 1)),
        (local(2026, 9, 30, 12), "24h", local(2026, 10, 1, 12)),
        (local(2026, 2, 15, 9), "3d", local(2026, 2, 18, 9)),
        (local(2026, 10, 4, 17, 50), "30m", local(2026, 10, 4, 18, 20)),
    ],
)
def test_calendar_clocks_ignore_weekends_holidays_and_working_hours(
    official: WorkCalendar, start: datetime, text: str, due: datetime
):
    result = official.add(start, Duration.parse(text))
    assert result == due
    assert result.tzinfo is UTC


# --- working-time clocks ------------------------------------------------------------------


def test_one_working_day_from_friday_afternoon_is_due_monday_same_time(weekdays: WorkCalendar):
    result = weekdays.add(local(*FRIDAY, 16), Duration.parse("1wd"))
    assert result == local(*MONDAY, 16)
    assert result == utc(*MONDAY, 8)
    assert result.tzinfo is UTC


def test_start_given_in_utc_is_interpreted_on_the_local_clock(weekdays: WorkCalendar):
    # 08:00 UTC is 16:00 in Shanghai.
    assert weekdays.add(utc(*FRIDAY, 8), Duration.parse("1wd")) == utc(*MONDAY, 8)


def test_clock_started_on_saturday_counts_from_monday_opening(weekdays: WorkCalendar):
    assert weekdays.add(local(*SATURDAY, 10), Duration.parse("1wd")) == local(*MONDAY, 18)
    assert weekdays.add(local(*SATURDAY, 10), Duration.parse("2wh")) == local(*MONDAY, 11)


def test_clock_started_before_opening_counts_from_opening(weekdays: WorkCalendar):
    assert weekdays.add(local(*TUESDAY, 7, 30), Duration.parse("1wh")) == local(*TUESDAY, 10)


def test_clock_started_after_closing_counts_from_next_opening(weekdays: WorkCalendar):
    assert weekdays.add(local(*TUESDAY, 19), Duration.parse("1wh")) == local(*WEDNESDAY, 10)


def test_clock_started_exactly_at_closing_counts_from_next_opening(weekdays: WorkCalendar):
    assert weekdays.add(local(*TUESDAY, 18), Duration.parse("1wh")) == local(*WEDNESDAY, 10)


@pytest.mark.parametrize(
    ("start", "text"),
    [
        (local(*TUESDAY, 9), "9wh"),
        (local(*TUESDAY, 17), "1wh"),
        (local(*TUESDAY, 7, 30), "1wd"),
        (local(*MONDAY, 18, 30), "1wd"),
    ],
)
def test_result_landing_on_closing_time_stays_on_that_day(
    weekdays: WorkCalendar, start: datetime, text: str
):
    assert weekdays.add(start, Duration.parse(text)) == local(*TUESDAY, 18)


def test_friday_evening_until_closing_stays_friday_not_monday_morning(weekdays: WorkCalendar):
    assert weekdays.add(local(*FRIDAY, 16), Duration.parse("2wh")) == local(*FRIDAY, 18)


def test_adding_zero_returns_start_in_utc_even_outside_working_hours(weekdays: WorkCalendar):
    start = local(*SATURDAY, 10)
    for text in ("0wd", "0wh", "0m"):
        result = weekdays.add(start, Duration.parse(text))
        assert result == start
        assert result.tzinfo is UTC


def test_working_days_are_multiples_of_the_configured_working_hours():
    morning_only = WorkCalendar(WeekdaysOnly(), day_start=time(8, 30), day_end=time(12))
    # Friday 11:00-12:00 is 1h, the remaining 2.5h run from Monday 08:30.
    assert morning_only.add(local(*FRIDAY, 11), Duration.parse("1wd")) == local(*MONDAY, 11)


def test_ten_working_day_extension_is_added_to_the_due_date(weekdays: WorkCalendar):
    due = weekdays.add(local(*FRIDAY, 16), Duration.parse("1wd"))
    extended = weekdays.add(due, Duration.parse("10wd"))
    assert extended == local(2024, 3, 25, 16)


def test_adding_working_time_asks_about_each_day_only_a_few_times():
    workdays = WeekdaysOnly()
    calendar = WorkCalendar(workdays)
    calendar.deadline(local(*FRIDAY, 16), Duration.parse("10wd"))
    # Two walks (due and warn_at) over about two weeks; minute stepping would be thousands.
    assert workdays.calls <= 40


def test_calendar_without_any_working_day_raises_instead_of_hanging():
    workdays = NeverWorks()
    calendar = WorkCalendar(workdays)
    with pytest.raises(ValueError, match=f"no working day found within {MAX_SEARCH_DAYS} days"):
        calendar.add(local(*FRIDAY, 16), Duration.parse("1wd"))
    assert workdays.calls == MAX_SEARCH_DAYS + 1


def test_absurdly_long_working_duration_is_rejected_quickly(weekdays: WorkCalendar):
    with pytest.raises(ValueError, match="cannot fit"):
        weekdays.add(local(*FRIDAY, 16), Duration(10**9, DurationUnit.WORK_DAYS))


# --- official Chinese calendar ------------------------------------------------------------


def test_five_working_days_skip_the_2026_national_day_holiday_and_use_the_makeup_saturday(
    official: WorkCalendar,
):
    # Tue Sept 29 10:00 leaves 8h that day, then Sept 30, Oct 8, 9, 10 (make-up Saturday),
    # skipping Oct 1-7 and Sunday Oct 11.
    assert official.add(local(2026, 9, 29, 10), Duration.parse("5wd")) == local(2026, 10, 12, 10)


def test_clock_can_fall_due_on_the_2026_makeup_saturday(official: WorkCalendar):
    assert official.add(local(2026, 9, 29, 10), Duration.parse("4wd")) == local(2026, 10, 10, 10)


def test_clock_can_fall_due_on_the_2026_makeup_sunday_before_national_day(official: WorkCalendar):
    assert official.add(local(2026, 9, 18, 16), Duration.parse("1wd")) == local(2026, 9, 20, 16)


def test_mid_autumn_friday_2026_is_skipped(official: WorkCalendar):
    assert official.add(local(2026, 9, 24, 16), Duration.parse("1wd")) == local(2026, 9, 28, 16)


def test_return_window_of_two_working_days_spans_national_day(official: WorkCalendar):
    assert official.add(local(2026, 9, 30, 15), Duration.parse("2wd")) == local(2026, 10, 9, 15)


def test_extension_over_national_day_counts_only_working_days(official: WorkCalendar):
    # Oct 8, 9, 10 (make-up), 12-16, 19, 20.
    assert official.add(local(2026, 9, 30, 16), Duration.parse("10wd")) == local(2026, 10, 20, 16)


def test_spring_festival_2026_makeup_saturday_before_the_holiday_is_a_working_day(
    official: WorkCalendar,
):
    assert official.add(local(2026, 2, 13, 16), Duration.parse("1wd")) == local(2026, 2, 14, 16)


def test_spring_festival_2026_holiday_is_skipped(official: WorkCalendar):
    # Feb 15-23 are off; Feb 14 (Saturday) is a make-up working day.
    assert official.add(local(2026, 2, 14, 16), Duration.parse("1wd")) == local(2026, 2, 24, 16)
    assert official.add(local(2026, 2, 14, 10), Duration.parse("3wd")) == local(2026, 2, 26, 10)


def test_reply_deadline_over_national_day_turns_yellow_after_three_quarters_of_working_time(
    official: WorkCalendar,
):
    deadline = official.deadline(local(2026, 9, 29, 10), Duration.parse("5wd"))
    # 75% of 45h is 33h45m: 8h + 9h + 9h by Oct 8, then 7h45m on Oct 9.
    assert deadline == Deadline(
        start=local(2026, 9, 29, 10),
        due=local(2026, 10, 12, 10),
        warn_at=local(2026, 10, 9, 16, 45),
    )


# --- ChineseWorkdays adapter --------------------------------------------------------------


def test_official_calendar_knows_holidays_and_makeup_days():
    workdays = ChineseWorkdays()
    assert workdays.is_workday(date(2026, 10, 1)) is False
    assert workdays.is_workday(date(2026, 9, 25)) is False
    assert workdays.is_workday(date(2026, 10, 10)) is True
    assert workdays.is_workday(date(2026, 9, 20)) is True
    assert workdays.is_workday(date(2026, 10, 11)) is False


def test_overrides_beat_the_official_calendar():
    workdays = ChineseWorkdays({date(2026, 10, 1): True, date(2026, 10, 12): False})
    assert workdays.is_workday(date(2026, 10, 1)) is True
    assert workdays.is_workday(date(2026, 10, 12)) is False
    calendar = WorkCalendar(workdays)
    assert calendar.add(local(2026, 9, 30, 16), Duration.parse("1wd")) == local(2026, 10, 1, 16)


def test_overrides_are_copied_so_later_edits_do_not_leak_in():
    overrides = {date(2026, 10, 1): True}
    workdays = ChineseWorkdays(overrides)
    overrides[date(2026, 10, 1)] = False
    assert workdays.is_workday(date(2026, 10, 1)) is True


def test_year_without_official_data_falls_back_to_weekdays_and_warns_once(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING, logger="infra.workdays")
    workdays = ChineseWorkdays()
    assert workdays.is_workday(date(2027, 1, 4)) is True  # Monday
    assert workdays.is_workday(date(2027, 1, 2)) is False  # Saturday
    assert workdays.is_workday(date(2027, 1, 5)) is True
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "infra.workdays"
    assert "2027" in warnings[0].getMessage()
    assert warnings[0].args == (2027,)


def test_override_for_an_uncovered_year_is_used_without_a_warning(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING, logger="infra.workdays")
    workdays = ChineseWorkdays({date(2027, 1, 1): False})
    assert workdays.is_workday(date(2027, 1, 1)) is False  # a Friday, made a holiday by admins
    assert caplog.records == []


def test_covers_reports_whether_official_data_exists_for_the_year():
    workdays = ChineseWorkdays({date(2027, 1, 1): False})
    assert workdays.covers(date(2026, 12, 31)) is True
    assert workdays.covers(date(2026, 10, 3)) is True  # a holiday is still covered
    assert workdays.covers(date(2027, 1, 1)) is False


# --- deadlines and warnings ---------------------------------------------------------------


def test_working_clock_warns_after_three_quarters_of_working_time(weekdays: WorkCalendar):
    deadline = weekdays.deadline(local(*FRIDAY, 16), Duration.parse("1wd"))
    # 75% of 9h is 6h45m: 2h on Friday, then 4h45m from Monday 09:00.
    assert deadline.start == local(*FRIDAY, 16)
    assert deadline.warn_at == local(*MONDAY, 13, 45)
    assert deadline.due == local(*MONDAY, 16)
    assert {deadline.start.tzinfo, deadline.warn_at.tzinfo, deadline.due.tzinfo} == {UTC}


@pytest.mark.parametrize(
    ("text", "warn_at", "due"),
    [
        ("2h", local(*SATURDAY, 11, 30), local(*SATURDAY, 12)),
        ("15m", local(*SATURDAY, 10, 11, 15), local(*SATURDAY, 10, 15)),
        ("24h", local(2024, 3, 10, 4), local(2024, 3, 10, 10)),
    ],
)
def test_calendar_clock_warns_after_three_quarters_of_calendar_time(
    weekdays: WorkCalendar, text: str, warn_at: datetime, due: datetime
):
    deadline = weekdays.deadline(local(*SATURDAY, 10), Duration.parse(text))
    assert (deadline.warn_at, deadline.due) == (warn_at, due)


def test_warning_share_is_configurable(weekdays: WorkCalendar):
    half = weekdays.deadline(local(*FRIDAY, 16), Duration.parse("1wd"), warning_share=0.5)
    assert half.warn_at == local(*MONDAY, 11, 30)
    full = weekdays.deadline(local(*FRIDAY, 16), Duration.parse("1wd"), warning_share=1.0)
    assert full.warn_at == full.due


@pytest.mark.parametrize("share", [0.0, -0.25, 1.01, math.nan])
def test_warning_share_outside_zero_to_one_is_rejected(weekdays: WorkCalendar, share: float):
    with pytest.raises(ValueError, match="warning_share"):
        weekdays.deadline(local(*FRIDAY, 16), Duration.parse("1wd"), warning_share=share)


def test_deadline_is_normalised_to_utc_and_must_be_ordered():
    deadline = Deadline(
        start=local(*FRIDAY, 16), due=local(*FRIDAY, 18), warn_at=local(*FRIDAY, 17)
    )
    assert deadline.start == utc(*FRIDAY, 8)
    assert deadline.start.tzinfo is UTC
    with pytest.raises(ValueError, match="start <= warn_at <= due"):
        Deadline(start=local(*FRIDAY, 16), due=local(*FRIDAY, 17), warn_at=local(*FRIDAY, 18))


# --- working seconds ----------------------------------------------------------------------


def test_working_seconds_between_skips_nights_and_weekends(weekdays: WorkCalendar):
    friday, monday = local(*FRIDAY, 16), local(*MONDAY, 10)
    assert weekdays.working_seconds_between(friday, monday) == 3 * 3600
    assert weekdays.working_seconds_between(monday, friday) == -3 * 3600
    assert weekdays.working_seconds_between(local(*SATURDAY, 9), local(*SATURDAY, 17)) == 0


def test_add_working_seconds_accepts_fractions(weekdays: WorkCalendar):
    result = weekdays.add_working_seconds(local(*FRIDAY, 17, 59, 59), 1.5)
    assert result == local(*MONDAY, 9, 0, 0).replace(microsecond=500_000)


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_add_working_seconds_rejects_negative_or_non_finite(weekdays: WorkCalendar, seconds: float):
    with pytest.raises(ValueError, match="finite non-negative"):
        weekdays.add_working_seconds(local(*FRIDAY, 16), seconds)


# --- lights -------------------------------------------------------------------------------

CLOCK = Deadline(start=utc(2024, 3, 8, 2), warn_at=utc(2024, 3, 8, 3, 30), due=utc(2024, 3, 8, 4))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2024, 3, 8, 2), Light.GREEN),
        (utc(2024, 3, 8, 3, 29, 59), Light.GREEN),
        (utc(2024, 3, 8, 3, 30), Light.YELLOW),
        (utc(2024, 3, 8, 4), Light.YELLOW),
        (utc(2024, 3, 8, 4, 0, 1), Light.RED),
        (local(2024, 3, 8, 12, 0, 1), Light.RED),  # same instant as 04:00:01 UTC
    ],
)
def test_running_clock_is_green_then_yellow_at_warning_then_red_once_overdue(
    now: datetime, expected: Light
):
    assert light(CLOCK, now) is expected


def test_clock_met_on_time_stays_green_even_when_looked_at_later():
    assert light(CLOCK, utc(2024, 3, 9), done_at=utc(2024, 3, 8, 4)) is Light.GREEN
    assert light(CLOCK, utc(2024, 3, 9), done_at=utc(2024, 3, 8, 3, 45)) is Light.GREEN


def test_clock_met_late_stays_red():
    assert light(CLOCK, utc(2024, 3, 8, 4, 30), done_at=utc(2024, 3, 8, 4, 0, 1)) is Light.RED


# --- elapsed share ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "share"),
    [
        (local(*FRIDAY, 12), 0.0),  # before the start
        (local(*FRIDAY, 16), 0.0),
        (local(*SATURDAY, 12), 2 / 9),  # the weekend does not use the clock
        (local(*MONDAY, 13, 45), 0.75),
        (local(*MONDAY, 16), 1.0),
        (local(*TUESDAY, 16), 2.0),  # overdue by a full working day
    ],
)
def test_elapsed_share_of_a_working_clock_counts_working_time(
    weekdays: WorkCalendar, now: datetime, share: float
):
    deadline = weekdays.deadline(local(*FRIDAY, 16), Duration.parse("1wd"))
    assert elapsed_share(weekdays, deadline, True, now) == pytest.approx(share)


def test_elapsed_share_of_a_calendar_clock_counts_calendar_time(weekdays: WorkCalendar):
    deadline = weekdays.deadline(local(*SATURDAY, 10), Duration.parse("2h"))
    assert elapsed_share(weekdays, deadline, False, local(*SATURDAY, 11)) == 0.5
    assert elapsed_share(weekdays, deadline, False, local(*SATURDAY, 13)) == 1.5


def test_elapsed_share_of_a_zero_length_clock_is_full_once_due(weekdays: WorkCalendar):
    deadline = weekdays.deadline(local(*FRIDAY, 16), Duration.parse("0wd"))
    assert elapsed_share(weekdays, deadline, True, local(*FRIDAY, 15)) == 0.0
    assert elapsed_share(weekdays, deadline, True, local(*FRIDAY, 16)) == 1.0


# --- naive datetimes ----------------------------------------------------------------------

NAIVE = datetime(2024, 3, 8, 16)
ONE_WD = Duration(1, DurationUnit.WORK_DAYS)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.add(NAIVE, ONE_WD),
        lambda c: c.add(NAIVE, Duration(15, DurationUnit.MINUTES)),
        lambda c: c.deadline(NAIVE, ONE_WD),
        lambda c: c.working_seconds_between(NAIVE, local(*MONDAY, 10)),
        lambda c: c.working_seconds_between(local(*FRIDAY, 10), NAIVE),
        lambda c: c.add_working_seconds(NAIVE, 60),
        lambda c: light(CLOCK, NAIVE),
        lambda c: light(CLOCK, utc(2024, 3, 8), done_at=NAIVE),
        lambda c: elapsed_share(c, CLOCK, True, NAIVE),
        lambda c: Deadline(start=NAIVE, due=local(*MONDAY, 16), warn_at=local(*MONDAY, 12)),
    ],
)
def test_naive_datetimes_are_rejected(weekdays: WorkCalendar, call: Callable[[WorkCalendar], Any]):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(weekdays)
