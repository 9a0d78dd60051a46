"""Unit ranking (单位排名) by a configurable weighted score over the KPIs.

A unit is ranked only when it has every weighted KPI, each over at least `min_sample` cases
(its whole: 应联系量 for 响应率, 有效回访量 for 满意率 …). Its score is

    Σ weight × points ÷ Σ weight,  points = KPI, or 1 − KPI for a lower-is-better KPI
                                   (超期率, 退回率, 重办率, 放弃率),

so every score is in [0, 1] and a bad rate always costs. A unit missing a weighted KPI, or
short of the sample on one, is listed apart (样本不足), unranked, after every ranked unit:
a missing rate never beats a bad one. Units below the satisfaction floor are named whenever
they have a 满意率, ranked or not. The default weights are Beijing's 三率 (响应率, 解决率,
满意率) equally.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from enum import StrEnum
from typing import Any

from infra.settings import Settings
from infra.settings import SettingsError
from reports.kpis import COUNT_LABELS
from reports.kpis import FORMULAS
from reports.kpis import HOTLINE_KPIS
from reports.kpis import KPI_NAMES
from reports.kpis import LOWER_IS_BETTER
from reports.kpis import Figures
from reports.kpis import KpiReport


class Level(StrEnum):
    TOP = "top"  # departments, districts, utilities (units with no parent), sub-units rolled up
    ALL = "all"  # every unit, each with its own sub-units rolled up


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int | None  # None: not ranked (样本不足)
    unit_id: int
    unit: str
    kind: str | None
    parent_id: int | None
    figures: Figures
    kpis: dict[str, float | None]
    score: float | None
    below_floor: bool
    # The weighted KPIs the unit lacks or has too few cases for (empty: ranked).
    short: tuple[str, ...] = ()

    @property
    def samples(self) -> dict[str, int]:
        """The whole (number of cases) behind each KPI."""
        return {name: self.figures.counts[f.whole] for name, f in FORMULAS.items()}


def points(name: str, value: float) -> float:
    """What a KPI adds to the score: the rate, or 1 − the rate when less is better."""
    return 1.0 - value if name in LOWER_IS_BETTER else value


def short_of(figures: Figures, weights: Mapping[str, float], min_sample: int) -> tuple[str, ...]:
    """The weighted KPIs (weight > 0) the figures lack, or have fewer than min_sample cases."""
    values = figures.kpis()
    return tuple(
        name
        for name, w in weights.items()
        if w > 0
        and (values[name] is None or figures.counts[FORMULAS[name].whole] < max(min_sample, 1))
    )


def score(kpis: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """Σ weight × points ÷ Σ weight over every weighted KPI; None when one is missing."""
    used = [(name, w) for name, w in weights.items() if w > 0]
    total = sum(w for _, w in used)
    if not used or total <= 0:
        return None
    found = [(w, kpis.get(name), name) for name, w in used]
    if any(v is None for _, v, _ in found):
        return None
    return sum(w * points(name, v) for w, v, name in found if v is not None) / total


def _has_figures(f: Figures) -> bool:
    c = f.counts
    return any(c[n] for n in ("dispatched", "due", "closed", "finished", "valid_follow_ups"))


def rank_units(
    report: KpiReport,
    weights: Mapping[str, float],
    floor: float,
    min_sample: int,
    level: Level = Level.TOP,
) -> list[Ranked]:
    """Rank the unit rows of a report grouped by unit; best score first, then 样本不足.

    Ties go to the unit with more rounds (派单量), then by name. Units with nothing in the
    period (no round started, due, closed or followed up) are left out.
    """
    ranked: list[Ranked] = []
    for row in report.rows:
        if level is Level.TOP and row["parent_id"] is not None:
            continue
        f: Figures = row["figures"]
        if not _has_figures(f):
            continue
        kpis = f.kpis()
        short = short_of(f, weights, min_sample)
        rate = kpis["satisfaction_rate"]
        ranked.append(
            Ranked(
                rank=None,
                unit_id=row["key"],
                unit=row["name"],
                kind=row["kind"],
                parent_id=row["parent_id"],
                figures=f,
                kpis=kpis,
                score=None if short else score(kpis, weights),
                below_floor=rate is not None and rate < floor,
                short=short,
            )
        )
    ranked.sort(
        key=lambda r: (
            r.score is None,
            -(r.score or 0.0),
            -r.figures.counts["dispatched"],
            r.unit,
        )
    )
    out, rank = [], 0
    for r in ranked:
        if r.score is not None:
            rank += 1
        out.append(replace(r, rank=rank if r.score is not None else None))
    return out


def ranked_view(r: Ranked) -> dict[str, Any]:
    """The JSON shape of one unit of the ranking."""
    return {
        "rank": r.rank,
        "unit_id": r.unit_id,
        "unit": r.unit,
        "kind": r.kind,
        "score": r.score,
        "below_floor": r.below_floor,
        "insufficient": list(r.short),
        "kpis": r.kpis,
        "samples": r.samples,
        "counts": {
            k: r.figures.counts[k]
            for k in ("dispatched", "assessed", "due", "closed", "finished", "valid_follow_ups")
        },
    }


def shortfall_text(r: Ranked) -> tuple[str, ...]:
    """Why a unit is not ranked, one KPI each: 满意率（有效回访2件）, 响应率（无应联系）."""
    out = []
    for name in r.short:
        f = FORMULAS[name]
        cases = COUNT_LABELS[f.whole].removesuffix("量")
        n = r.figures.counts[f.whole]
        out.append(f"{f.label}（{cases}{n}件）" if n else f"{f.label}（无{cases}）")
    return tuple(out)


def check_ranking_weights(settings: Settings) -> None:
    """Refuse ranking weights on KPIs that do not exist or that no unit has (settings check).

    :raises SettingsError: naming the unknown or hotline-only KPIs.
    """
    weights = settings.reports.ranking_weights
    unknown = sorted(set(weights) - set(KPI_NAMES))
    if unknown:
        raise SettingsError(
            f"reports.ranking_weights: unknown KPI(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(KPI_NAMES)}"
        )
    hotline_only = sorted(set(weights) & HOTLINE_KPIS)
    if hotline_only:
        raise SettingsError(
            f"reports.ranking_weights: {', '.join(hotline_only)} are the hotline's own "
            "figures; no unit has them"
        )
