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
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any
from typing import Final

import sqlalchemy as sa
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


# ---------------------------------------------------------------- rounds


@dataclass(slots=True)
class Round:
    """One round of a ticket for one unit, as its events tell it (None: no such event)."""

    ticket_id: int
    unit_id: int | None
    started: dt.datetime
    opened_by: TicketEvent  # dispatch, reassign or reopen
    ended_by: TicketEvent | None = None  # the next round's start; None: the current round
    sign_due: dt.datetime | None = None  # of its last sign-for clock (start or uphold)
    signed: dt.datetime | None = None  # the sign answering that clock
    reply_due: dt.datetime | None = None  # in force: moved by an approved extension
    replied: dt.datetime | None = None  # the standing reply (not sent back by review)
    contact_due: dt.datetime | None = None
    contact: dt.datetime | None = None  # stated on a reply, else that reply; the earliest
    returned: bool = False
    followed_up: dt.datetime | None = None
    reached: bool = False
    solved: bool = False
    satisfied: bool = False
    closed: dt.datetime | None = None

    @property
    def passed_on(self) -> bool:
        """改派: the hotline gave the ticket to another unit, ending this round unjudged."""
        return self.ended_by is E.REASSIGN

    @property
    def verdict(self) -> dt.datetime | None:
        """The round's first follow-up or closing: the hotline's verdict on the unit's work."""
        found = [m for m in (self.followed_up, self.closed) if m is not None]
        return min(found) if found else None


# ---------------------------------------------------------------- the counts
# Each count is a test on one round (or a ticket) in a period, judged at `now`.


def dispatched(r: Round, p: Period) -> bool:
    """派单量: rounds started in the period (每次派单、改派、重办 each start one)."""
    return p.has(r.started)


def returned(r: Round, p: Period) -> bool:
    """被退回: of those, rounds in which the unit returned the ticket (`return`)."""
    return dispatched(r, p) and r.returned


def assessed(r: Round, p: Period) -> bool:
    """考核派单量: rounds started in the period and not passed on to another unit (改派)."""
    return dispatched(r, p) and not r.passed_on


def replied(r: Round, p: Period) -> bool:
    """已回复: of those, rounds with a reply standing (the last `reply` not followed by a
    `reject_reply`)."""
    return assessed(r, p) and r.replied is not None


def sign_settled(r: Round, p: Period) -> bool:
    """应签收量: assessed rounds whose last sign-for clock is settled: signed, or its
    deadline has passed."""
    return (
        assessed(r, p) and r.sign_due is not None and (r.signed is not None or r.sign_due <= p.now)
    )


def signed_on_time(r: Round, p: Period) -> bool:
    """按时签收: of those, signed no later than the deadline of the round's last sign-for
    clock (the dispatch's, or the `uphold`'s when the hotline upheld a return)."""
    return (
        sign_settled(r, p)
        and r.signed is not None
        and r.sign_due is not None
        and (r.signed <= r.sign_due)
    )


def contact_settled(r: Round, p: Period) -> bool:
    """应联系量: assessed rounds whose contact is settled: the unit has replied, or the
    contact deadline has passed."""
    return (
        assessed(r, p)
        and r.contact_due is not None
        and (r.contact is not None or r.contact_due <= p.now)
    )


def contacted_on_time(r: Round, p: Period) -> bool:
    """按时联系: of those, the contact (the 联系时间 stated on a reply of the round, or the
    reply itself when it states none; the earliest) is no later than the contact deadline."""
    return (
        contact_settled(r, p)
        and r.contact is not None
        and r.contact_due is not None
        and r.contact <= r.contact_due
    )


def due(r: Round, p: Period) -> bool:
    """到期量: rounds not passed on whose reply deadline in force fell in the period before
    the moment of judging (its end, or now)."""
    return (
        not r.passed_on
        and r.reply_due is not None
        and p.start <= r.reply_due < p.as_of
        and r.started >= p.start - DUE_LOOKBACK
    )


def replied_on_time(r: Round, p: Period) -> bool:
    """按时回复: of those, a standing reply no later than the deadline."""
    return (
        due(r, p)
        and r.replied is not None
        and r.reply_due is not None
        and (r.replied <= r.reply_due)
    )


def overdue(r: Round, p: Period) -> bool:
    """超期: due and not replied on time: replied late, or unreplied past the deadline."""
    return due(r, p) and not replied_on_time(r, p)


def closed_of_due(r: Round, p: Period) -> bool:
    """已办结: due rounds that were closed (`close`)."""
    return due(r, p) and r.closed is not None


def closed(r: Round, p: Period) -> bool:
    """办结量: rounds closed in the period (`close`)."""
    return p.has(r.closed)


def followed_up(r: Round, p: Period) -> bool:
    """已回访: of those, rounds with a `follow_up` before the closing (reached or not)."""
    return closed(r, p) and r.followed_up is not None


def finished(r: Round, p: Period) -> bool:
    """回访或办结量: rounds whose first `follow_up` or `close` fell in the period."""
    return p.has(r.verdict)


def reopened(r: Round, p: Period) -> bool:
    """被重办: of those, rounds the hotline reopened (the ticket's next round is a `reopen`)."""
    return finished(r, p) and r.ended_by is E.REOPEN


def valid_follow_ups(r: Round, p: Period) -> bool:
    """有效回访: `follow_up` events in the period that reached the citizen."""
    return p.has(r.followed_up) and r.reached


def satisfied(r: Round, p: Period) -> bool:
    """满意: valid follow-ups rated 非常满意, 满意 or 基本满意."""
    return valid_follow_ups(r, p) and r.satisfied


def solved(r: Round, p: Period) -> bool:
    """解决: valid follow-ups where the citizen said the problem was solved."""
    return valid_follow_ups(r, p) and r.solved


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


def _when(condition: Condition, value: Any) -> Any:
    return sa.case((condition, value))


def _candidates(p: Period) -> sa.CompoundSelect[Any]:
    """Ids of the tickets that may have a round counted in the period (a superset)."""
    e = TicketEventRecord
    due_end = p.as_of
    lookback = p.start - DUE_LOOKBACK
    # Deadlines are written in UTC ISO form; a day either side covers any other spelling,
    # and the exact test is `due` on the parsed round.
    low = (p.start - dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    high = (due_end + dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    deadline = _text(e.data, "reply_due_at")
    return sa.union(
        sa.select(e.ticket_id).where(e.event.in_(ROUND_STARTS), p.holds(e.at)),
        sa.select(e.ticket_id).where(e.event.in_((E.FOLLOW_UP, E.CLOSE)), p.holds(e.at)),
        sa.select(e.ticket_id).where(
            e.event.in_((*ROUND_STARTS, E.APPROVE_EXTENSION)),
            e.at >= lookback,
            e.at < due_end,
            deadline >= low,
            deadline < high,
        ),
        # Rounds recorded before their deadlines went on the events: the current round's
        # deadline is the ticket's (see _legacy).
        sa.select(Ticket.id).where(Ticket.reply_due_at >= p.start, Ticket.reply_due_at < due_end),
    )


_KINDS: Final = (
    *ROUND_STARTS,
    E.SIGN,
    E.UPHOLD,
    E.RETURN,
    E.APPROVE_EXTENSION,
    E.REPLY,
    E.REJECT_REPLY,
    E.FOLLOW_UP,
    E.CLOSE,
    E.MERGE,
)


def _round_rows(session: Session, p: Period) -> Any:
    """One row per round of every candidate ticket (round 0: events before any dispatch)."""
    e = TicketEventRecord
    is_start = e.event.in_(ROUND_STARTS)
    numbered = (
        sa.select(
            e.ticket_id,
            e.event,
            e.to_status,
            e.at,
            e.unit_id,
            e.data,
            sa.func.sum(sa.case((is_start, 1), else_=0))
            .over(partition_by=e.ticket_id, order_by=(e.at, e.id), rows=(None, 0))
            .label("rnd"),
        )
        .where(e.ticket_id.in_(_candidates(p)), e.event.in_(_KINDS))
        .subquery()
    )
    n = numbered.c
    start = n.event.in_(ROUND_STARTS)
    reply = n.event == E.REPLY
    follow = n.event == E.FOLLOW_UP
    stated = _text(n.data, "contacted_at")
    query = sa.select(
        n.ticket_id,
        n.rnd,
        sa.func.max(_when(start, n.event)).label("opened_by"),
        sa.func.min(_when(start, n.at)).label("started"),
        sa.func.max(_when(start, n.unit_id)).label("unit_id"),
        sa.func.max(_when(start, _text(n.data, "sign_due_at"))).label("sign_due"),
        sa.func.max(_when(start, _text(n.data, "reply_due_at"))).label("reply_due"),
        sa.func.max(_when(start, _text(n.data, "contact_due_at"))).label("contact_due"),
        sa.func.max(_when(n.event == E.UPHOLD, n.at)).label("upheld"),
        sa.func.max(_when(n.event == E.UPHOLD, _text(n.data, "sign_due_at"))).label("upheld_due"),
        sa.func.max(_when(n.event == E.APPROVE_EXTENSION, _text(n.data, "reply_due_at"))).label(
            "extended_due"
        ),
        sa.func.min(_when(n.event == E.SIGN, n.at)).label("first_sign"),
        sa.func.max(_when(n.event == E.SIGN, n.at)).label("last_sign"),
        sa.func.max(_when(reply, n.at)).label("last_reply"),
        sa.func.min(_when(reply, n.at)).label("first_reply"),
        sa.func.max(_when(n.event == E.REJECT_REPLY, n.at)).label("last_reject"),
        sa.func.min(_when(reply, stated)).label("stated_contact"),
        sa.func.min(_when(sa.and_(reply, stated.is_(None)), n.at)).label("unstated_reply"),
        sa.func.max(_when(n.event == E.RETURN, 1)).label("returned"),
        sa.func.min(_when(follow, n.at)).label("followed_up"),
        sa.func.max(_when(follow, _text(n.data, "reached"))).label("reached"),
        sa.func.max(_when(follow, _text(n.data, "solved"))).label("solved"),
        sa.func.max(_when(follow, _text(n.data, "satisfaction"))).label("satisfaction"),
        sa.func.min(_when(n.event == E.CLOSE, n.at)).label("closed"),
        sa.func.max(
            _when(sa.and_(n.event == E.MERGE, n.to_status == TicketStatus.MERGED), 1)
        ).label("merged"),
    ).group_by(n.ticket_id, n.rnd)
    return session.execute(query)


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _true(value: Any) -> bool:
    return value in (True, 1, "1", "true")


def _round(row: Any) -> Round:
    """Read one round from its aggregated events (see docs/reports.md, "Rounds")."""
    upheld = row.upheld
    r = Round(
        ticket_id=row.ticket_id,
        unit_id=row.unit_id,
        started=row.started,
        opened_by=E(row.opened_by),
        sign_due=_time(row.upheld_due) if upheld else _time(row.sign_due),
        reply_due=_time(row.extended_due) or _time(row.reply_due),
        contact_due=_time(row.contact_due),
        returned=bool(row.returned),
        followed_up=row.followed_up,
        reached=_true(row.reached),
        solved=_true(row.solved),
        satisfied=row.satisfaction in SATISFIED_LEVELS,
        closed=row.closed,
    )
    # A round has at most one sign before an uphold and one after it (a unit signs from 待签收
    # only, and may not return an upheld ticket again).
    if upheld is None:
        r.signed = row.first_sign
    elif row.last_sign is not None and row.last_sign > upheld:
        r.signed = row.last_sign
    if row.last_reply is not None and (row.last_reject is None or row.last_reject < row.last_reply):
        r.replied = row.last_reply
    contacts = [m for m in (_time(row.stated_contact), row.unstated_reply) if m is not None]
    r.contact = min(contacts) if contacts else None
    return r


@dataclass(slots=True)
class _Legacy:
    """A round recorded before the events carried its deadlines (see _legacy)."""

    round: Round
    first_reply: dt.datetime | None
    current: bool


def read_rounds(session: Session, p: Period) -> list[Round]:
    """Every round of the tickets that may count in the period, merged tickets left out."""
    by_ticket: dict[int, list[Any]] = {}
    merged: set[int] = set()
    for row in _round_rows(session, p):
        if row.merged:
            merged.add(row.ticket_id)
        if row.rnd:
            by_ticket.setdefault(row.ticket_id, []).append(row)
    rounds: list[Round] = []
    legacy: list[_Legacy] = []
    for ticket_id, rows in by_ticket.items():
        if ticket_id in merged:
            continue
        rows.sort(key=lambda row: row.rnd)
        for i, row in enumerate(rows):
            r = _round(row)
            if i + 1 < len(rows):
                r.ended_by = E(rows[i + 1].opened_by)
            rounds.append(r)
            if row.reply_due is None:
                legacy.append(_Legacy(r, row.first_reply, current=i + 1 == len(rows)))
    if legacy:
        _legacy(session, legacy)
    return rounds


def _legacy(session: Session, rounds: list[_Legacy]) -> None:
    """Fill in rounds started before their events carried deadlines (before migration 0011).

    The ticket's clock columns are exact for its current round: its deadlines then, and the
    联系时间 stated on its reply. An earlier round's deadlines were overwritten by the next
    round: they stay unknown, so the round is left out of the shares that need them. Its
    contact is its first reply (at the latest, that is when the unit reached the citizen).
    """
    current = {item.round.ticket_id for item in rounds if item.current}
    columns: dict[int, Any] = {}
    ids = sorted(current)
    for i in range(0, len(ids), 1000):
        rows = session.execute(
            sa.select(
                Ticket.id,
                Ticket.sign_due_at,
                Ticket.reply_due_at,
                Ticket.contact_due_at,
                Ticket.contacted_at,
            ).where(Ticket.id.in_(ids[i : i + 1000]))
        )
        columns.update({row.id: row for row in rows})
    for item in rounds:
        r = item.round
        r.contact = item.first_reply
        ticket = columns.get(r.ticket_id) if item.current else None
        if ticket is None:
            r.sign_due = r.reply_due = r.contact_due = None
            continue
        r.sign_due = ticket.sign_due_at
        r.reply_due = ticket.reply_due_at
        r.contact_due = ticket.contact_due_at
        if ticket.contacted_at is not None:
            r.contact = ticket.contacted_at


# ---------------------------------------------------------------- counting


def _ticket_keys(session: Session, group: GroupBy, ticket_ids: Iterable[int]) -> dict[int, Any]:
    column = Ticket.category if group is GroupBy.CATEGORY else Ticket.district_id
    ids = sorted(set(ticket_ids))
    out: dict[int, Any] = {}
    for i in range(0, len(ids), 5000):
        rows = session.execute(sa.select(Ticket.id, column).where(Ticket.id.in_(ids[i : i + 5000])))
        out.update({tid: key for tid, key in rows})
    return out


def _count_rounds(
    rounds: Iterable[Round], p: Period, key_of: Any, scope: set[int] | None
) -> dict[Any, dict[str, int]]:
    out: dict[Any, dict[str, int]] = {}
    for r in rounds:
        if scope is not None and r.unit_id not in scope:
            continue
        hits = [name for name, test in ROUND_COUNTS.items() if test(r, p)]
        if not hits:
            continue
        counts = out.setdefault(key_of(r), {})
        for name in hits:
            counts[name] = counts.get(name, 0) + 1
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
        rounds = read_rounds(session, period)
        if group in (GroupBy.CATEGORY, GroupBy.DISTRICT):
            assert group is not None
            keys = _ticket_keys(session, group, (r.ticket_id for r in rounds))

            def key_of(r: Round) -> Any:
                return keys.get(r.ticket_id)

        elif group is GroupBy.UNIT:

            def key_of(r: Round) -> Any:
                return r.unit_id

        else:

            def key_of(r: Round) -> Any:
                return None

        by_round = _count_rounds(rounds, period, key_of, scope)
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
