"""The KPIs' vocabulary (reports.kpis.definitions): names, formulas and the KPIs of a scope."""

from reports.kpis import HOTLINE_KPIS
from reports.kpis import KPI_NAMES
from reports.kpis.counts import ROUND_COUNTS
from reports.kpis.counts import TICKET_COUNTS
from reports.kpis.definitions import CALL_COUNTS
from reports.kpis.definitions import COUNT_LABELS
from reports.kpis.definitions import COUNT_NAMES
from reports.kpis.definitions import FORMULAS
from reports.kpis.definitions import LOWER_IS_BETTER
from reports.kpis.definitions import ROUND_COUNT_NAMES
from reports.kpis.definitions import TICKET_COUNT_NAMES
from reports.kpis.definitions import UNCATEGORISED
from reports.kpis.definitions import Figures
from reports.kpis.definitions import first_level
from reports.kpis.definitions import ranked_categories


def test_every_count_named_here_is_defined_in_sql_in_the_same_order() -> None:
    assert tuple(TICKET_COUNTS) == TICKET_COUNT_NAMES
    assert tuple(ROUND_COUNTS) == ROUND_COUNT_NAMES
    assert COUNT_NAMES == (*CALL_COUNTS, *TICKET_COUNT_NAMES, *ROUND_COUNT_NAMES)
    assert tuple(COUNT_LABELS) == COUNT_NAMES  # every count has a label, in the same order


def test_every_formula_divides_two_known_counts() -> None:
    assert KPI_NAMES == tuple(FORMULAS)
    for name, formula in FORMULAS.items():
        assert formula.part in COUNT_NAMES and formula.whole in COUNT_NAMES, name
        assert formula.part != formula.whole, name
    assert HOTLINE_KPIS == {
        "answer_rate",
        "service_level_15s",
        "abandon_rate",
        "direct_resolution_rate",
    }
    assert LOWER_IS_BETTER == {"abandon_rate", "overdue_rate", "return_rate", "reopen_rate"}


def figures(**counts: int) -> Figures:
    f = Figures()
    f.counts.update(counts)
    return f


def test_a_kpi_is_part_over_whole_and_none_over_nothing() -> None:
    kpis = figures(replied=3, assessed=4, satisfied=0, valid_follow_ups=0).kpis()
    assert kpis["reply_rate"] == 0.75
    assert kpis["satisfaction_rate"] is None
    assert list(kpis) == list(KPI_NAMES)


def test_call_kpis_are_the_hotlines_and_direct_resolution_no_units() -> None:
    counts = {"calls_answered": 9, "calls_offered": 10, "resolved_directly": 1, "accepted": 4}
    assert figures(**counts).kpis()["answer_rate"] is None  # no calls read for this scope
    hotline = Figures(with_calls=True)
    hotline.counts.update(counts)
    assert hotline.kpis()["answer_rate"] == 0.9
    assert hotline.kpis()["direct_resolution_rate"] == 0.25
    unit = Figures(for_unit=True)
    unit.counts.update(counts)
    assert unit.kpis()["direct_resolution_rate"] is None


def test_figures_add_up_and_show_the_counts_behind_each_kpi() -> None:
    total = figures(closed=2, followed_up=1)
    total.add(figures(closed=3, followed_up=3))
    view = total.view()
    assert view["follow_up_rate"] == 0.8
    assert view["counts"]["follow_up_rate"] == {"part": 4, "whole": 5}
    assert view["totals"]["closed"] == 5
    assert list(view["totals"]) == list(COUNT_NAMES)


def test_categories_are_named_by_their_first_level() -> None:
    assert first_level("城市管理/噪音/施工噪音") == "城市管理"
    assert first_level(" 交通 / 停车") == "交通"
    assert first_level(None) == first_level("  ") == UNCATEGORISED
    # Biggest first; 未分类 after a named category of the same size; then by name.
    assert ranked_categories({UNCATEGORISED: 3, "交通": 3, "城市管理": 5, "住房": 3}) == [
        ("城市管理", 5),
        ("交通", 3),
        ("住房", 3),
        (UNCATEGORISED, 3),
    ]
