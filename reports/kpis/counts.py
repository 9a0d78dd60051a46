"""What each count of the KPIs counts, as SQL conditions: the docs' definitions, in code.

A round count is a condition on one round of `reports.kpis.rounds.rounds_cte`, a ticket count
a condition on a ticket, each within a `Period`.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord

E = TicketEvent
ROUND_STARTS: Final = (E.DISPATCH, E.REASSIGN, E.REOPEN)
# A round due in a period is looked for among the rounds started this long before it: no
# clock the hotline runs (reply clock plus the longest extension) comes near it.
DUE_LOOKBACK: Final = dt.timedelta(days=92)

Condition = sa.ColumnElement[bool]

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
# Each round count is a condition on one round of `rounds_cte` (its columns are described
# there), in the period's bounds; the conditions are the counts' definitions. Times compare
# as the database's `Clock` makes them comparable.


@dataclass(frozen=True, slots=True)
class Bounds:
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


def dispatched(r: Any, b: Bounds) -> Condition:
    """派单量: rounds started in the period (each 派单, 改派 and 重办 starts one)."""
    return _in(r.started, b.start, b.end)


def returned(r: Any, b: Bounds) -> Condition:
    """被退回: of those, rounds in which the unit returned the ticket (`return`)."""
    return sa.and_(dispatched(r, b), r.returned == 1)


def assessed(r: Any, b: Bounds) -> Condition:
    """考核派单量: rounds started in the period and not passed on to another unit (改派)."""
    return sa.and_(dispatched(r, b), _judged(r))


def replied(r: Any, b: Bounds) -> Condition:
    """已回复: of those, rounds with a reply standing (not sent back by review)."""
    return sa.and_(assessed(r, b), r.replied.is_not(None))


def sign_settled(r: Any, b: Bounds) -> Condition:
    """应签收量: assessed rounds whose last sign-for clock is settled: signed, or its
    deadline has passed."""
    return sa.and_(
        assessed(r, b), r.sign_due.is_not(None), sa.or_(r.signed.is_not(None), r.sign_due <= b.now)
    )


def signed_on_time(r: Any, b: Bounds) -> Condition:
    """按时签收: of those, signed no later than that clock's deadline."""
    return sa.and_(sign_settled(r, b), r.signed <= r.sign_due)


def contact_settled(r: Any, b: Bounds) -> Condition:
    """应联系量: assessed rounds whose contact is settled: replied, or the contact deadline
    has passed."""
    return sa.and_(
        assessed(r, b),
        r.contact_due.is_not(None),
        sa.or_(r.contact.is_not(None), r.contact_due <= b.now),
    )


def contacted_on_time(r: Any, b: Bounds) -> Condition:
    """按时联系: of those, the contact no later than the contact deadline."""
    return sa.and_(contact_settled(r, b), r.contact <= r.contact_due)


def due(r: Any, b: Bounds) -> Condition:
    """到期量: rounds not passed on whose reply deadline in force fell in the period before
    the moment of judging (its end, or now), started at most DUE_LOOKBACK before it."""
    return sa.and_(_judged(r), _in(r.reply_due, b.start, b.as_of), r.started >= b.lookback)


def replied_on_time(r: Any, b: Bounds) -> Condition:
    """按时回复: due rounds with a standing reply no later than the deadline."""
    return sa.and_(due(r, b), r.replied <= r.reply_due)


def overdue(r: Any, b: Bounds) -> Condition:
    """超期: due and not replied on time: replied late, or unreplied past the deadline."""
    return sa.and_(due(r, b), sa.or_(r.replied.is_(None), r.replied > r.reply_due))


def closed_of_due(r: Any, b: Bounds) -> Condition:
    """到期已办结: due rounds that were closed (`close`)."""
    return sa.and_(due(r, b), r.closed.is_not(None))


def closed(r: Any, b: Bounds) -> Condition:
    """办结量: rounds closed in the period (`close`)."""
    return _in(r.closed, b.start, b.end)


def followed_up(r: Any, b: Bounds) -> Condition:
    """已回访: of those, rounds followed up (reached or not) before the closing."""
    return sa.and_(closed(r, b), r.followed_up.is_not(None))


def finished(r: Any, b: Bounds) -> Condition:
    """回访或办结量: rounds whose first `follow_up` or `close` fell in the period."""
    return _in(r.verdict, b.start, b.end)


def reopened(r: Any, b: Bounds) -> Condition:
    """被重办: of those, rounds the hotline reopened (the ticket's next round is a `reopen`)."""
    return sa.and_(finished(r, b), r.ended_by == KIND[E.REOPEN])


def valid_follow_ups(r: Any, b: Bounds) -> Condition:
    """有效回访: rounds followed up in the period, the citizen reached."""
    return sa.and_(_in(r.followed_up, b.start, b.end), r.reached == 1)


def satisfied(r: Any, b: Bounds) -> Condition:
    """满意: valid follow-ups rated 非常满意, 满意 or 基本满意."""
    return sa.and_(valid_follow_ups(r, b), r.satisfied == 1)


def solved(r: Any, b: Bounds) -> Condition:
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


def is_merged(ticket_id: Any) -> Condition:
    """Whether the ticket was merged into another (已合并): its events hold the merge."""
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
