"""The hotline's KPIs (考核指标) over any period: overall, per unit, per category, per district.

Every formula of ../shared/DOMAIN.md "KPIs" is stated once, in `FORMULAS` below, as the
names of two counts: the KPI is part ÷ whole (None when the whole is 0). docs/reports.md
defines every count so that an auditor can recompute it from `ticket_events` alone; the
docstrings below are those definitions, in code.

A period is the half-open [start, end) of aware datetimes (local days in the hotline's time
zone); `now` is the moment of asking. Populations are fixed by events in the period; their
outcomes are read from every event up to `now`. Events are never changed or removed, so a
figure of a past period only moves while outcomes of its own population are still coming in
(a reply after the period ended, a reopening of a round finished in it), never because of
something else.

Rounds (办理轮次): each `dispatch`, `reassign` or `reopen` event starts a round of a ticket
for the unit named on it, with the deadlines in its data (sign_due_at, reply_due_at,
contact_due_at); the round lasts until the ticket's next such event. Every later event of
the round names the same unit. An `uphold` (审定) restarts the round's sign-for clock, an
`approve_extension` moves its reply deadline.

Attribution: a round counts for its unit, a unit's figures include its sub-units' (a
district rolls up its streets); categories and districts are the ticket's. Calls are not
attributable to units: call KPIs exist overall only. Merged duplicates (已合并) count
nowhere: their master does.

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
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased

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

E = TicketEvent
ROUND_STARTS: Final = (E.DISPATCH, E.REASSIGN, E.REOPEN)
# A round due in a period is looked for among the rounds started this long before it: no
# clock the hotline runs (reply clock plus the longest extension) comes near it.
DUE_LOOKBACK: Final = dt.timedelta(days=92)

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

    def has(self, moment: dt.datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    @property
    def as_of(self) -> dt.datetime:
        """The moment the period is judged at: its end, or now if it has not ended."""
        return min(self.end, self.now)


# ---------------------------------------------------------------- the counts
# Each round count is a condition on one round of `_rounds` (its columns are described
# there), in the period's bounds; the conditions are the counts' definitions. Times compare
# as the database's `_Clock` makes them comparable.


@dataclass(frozen=True, slots=True)
class _Bounds:
    """The period's moments as the database compares them."""

    start: Any
    end: Any
    now: Any
    as_of: Any
    lookback: Any


def _in(value: Any, low: Any, high: Any) -> Condition:
    return sa.and_(value >= low, value < high)


def _judged(r: Any) -> Condition:
    # A round the hotline passed on to another unit (改派) counts in 派单量 and 退回率 only.
    return sa.or_(r.ended_by.is_(None), r.ended_by != KIND[E.REASSIGN])


def dispatched(r: Any, b: _Bounds) -> Condition:
    """派单量: rounds started in the period (each 派单, 改派 and 重办 starts one)."""
    return _in(r.started, b.start, b.end)


def returned(r: Any, b: _Bounds) -> Condition:
    """被退回: of those, rounds in which the unit returned the ticket (`return`)."""
    return sa.and_(dispatched(r, b), r.returned == 1)


def assessed(r: Any, b: _Bounds) -> Condition:
    """考核派单量: rounds started in the period and not passed on to another unit (改派)."""
    return sa.and_(dispatched(r, b), _judged(r))


def replied(r: Any, b: _Bounds) -> Condition:
    """已回复: of those, rounds with a reply standing (not sent back by review)."""
    return sa.and_(assessed(r, b), r.replied.is_not(None))


def sign_settled(r: Any, b: _Bounds) -> Condition:
    """应签收量: assessed rounds whose last sign-for clock is settled: signed, or its
    deadline has passed."""
    return sa.and_(
        assessed(r, b), r.sign_due.is_not(None), sa.or_(r.signed.is_not(None), r.sign_due <= b.now)
    )


def signed_on_time(r: Any, b: _Bounds) -> Condition:
    """按时签收: of those, signed no later than that clock's deadline."""
    return sa.and_(sign_settled(r, b), r.signed <= r.sign_due)


def contact_settled(r: Any, b: _Bounds) -> Condition:
    """应联系量: assessed rounds whose contact is settled: replied, or the contact deadline
    has passed."""
    return sa.and_(
        assessed(r, b),
        r.contact_due.is_not(None),
        sa.or_(r.contact.is_not(None), r.contact_due <= b.now),
    )


def contacted_on_time(r: Any, b: _Bounds) -> Condition:
    """按时联系: of those, the contact no later than the contact deadline."""
    return sa.and_(contact_settled(r, b), r.contact <= r.contact_due)


def due(r: Any, b: _Bounds) -> Condition:
    """到期量: rounds not passed on whose reply deadline in force fell in the period before
    the moment of judging (its end, or now), started at most DUE_LOOKBACK before it."""
    return sa.and_(_judged(r), _in(r.reply_due, b.start, b.as_of), r.started >= b.lookback)


def replied_on_time(r: Any, b: _Bounds) -> Condition:
    """按时回复: due rounds with a standing reply no later than the deadline."""
    return sa.and_(due(r, b), r.replied <= r.reply_due)


def overdue(r: Any, b: _Bounds) -> Condition:
    """超期: due and not replied on time: replied late, or unreplied past the deadline."""
    return sa.and_(due(r, b), sa.or_(r.replied.is_(None), r.replied > r.reply_due))


def closed_of_due(r: Any, b: _Bounds) -> Condition:
    """到期已办结: due rounds that were closed (`close`)."""
    return sa.and_(due(r, b), r.closed.is_not(None))


def closed(r: Any, b: _Bounds) -> Condition:
    """办结量: rounds closed in the period (`close`)."""
    return _in(r.closed, b.start, b.end)


def followed_up(r: Any, b: _Bounds) -> Condition:
    """已回访: of those, rounds followed up (reached or not) before the closing."""
    return sa.and_(closed(r, b), r.followed_up.is_not(None))


def finished(r: Any, b: _Bounds) -> Condition:
    """回访或办结量: rounds whose first `follow_up` or `close` fell in the period."""
    return _in(r.verdict, b.start, b.end)


def reopened(r: Any, b: _Bounds) -> Condition:
    """被重办: of those, rounds the hotline reopened (the ticket's next round is a `reopen`)."""
    return sa.and_(finished(r, b), r.ended_by == KIND[E.REOPEN])


def valid_follow_ups(r: Any, b: _Bounds) -> Condition:
    """有效回访: rounds followed up in the period, the citizen reached."""
    return sa.and_(_in(r.followed_up, b.start, b.end), r.reached == 1)


def satisfied(r: Any, b: _Bounds) -> Condition:
    """满意: valid follow-ups rated 非常满意, 满意 or 基本满意."""
    return sa.and_(valid_follow_ups(r, b), r.satisfied == 1)


def solved(r: Any, b: _Bounds) -> Condition:
    """解决: valid follow-ups where the citizen said the problem was solved."""
    return sa.and_(valid_follow_ups(r, b), r.solved == 1)


ROUND_COUNTS: Final = {
    "dispatched": dispatched,
    "returned": returned,
    "assessed": assessed,
    "replied": replied,
    "sign_settled": sign_settled,
    "signed_on_time": signed_on_time,
    "contact_settled": contact_settled,
    "contacted_on_time": contacted_on_time,
    "due": due,
    "replied_on_time": replied_on_time,
    "overdue": overdue,
    "closed_of_due": closed_of_due,
    "closed": closed,
    "followed_up": followed_up,
    "finished": finished,
    "reopened": reopened,
    "valid_follow_ups": valid_follow_ups,
    "satisfied": satisfied,
    "solved": solved,
}


def _merged(ticket_id: Any) -> Condition:
    m = aliased(TicketEventRecord)
    return sa.exists().where(
        m.ticket_id == ticket_id, m.event == E.MERGE, m.to_status == TicketStatus.MERGED
    )


def accepted(p: Period) -> Condition:
    """受理量: tickets created in the period (their `create` event; tickets.created_at is the
    same instant, read through its index), less those merged into another (已合并)."""
    return sa.and_(p.holds(Ticket.created_at), Ticket.status != TicketStatus.MERGED)


def resolved_directly(p: Period) -> Condition:
    """直办量: of those, tickets resolved at the hotline (a `resolve_directly` event; 直办办结
    is final, so the status says it)."""
    return sa.and_(accepted(p), Ticket.status == TicketStatus.RESOLVED)


TICKET_COUNTS: Final = {"accepted": accepted, "resolved_directly": resolved_directly}

# Call counts (callcenter.kpis): offered, answered, answered within 15 s, abandoned.
CALL_COUNTS: Final = ("calls_offered", "calls_answered", "calls_answered_15s", "calls_abandoned")

# What each count is called where people read it.
COUNT_LABELS: Final[Mapping[str, str]] = {
    "calls_offered": "呼入量",
    "calls_answered": "人工接通量",
    "calls_answered_15s": "15秒内接通量",
    "calls_abandoned": "放弃量",
    "accepted": "受理量",
    "resolved_directly": "直接办结量",
    "dispatched": "派单量",
    "returned": "被退回量",
    "assessed": "考核派单量",
    "replied": "已回复量",
    "sign_settled": "应签收量",
    "signed_on_time": "按时签收量",
    "contact_settled": "应联系量",
    "contacted_on_time": "按时联系量",
    "due": "到期量",
    "replied_on_time": "按时回复量",
    "overdue": "超期量",
    "closed_of_due": "到期已办结量",
    "closed": "办结量",
    "followed_up": "已回访量",
    "finished": "回访或办结量",
    "reopened": "被重办量",
    "valid_follow_ups": "有效回访量",
    "satisfied": "满意量",
    "solved": "解决量",
}

# ---------------------------------------------------------------- the formulas (stated once)


@dataclass(frozen=True, slots=True)
class Formula:
    label: str  # the KPI's name in Chinese
    part: str  # a count above the line
    whole: str  # a count below it
    text: str  # the formula as people read it
    lower_is_better: bool = False  # 超期率, 退回率, 重办率, 放弃率: less is better


FORMULAS: Final[Mapping[str, Formula]] = {
    "answer_rate": Formula("接通率", "calls_answered", "calls_offered", "人工接通量 ÷ 呼入量"),
    "service_level_15s": Formula(
        "15秒接通率", "calls_answered_15s", "calls_answered", "15秒内接通量 ÷ 人工接通量"
    ),
    "abandon_rate": Formula(
        "放弃率", "calls_abandoned", "calls_offered", "放弃量 ÷ 呼入量", lower_is_better=True
    ),
    "direct_resolution_rate": Formula(
        "直办率", "resolved_directly", "accepted", "直接办结量 ÷ 受理量"
    ),
    "on_time_sign_rate": Formula(
        "及时签收率",
        "signed_on_time",
        "sign_settled",
        "按时签收量 ÷ 应签收量（期内派单中已签收或签收时限已到的）",
    ),
    "reply_rate": Formula("回复率", "replied", "assessed", "已回复量 ÷ 考核派单量（不含改派走的）"),
    "on_time_reply_rate": Formula(
        "按时办结率", "replied_on_time", "due", "按时回复量 ÷ 到期量（回复时限在期内且已到）"
    ),
    "closure_rate": Formula("办结率", "closed_of_due", "due", "到期已办结量 ÷ 到期量"),
    "overdue_rate": Formula(
        "超期率",
        "overdue",
        "due",
        "（逾期回复 + 到期未回复）÷ 到期量",
        lower_is_better=True,
    ),
    "follow_up_rate": Formula("回访率", "followed_up", "closed", "已回访量 ÷ 办结量"),
    "satisfaction_rate": Formula(
        "满意率", "satisfied", "valid_follow_ups", "（非常满意 + 满意 + 基本满意）÷ 有效回访量"
    ),
    "resolution_rate": Formula("解决率", "solved", "valid_follow_ups", "已解决 ÷ 有效回访量"),
    "response_rate": Formula(
        "响应率",
        "contacted_on_time",
        "contact_settled",
        "按时联系诉求人量 ÷ 应联系量（期内派单中已回复或联系时限已到的）",
    ),
    "return_rate": Formula(
        "退回率", "returned", "dispatched", "被退回量 ÷ 派单量", lower_is_better=True
    ),
    "reopen_rate": Formula(
        "重办率",
        "reopened",
        "finished",
        "被重办量 ÷ 回访或办结量（期内首次回访或办结的）",
        lower_is_better=True,
    ),
}
KPI_NAMES: Final = tuple(FORMULAS)
CALL_KPIS: Final = frozenset({"answer_rate", "service_level_15s", "abandon_rate"})
# The hotline's own KPIs: no unit has them (calls, and 直办率, the hotline's share).
HOTLINE_KPIS: Final = CALL_KPIS | {"direct_resolution_rate"}
LOWER_IS_BETTER: Final = frozenset(n for n, f in FORMULAS.items() if f.lower_is_better)
COUNT_NAMES: Final = (*CALL_COUNTS, *TICKET_COUNTS, *ROUND_COUNTS)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(slots=True)
class Figures:
    """The counts of one scope (everything, a unit, a category ...) and the KPIs from them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    average_wait_seconds: float | None = None
    average_talk_seconds: float | None = None
    with_calls: bool = False
    # A unit's figures: 受理 and 直办 are the hotline's own and mean nothing for a unit.
    for_unit: bool = False

    def add(self, other: "Figures") -> None:
        for name, n in other.counts.items():
            self.counts[name] += n

    def applies(self, name: str) -> bool:
        """Whether this scope has the KPI at all (calls: the hotline only; 直办率: not units)."""
        if name in CALL_KPIS:
            return self.with_calls
        return not (name == "direct_resolution_rate" and self.for_unit)

    def kpis(self) -> dict[str, float | None]:
        return {
            name: ratio(self.counts[f.part], self.counts[f.whole]) if self.applies(name) else None
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
                name: {"part": self.counts[f.part], "whole": self.counts[f.whole]}
                for name, f in FORMULAS.items()
            },
            "totals": dict(self.counts),
        }


# ---------------------------------------------------------------- reading the rounds


def _text(column: Any, key: str) -> Any:
    return column[key].as_string()


def _least(a: Any, b: Any) -> Any:
    """The earlier of two times, either of which may be NULL (LEAST differs by database)."""
    return sa.case((a.is_(None), b), (b.is_(None), a), (a <= b, a), else_=b)


class _Clock:
    """Times that compare alike: timestamps on PostgreSQL; Julian days on SQLite, whose
    time functions read both the stored and the ISO form (to the millisecond)."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def column(self, expr: Any) -> Any:
        return sa.func.julianday(expr) if self.sqlite else expr

    def text(self, expr: Any) -> Any:
        """A time written in an event's data (ISO 8601 with its offset)."""
        if self.sqlite:
            return sa.func.julianday(expr)
        return sa.cast(expr, sa.DateTime(timezone=True))

    def data(self, column: Any, several: Condition) -> Any:
        """An event's data, for reading several keys: PostgreSQL's json type parses the
        whole text at each key, so the rows read for several keys parse it once (jsonb)."""
        if self.sqlite:
            return column
        return sa.case((several, sa.type_coerce(sa.cast(column, postgresql.JSONB), sa.JSON)))

    def value(self, moment: dt.datetime) -> Any:
        if self.sqlite:
            return sa.func.julianday(sa.literal(moment.astimezone(dt.UTC).isoformat()))
        return sa.literal(moment, sa.DateTime(timezone=True))

    def bounds(self, p: Period) -> _Bounds:
        return _Bounds(
            start=self.value(p.start),
            end=self.value(p.end),
            now=self.value(p.now),
            as_of=self.value(p.as_of),
            lookback=self.value(p.start - DUE_LOOKBACK),
        )


def _candidates(p: Period) -> sa.CompoundSelect[Any]:
    """Ids of the tickets that may have a round counted in the period (a superset)."""
    e = TicketEventRecord
    due_end = p.as_of
    # A round due in the period is the ticket's current one (tickets.reply_due_at is its
    # deadline in force, written with its event) or one a reopening ended (the reopen event
    # keeps that round's deadline). Deadlines are written in UTC ISO form; a day either side
    # covers any other spelling, and `due` makes the exact test.
    low = (p.start - dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    high = (due_end + dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    ended_due = _text(e.data, "ended_reply_due_at")
    return sa.union(
        sa.select(e.ticket_id).where(
            e.event.in_((*ROUND_STARTS, E.FOLLOW_UP, E.CLOSE)), p.holds(e.at)
        ),
        sa.select(Ticket.id).where(Ticket.reply_due_at >= p.start, Ticket.reply_due_at < due_end),
        sa.select(e.ticket_id).where(
            e.event == E.REOPEN,
            e.at >= p.start - DUE_LOOKBACK,  # after the round's start
            # Reopenings written before they kept the deadline (December 2026) all come in.
            sa.or_(ended_due.is_(None), sa.and_(ended_due >= low, ended_due < high)),
        ),
    )


# The events a round is read from, each as a small number: the per-round aggregates then
# compare integers, not event names (a month of a big city is a quarter million events).
KIND: Final[Mapping[TicketEvent, int]] = {
    E.DISPATCH: 1,
    E.REASSIGN: 2,
    E.REOPEN: 3,
    E.SIGN: 4,
    E.UPHOLD: 5,
    E.RETURN: 6,
    E.APPROVE_EXTENSION: 7,
    E.REPLY: 8,
    E.REJECT_REPLY: 9,
    E.FOLLOW_UP: 10,
    E.CLOSE: 11,
    E.MERGE: 12,
}
_LAST_START: Final = KIND[E.REOPEN]  # 1..3 start a round


def _rounds(session: Session, p: Period, clock: _Clock, group: GroupBy | None) -> Any:
    """Every round of the tickets that may count in the period, one row each, merged
    tickets left out. Columns (times comparable through `clock`): ticket_id, unit_id (the
    unit on the starting event), started, ended_by (the next round's starting event, None
    for the current round), sign_due and signed (the last sign-for clock, the start's or an
    uphold's, and the sign answering it), reply_due (in force) and replied (the standing
    reply), contact_due and contact, returned, followed_up, reached, solved, satisfied,
    closed, verdict (the first follow-up or closing); grouped by category or district, the
    ticket's category and district_id.
    """
    e = TicketEventRecord
    if not clock.sqlite:
        # An explicit list: the planner then reads the events through their ticket index
        # rather than scanning the whole table.
        ids = list(session.scalars(_candidates(p)))
        wanted: Any = e.ticket_id == sa.any_(sa.literal(ids, postgresql.ARRAY(sa.Integer)))
    else:
        wanted = e.ticket_id.in_(_candidates(p))
    is_start = e.event.in_(ROUND_STARTS)
    numbered = (
        sa.select(
            e.ticket_id,
            sa.case(KIND, value=e.event, else_=0).label("kind"),
            e.to_status,
            clock.column(e.at).label("at"),
            e.unit_id,
            clock.data(
                e.data, e.event.in_((*ROUND_STARTS, E.UPHOLD, E.APPROVE_EXTENSION, E.FOLLOW_UP))
            ).label("data"),
            # what a reply states as the contact (None: nothing), read once
            sa.case((e.event == E.REPLY, _text(e.data, "contacted_at"))).label("stated"),
            sa.func.count()
            .filter(is_start)
            .over(partition_by=e.ticket_id, order_by=(e.at, e.id), rows=(None, 0))
            .label("rnd"),
        )
        .where(wanted, e.event.in_(KIND))
        .subquery("numbered")
    )
    n = numbered.c
    k = n.kind
    start = k <= _LAST_START
    reply = k == KIND[E.REPLY]
    follow = k == KIND[E.FOLLOW_UP]
    stated = n.stated

    def first(condition: Condition, value: Any) -> Any:
        return sa.func.min(value).filter(condition)

    def last(condition: Condition, value: Any) -> Any:
        return sa.func.max(value).filter(condition)

    def flag(condition: Condition) -> Any:
        return sa.func.max(sa.literal(1)).filter(condition)  # 1, or NULL

    # One row per round: what its events say.
    per_round = (
        sa.select(
            n.ticket_id,
            n.rnd,
            last(start, k).label("opened_by"),
            first(start, n.at).label("started"),
            last(start, n.unit_id).label("unit_id"),
            last(start, _text(n.data, "sign_due_at")).label("sign_due_text"),
            last(start, _text(n.data, "reply_due_at")).label("reply_due_text"),
            last(start, _text(n.data, "contact_due_at")).label("contact_due_text"),
            last(k == KIND[E.UPHOLD], n.at).label("upheld"),
            last(k == KIND[E.UPHOLD], _text(n.data, "sign_due_at")).label("upheld_due_text"),
            last(k == KIND[E.APPROVE_EXTENSION], _text(n.data, "reply_due_at")).label(
                "extended_due_text"
            ),
            first(k == KIND[E.SIGN], n.at).label("first_sign"),
            last(k == KIND[E.SIGN], n.at).label("last_sign"),
            first(reply, n.at).label("first_reply"),
            last(reply, n.at).label("last_reply"),
            last(k == KIND[E.REJECT_REPLY], n.at).label("last_reject"),
            first(sa.and_(reply, stated.is_not(None)), clock.text(stated)).label("stated"),
            first(sa.and_(reply, stated.is_(None)), n.at).label("unstated"),
            flag(k == KIND[E.RETURN]).label("returned"),
            first(follow, n.at).label("followed_up"),
            flag(sa.and_(follow, n.data["reached"].as_boolean())).label("reached"),
            flag(sa.and_(follow, n.data["solved"].as_boolean())).label("solved"),
            flag(
                sa.and_(follow, _text(n.data, "satisfaction").in_(sorted(SATISFIED_LEVELS)))
            ).label("satisfied"),
            first(k == KIND[E.CLOSE], n.at).label("closed"),
            flag(sa.and_(k == KIND[E.MERGE], n.to_status == TicketStatus.MERGED)).label("merged"),
        )
        .group_by(n.ticket_id, n.rnd)
        .subquery("per_round")
    )
    g = per_round.c
    ticket = g.ticket_id
    # Across a ticket's rounds: how each ended, which is current, whether it was merged.
    across = sa.select(
        *g,
        sa.func.lead(g.opened_by).over(partition_by=ticket, order_by=g.rnd).label("ended_by"),
        sa.func.max(g.rnd).over(partition_by=ticket).label("last_rnd"),
        sa.func.max(g.merged).over(partition_by=ticket).label("merged_ticket"),
    ).subquery("across")
    w = across.c
    t = Ticket
    # Rounds started before their events carried deadlines (docs/reports.md) read the
    # ticket's clock columns when current (exact then), else stay without deadlines; their
    # contact is the ticket's stated 联系时间 when current, else their first reply.
    legacy = w.reply_due_text.is_(None)
    current = w.rnd == w.last_rnd

    def of_ticket(column: Any) -> Any:
        # Read only for such rounds (CASE evaluates lazily): no ticket row for the others.
        # Its own ticket row: never the grouping's joined one (no correlation to it).
        own = (
            sa.select(clock.column(column))
            .where(t.id == w.ticket_id)
            .correlate_except(t)
            .scalar_subquery()
        )
        return sa.case((current, own))

    # Grouped by category or district: the ticket's.
    grouping = [t.category, t.district_id] if group in (GroupBy.CATEGORY, GroupBy.DISTRICT) else []
    query = sa.select(
        w.ticket_id,
        w.unit_id,
        w.started,
        w.ended_by,
        w.returned,
        w.followed_up,
        w.reached,
        w.solved,
        w.satisfied,
        w.closed,
        *grouping,
        sa.case(
            (legacy, of_ticket(t.sign_due_at)),
            (w.upheld.is_not(None), clock.text(w.upheld_due_text)),
            else_=clock.text(w.sign_due_text),
        ).label("sign_due"),
        sa.case(
            (w.upheld.is_(None), w.first_sign),
            (w.last_sign > w.upheld, w.last_sign),
        ).label("signed"),
        sa.case(
            (legacy, of_ticket(t.reply_due_at)),
            else_=clock.text(sa.func.coalesce(w.extended_due_text, w.reply_due_text)),
        ).label("reply_due"),
        sa.case(
            (
                sa.and_(
                    w.last_reply.is_not(None),
                    sa.or_(w.last_reject.is_(None), w.last_reject < w.last_reply),
                ),
                w.last_reply,
            )
        ).label("replied"),
        sa.case((legacy, of_ticket(t.contact_due_at)), else_=clock.text(w.contact_due_text)).label(
            "contact_due"
        ),
        sa.case(
            (legacy, sa.func.coalesce(of_ticket(t.contacted_at), w.first_reply)),
            else_=_least(w.stated, w.unstated),
        ).label("contact"),
        _least(w.followed_up, w.closed).label("verdict"),
    ).where(w.rnd > 0, w.merged_ticket.is_(None))
    if grouping:
        query = query.join(t, t.id == w.ticket_id)
    return query.cte("rounds").prefix_with("MATERIALIZED")


# ---------------------------------------------------------------- counting


def _count_rounds(
    session: Session, p: Period, group: GroupBy | None, scope: set[int] | None
) -> dict[Any, dict[str, int]]:
    clock = _Clock(session.get_bind().dialect.name)
    if not clock.sqlite:
        # Compiling this one big query for JIT costs more than it saves (about 0.1 s).
        session.execute(sa.text("SET LOCAL jit = off"))
    r = _rounds(session, p, clock, group).c
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


def daily(session: Session, midnights: list[dt.datetime]) -> list[tuple[int, int]]:
    """(受理量, 派单量) per day between consecutive local midnights, as the KPIs count them."""
    days = [Period(a, b, b) for a, b in zip(midnights, midnights[1:], strict=False)]
    whole = Period(midnights[0], midnights[-1], midnights[-1])
    row = session.execute(
        sa.select(*(sa.func.count(sa.case((accepted(d), 1))) for d in days)).where(accepted(whole))
    ).one()
    e = TicketEventRecord
    starts = session.execute(
        sa.select(e.at).where(
            e.event.in_(ROUND_STARTS), whole.holds(e.at), sa.not_(_merged(e.ticket_id))
        )
    ).scalars()
    sent = [0] * len(days)
    for moment in starts:
        for i, d in enumerate(days):
            if d.has(moment):
                sent[i] += 1
                break
    return [(int(row[i]), sent[i]) for i in range(len(days))]


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
