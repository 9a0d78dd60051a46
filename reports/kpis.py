"""The hotline's KPIs (考核指标) over any period: overall, per unit, per category, per district.

Every formula of ../shared/DOMAIN.md "KPIs" is stated once, in `FORMULAS` below, as the
names of two counts: the KPI is part ÷ whole (None when the whole is 0). The counts are
built from plain conditions over tickets, ticket events and call records, each with its
definition in its docstring; a period is the half-open [start, end) of aware datetimes.

Attribution:
- a ticket counts for its current lead unit (主办单位), its first-level category and its
  district; a unit's figures include its sub-units' (a district rolls up its streets);
- returns (退回) and reopenings (重办) are counted from the event log, for the unit named on
  the event, so a ticket returned by one unit and reassigned to another counts the return
  against the unit that returned it;
- calls are not attributable to units: call KPIs exist overall only (None per group);
- merged duplicates (已合并) are not counted as accepted or dispatched: their master is.

Everything is read-only; nothing here returns personal data.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callcenter.kpis import CallCounts
from callcenter.kpis import count_calls
from dispatch.domain import SATISFIED_LEVELS
from dispatch.domain import TicketEvent
from dispatch.domain import TicketStatus
from dispatch.models import Ticket
from dispatch.models import TicketEventRecord
from dispatch.models import Unit
from hotline.db import UnitOfWork

UNCATEGORISED: Final = "未分类"
NO_DISTRICT: Final = "未定属地"

Condition = sa.ColumnElement[bool]


class GroupBy(StrEnum):
    UNIT = "unit"
    CATEGORY = "category"
    DISTRICT = "district"


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval [start, end) of aware datetimes, with `now` for "still open"."""

    start: dt.datetime
    end: dt.datetime
    now: dt.datetime

    def holds(self, column: Any) -> Condition:
        return sa.and_(column >= self.start, column < self.end)

    @property
    def as_of(self) -> dt.datetime:
        """The moment the period is judged at: its end, or now if it has not ended."""
        return min(self.end, self.now)


# ---------------------------------------------------------------- the counts


def _live() -> Condition:
    return Ticket.status != TicketStatus.MERGED


def accepted(p: Period) -> Condition:
    """受理量: tickets created in the period, merged duplicates left out."""
    return sa.and_(p.holds(Ticket.created_at), _live())


def resolved_directly(p: Period) -> Condition:
    """直办量: tickets resolved at the hotline (status 直办办结) created in the period."""
    return sa.and_(accepted(p), Ticket.status == TicketStatus.RESOLVED)


def dispatched(p: Period) -> Condition:
    """派单量: tickets whose clocks last started in the period (dispatch, reassign, reopen)."""
    return sa.and_(p.holds(Ticket.dispatched_at), _live())


def signed_on_time(p: Period) -> Condition:
    """及时签收: dispatched in the period and signed no later than the sign-for deadline."""
    return sa.and_(dispatched(p), Ticket.signed_at <= Ticket.sign_due_at)


def replied(p: Period) -> Condition:
    """已回复: dispatched in the period and replied (by the time of asking)."""
    return sa.and_(dispatched(p), Ticket.replied_at.is_not(None))


def contacted_on_time(p: Period) -> Condition:
    """及时响应: dispatched in the period; the unit contacted the citizen by contact_due_at."""
    return sa.and_(dispatched(p), Ticket.contacted_at <= Ticket.contact_due_at)


def due(p: Period) -> Condition:
    """应办结: dispatched tickets whose reply deadline (after any extension) is in the period."""
    return sa.and_(p.holds(Ticket.reply_due_at), Ticket.dispatched_at.is_not(None), _live())


def replied_on_time(p: Period) -> Condition:
    """按时办结: due in the period and replied no later than the reply deadline."""
    return sa.and_(due(p), Ticket.replied_at <= Ticket.reply_due_at)


def closed_of_due(p: Period) -> Condition:
    """已办结: due in the period and closed (by the time of asking)."""
    return sa.and_(due(p), Ticket.closed_at.is_not(None))


def overdue(p: Period) -> Condition:
    """超期: due in the period and either replied late or still unreplied past the deadline."""
    late = Ticket.replied_at > Ticket.reply_due_at
    unreplied = sa.and_(Ticket.replied_at.is_(None), Ticket.reply_due_at < p.as_of)
    return sa.and_(due(p), sa.or_(late, unreplied))


def closed(p: Period) -> Condition:
    """办结量: tickets closed in the period (and not reopened since)."""
    return p.holds(Ticket.closed_at)


def followed_up_of_closed(p: Period) -> Condition:
    """已回访: closed in the period with a follow-up recorded."""
    return sa.and_(closed(p), Ticket.followed_up_at.is_not(None))


def valid_follow_ups(p: Period) -> Condition:
    """有效回访: follow-ups made in the period that reached the citizen."""
    return sa.and_(p.holds(Ticket.followed_up_at), Ticket.follow_up_reached.is_(True))


def satisfied(p: Period) -> Condition:
    """满意: valid follow-ups rated 非常满意, 满意 or 基本满意."""
    return sa.and_(valid_follow_ups(p), Ticket.follow_up_satisfaction.in_(sorted(SATISFIED_LEVELS)))


def solved(p: Period) -> Condition:
    """解决: valid follow-ups where the citizen said the problem was solved."""
    return sa.and_(valid_follow_ups(p), Ticket.follow_up_solved.is_(True))


TICKET_COUNTS: Final = {
    "accepted": accepted,
    "resolved_directly": resolved_directly,
    "dispatched": dispatched,
    "signed_on_time": signed_on_time,
    "replied": replied,
    "contacted_on_time": contacted_on_time,
    "due": due,
    "replied_on_time": replied_on_time,
    "closed_of_due": closed_of_due,
    "overdue": overdue,
    "closed": closed,
    "followed_up": followed_up_of_closed,
    "valid_follow_ups": valid_follow_ups,
    "satisfied": satisfied,
    "solved": solved,
}

# Event counts: events of these kinds in the period, for the unit named on the event.
# 派往单位 = dispatches and reassignments (each sends the ticket to a unit); 退回 = returns;
# 重办 = reopenings; 办结次数 = closings (a ticket closed, reopened and closed counts twice).
EVENT_COUNTS: Final[Mapping[str, tuple[TicketEvent, ...]]] = {
    "sent_to_units": (TicketEvent.DISPATCH, TicketEvent.REASSIGN),
    "returns": (TicketEvent.RETURN,),
    "reopens": (TicketEvent.REOPEN,),
    "closings": (TicketEvent.CLOSE,),
}

# Call counts (callcenter.kpis): offered, answered, answered within 15 s, abandoned.
CALL_COUNTS: Final = ("calls_offered", "calls_answered", "calls_answered_15s", "calls_abandoned")

# ---------------------------------------------------------------- the formulas (stated once)


@dataclass(frozen=True, slots=True)
class Formula:
    label: str  # the KPI's name in Chinese
    part: str  # a count above the line
    whole: str  # a count below it
    text: str  # the formula as people read it


FORMULAS: Final[Mapping[str, Formula]] = {
    "answer_rate": Formula("接通率", "calls_answered", "calls_offered", "人工接通量 ÷ 呼入量"),
    "service_level_15s": Formula(
        "15秒接通率", "calls_answered_15s", "calls_answered", "15秒内接通量 ÷ 人工接通量"
    ),
    "abandon_rate": Formula("放弃率", "calls_abandoned", "calls_offered", "放弃量 ÷ 呼入量"),
    "direct_resolution_rate": Formula(
        "直办率", "resolved_directly", "accepted", "直接办结量 ÷ 受理量"
    ),
    "on_time_sign_rate": Formula(
        "及时签收率", "signed_on_time", "dispatched", "按时签收量 ÷ 派单量"
    ),
    "reply_rate": Formula("回复率", "replied", "dispatched", "已回复量 ÷ 派单量"),
    "on_time_reply_rate": Formula(
        "按时办结率", "replied_on_time", "due", "按时回复量 ÷ 期内到期量"
    ),
    "closure_rate": Formula("办结率", "closed_of_due", "due", "已办结量 ÷ 期内到期量"),
    "overdue_rate": Formula("超期率", "overdue", "due", "（逾期回复 + 到期未回复）÷ 期内到期量"),
    "follow_up_rate": Formula("回访率", "followed_up", "closed", "已回访量 ÷ 办结量"),
    "satisfaction_rate": Formula(
        "满意率", "satisfied", "valid_follow_ups", "（非常满意 + 满意 + 基本满意）÷ 有效回访量"
    ),
    "resolution_rate": Formula("解决率", "solved", "valid_follow_ups", "已解决 ÷ 有效回访量"),
    "response_rate": Formula(
        "响应率", "contacted_on_time", "dispatched", "按时联系诉求人量 ÷ 派单量"
    ),
    "return_rate": Formula("退回率", "returns", "sent_to_units", "退回次数 ÷ 派往单位次数"),
    "reopen_rate": Formula("重办率", "reopens", "closings", "重办次数 ÷ 办结次数"),
}
KPI_NAMES: Final = tuple(FORMULAS)
CALL_KPIS: Final = frozenset({"answer_rate", "service_level_15s", "abandon_rate"})
COUNT_NAMES: Final = (*CALL_COUNTS, *TICKET_COUNTS, *EVENT_COUNTS)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(slots=True)
class Figures:
    """The counts of one scope (everything, a unit, a category ...) and the KPIs from them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    average_wait_seconds: float | None = None
    average_talk_seconds: float | None = None
    with_calls: bool = False
    # A unit's figures: 直办 is the hotline's own share and means nothing for a unit.
    for_unit: bool = False

    def add(self, other: "Figures") -> None:
        for name, n in other.counts.items():
            self.counts[name] += n

    def kpis(self) -> dict[str, float | None]:
        return {
            name: None
            if (name in CALL_KPIS and not self.with_calls)
            or (name == "direct_resolution_rate" and self.for_unit)
            else ratio(self.counts[f.part], self.counts[f.whole])
            for name, f in FORMULAS.items()
        }

    def view(self) -> dict[str, Any]:
        """The JSON shape: each KPI, and the counts behind each."""
        values = self.kpis()
        return {
            **values,
            "average_wait_seconds": self.average_wait_seconds,
            "average_talk_seconds": self.average_talk_seconds,
            "counts": {
                name: {
                    "part": self.counts[f.part],
                    "whole": self.counts[f.whole],
                }
                for name, f in FORMULAS.items()
            },
            "totals": dict(self.counts),
        }


# ---------------------------------------------------------------- counting


def _count_if(condition: Condition) -> sa.ColumnElement[int]:
    return sa.func.count(sa.case((condition, 1)))


# The ticket counts come from a few populations, each read with one range scan: the count's
# condition implies its population's range, so a row outside it is never counted.
_POPULATIONS: Final = {
    Ticket.created_at: ("accepted", "resolved_directly"),
    Ticket.dispatched_at: ("dispatched", "signed_on_time", "replied", "contacted_on_time"),
    Ticket.reply_due_at: ("due", "replied_on_time", "closed_of_due", "overdue"),
    Ticket.closed_at: ("closed", "followed_up"),
    Ticket.followed_up_at: ("valid_follow_ups", "satisfied", "solved"),
}


def _ticket_key(group: GroupBy | None) -> Any:
    if group is GroupBy.UNIT:
        return Ticket.lead_unit_id
    if group is GroupBy.CATEGORY:
        return Ticket.category
    if group is GroupBy.DISTRICT:
        return Ticket.district_id
    return sa.literal(None)


def _count_tickets(
    session: Session, p: Period, group: GroupBy | None, where: Condition | None
) -> dict[Any, dict[str, int]]:
    key = _ticket_key(group)
    out: dict[Any, dict[str, int]] = {}
    for column, names in _POPULATIONS.items():
        query = sa.select(key.label("k"), *(_count_if(TICKET_COUNTS[n](p)).label(n) for n in names))
        query = query.where(p.holds(column))
        if where is not None:
            query = query.where(where)
        for row in session.execute(query.group_by(key)):
            counts = out.setdefault(row.k, {})
            for n in names:
                counts[n] = counts.get(n, 0) + int(row._mapping[n])
    return out


def _count_events(
    session: Session, p: Period, group: GroupBy | None, where: Condition | None
) -> dict[Any, dict[str, int]]:
    e = TicketEventRecord
    kinds = [k for kinds in EVENT_COUNTS.values() for k in kinds]
    if group is GroupBy.UNIT:
        key: Any = e.unit_id
    elif group is None:
        key = sa.literal(None)
    else:
        key = _ticket_key(group)
    query = sa.select(key.label("k"), e.event, sa.func.count().label("n")).where(
        e.event.in_(kinds), p.holds(e.at)
    )
    if group not in (None, GroupBy.UNIT):
        query = query.join(Ticket, Ticket.id == e.ticket_id)
    if where is not None:
        query = query.where(where)
    out: dict[Any, dict[str, int]] = {}
    for row in session.execute(query.group_by(key, e.event)):
        counts = out.setdefault(row.k, {})
        for name, wanted in EVENT_COUNTS.items():
            if row.event in wanted:
                counts[name] = counts.get(name, 0) + int(row.n)
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


# ---------------------------------------------------------------- breakdowns of 受理量


def accepted_by(session: Session, column: Any, p: Period) -> dict[Any, int]:
    """Accepted tickets of the period per value of `column` (channel, request type …)."""
    rows = session.execute(sa.select(column, sa.func.count()).where(accepted(p)).group_by(column))
    return {key: int(n) for key, n in rows}


def accepted_by_category(session: Session, p: Period) -> dict[str, int]:
    """Accepted tickets of the period per first-level category (未分类 for none)."""
    out: dict[str, int] = {}
    for category, n in accepted_by(session, Ticket.category, p).items():
        name = first_level(category)
        out[name] = out.get(name, 0) + n
    return out


def ranked_categories(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Biggest first; 未分类 after named categories of the same size; then by name."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] == UNCATEGORISED, kv[0]))


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


def _figures(ticket_counts: Mapping[str, int], event_counts: Mapping[str, int]) -> Figures:
    f = Figures()
    for name, n in (*ticket_counts.items(), *event_counts.items()):
        f.counts[name] += n
    return f


def first_level(category: str | None) -> str:
    head = (category or "").split("/", 1)[0].strip()
    return head or UNCATEGORISED


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
        where = Ticket.lead_unit_id.in_(sorted(scope)) if scope is not None else None
        tickets = _count_tickets(session, period, group, where)
        # Events count for the unit named on them: within a unit's scope, its own events.
        by_unit = _count_events(session, period, GroupBy.UNIT, None)
        if scope is not None:
            by_unit = {k: v for k, v in by_unit.items() if k in scope}
        if group is None or group is GroupBy.UNIT:
            events = by_unit
        else:
            event_where = TicketEventRecord.unit_id.in_(sorted(scope)) if scope else None
            events = _count_events(session, period, group, event_where)
    overall = _call_figures(uow, period) if unit_id is None else Figures(for_unit=True)
    for counts in tickets.values():
        overall.add(_figures(counts, {}))
    for counts in by_unit.values():
        overall.add(_figures({}, counts))
    report = KpiReport(
        period=period,
        overall=overall,
        unit=tree.get(unit_id) if unit_id is not None else None,
        group=group,
    )
    if group is not None:
        report.rows = _rows(tree, group, tickets, events, scope)
    return report


def _rows(
    tree: Mapping[int, UnitNode],
    group: GroupBy,
    tickets: Mapping[Any, Mapping[str, int]],
    events: Mapping[Any, Mapping[str, int]],
    scope_units: set[int] | None,
) -> list[dict[str, Any]]:
    merged: dict[Any, Figures] = {}

    def into(key: Any, f: Figures) -> None:
        merged.setdefault(key, Figures(for_unit=group is GroupBy.UNIT)).add(f)

    for key, counts in tickets.items():
        f = _figures(counts, {})
        for target in _targets(tree, group, key, scope_units):
            into(target, f)
    for key, counts in events.items():
        f = _figures({}, counts)
        for target in _targets(tree, group, key, scope_units):
            into(target, f)
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
    return c["accepted"] + c["dispatched"] + c["due"] + c["sent_to_units"]


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
