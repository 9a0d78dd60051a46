"""Hot topics of a period read from the tickets: the queries, and `hot_topics`, which runs them.

Merged duplicates are left out, in the period and before it. The words, clusters and report
are made by the pure modules beside this one.
"""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from infra.models import Unit
from reports.topics.clusters import Space
from reports.topics.clusters import check_parameters
from reports.topics.clusters import cluster_rows
from reports.topics.report import TopicReport
from reports.topics.report import TopicTicket
from reports.topics.report import rising_keywords
from reports.topics.report import ticket_place
from reports.topics.report import ticket_text
from reports.topics.report import topics_and_spots

# What a ticket's text is made of; read through the session's connection as plain rows.
_TEXT_COLUMNS = (
    Ticket.title,
    Ticket.content,
    Ticket.address,
    Ticket.community_id,
    Ticket.street_id,
    Ticket.district_id,
)


def _load_period(
    session: Session, start: dt.datetime, end: dt.datetime, names: dict[int, str]
) -> list[TopicTicket]:
    rows = (
        session.connection()
        .execute(
            sa.select(*_TEXT_COLUMNS, Ticket.id, Ticket.category, Ticket.created_at)
            .where(
                Ticket.created_at >= start,
                Ticket.created_at < end,
                Ticket.status != TicketStatus.MERGED,
            )
            .order_by(Ticket.id)
        )
        .all()
    )
    return [
        TopicTicket(
            id_,
            ticket_text(title, content, address, (community, street, district), names),
            category,
            ticket_place(community, street, address, names),
            created_at,
        )
        for title, content, address, community, street, district, id_, category, created_at in rows
    ]


def _load_before(
    session: Session, start: dt.datetime, weeks: int, names: dict[int, str]
) -> tuple[list[str], list[int]]:
    """Return the texts of the `weeks` weeks before start, and how many in each week.

    One query a week: no timestamps to read back and convert.
    """
    texts: list[str] = []
    sizes: list[int] = []
    for week in range(weeks):
        rows = (
            session.connection()
            .execute(
                sa.select(*_TEXT_COLUMNS)
                .where(
                    Ticket.created_at >= start - dt.timedelta(weeks=week + 1),
                    Ticket.created_at < start - dt.timedelta(weeks=week),
                    Ticket.status != TicketStatus.MERGED,
                )
                .order_by(Ticket.id)
            )
            .all()
        )
        before = len(texts)
        texts += (
            ticket_text(title, content, address, (community, street, district), names)
            for title, content, address, community, street, district in rows
        )
        sizes.append(len(texts) - before)
    return texts, sizes


def hot_topics(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    *,
    previous_weeks: int = 4,
    limit: int = 10,
    min_cluster: int = 3,
    similarity: float = 0.5,
) -> TopicReport:
    """Cluster the tickets created in [start, end) into topics, hot spots and rising keywords.

    Merged tickets (duplicates of a master) are left out, in the period and before it.

    - Topics: clusters of `min_cluster` tickets or more whose TF-IDF vectors link at cosine
      ≥ `similarity` (see `cluster_texts`), biggest first.
    - Hot spots: the tickets of one topic at one place (community, else street, else the
      address without whitespace), `min_cluster` or more, biggest first.
    - Rising: keywords (each ticket's 3 heaviest words) on `min_cluster` tickets or more that
      are new or at least twice their mean per week over the `previous_weeks` weeks (of 7
      days) before start, read with this period's words and weights. The period is meant to
      be one week: its count is compared with the weekly mean as it is. With
      `previous_weeks=0` there is nothing to compare with and nothing rises.

    Same tickets, same report: ties are broken by the lowest ticket id, place and keyword.
    """
    check_parameters(similarity, min_cluster)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if previous_weeks < 0 or limit < 0:
        raise ValueError("previous_weeks and limit must not be negative")
    # The catalogue of units is small (hundreds): all names at once.
    names = {unit_id: name for unit_id, name in session.execute(sa.select(Unit.id, Unit.name))}
    tickets = _load_period(session, start, end, names)
    if not tickets:
        return TopicReport(0, [], [], [])
    space = Space.fit([t.text for t in tickets])
    clusters = cluster_rows(space.matrix, similarity, min_cluster)
    topics, spots = topics_and_spots(tickets, space, clusters, limit, min_cluster)
    rising = []
    if previous_weeks:
        texts_before, week_sizes = _load_before(session, start, previous_weeks, names)
        rising = rising_keywords(space, space.read(texts_before), week_sizes, min_cluster, limit)
    return TopicReport(len(tickets), topics, spots, rising)
