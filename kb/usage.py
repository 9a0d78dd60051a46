"""The knowledge base in use: searches (logged), articles used on tickets, and the gaps.

Each search is logged with the articles it showed; each article used for a ticket is linked
to it. Together they tell which articles failed while a ticket was typed and which questions
found nothing (`gaps`).
"""

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from dispatch.tickets.reads import check_can_read
from infra.db import UnitOfWork
from infra.db import utcnow
from kb.commands import LinkArticles
from kb.domain import KIND_LABELS
from kb.index import LIVE
from kb.index import LiveIndex
from kb.models import KbArticle
from kb.models import KbLink
from kb.models import KbSearch
from kb.shared import USERS_OF_ARTICLES
from kb.shared import article_summary
from kb.shared import is_editor
from kb.shared import names_by_id
from kernel.actor import Actor
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.masking import identity_visible
from kernel.masking import mask_free_text
from kernel.roles import Role

SNIPPET = 120
MAX_DRAFT_HITS = 20


def usage(session: Session, article_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """How often each article was used on a ticket, and on tickets resolved at the hotline."""
    ids = list(article_ids)
    out = {i: {"uses": 0, "resolved": 0} for i in ids}
    if not ids:
        return out
    rows = session.execute(
        sa.select(
            KbLink.article_id,
            sa.func.count(),
            sa.func.count(sa.case((Ticket.status == TicketStatus.RESOLVED, 1))),
        )
        .join(Ticket, Ticket.id == KbLink.ticket_id)
        .where(KbLink.article_id.in_(ids))
        .group_by(KbLink.article_id)
    ).all()
    for article_id, uses, resolved in rows:
        out[article_id] = {"uses": uses, "resolved": resolved}
    return out


def _snippet(text: str, words: Iterable[str], width: int = SNIPPET) -> str:
    """The part of the text around the first word found, about `width` characters."""
    text = " ".join(text.split())
    found = [i for i in (text.find(w) for w in words if w) if i >= 0]
    start = max(0, min(found) - width // 4) if found else 0
    out = text[start : start + width]
    return ("…" if start else "") + out + ("…" if start + width < len(text) else "")


def search(
    uow: UnitOfWork,
    index: LiveIndex,
    actor: Actor,
    query: str,
    today: dt.date,
    *,
    k: int = 10,
    draft: str | None = None,
    ticket_id: int | None = None,
) -> dict[str, Any]:
    """The best live articles for a question, with the words to highlight; logged for gaps.

    Searches made while a ticket is typed (`draft`, the form's client token) are kept as one
    row per draft and user with every article shown, so that the ticket's fate can judge
    them. The logged question has its phones and ID numbers masked (and, for a search about
    a ticket, the caller's name): the log outlives the ticket's own access rules.

    :raises NotFound: `ticket_id` names no ticket this actor may read.
    """
    started = time.perf_counter()
    query = " ".join(query.split())[:200]
    snap = index.current()
    hits = snap.index.search(query, k=k, synonyms=snap.synonyms) if query else []
    elapsed = (time.perf_counter() - started) * 1000
    with uow:
        s = uow.session
        rows = {
            a.id: a
            for a in s.scalars(sa.select(KbArticle).where(KbArticle.id.in_([h.id for h in hits])))
        }
        units, paths = names_by_id(s)
        items = []
        for h in hits:
            a = rows.get(h.id)
            if a is None or not a.published or a.archived:
                continue  # changed since this process indexed it
            item = article_summary(a, today, units, paths)
            item.update(score=round(h.score, 3), words=list(h.words))
            item["snippet"] = _snippet(a.body, h.words)
            items.append(item)
        if query:
            names = _ticket_names(s, actor, ticket_id) if ticket_id is not None else []
            logged = mask_free_text(query, names)
            _log_search(s, actor, logged, draft, ticket_id, [i["id"] for i in items])
            uow.commit()
    return {
        "query": query,
        "items": items,
        "synonyms": snap.synonyms.expand(query) if query else [],
        "elapsed_ms": round(elapsed, 2),
        "indexed": len(snap.index),
    }


def _ticket_names(s: Session, actor: Actor, ticket_id: int) -> list[str | None]:
    """The caller's name of the ticket a search is about, once the actor may read it."""
    ticket = s.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("工单不存在", {"ticket_id": ticket_id})
    try:
        check_can_read(actor, ticket)
    except PermissionDenied:
        # another unit's ticket: as if it did not exist (ids are sequential)
        raise NotFound("工单不存在", {"ticket_id": ticket_id}) from None
    return [ticket.citizen_name]


def _log_search(
    s: Session, actor: Actor, query: str, draft: str | None, ticket_id: int | None, ids: list[int]
) -> None:
    row = None
    if draft:
        # One row per draft *and* user: another user naming this draft starts their own
        # row instead of overwriting the one the gap list judges.
        row = s.scalar(
            sa.select(KbSearch)
            .where(KbSearch.draft == draft, KbSearch.user_id == actor.user_id)
            .limit(1)
        )
    if row is None:
        row = KbSearch(user_id=actor.user_id, draft=draft, ticket_id=ticket_id, hit_ids=[])
        s.add(row)
    row.at = utcnow()
    row.query = query
    row.hit_ids = list(dict.fromkeys([*row.hit_ids, *ids[:5]]))[:MAX_DRAFT_HITS]
    row.n_hits = len(ids)


def link_articles(uow: UnitOfWork, actor: Actor, cmd: LinkArticles) -> list[dict[str, Any]]:
    """Record the articles used for a ticket (idempotent); each counts as a use."""
    if actor.role not in USERS_OF_ARTICLES:
        raise PermissionDenied("当前角色不能为工单引用知识")
    with uow:
        s = uow.session
        if s.get(Ticket, cmd.ticket_id) is None:
            raise NotFound("工单不存在", {"ticket_id": cmd.ticket_id})
        articles = s.scalars(
            sa.select(KbArticle).where(KbArticle.id.in_(cmd.article_ids), LIVE)
        ).all()
        missing = sorted(set(cmd.article_ids) - {a.id for a in articles})
        if missing:
            raise ValidationError({"article_ids": f"知识 {missing} 不存在或未发布"})
        have = set(s.scalars(sa.select(KbLink.article_id).where(KbLink.ticket_id == cmd.ticket_id)))
        for a in articles:
            if a.id not in have:
                s.add(
                    KbLink(
                        ticket_id=cmd.ticket_id,
                        article_id=a.id,
                        version=a.live_version,
                        linked_by_id=actor.user_id,
                        linked_at=utcnow(),
                    )
                )
        uow.commit()
    return ticket_articles(uow, cmd.ticket_id)


def ticket_articles(uow: UnitOfWork, ticket_id: int) -> list[dict[str, Any]]:
    with uow:
        rows = uow.session.execute(
            sa.select(KbLink, KbArticle.title, KbArticle.kind)
            .join(KbArticle, KbArticle.id == KbLink.article_id)
            .where(KbLink.ticket_id == ticket_id)
            .order_by(KbLink.id)
        ).all()
        return [
            {
                "article_id": link.article_id,
                "title": title,
                "kind_label": KIND_LABELS[kind],
                "version": link.version,
                "linked_at": link.linked_at.isoformat(),
            }
            for link, title, kind in rows
        ]


def gaps(uow: UnitOfWork, actor: Actor, since: dt.datetime, today: dt.date) -> dict[str, Any]:
    """What the knowledge base failed at since `since`.

    - `failed`: articles shown while a ticket was typed, none used, and the ticket was
      dispatched to a unit anyway: the answer was missing or not good enough;
    - `unanswered`: questions that found nothing at all.
    A liaison sees only the failures of their own unit's articles, and of the questions only
    those asked for tickets their unit handles, masked as the unit reads those tickets. A
    draft's searches count only when made by the user who then accepted the ticket.
    """
    if not (is_editor(actor) or actor.role is Role.LIAISON):
        raise PermissionDenied("当前角色无权查看知识缺口")
    with uow:
        s = uow.session
        rows = s.execute(
            sa.select(KbSearch.query, KbSearch.hit_ids, Ticket)
            .join(
                Ticket,
                sa.and_(
                    Ticket.client_token == KbSearch.draft,
                    Ticket.created_by_id == KbSearch.user_id,
                ),
            )
            .where(
                KbSearch.at >= since,
                Ticket.dispatched_at.is_not(None),
                ~sa.exists().where(KbLink.ticket_id == Ticket.id),
            )
        ).all()
        shown: Counter[int] = Counter()
        queries: dict[int, list[str]] = {}
        for query, hit_ids, ticket in rows:
            asked = _question_for(actor, ticket, query)
            for aid in hit_ids:
                shown[aid] += 1
                if asked is not None:
                    queries.setdefault(aid, []).append(asked)
        articles = {
            a.id: a for a in s.scalars(sa.select(KbArticle).where(KbArticle.id.in_(list(shown))))
        }
        units, paths = names_by_id(s)
        used = usage(s, list(shown))
        failed = []
        for aid, count in shown.most_common():
            a = articles.get(aid)
            if a is None or (not is_editor(actor) and a.unit_id != actor.unit_id):
                continue
            item = article_summary(a, today, units, paths)
            item.update(
                failed=count,
                usage=used[aid],
                queries=list(dict.fromkeys(queries.get(aid, [])))[:5],
            )
            failed.append(item)
        unanswered = []
        if is_editor(actor):
            empty = s.execute(
                sa.select(KbSearch.query, sa.func.count(), sa.func.max(KbSearch.at))
                .where(KbSearch.at >= since, KbSearch.n_hits == 0)
                .group_by(KbSearch.query)
                .order_by(sa.func.count().desc())
                .limit(50)
            ).all()
            unanswered = [
                {"query": q, "count": n, "last_at": at.isoformat() if at else None}
                for q, n, at in empty
            ]
        return {"since": since.isoformat(), "failed": failed[:100], "unanswered": unanswered}


def _question_for(actor: Actor, ticket: Ticket, query: str) -> str | None:
    """A logged question as this actor may read it, or None: not their unit's ticket."""
    if is_editor(actor):
        return query
    if not any(a.active and a.unit_id == actor.unit_id for a in ticket.assignments):
        return None
    visible = identity_visible(
        actor.role, confidential=ticket.confidential, disclosure_allowed=ticket.disclosure_allowed
    )
    return query if visible else mask_free_text(query, [ticket.citizen_name])
