"""Duplicate detection: open tickets on the same matter, at the same place or from the same caller.

Candidates are the open tickets of the last `window_days` that share the caller's number, or
the community or street of the draft. Each is compared by the cosine of its word vector
(jieba words without stop words, the title counted twice) with the draft's; a candidate from
the same caller needs less similarity than one that only shares the place.
"""

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.routing.locality import Locality
from dispatch.tickets.domain import OPEN_STATUSES
from dispatch.tickets.models import Ticket
from infra.text import Document
from infra.text import shared_tokenizer

MAX_CANDIDATES = 300


@dataclass(frozen=True, slots=True)
class DuplicateRules:
    window_days: int = 7
    same_caller_min: float = 0.35
    same_place_min: float = 0.55
    limit: int = 5


@dataclass(frozen=True, slots=True)
class Duplicate:
    ticket_id: int
    similarity: float
    same_caller: bool
    same_place: str | None  # "community" or "street"
    title: str
    status: str
    created_at: dt.datetime


def vector(doc: Document) -> Counter[str]:
    tok = shared_tokenizer()
    words = tok.words(doc.title)
    counts = Counter(words + words + tok.words(doc.text))
    return counts


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(v * large.get(k, 0) for k, v in small.items())
    if not dot:
        return 0.0
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm


def find_duplicates(
    session: Session,
    doc: Document,
    locality: Locality,
    caller_phone: str | None,
    now: dt.datetime,
    rules: DuplicateRules,
    exclude_id: int | None = None,
) -> list[Duplicate]:
    """Return likely duplicates of a draft, most similar first."""
    same: list[sa.ColumnElement[bool]] = []
    if caller_phone:
        same.append(Ticket.caller_phone == caller_phone)
    if locality.community_id:
        same.append(Ticket.community_id == locality.community_id)
    if locality.street_id:
        same.append(Ticket.street_id == locality.street_id)
    if not same or not (doc.title or doc.text):
        return []
    query = (
        sa.select(
            Ticket.id,
            Ticket.title,
            Ticket.content,
            Ticket.caller_phone,
            Ticket.community_id,
            Ticket.street_id,
            Ticket.status,
            Ticket.created_at,
        )
        .where(
            Ticket.status.in_(sorted(OPEN_STATUSES)),
            Ticket.created_at >= now - dt.timedelta(days=rules.window_days),
            sa.or_(*same),
        )
        .order_by(Ticket.created_at.desc())
        .limit(MAX_CANDIDATES)
    )
    if exclude_id is not None:
        query = query.where(Ticket.id != exclude_id)
    mine = vector(doc)
    found = []
    for tid, title, content, phone, community, street, status, created in session.execute(query):
        sim = cosine(mine, vector(Document.of(title, content)))
        same_caller = bool(caller_phone) and phone == caller_phone
        place = None
        if locality.community_id and community == locality.community_id:
            place = "community"
        elif locality.street_id and street == locality.street_id:
            place = "street"
        needed = rules.same_caller_min if same_caller else rules.same_place_min
        if sim >= needed:
            found.append(
                Duplicate(tid, round(sim, 3), same_caller, place, title, status.value, created)
            )
    found.sort(key=lambda d: (-d.similarity, -d.ticket_id))
    return found[: rules.limit]
