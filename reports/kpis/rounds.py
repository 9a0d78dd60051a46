"""Every round (办理轮次) of the tickets that may count in a period, read from their events.

One row per round, its times comparable through a `Clock` (timestamps on PostgreSQL, Julian
days on SQLite); the counts of reports.kpis.counts are conditions on these rows.
"""

import datetime as dt
from typing import Any
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from dispatch.tickets.domain import SATISFIED_LEVELS
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from dispatch.tickets.models import TicketEventRecord
from reports.kpis.counts import DUE_LOOKBACK
from reports.kpis.counts import KIND
from reports.kpis.counts import ROUND_STARTS
from reports.kpis.counts import Bounds
from reports.kpis.counts import Condition
from reports.kpis.counts import E
from reports.kpis.counts import Period
from reports.kpis.definitions import GroupBy

LAST_START: Final = KIND[E.REOPEN]  # 1..3 start a round


def _text(column: Any, key: str) -> Any:
    return column[key].as_string()


def _least(a: Any, b: Any) -> Any:
    """The earlier of two times, either of which may be NULL (LEAST differs by database)."""
    return sa.case((a.is_(None), b), (b.is_(None), a), (a <= b, a), else_=b)


class Clock:
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

    def bounds(self, p: Period) -> Bounds:
        return Bounds(
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


def _events(session: Session, p: Period, clock: Clock) -> Any:
    """The events rounds are read from, of the tickets that may count in the period, each
    numbered with its round (rnd: the round starts up to it; 0 before the first start).
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
    return (
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


def _per_round(numbered: Any, clock: Clock) -> Any:
    """One row per round of a ticket: what its events say."""
    n = numbered.c
    k = n.kind
    start = k <= LAST_START
    reply = k == KIND[E.REPLY]
    follow = k == KIND[E.FOLLOW_UP]
    stated = n.stated

    def first(condition: Condition, value: Any) -> Any:
        return sa.func.min(value).filter(condition)

    def last(condition: Condition, value: Any) -> Any:
        return sa.func.max(value).filter(condition)

    def flag(condition: Condition) -> Any:
        return sa.func.max(sa.literal(1)).filter(condition)  # 1, or NULL

    return (
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


def _across(per_round: Any) -> Any:
    """The rounds, and across a ticket's rounds: how each ended, which is current, whether
    the ticket was merged."""
    g = per_round.c
    ticket = g.ticket_id
    return sa.select(
        *g,
        sa.func.lead(g.opened_by).over(partition_by=ticket, order_by=g.rnd).label("ended_by"),
        sa.func.max(g.rnd).over(partition_by=ticket).label("last_rnd"),
        sa.func.max(g.merged).over(partition_by=ticket).label("merged_ticket"),
    ).subquery("across")


def rounds_cte(session: Session, p: Period, clock: Clock, group: GroupBy | None) -> Any:
    """Every round of the tickets that may count in the period, one row each, merged
    tickets left out. Columns (times comparable through `clock`): ticket_id, unit_id (the
    unit on the starting event), started, ended_by (the next round's starting event, None
    for the current round), sign_due and signed (the last sign-for clock, the start's or an
    uphold's, and the sign answering it), reply_due (in force) and replied (the standing
    reply), contact_due and contact, returned, followed_up, reached, solved, satisfied,
    closed, verdict (the first follow-up or closing); grouped by category or district, the
    ticket's category and district_id.
    """
    w = _across(_per_round(_events(session, p, clock), clock)).c
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
