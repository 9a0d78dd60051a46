"""The ranking's rules on figures made by hand: complete units first, bad rates cost."""

import datetime as dt

import pytest

from reports.kpis import Figures
from reports.kpis import KpiReport
from reports.kpis import Period
from reports.ranking import Level
from reports.ranking import rank_units
from reports.ranking import score
from reports.ranking import shortfall_text

THREE_RATES = {"response_rate": 1.0, "resolution_rate": 1.0, "satisfaction_rate": 1.0}
MOMENT = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def figures(**counts: int) -> Figures:
    f = Figures(for_unit=True)
    f.counts.update(counts)
    return f


def unit(
    contacted: int, contacts: int, satisfied: int, solved: int, follow_ups: int, **more: int
) -> Figures:
    return figures(
        dispatched=contacts,
        assessed=contacts,
        contacted_on_time=contacted,
        contact_settled=contacts,
        satisfied=satisfied,
        solved=solved,
        valid_follow_ups=follow_ups,
        **more,
    )


def report(**units: Figures) -> KpiReport:
    rows = [
        {"key": i, "name": name, "parent_id": None, "kind": "department", "figures": f}
        for i, (name, f) in enumerate(units.items(), start=1)
    ]
    return KpiReport(period=Period(MOMENT, MOMENT, MOMENT), overall=Figures(), rows=rows)


def test_a_unit_without_follow_ups_is_listed_after_every_complete_unit() -> None:
    ranked = rank_units(
        report(
            慢单位=unit(1, 10, 2, 2, 10),  # 10%, 20%, 20%: a poor but complete unit
            无回访=unit(10, 10, 0, 0, 0),  # 响应率 100%, nothing followed up
            无派单=figures(satisfied=9, solved=9, valid_follow_ups=9),  # nothing dispatched
        ),
        THREE_RATES,
        floor=0.85,
        min_sample=5,
    )

    assert [(r.unit, r.rank) for r in ranked] == [
        ("慢单位", 1),
        ("无回访", None),
        ("无派单", None),
    ]
    assert ranked[1].score is None and ranked[2].score is None
    assert ranked[1].short == ("resolution_rate", "satisfaction_rate")
    assert shortfall_text(ranked[1]) == ("解决率（无有效回访）", "满意率（无有效回访）")
    assert shortfall_text(ranked[2]) == ("响应率（无应联系）",)


def test_a_unit_under_the_minimum_sample_is_not_ranked() -> None:
    ranked = rank_units(
        report(大单位=unit(8, 10, 8, 8, 10), 小单位=unit(2, 2, 2, 2, 2)),
        THREE_RATES,
        floor=0.85,
        min_sample=5,
    )

    assert [(r.unit, r.rank) for r in ranked] == [("大单位", 1), ("小单位", None)]
    assert shortfall_text(ranked[1]) == (
        "响应率（应联系2件）",
        "解决率（有效回访2件）",
        "满意率（有效回访2件）",
    )


def test_a_lower_is_better_rate_counts_against_the_unit() -> None:
    weights = {"overdue_rate": 1.0, "satisfaction_rate": 1.0}
    late = figures(dispatched=10, due=10, overdue=10, satisfied=10, valid_follow_ups=10)
    punctual = figures(dispatched=10, due=10, overdue=0, satisfied=8, valid_follow_ups=10)

    ranked = rank_units(report(超期多=late, 按时=punctual), weights, floor=0.85, min_sample=5)

    assert [(r.unit, r.rank) for r in ranked] == [("按时", 1), ("超期多", 2)]
    assert ranked[0].score == pytest.approx((1 + 0.8) / 2)
    assert ranked[1].score == pytest.approx((0 + 1) / 2)
    assert score(
        {"return_rate": 0.25, "reopen_rate": 0.5}, {"return_rate": 3, "reopen_rate": 1}
    ) == (pytest.approx((3 * 0.75 + 1 * 0.5) / 4))


def test_units_below_the_floor_are_named_ranked_or_not() -> None:
    ranked = rank_units(
        report(
            达标=unit(10, 10, 9, 9, 10),
            不达标=unit(10, 10, 6, 6, 10),
            样本少=unit(3, 3, 1, 1, 3),
        ),
        THREE_RATES,
        floor=0.85,
        min_sample=5,
    )

    named = {r.unit: (r.rank, r.below_floor) for r in ranked}
    assert named == {"达标": (1, False), "不达标": (2, True), "样本少": (None, True)}


def test_ties_go_to_the_unit_with_more_rounds_and_empty_units_are_left_out() -> None:
    ranked = rank_units(
        report(甲=unit(5, 5, 5, 5, 5), 乙=unit(9, 9, 9, 9, 9), 空=Figures(for_unit=True)),
        THREE_RATES,
        floor=0.85,
        min_sample=5,
        level=Level.ALL,
    )

    assert [(r.unit, r.rank) for r in ranked] == [("乙", 1), ("甲", 2)]
