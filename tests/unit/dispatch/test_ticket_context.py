"""The ticket context: clock lengths by layer, the 工单号 both ways, the name cache, units held."""

import datetime as dt
from collections.abc import Mapping

import pytest

from dispatch.tickets import context
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.context import NameCache
from dispatch.tickets.context import SlaPolicy
from dispatch.tickets.context import active_unit_ids
from dispatch.tickets.context import id_from_number
from dispatch.tickets.context import lead_unit_ids
from dispatch.tickets.domain import AssignmentRole
from dispatch.tickets.models import Assignment
from dispatch.tickets.models import Ticket
from infra.settings import SlaSettings
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency
from kernel.worktime import Duration
from kernel.worktime import WorkCalendar


class Weekdays:
    def is_workday(self, day: dt.date) -> bool:
        return day.weekday() < 5


def _policy(rules: Mapping[tuple[str, str], tuple[str | None, str | None]]) -> SlaPolicy:
    return SlaPolicy(WorkCalendar(Weekdays()), SlaSettings(), rules=lambda: rules)


def test_clock_lengths_take_the_most_specific_layer_for_each_clock() -> None:
    # config: normal is 1wd/5wd, and an enquiry's normal reply is 3wd
    assert _policy({}).durations(RequestType.ENQUIRY, Urgency.NORMAL) == (
        Duration.parse("1wd"),
        Duration.parse("3wd"),
    )
    # the admin's rule for the urgency beats the config's default, not the type's override
    by_urgency = _policy({("*", "normal"): ("2h", "10wd")})
    assert by_urgency.durations(RequestType.ENQUIRY, Urgency.NORMAL) == (
        Duration.parse("2h"),
        Duration.parse("3wd"),
    )
    assert by_urgency.durations(RequestType.HELP, Urgency.NORMAL) == (
        Duration.parse("2h"),
        Duration.parse("10wd"),
    )
    # the admin's rule for the type beats everything, clock by clock
    by_type = _policy({("enquiry", "normal"): (None, "4wd"), ("*", "normal"): ("2h", None)})
    assert by_type.durations(RequestType.ENQUIRY, Urgency.NORMAL) == (
        Duration.parse("2h"),
        Duration.parse("4wd"),
    )


def test_a_ticket_number_is_the_local_day_of_acceptance_and_gives_back_the_id() -> None:
    ctx = DispatchContext(_policy({}), number_prefix="JC")
    # 17:30 UTC is already the next day in Shanghai
    created = dt.datetime(2026, 11, 19, 17, 30, tzinfo=dt.UTC)
    number = ctx.ticket_number(Ticket(id=42, created_at=created))
    assert number == "JC202611200000042"
    assert id_from_number(number) == 42
    assert id_from_number(f"  {number.lower()} ") == 42
    assert id_from_number("JC2026112000042") == -1  # an id needs at least seven digits
    assert id_from_number("漏水 42") == -1


def test_the_name_cache_fetches_only_what_it_lacks_until_a_name_is_a_minute_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(context.time, "monotonic", lambda: clock[0])
    asked: list[set[int]] = []

    def fetch(ids: set[int]) -> dict[int, str]:
        asked.append(set(ids))
        return {i: f"unit {i}" for i in ids}

    cache = NameCache()
    assert cache.lookup("unit", {1, 2}, fetch) == {1: "unit 1", 2: "unit 2"}
    assert cache.lookup("unit", {1, 3}, fetch) == {1: "unit 1", 3: "unit 3"}
    assert cache.lookup("user", {1}, fetch) == {1: "unit 1"}  # kinds do not share entries
    assert asked == [{1, 2}, {3}, {1}]
    clock[0] += NameCache.TTL + 1
    cache.lookup("unit", {2}, fetch)
    assert asked[-1] == {2}


def test_the_units_a_ticket_is_with_are_its_active_assignments() -> None:
    now = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    ticket = Ticket(
        assignments=[
            Assignment(unit_id=1, role=AssignmentRole.LEAD, active=False, assigned_at=now),
            Assignment(unit_id=2, role=AssignmentRole.LEAD, active=True, assigned_at=now),
            Assignment(unit_id=3, role=AssignmentRole.ASSIST, active=True, assigned_at=now),
        ]
    )
    assert active_unit_ids(ticket) == {2, 3}
    assert lead_unit_ids(ticket) == {2}
    assert lead_unit_ids(Ticket(assignments=[])) == set()
