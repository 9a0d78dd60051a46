"""What a topic report says, and how it is put together from a period's clustered tickets.

Topics are clusters of similar tickets (reports.topics.clusters), named by their heaviest
words. Hot spots: the tickets of one topic at one place (community, else street, else the
address); `min_cluster` of them make a hot spot. Rising: a ticket's keywords are its 3
heaviest words; the previous weeks' tickets are read with the period's words and IDF (words
new this period weigh nothing there), so that a keyword is counted the same way before and
now.

Pure: the tickets come in as `TopicTicket`s (reports.topics.queries reads them).
"""

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reports.topics.clusters import Space
from reports.topics.clusters import top_columns
from reports.topics.words import MIN_WORD
from reports.topics.words import Ints

# A ticket's matter is stated early; the rest of a 50,000-character paste adds only cost.
MAX_CONTENT_CHARS = 2_000
TICKET_KEYWORDS = 3
EXAMPLES = 5
# A keyword rises when this period counts at least this many times its weekly baseline.
RISING_RATIO = 2.0
_DIGIT = re.compile(r"[0-9０-９]")


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Topic:
    """A cluster of similar tickets of the period (热点问题)."""

    label: str  # top keywords joined by "、", e.g. "噪音、施工、夜间"
    keywords: tuple[str, ...]  # up to 5, most characteristic first
    count: int  # tickets in the cluster
    ticket_ids: tuple[int, ...]  # up to 5 examples, most recent first
    category: str | None  # most common first-level category ("城市管理"), None if none


@dataclass(frozen=True, slots=True)
class HotSpot:
    """The tickets of one topic at one place (热点地区)."""

    place: str  # community name, else street name, else the normalised address
    topic: str  # the Topic.label of the cluster
    count: int
    ticket_ids: tuple[int, ...]  # up to 5, most recent first


@dataclass(frozen=True, slots=True)
class RisingTopic:
    """A keyword on more tickets than in the weeks before (上升问题)."""

    keyword: str
    count: int  # tickets this period whose keywords include it
    baseline: float  # mean per week over the previous weeks
    ratio: float | None  # count / baseline; None when baseline is 0 (new)


@dataclass(frozen=True, slots=True)
class TopicReport:
    """What `hot_topics` found in a period."""

    tickets: int  # tickets considered in the period
    topics: list[Topic]  # biggest first, at most `limit`
    hot_spots: list[HotSpot]  # biggest first, at most `limit`
    rising: list[RisingTopic]  # steepest first, at most `limit`


# ---------------------------------------------------------------- putting it together


@dataclass(frozen=True, slots=True)
class TopicTicket:
    """A ticket of the period as topics read it: what it is about, and where."""

    id: int
    text: str
    category: str | None
    place: str | None
    created_at: dt.datetime


def ticket_text(
    title: str,
    content: str,
    address: str | None,
    units: tuple[int | None, int | None, int | None],
    names: dict[int, str],
) -> str:
    """Return what a ticket is about: title and content without the ticket's own place.

    The address (as written, without spaces, and up to its first digit: 湖滨街道阳光花园 of
    湖滨街道阳光花园3号楼) and the names of its community, street and district are where,
    not what: they go to the hot spots, not into the words.
    """
    text = title + "\n" + content[:MAX_CONTENT_CHARS]
    if address:
        bare = "".join(address.split())
        # Longest first: each holds the next.
        for place in (address, bare, _DIGIT.split(bare, maxsplit=1)[0]):
            if len(place) >= MIN_WORD:
                text = text.replace(place, " ")
    for unit_id in units:
        name = names.get(unit_id or 0, "")
        if len(name) >= MIN_WORD:
            text = text.replace(name, " ")
    return text


def ticket_place(
    community_id: int | None, street_id: int | None, address: str | None, names: dict[int, str]
) -> str | None:
    """Return where a ticket is: its community, else its street, else its bare address."""
    for unit_id in (community_id, street_id):
        if unit_id is not None and names.get(unit_id):
            return names[unit_id]
    return "".join((address or "").split()) or None


def _first_level(category: str | None) -> str | None:
    level = (category or "").split("/", 1)[0].strip()
    return level or None


def _recent(tickets: Sequence[TopicTicket]) -> tuple[int, ...]:
    ordered = sorted(tickets, key=lambda t: (t.created_at, t.id), reverse=True)
    return tuple(t.id for t in ordered[:EXAMPLES])


def _topic(tickets: Sequence[TopicTicket], space: Space, cluster: Ints) -> Topic:
    members = [tickets[i] for i in cluster]
    keywords = space.keywords(cluster)
    levels = Counter(level for t in members if (level := _first_level(t.category)))
    category = min(levels, key=lambda k: (-levels[k], k)) if levels else None
    return Topic("、".join(keywords), keywords, len(members), _recent(members), category)


def topics_and_spots(
    tickets: Sequence[TopicTicket], space: Space, clusters: Sequence[Ints], limit: int, least: int
) -> tuple[list[Topic], list[HotSpot]]:
    """Return the biggest topics and hot spots; only the clusters shown are named.

    The clusters come biggest first, ties by their first ticket (the lowest id).
    """
    named: dict[int, Topic] = {}

    def topic(k: int) -> Topic:
        if k not in named:
            named[k] = _topic(tickets, space, clusters[k])
        return named[k]

    spots: list[tuple[str, int, list[TopicTicket]]] = []
    for k, cluster in enumerate(clusters):
        at: dict[str, list[TopicTicket]] = {}
        for i in cluster:
            place = tickets[i].place
            if place:
                at.setdefault(place, []).append(tickets[i])
        spots += ((place, k, here) for place, here in at.items() if len(here) >= least)
    spots.sort(key=lambda spot: (-len(spot[2]), spot[0], spot[1]))
    return [topic(k) for k in range(min(limit, len(clusters)))], [
        HotSpot(place, topic(k).label, len(here), _recent(here)) for place, k, here in spots[:limit]
    ]


def rising_keywords(
    space: Space, before: Any, week_sizes: Sequence[int], min_cluster: int, limit: int
) -> list[RisingTopic]:
    """Keywords counted this period against their mean per week before.

    Weeks without a single ticket (before the hotline's records begin) are left out of the
    mean rather than counted as weeks of zero.
    """
    width = len(space.terms)
    _, columns = top_columns(space.matrix, TICKET_KEYWORDS)
    now = np.bincount(columns, minlength=width)
    earlier = np.zeros(width, np.int64)
    if before.shape[0]:
        _, columns = top_columns(before, TICKET_KEYWORDS)
        earlier = np.bincount(columns, minlength=width)
    weeks = sum(1 for size in week_sizes if size)
    rising = []
    for column in np.flatnonzero(now >= min_cluster):
        count = int(now[column])
        baseline = float(earlier[column]) / weeks if weeks else 0.0
        ratio = count / baseline if baseline else None
        if ratio is None or ratio >= RISING_RATIO:
            rising.append(RisingTopic(space.terms[column], count, baseline, ratio))
    rising.sort(key=lambda r: (r.ratio is not None, -(r.ratio or 0.0), -r.count, r.keyword))
    # 噪音 after 噪音扰民 says the same again.
    shown: list[RisingTopic] = []
    for topic in rising:
        if len(shown) == limit:
            break
        if not any(topic.keyword in s.keyword or s.keyword in topic.keyword for s in shown):
            shown.append(topic)
    return shown
