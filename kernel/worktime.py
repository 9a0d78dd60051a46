"""Service-level clocks: durations, working-time arithmetic, deadlines and traffic lights.

Pure domain code (stdlib only). Working time is counted on the local wall clock of the
calendar's time zone; every public function takes aware datetimes and returns UTC.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from enum import StrEnum
from typing import Any
from typing import Protocol
from typing import Self
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Bounds the search for the next working day so a calendar without any working days
# (misconfiguration, bad overrides) fails loudly instead of hanging a request.
MAX_SEARCH_DAYS = 3660

# ASCII digits only: \d would also accept full-width and other Unicode digits.
_DURATION_RE = re.compile(r"([0-9]+)(wd|wh|m|h|d)")
_ACCEPTED_FORMS = (
    "a non-negative whole number followed by one of m, h, d (calendar time) "
    "or wh, wd (working time), e.g. '15m', '2h', '3d', '8wh', '1wd'"
)


# The same in words: "30分钟", "2小时", "1个工作日", "4个工作小时", "3天".
_SPOKEN_RE = re.compile(r"([0-9]+)\s*个?\s*(工作日|工作小时|工作时|分钟|分|小时|时|天|日)")
_SPOKEN_UNITS = {
    "分钟": "m",
    "分": "m",
    "小时": "h",
    "时": "h",
    "天": "d",
    "日": "d",
    "工作小时": "wh",
    "工作时": "wh",
    "工作日": "wd",
}


class DurationUnit(StrEnum):
    """Unit of a clock duration; m/h/d are calendar time, wh/wd are working time."""

    MINUTES = "m"
    HOURS = "h"
    DAYS = "d"
    WORK_HOURS = "wh"
    WORK_DAYS = "wd"


_SPOKEN_LABELS = {
    DurationUnit.MINUTES: "分钟",
    DurationUnit.HOURS: "小时",
    DurationUnit.DAYS: "天",
    DurationUnit.WORK_HOURS: "个工作小时",
    DurationUnit.WORK_DAYS: "个工作日",
}

_CALENDAR_UNIT_SECONDS = {
    DurationUnit.MINUTES: 60,
    DurationUnit.HOURS: 3600,
    DurationUnit.DAYS: 86400,
}


@dataclass(frozen=True, slots=True)
class Duration:
    """A clock length such as 15 minutes or 5 working days."""

    amount: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        """Validate the amount and coerce a plain unit string to DurationUnit."""
        # bool is an int subclass; True as an amount is always a bug.
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValueError(f"duration amount must be a non-negative integer, got {self.amount!r}")
        try:
            unit = DurationUnit(self.unit)
        except ValueError:
            raise ValueError(
                f"unknown duration unit {self.unit!r}; expected one of m, h, d, wh, wd"
            ) from None
        object.__setattr__(self, "unit", unit)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse a duration such as '15m', '2h', '3d', '8wh' or '1wd'."""
        match = _DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"invalid duration {text!r}: expected {_ACCEPTED_FORMS}")
        return cls(int(match.group(1)), DurationUnit(match.group(2)))

    @classmethod
    def parse_spoken(cls, text: str) -> Self:
        """Parse a duration as people write it ('30分钟', '1个工作日') or as parse does."""
        match = _SPOKEN_RE.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            return cls.parse(text)
        return cls(int(match.group(1)), DurationUnit(_SPOKEN_UNITS[match.group(2)]))

    def spoken(self) -> str:
        """The duration in words: '5个工作日', '30分钟'."""
        return f"{self.amount}{_SPOKEN_LABELS[self.unit]}"

    @property
    def working(self) -> bool:
        """Return True if the duration counts working time only."""
        return self.unit in (DurationUnit.WORK_HOURS, DurationUnit.WORK_DAYS)

    def __str__(self) -> str:
        """Render in the form accepted by parse, e.g. '1wd'."""
        return f"{self.amount}{self.unit.value}"


class Workdays(Protocol):
    """Tells which local dates are working days."""

    def is_workday(self, day: date) -> bool:
        """Return True if `day` is a working day."""
        ...


class Light(StrEnum):
    """Traffic light shown for a clock."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def _require_aware(value: Any, name: str) -> None:
    """Reject anything but a timezone-aware datetime."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _utc(value: datetime, name: str) -> datetime:
    """Return `value` converted to UTC after checking it is aware."""
    _require_aware(value, name)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed clock: when it started, when the yellow light comes on, when it is due."""

    start: datetime
    due: datetime
    warn_at: datetime

    def __post_init__(self) -> None:
        """Normalise to UTC and check start <= warn_at <= due."""
        for name in ("start", "due", "warn_at"):
            object.__setattr__(self, name, _utc(getattr(self, name), name))
        if not self.start <= self.warn_at <= self.due:
            raise ValueError(
                "deadline must satisfy start <= warn_at <= due, got "
                f"start={self.start.isoformat()} warn_at={self.warn_at.isoformat()} "
                f"due={self.due.isoformat()}"
            )


def _shift(day: date, days: int) -> date:
    """Return `day` moved by `days`, as ValueError when leaving the supported range."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        raise ValueError(f"date arithmetic left the supported range from {day}") from None


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Working hours on working days in one time zone; adds durations and measures time."""

    workdays: Workdays
    tz: ZoneInfo = SHANGHAI
    day_start: time = time(9, 0)
    day_end: time = time(18, 0)

    def __post_init__(self) -> None:
        """Reject working hours that are empty, reversed or carry their own time zone."""
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end must be naive local times")
        if self.day_start >= self.day_end:
            raise ValueError(
                f"day_start ({self.day_start}) must be before day_end ({self.day_end})"
            )

    @property
    def workday_length(self) -> timedelta:
        """Return the working time in one working day."""
        return datetime.combine(date.min, self.day_end) - datetime.combine(date.min, self.day_start)

    def add(self, start: datetime, duration: Duration) -> datetime:
        """Return the moment `duration` after `start`; wh/wd count working time only."""
        start_utc = _utc(start, "start")
        if duration.working:
            return self._add_working(start_utc, self._working_span(start_utc, duration))
        try:
            return start_utc + timedelta(
                seconds=duration.amount * _CALENDAR_UNIT_SECONDS[duration.unit]
            )
        except OverflowError:
            raise ValueError(f"adding {duration} to {start_utc.isoformat()} overflows") from None

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Return the working seconds from `a` to `b` (negative if `b` is before `a`)."""
        a_utc = _utc(a, "a")
        b_utc = _utc(b, "b")
        if b_utc < a_utc:
            return -self._working_between(b_utc, a_utc).total_seconds()
        return self._working_between(a_utc, b_utc).total_seconds()

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """Return the moment `seconds` of working time after `start`."""
        start_utc = _utc(start, "start")
        if isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite non-negative number, got {seconds!r}")
        return self._add_working(start_utc, self._reachable_span(start_utc, seconds))

    def deadline(
        self, start: datetime, duration: Duration, warning_share: float = 0.75
    ) -> Deadline:
        """Compute due and warning moments for a clock of `duration` started at `start`."""
        start_utc = _utc(start, "start")
        # Written as a negated range so NaN is rejected as well.
        if not 0 < warning_share <= 1:
            raise ValueError(f"warning_share must be in (0, 1], got {warning_share!r}")
        due = self.add(start_utc, duration)
        if duration.working:
            # Measured in working time so the light does not turn yellow over a weekend.
            span = self._working_span(start_utc, duration)
            warn_at = self._add_working(start_utc, span * warning_share)
        else:
            warn_at = start_utc + (due - start_utc) * warning_share
        return Deadline(start=start_utc, due=due, warn_at=warn_at)

    def _working_span(self, start_utc: datetime, duration: Duration) -> timedelta:
        """Return the working time a wh/wd duration stands for."""
        if duration.unit is DurationUnit.WORK_DAYS:
            seconds = duration.amount * self.workday_length.total_seconds()
        else:
            seconds = duration.amount * 3600.0
        return self._reachable_span(start_utc, seconds)

    def _reachable_span(self, start_utc: datetime, seconds: float) -> timedelta:
        """Return `seconds` as a timedelta, refusing spans that cannot end before date.max."""
        # Checked up front: walking day by day towards date.max would take practically forever.
        days_needed = seconds / self.workday_length.total_seconds()
        if days_needed > (date.max - start_utc.date()).days:
            raise ValueError(f"{seconds!r} working seconds cannot fit before {date.max}")
        return timedelta(seconds=seconds)

    def _local(self, moment: datetime) -> datetime:
        """Return the naive local wall-clock time of an aware moment."""
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def _aware(self, local: datetime) -> datetime:
        """Return the UTC moment of a naive local wall-clock time."""
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def _next_workday(self, day: date) -> date:
        """Return `day` if it is a working day, else the first working day after it."""
        for offset in range(MAX_SEARCH_DAYS + 1):
            candidate = _shift(day, offset)
            if self.workdays.is_workday(candidate):
                return candidate
        raise ValueError(f"no working day found within {MAX_SEARCH_DAYS} days from {day}")

    def _add_working(self, start_utc: datetime, span: timedelta) -> datetime:
        """Walk forward day by day, consuming `span` inside working hours."""
        if span <= timedelta(0):
            # Zero work is done at once, even outside working hours.
            return start_utc
        cursor = self._local(start_utc)
        day = cursor.date()
        remaining = span
        while True:
            day = self._next_workday(day)
            opens = datetime.combine(day, self.day_start)
            closes = datetime.combine(day, self.day_end)
            cursor = max(cursor, opens)
            if cursor < closes:
                available = closes - cursor
                # "<=" keeps a clock that ends exactly at closing time on that day.
                if remaining <= available:
                    return self._aware(cursor + remaining)
                remaining -= available
            day = _shift(day, 1)

    def _working_between(self, a_utc: datetime, b_utc: datetime) -> timedelta:
        """Return the working time inside [a, b), with a <= b."""
        lo = self._local(a_utc)
        hi = self._local(b_utc)
        total = timedelta(0)
        # Ordinals avoid overflowing date.max when hi falls on the last representable day.
        for ordinal in range(lo.toordinal(), hi.toordinal() + 1):
            day = date.fromordinal(ordinal)
            if not self.workdays.is_workday(day):
                continue
            opens = max(lo, datetime.combine(day, self.day_start))
            closes = min(hi, datetime.combine(day, self.day_end))
            if opens < closes:
                total += closes - opens
        return total


def light(deadline: Deadline, now: datetime, done_at: datetime | None = None) -> Light:
    """Return the traffic light of a clock at `now`, or as it stood when met at `done_at`."""
    _require_aware(now, "now")
    if done_at is not None:
        _require_aware(done_at, "done_at")
        return Light.GREEN if done_at <= deadline.due else Light.RED
    if now > deadline.due:
        return Light.RED
    if now >= deadline.warn_at:
        return Light.YELLOW
    return Light.GREEN


def elapsed_share(
    calendar: WorkCalendar, deadline: Deadline, duration_working: bool, now: datetime
) -> float:
    """Return the share of the clock used at `now` (0.0 at start, above 1.0 when overdue)."""
    _require_aware(now, "now")
    if duration_working:
        total = calendar.working_seconds_between(deadline.start, deadline.due)
        elapsed = calendar.working_seconds_between(deadline.start, now)
    else:
        total = (deadline.due - deadline.start).total_seconds()
        elapsed = (now - deadline.start).total_seconds()
    if total <= 0:
        # A zero-length clock is either not yet due or fully used; there is no in-between.
        return 1.0 if now >= deadline.due else 0.0
    return max(0.0, elapsed / total)
