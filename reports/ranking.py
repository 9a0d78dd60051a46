"""Unit ranking (单位排名) by a configurable weighted score over the KPIs.

Score = Σ weight × KPI ÷ Σ weight, over the weighted KPIs the unit has figures for (a unit
with no follow-ups this period is scored on the rest); units with none of them are unranked
and listed last. The default weights are Beijing's 三率 (响应率, 解决率, 满意率) equally.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reports.kpis import Figures
from reports.kpis import KpiReport


class Level(StrEnum):
    TOP = "top"  # departments, districts, utilities (units with no parent), sub-units rolled up
    ALL = "all"  # every unit, each with its own sub-units rolled up


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int | None
    unit_id: int
    unit: str
    kind: str | None
    parent_id: int | None
    figures: Figures
    kpis: dict[str, float | None]
    score: float | None
    below_floor: bool


def score(kpis: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """Weighted mean of the unit's known KPIs (None when it has none of them)."""
    known = [(w, kpis[name]) for name, w in weights.items() if kpis.get(name) is not None]
    total = sum(w for w, _ in known)
    if not known or total <= 0:
        return None
    return sum(w * v for w, v in known if v is not None) / total


def rank_units(
    report: KpiReport,
    weights: Mapping[str, float],
    floor: float,
    level: Level = Level.TOP,
) -> list[Ranked]:
    """Rank the unit rows of a report grouped by unit; best score first, ties by volume.

    Units that had no tickets sent to them, due, or followed up in the period are left out.
    """
    ranked: list[Ranked] = []
    for row in report.rows:
        if level is Level.TOP and row["parent_id"] is not None:
            continue
        f: Figures = row["figures"]
        c = f.counts
        if not (c["dispatched"] or c["due"] or c["valid_follow_ups"] or c["sent_to_units"]):
            continue
        kpis = f.kpis()
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
                score=score(kpis, weights),
                below_floor=rate is not None and rate < floor,
            )
        )
    ranked.sort(
        key=lambda r: (r.score is None, -(r.score or 0), -r.figures.counts["dispatched"], r.unit)
    )
    out = []
    for i, r in enumerate(ranked):
        out.append(_with_rank(r, i + 1 if r.score is not None else None))
    return out


def _with_rank(r: Ranked, rank: int | None) -> Ranked:
    return Ranked(
        rank, r.unit_id, r.unit, r.kind, r.parent_id, r.figures, r.kpis, r.score, r.below_floor
    )


def ranked_view(r: Ranked) -> dict[str, Any]:
    """The JSON shape of one ranked unit."""
    return {
        "rank": r.rank,
        "unit_id": r.unit_id,
        "unit": r.unit,
        "kind": r.kind,
        "score": r.score,
        "below_floor": r.below_floor,
        "kpis": r.kpis,
        "counts": {k: r.figures.counts[k] for k in ("dispatched", "due", "valid_follow_ups")},
    }
