"""Cron times in config.yaml are the hotline's local time; rq's scheduler runs on UTC."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from infra.jobs import utc_cron

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
ON = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("30 2 * * *", "30 18 * * *"),  # nightly retraining at 02:30 in Shanghai
        ("0 8 * * *", "0 0 * * *"),  # reminders at 08:00
        ("0 7 * * 1", "0 23 * * 0"),  # the brief on Monday 07:00 is Sunday 23:00 UTC
        ("0 7 * * 1,3", "0 23 * * 0,2"),
        ("15 9 * * 0", "15 1 * * 0"),  # no day change
        ("*/5 * * * *", "*/5 * * * *"),  # not a time of day: left as it is
        ("0 8 1 * *", "0 8 1 * *"),
        ("0 7 * * mon", "0 7 * * mon"),
    ],
)
def test_a_local_time_of_day_becomes_utc(local: str, utc: str) -> None:
    assert utc_cron(local, SHANGHAI, ON) == utc


def test_zones_behind_utc_move_the_day_forward() -> None:
    new_york = ZoneInfo("America/New_York")
    assert utc_cron("0 22 * * 6", new_york, ON) == "0 3 * * 0"


def test_the_offset_is_the_zones_on_the_day() -> None:
    assert utc_cron("0 8 * * *", BERLIN, dt.datetime(2026, 7, 1, tzinfo=dt.UTC)) == "0 6 * * *"
    assert utc_cron("0 8 * * *", BERLIN, ON) == "0 7 * * *"
