"""The KPI report of a period: the counting, and its roll-up per unit, category or district.

`compute` is the entry point: every count of the period, overall or for one unit with its
sub-units, and with `group` one row per unit, first-level category or district.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callcenter.records.kpis import CallCounts
from callcenter.records.kpis import count_calls
from dispatch.tickets.models import Ticket
from infra.db import UnitOfWork
from infra.models import Unit
from reports.kpis.counts import ROUND_COUNTS
from reports.kpis.counts import TICKET_COUNTS
from reports.kpis.counts import Period
from reports.kpis.definitions import NO_DISTRICT
from reports.kpis.definitions import Figures
from reports.kpis.definitions import GroupBy
from reports.kpis.definitions import first_level
from reports.kpis.rounds import Clock
from reports.kpis.rounds import rounds_cte

# ---------------------------------------------------------------- counting


def _count_rounds(
    session: Session, p: Period, group: GroupBy | None, scope: set[int] | None
) -> dict[Any, dict[str, int]]:
    clock = Clock(session.get_bind().dialect.name)
    if not clock.sqlite:
        # Compiling this one big query for JIT costs more than it saves (about 0.1 s).
        session.execute(sa.text("SET LOCAL jit = off"))
    r = rounds_cte(session, p, clock, group).c
    b = clock.bounds(p)
    if group is GroupBy.UNIT:
        key: Any = r.unit_id
    elif group is GroupBy.CATEGORY:
        key = r.category
    elif group is GroupBy.DISTRICT:
        key = r.district_id
    else:
        key = sa.literal(None)
    query = sa.select(
        key.label("k"),
        *(
            sa.func.sum(sa.case((test(r, b), 1), else_=0)).label(name)
            for name, test in ROUND_COUNTS.items()
        ),
    ).group_by(key)
    if scope is not None:
        query = query.where(r.unit_id.in_(sorted(scope)))
    out: dict[Any, dict[str, int]] = {}
    for row in session.execute(query):
        counts = {name: int(row._mapping[name] or 0) for name in ROUND_COUNTS}
        if any(counts.values()):
            out[row.k] = counts
    return out


def _count_tickets(session: Session, p: Period, group: GroupBy | None) -> dict[Any, dict[str, int]]:
    if group is GroupBy.CATEGORY:
        key: Any = Ticket.category
    elif group is GroupBy.DISTRICT:
        key = Ticket.district_id
    else:
        key = sa.literal(None)
    query = sa.select(
        key.label("k"),
        *(sa.func.count(sa.case((test(p), 1))).label(name) for name, test in TICKET_COUNTS.items()),
    ).where(p.holds(Ticket.created_at))
    out: dict[Any, dict[str, int]] = {}
    for row in session.execute(query.group_by(key)):
        out[row.k] = {name: int(row._mapping[name]) for name in TICKET_COUNTS}
    return out


def _call_figures(uow: UnitOfWork, p: Period) -> Figures:
    calls: CallCounts = count_calls(uow, p.start, p.end)
    f = Figures(with_calls=True)
    f.counts.update(
        calls_offered=calls.offered,
        calls_answered=calls.answered,
        calls_answered_15s=calls.answered_in_time,
        calls_abandoned=calls.abandoned,
    )
    f.average_wait_seconds = calls.wait_seconds / calls.answered if calls.answered else None
    f.average_talk_seconds = calls.talk_seconds / calls.talked if calls.talked else None
    return f


# ---------------------------------------------------------------- units


@dataclass(frozen=True, slots=True)
class UnitNode:
    id: int
    name: str
    kind: str
    parent_id: int | None
    active: bool


def unit_tree(session: Session) -> dict[int, UnitNode]:
    rows = session.execute(sa.select(Unit.id, Unit.name, Unit.kind, Unit.parent_id, Unit.active))
    return {r.id: UnitNode(r.id, r.name, r.kind.value, r.parent_id, r.active) for r in rows}


def with_descendants(tree: Mapping[int, UnitNode], unit_id: int) -> set[int]:
    """The unit and every unit below it."""
    children: dict[int | None, list[int]] = {}
    for node in tree.values():
        children.setdefault(node.parent_id, []).append(node.id)
    found, todo = {unit_id}, [unit_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _ancestors(tree: Mapping[int, UnitNode], unit_id: int) -> list[int]:
    """The unit and its ancestors, nearest first (a broken cycle stops the walk)."""
    chain, node = [], tree.get(unit_id)
    while node is not None and node.id not in chain:
        chain.append(node.id)
        node = tree.get(node.parent_id) if node.parent_id is not None else None
    return chain


# ---------------------------------------------------------------- the report


@dataclass(slots=True)
class KpiReport:
    period: Period
    overall: Figures
    unit: UnitNode | None = None  # the scope, when one unit was asked for
    group: GroupBy | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # key, name, figures


def _figures(counts: Mapping[str, int], for_unit: bool = False) -> Figures:
    f = Figures(for_unit=for_unit)
    for name, n in counts.items():
        f.counts[name] += n
    return f


def compute(
    uow: UnitOfWork,
    period: Period,
    *,
    unit_id: int | None = None,
    group: GroupBy | None = None,
) -> KpiReport:
    """Count and compute every KPI of the period, for everything or one unit (with sub-units).

    With `group`, also one row per unit (each with its sub-units rolled up), per first-level
    category or per district, biggest first.
    """
    with uow:
        session = uow.session
        tree = unit_tree(session)
        scope = with_descendants(tree, unit_id) if unit_id is not None else None
        by_round = _count_rounds(session, period, group, scope)
        # 受理 and 直办 are the hotline's: counted overall, per category and per district.
        tickets = _count_tickets(session, period, group) if scope is None else {}
    for_unit = unit_id is not None
    overall = _call_figures(uow, period) if not for_unit else Figures(for_unit=True)
    for counts in (*tickets.values(), *by_round.values()):
        overall.add(_figures(counts))
    report = KpiReport(
        period=period,
        overall=overall,
        unit=tree.get(unit_id) if unit_id is not None else None,
        group=group,
    )
    if group is not None:
        if group is GroupBy.UNIT:
            tickets = {}
        report.rows = _rows(tree, group, tickets, by_round, scope)
    return report


def _rows(
    tree: Mapping[int, UnitNode],
    group: GroupBy,
    tickets: Mapping[Any, Mapping[str, int]],
    rounds: Mapping[Any, Mapping[str, int]],
    scope_units: set[int] | None,
) -> list[dict[str, Any]]:
    merged: dict[Any, Figures] = {}
    for_unit = group is GroupBy.UNIT
    for source in (tickets, rounds):
        for key, counts in source.items():
            f = _figures(counts)
            for target in _targets(tree, group, key, scope_units):
                merged.setdefault(target, Figures(for_unit=for_unit)).add(f)
    rows = []
    for key, figures in merged.items():
        node = tree.get(key) if group is not GroupBy.CATEGORY and key is not None else None
        if group is GroupBy.CATEGORY:
            name = key
        elif node is not None:
            name = node.name
        else:
            name = NO_DISTRICT if group is GroupBy.DISTRICT else "未派单"
        rows.append(
            {
                "key": key,
                "name": name,
                "parent_id": node.parent_id if node is not None else None,
                "kind": node.kind if node is not None else None,
                "figures": figures,
            }
        )
    rows.sort(key=lambda r: (-_size(r["figures"]), str(r["name"])))
    return rows


def _size(f: Figures) -> int:
    c = f.counts
    return c["accepted"] + c["dispatched"] + c["due"] + c["valid_follow_ups"]


def _targets(
    tree: Mapping[int, UnitNode], group: GroupBy, key: Any, scope_units: set[int] | None
) -> list[Any]:
    if group is GroupBy.CATEGORY:
        return [first_level(key)]
    if group is GroupBy.DISTRICT:
        return [key]
    if key is None:
        return []  # not dispatched to any unit: no unit row
    chain = _ancestors(tree, key)
    if scope_units is not None:
        chain = [u for u in chain if u in scope_units]
    return chain
