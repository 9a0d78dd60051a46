"""Call KPIs (话务指标) from the call records, and the pages that show them."""

import datetime as dt
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from callcenter.models import CallRecord
from callcenter.records.kpis import CallCounts
from callcenter.records.kpis import call_figures
from callcenter.records.kpis import call_kpis
from hotline.bootstrap import Container
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import World
from tests.integration.callcenter.test_hall import unreachable_redis

MONDAY = dt.datetime(2026, 11, 16, tzinfo=SHANGHAI)  # the clock fixture's day (10:00)


def day(d: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return d, d + dt.timedelta(days=1)


def record(
    container: Container,
    call_id: str,
    offered_at: dt.datetime,
    outcome: str,
    wait: float | None = None,
    talk: float | None = None,
) -> None:
    answered = outcome in ("answered", "talking")
    with container.uow() as uow:
        uow.session.add(
            CallRecord(
                call_id=call_id,
                caller="13812345678",
                outcome=outcome,
                seat="s01" if answered else None,
                agent="u1" if answered else None,
                offered_at=offered_at,
                answered_at=offered_at + dt.timedelta(seconds=wait or 0) if answered else None,
                wait_seconds=wait,
                talk_seconds=talk,
            )
        )
        uow.commit()


def monday_calls(container: Container) -> None:
    """Seven calls offered on Monday (local day), one on Sunday and one on Tuesday at 00:00."""
    nine = MONDAY + dt.timedelta(hours=9)
    record(container, "a1", nine, "answered", wait=5, talk=100)
    record(container, "a2", nine, "answered", wait=15, talk=200)  # 15 s is still in time
    record(container, "a3", nine, "answered", wait=15.5, talk=60)
    record(container, "a4", nine, "talking", wait=8)  # answered, talk not known yet
    record(container, "b1", nine, "abandoned", wait=30)
    record(container, "o1", nine, "overflow", wait=60)
    record(container, "r1", MONDAY, "ringing")  # 00:00 Monday belongs to Monday
    record(container, "x1", MONDAY - dt.timedelta(seconds=1), "answered", wait=1, talk=10)
    record(container, "x2", MONDAY + dt.timedelta(days=1), "abandoned", wait=3)


def test_the_formulas_on_known_counts() -> None:
    k = call_kpis(
        CallCounts(
            offered=10,
            answered=8,
            answered_in_time=6,
            abandoned=1,
            overflow=1,
            wait_seconds=96,
            talked=5,
            talk_seconds=600,
        )
    )
    assert k.answer_rate == 0.8  # answered ÷ offered
    assert k.service_level == 0.75  # answered within 15 s ÷ answered (DOMAIN.md)
    assert k.abandon_rate == 0.1  # abandoned ÷ offered
    assert k.average_wait == 12  # over the answered calls
    assert k.average_talk == 120  # over the answered calls that ended


def test_a_day_without_calls_has_no_rates_rather_than_a_division_by_zero() -> None:
    k = call_kpis(CallCounts())
    assert (k.answer_rate, k.service_level, k.abandon_rate) == (None, None, None)
    assert (k.average_wait, k.average_talk) == (None, None)
    offered_but_none_answered = call_kpis(CallCounts(offered=3, abandoned=3))
    assert offered_but_none_answered.answer_rate == 0
    assert offered_but_none_answered.abandon_rate == 1
    assert offered_but_none_answered.service_level is None


def test_the_days_calls_are_counted_from_the_records(container: Container) -> None:
    monday_calls(container)

    k = call_figures(container.uow(), *day(MONDAY))

    assert k.counts == CallCounts(
        offered=7,
        answered=4,
        answered_in_time=3,
        abandoned=1,
        overflow=1,
        wait_seconds=43.5,
        talked=3,
        talk_seconds=360,
    )
    assert k.answer_rate == pytest.approx(4 / 7)
    assert k.service_level == pytest.approx(3 / 4)
    assert k.abandon_rate == pytest.approx(1 / 7)
    assert k.average_wait == pytest.approx(10.875)
    assert k.average_talk == pytest.approx(120)


def test_a_day_without_records_counts_zero(container: Container) -> None:
    monday_calls(container)
    k = call_figures(container.uow(), *day(MONDAY + dt.timedelta(days=3)))
    assert k.counts == CallCounts()
    assert k.answer_rate is None and k.average_wait is None


# ---------------------------------------------------------------- pages


def page(client: FlaskClient, world: World, username: str, path: str) -> str:
    resp = client.post("/api/auth/login", json={"username": username, "password": world.password})
    assert resp.status_code == 200
    resp = client.get(path)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def kpi_cells(html: str) -> dict[str, tuple[str, str]]:
    rows = re.findall(
        r'<tr data-call-kpi="(\w+)">.*?data-period="today"[^>]*>([^<]*)<.*?'
        r'data-period="period"[^>]*>([^<]*)<',
        html,
        re.S,
    )
    return {key: (today, period) for key, today, period in rows}


def live(html: str) -> dict[str, str]:
    return dict(re.findall(r'<div data-live="(\w+)"><dt>[^<]*</dt><dd[^>]*>([^<]*)<', html))


@pytest.mark.redis
def test_the_leaders_dashboard_shows_today_and_the_weeks_calls(
    client: FlaskClient, world: World, container: Container, api: Api, real_redis: Any
) -> None:
    monday_calls(container)
    record(container, "w1", MONDAY + dt.timedelta(days=2, hours=9), "answered", wait=20, talk=30)
    api.post("/api/cti/seat", {"seat": "s01"})
    api.post("/api/cti/state", {"state": "ready"})

    html = page(client, world, "leader", "/dashboard")

    assert kpi_cells(html) == {
        # The week adds x2 (Tuesday 00:00) and w1; x1 (Sunday) was last week.
        "offered": ("7", "9"),
        "answered": ("4", "5"),
        "answer_rate": ("57.1%", "55.6%"),
        "service_level": ("75.0%", "60.0%"),
        "abandon_rate": ("14.3%", "22.2%"),
        "average_wait": ("11秒", "13秒"),  # 10.875 s; (43.5 + 20) ÷ 5 = 12.7 s
        "average_talk": ("2分00秒", "1分38秒"),  # 120 s; (360 + 30) ÷ 4 = 97.5 s
    }
    assert live(html) == {"queued": "0", "longest_wait": "—", "seats_online": "1", "ready": "1"}


def test_the_dashboard_leaves_out_the_hall_when_redis_is_down(
    client: FlaskClient, world: World, container: Container
) -> None:
    container._redis = unreachable_redis()
    try:
        html = page(client, world, "supervisor", "/dashboard")
    finally:
        container._redis = None
    assert kpi_cells(html)["offered"] == ("0", "0")
    assert kpi_cells(html)["answer_rate"] == ("—", "—")
    assert live(html) == {"unavailable": "暂不可用（无法连接话务服务）"}


@pytest.mark.redis
def test_the_supervision_wallboard_shows_todays_calls_and_the_hall(
    client: FlaskClient, world: World, container: Container, api: Api, real_redis: Any
) -> None:
    monday_calls(container)
    api.post("/api/cti/seat", {"seat": "s01"})
    client.get("/acd/route?call_id=q1&from=13812345678")  # nobody ready: it waits

    desk = page(client, world, "lead", "/supervise")

    figures = dict(re.findall(r'data-call-figure="(\w+)">([^<]*)<', desk))
    assert figures["queued"] == "1"
    assert figures["longest_wait"].endswith("秒")
    assert (figures["seats_online"], figures["ready"]) == ("1", "0")
    # q1 is a real call now (not on Monday 2026-11-16): today's figures are the records'.
    assert (figures["offered"], figures["answer_rate"]) == ("7", "57.1%")
    assert (figures["service_level"], figures["abandon_rate"]) == ("75.0%", "14.3%")
