"""The search index as each process holds it, and the job that keeps articles indexed.

Cutting text with jieba is the slow part of indexing (about 1.5 ms an article), so each
article's terms are computed once, when it is published (or by the rq job `kb.jobs.reindex_kb`
after an import or a dictionary change), and kept in `kb_articles.terms`.
Every process then builds its in-memory BM25 matrix from those stored terms, which takes
well under a second for ten thousand articles, and rebuilds it whenever the database's
*stamp* changes: the number and the latest `indexed_at` of the live articles and of the
synonym groups. Asking for the stamp is one small query per search, so a change made
through any process is seen by every other at its next search. Only the first build reads
every article; later ones read the articles indexed since (with a margin for the clocks of
other machines) and the ids still live, and update the matrix (`SearchIndex.updated`).
"""

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import undefer

from infra.db import utcnow
from infra.text import shared_tokenizer
from kb.models import KbArticle
from kb.models import KbSynonym
from kb.search import Article
from kb.search import SearchIndex
from kb.search import Synonyms
from kb.search import document_terms

log = logging.getLogger(__name__)

Stamp = tuple[Any, ...]
CLOCK_MARGIN = dt.timedelta(minutes=5)  # other machines' clocks may lag behind this one's
LIVE = sa.and_(KbArticle.published.is_(True), KbArticle.archived.is_(False))


def jieba_words(text: str) -> list[str]:
    """A text's words by this process's jieba tokenizer, with the hotline's own vocabulary.

    Without jieba's HMM (its guesses at words the dictionary lacks), which costs a third of
    the cutting (infra.text).
    """
    return shared_tokenizer().words(text, hmm=False)


def searchable_text(a: KbArticle) -> tuple[str, str]:
    """Title and the text it is found by: body, the guide's fields and the tags."""
    extra = [a.materials, a.fees, a.place, a.hours, " ".join(a.tags or [])]
    return a.title, "\n".join([a.body, *[x for x in extra if x]])


def index_article(article: KbArticle, now: dt.datetime | None = None) -> None:
    """Compute and store an article's terms (the caller commits)."""
    title, text = searchable_text(article)
    article.terms = document_terms(title, text, jieba_words)
    article.indexed_at = now or utcnow()


def index_pending(session: Session, *, everything: bool = False, batch: int = 500) -> int:
    """Index the live articles that are not yet (all of them with `everything`); commit per batch.

    Returns how many were indexed.
    """
    done = 0
    last_id = 0
    while True:
        query = sa.select(KbArticle).where(LIVE, KbArticle.id > last_id)
        if not everything:
            query = query.where(KbArticle.indexed_at.is_(None))
        rows = session.scalars(query.order_by(KbArticle.id).limit(batch)).all()
        if not rows:
            return done
        now = utcnow()
        for article in rows:
            index_article(article, now)
        session.commit()
        done += len(rows)
        last_id = rows[-1].id


def stamp(session: Session) -> Stamp:
    articles = session.execute(
        sa.select(sa.func.count(), sa.func.max(KbArticle.indexed_at)).where(
            LIVE, KbArticle.indexed_at.is_not(None)
        )
    ).one()
    synonyms = session.execute(
        sa.select(sa.func.count(), sa.func.max(KbSynonym.updated_at), sa.func.sum(KbSynonym.id))
    ).one()
    return (*articles, *synonyms)


@dataclass(frozen=True, slots=True)
class Snapshot:
    index: SearchIndex
    synonyms: Synonyms
    stamp: Stamp
    built_at: dt.datetime
    seen_until: dt.datetime | None  # the latest indexed_at in the snapshot


@dataclass
class LiveIndex:
    """This process's index; `current()` rebuilds it when the database has moved on."""

    session_factory: Callable[[], Session]
    _snapshot: Snapshot | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def current(self) -> Snapshot:
        with self.session_factory() as session:
            now_stamp = stamp(session)
            snap = self._snapshot
            if snap is not None and snap.stamp == now_stamp:
                return snap
            with self._lock:  # one rebuild at a time; the others wait for it
                snap = self._snapshot
                if snap is None or snap.stamp != now_stamp:
                    snap = self._build(session, now_stamp, snap)
                    self._snapshot = snap
                return snap

    def _build(self, session: Session, now_stamp: Stamp, old: Snapshot | None) -> Snapshot:
        query = (
            sa.select(KbArticle)
            .options(undefer(KbArticle.terms))
            .where(LIVE, KbArticle.indexed_at.is_not(None))
            .order_by(KbArticle.id)
        )
        if old is not None and old.seen_until is not None:
            query = query.where(KbArticle.indexed_at >= old.seen_until - CLOCK_MARGIN)
        rows = session.scalars(query).all()
        articles = [Article(a.id, *searchable_text(a), terms=tuple(a.terms or ())) for a in rows]
        seen = [a.indexed_at for a in rows if a.indexed_at is not None]
        if old is None:
            index = SearchIndex(articles, jieba_words)
        else:
            live = set(
                session.scalars(
                    sa.select(KbArticle.id).where(LIVE, KbArticle.indexed_at.is_not(None))
                )
            )
            gone = [int(i) for i in old.index.ids if int(i) not in live]
            index = old.index.updated(articles, gone)
            seen += [old.seen_until] if old.seen_until else []
        groups = session.scalars(sa.select(KbSynonym.words).order_by(KbSynonym.id)).all()
        log.info(
            "knowledge index %s: %d articles read, %d live, %d synonym groups",
            "updated" if old else "built", len(articles), len(index), len(groups),
        )  # fmt: skip
        return Snapshot(index, Synonyms(groups), now_stamp, utcnow(), max(seen, default=None))
