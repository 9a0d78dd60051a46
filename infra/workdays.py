"""Working days from the official Chinese holiday calendar (chinesecalendar)."""

import logging
from collections.abc import Callable
from collections.abc import Mapping
from datetime import date
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType

import chinese_calendar

logger = logging.getLogger(__name__)


def _as_date(day: date) -> date:
    """Return the calendar date of a date or datetime."""
    # datetime is a date subclass but would never match a date key in the overrides.
    return day.date() if isinstance(day, datetime) else day


# chinesecalendar scans all its holiday keys to validate every date, which dominates
# deadline computation; its data is fixed for the process, so answers can be cached.
@lru_cache(maxsize=16384)
def _official_is_workday(day: date) -> bool | None:
    """Return the official answer for `day`, or None if the library has no data for its year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


class ChineseWorkdays:
    """Official Chinese working days (chinesecalendar) with local overrides on top."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        dynamic: Callable[[], Mapping[date, bool]] | None = None,
    ) -> None:
        """Keep a private copy of the overrides (date -> True working, False holiday).

        `dynamic` returns the admin's current days (from the database); they beat both the
        fixed overrides and the official calendar.
        """
        self._dynamic = dynamic
        # Copied so later edits to the caller's mapping cannot change answers silently.
        self._overrides: Mapping[date, bool] = MappingProxyType(
            {_as_date(day): bool(working) for day, working in (overrides or {}).items()}
        )
        # Per instance: one warning per uncovered year is enough to alert an admin.
        self._warned_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        """Return True if `day` is a working day; overrides first, then the official data."""
        day = _as_date(day)
        if self._dynamic is not None:
            edited = self._dynamic().get(day)
            if edited is not None:
                return edited
        override = self._overrides.get(day)
        if override is not None:
            return override
        official = _official_is_workday(day)
        if official is None:
            # The library has no data for this year yet: assume Monday to Friday.
            self._warn_uncovered(day.year)
            return day.weekday() < 5
        return official

    def covers(self, day: date) -> bool:
        """Return True if chinesecalendar has official data for the year of `day`."""
        return _official_is_workday(_as_date(day)) is not None

    def _warn_uncovered(self, year: int) -> None:
        """Log once per year that working days are guessed as Monday to Friday."""
        if year in self._warned_years:
            return
        self._warned_years.add(year)
        logger.warning(
            "chinesecalendar has no official holiday data for %d; treating Monday to Friday "
            "as working days. Add overrides or upgrade chinesecalendar.",
            year,
        )
