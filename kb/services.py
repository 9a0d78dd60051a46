"""Knowledge-base use cases: articles and their review, the catalogue, synonyms, search, use.

Who may do what:
- everyone signed in reads and searches the live articles;
- the hotline's editors (team leads, supervisors, admins) write articles, which go live at
  once, review the units' changes, and keep the catalogue and the synonym table;
- a unit's liaisons write their own unit's articles only; each change waits for review by
  the hotline (GB/T 44191: 权威准确) before it is published.
"""

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.domain import HOTLINE_ROLES
from dispatch.domain import SUPERVISE_ROLES
from dispatch.domain import Conflict
from dispatch.domain import NotFound
from dispatch.domain import PermissionDenied
from dispatch.domain import Role
from dispatch.domain import TicketStatus
from dispatch.domain import ValidationError
from dispatch.domain import identity_visible
from dispatch.domain import mask_free_text
from dispatch.models import Ticket
from dispatch.models import Unit
from dispatch.services import Actor
from dispatch.services import check_can_read
from hotline.audit import audit_act
from hotline.db import UnitOfWork
from hotline.db import utcnow
from kb.commands import ArticleInput
from kb.commands import CategoryInput
from kb.commands import LinkArticles
from kb.commands import Review
from kb.commands import SynonymInput
from kb.domain import FLAG_LABELS
from kb.domain import KIND_LABELS
from kb.domain import VERSION_LABELS
from kb.domain import ArticleKind
from kb.domain import Flag
from kb.domain import Validity
from kb.domain import VersionStatus
from kb.index import LIVE
from kb.index import LiveIndex
from kb.index import index_article
from kb.models import KbArticle
from kb.models import KbCategory
from kb.models import KbLink
from kb.models import KbSearch
from kb.models import KbSynonym
from kb.models import KbVersion
from kb.transfer import ArticleRecord
from kb.transfer import ImportRefused

EDITORS = frozenset(SUPERVISE_ROLES)  # team leads, supervisors, admins
# Who uses articles on tickets: the front desk, and leaders taking calls (领导接听).
USERS_OF_ARTICLES = HOTLINE_ROLES | {Role.LEADER}
CONTENT = (
    "title", "body", "kind", "category_id", "unit_id", "materials", "fees", "place", "hours",
    "source_doc", "doc_number", "valid_from", "valid_until", "review_by", "tags",
)  # fmt: skip
DATES = ("valid_from", "valid_until", "review_by")
SNIPPET = 120
REMIND_EVERY = dt.timedelta(days=7)
MAX_DRAFT_HITS = 20


# ---------------------------------------------------------------- permissions


def is_editor(actor: Actor) -> bool:
    return actor.role in EDITORS


def _require_editor(actor: Actor) -> None:
    if not is_editor(actor):
        raise PermissionDenied("只有热线知识库管理员（班长、督办、系统管理员）可以执行此操作")


def may_edit(actor: Actor, article: KbArticle) -> bool:
    """Editors edit any article; a liaison only their own unit's."""
    if is_editor(actor):
        return True
    return (
        actor.role is Role.LIAISON
        and article.unit_id is not None
        and (article.unit_id == actor.unit_id)
    )


def _require_writer(actor: Actor) -> None:
    if not (is_editor(actor) or (actor.role is Role.LIAISON and actor.unit_id)):
        raise PermissionDenied("当前角色不能编写知识库文章")


# ---------------------------------------------------------------- content


def _content(cmd: ArticleInput) -> dict[str, Any]:
    data = cmd.model_dump(include=set(CONTENT), mode="json")
    return data


def _apply(article: KbArticle, content: dict[str, Any]) -> None:
    for name in CONTENT:
        value = content.get(name)
        if name in DATES:
            value = dt.date.fromisoformat(value) if value else None
        elif name == "kind":
            value = ArticleKind(str(value))
        elif name == "tags":
            value = list(value or [])
        elif value is None and name not in ("category_id", "unit_id"):
            value = ""
        setattr(article, name, value)


def _check_refs(session: Session, actor: Actor, cmd: ArticleInput) -> None:
    errors = {}
    if cmd.category_id is not None and session.get(KbCategory, cmd.category_id) is None:
        errors["category_id"] = "知识目录不存在"
    if cmd.unit_id is not None and session.get(Unit, cmd.unit_id) is None:
        errors["unit_id"] = "单位不存在"
    if errors:
        raise ValidationError(errors)
    if actor.role is Role.LIAISON and cmd.unit_id != actor.unit_id:
        raise PermissionDenied("联络员只能编写本单位的知识", {"unit_id": cmd.unit_id})


def _new_version(
    session: Session, actor: Actor, article: KbArticle, content: dict[str, Any], note: str
) -> KbVersion:
    number = (
        session.scalar(
            sa.select(sa.func.max(KbVersion.number)).where(KbVersion.article_id == article.id)
        )
        or 0
    ) + 1
    version = KbVersion(
        article_id=article.id,
        number=number,
        status=VersionStatus.PENDING,
        content=content,
        note=note,
        author_id=actor.user_id,
        author_unit_id=actor.unit_id if actor.role is Role.LIAISON else None,
        created_at=utcnow(),
    )
    session.add(version)
    session.flush()
    return version


def _publish(session: Session, article: KbArticle, version: KbVersion) -> None:
    session.execute(
        sa.update(KbVersion)
        .where(
            KbVersion.article_id == article.id,
            KbVersion.status == VersionStatus.PUBLISHED,
            KbVersion.id != version.id,
        )
        .values(status=VersionStatus.SUPERSEDED)
    )
    version.status = VersionStatus.PUBLISHED
    _apply(article, version.content)
    article.published = True
    article.live_version = version.number
    article.updated_at = utcnow()
    article.reminded_at = None
    index_article(article)


def _withdraw_pending(session: Session, article_id: int, keep: int) -> None:
    session.execute(
        sa.update(KbVersion)
        .where(
            KbVersion.article_id == article_id,
            KbVersion.status == VersionStatus.PENDING,
            KbVersion.id != keep,
        )
        .values(status=VersionStatus.WITHDRAWN)
    )


def create_article(uow: UnitOfWork, actor: Actor, cmd: ArticleInput) -> dict[str, Any]:
    """A new article: live at once when an editor writes it, after review for a unit."""
    _require_writer(actor)
    with uow:
        s = uow.session
        if actor.role is Role.LIAISON and cmd.unit_id is None:
            cmd = cmd.model_copy(update={"unit_id": actor.unit_id})
        _check_refs(s, actor, cmd)
        article = KbArticle(created_by_id=actor.user_id, created_at=utcnow())
        content = _content(cmd)
        _apply(article, content)
        s.add(article)
        s.flush()
        version = _new_version(s, actor, article, content, cmd.note)
        if is_editor(actor):
            _publish(s, article, version)
        audit_act(s, actor, "kb.create", None, {"article": article.id, "version": 1})
        uow.commit()
        return {"id": article.id, "version": version.number, "status": version.status.value}


def update_article(
    uow: UnitOfWork, actor: Actor, article_id: int, cmd: ArticleInput
) -> dict[str, Any]:
    """A change: published at once by an editor; a unit's waits for review (one at a time)."""
    with uow:
        s = uow.session
        article = _article(s, article_id)
        if not may_edit(actor, article):
            raise PermissionDenied("只能修改本单位的知识", {"article": article_id})
        if actor.role is Role.LIAISON and cmd.unit_id is None:
            cmd = cmd.model_copy(update={"unit_id": actor.unit_id})
        _check_refs(s, actor, cmd)
        version = _new_version(s, actor, article, _content(cmd), cmd.note)
        if is_editor(actor):
            _publish(s, article, version)
        else:
            _withdraw_pending(s, article.id, keep=version.id)
            if not article.published:  # never live: the row shows the latest proposal
                _apply(article, version.content)
        article.updated_at = utcnow()
        audit_act(s, actor, "kb.update", None, {"article": article.id, "version": version.number})
        uow.commit()
        return {"id": article.id, "version": version.number, "status": version.status.value}


def review(uow: UnitOfWork, actor: Actor, version_id: int, cmd: Review) -> dict[str, Any]:
    """Publish or send back a unit's pending version."""
    _require_editor(actor)
    with uow:
        s = uow.session
        version = s.get(KbVersion, version_id, with_for_update=True)
        if version is None:
            raise NotFound("版本不存在")
        if version.status is not VersionStatus.PENDING:
            raise Conflict(
                f"该版本已是「{VERSION_LABELS[version.status]}」，无需再审核",
                {"status": version.status.value},
            )
        article = version.article
        version.reviewed_by_id = actor.user_id
        version.reviewed_at = utcnow()
        version.review_note = cmd.note
        if cmd.approve:
            _publish(s, article, version)
        else:
            version.status = VersionStatus.REJECTED
        audit_act(
            s,
            actor,
            "kb.review",
            None,
            {"article": article.id, "version": version.number, "approve": cmd.approve},
        )
        uow.commit()
        return {"id": article.id, "version": version.number, "status": version.status.value}


def set_archived(uow: UnitOfWork, actor: Actor, article_id: int, archived: bool) -> None:
    """Take an article out of search (归档), or bring it back."""
    _require_editor(actor)
    with uow:
        article = _article(uow.session, article_id)
        article.archived = archived
        article.updated_at = utcnow()
        article.indexed_at = utcnow() if article.terms is not None else None
        audit_act(uow.session, actor, "kb.archive", None, {"article": article_id, "on": archived})
        uow.commit()


def _article(session: Session, article_id: int) -> KbArticle:
    article = session.get(KbArticle, article_id)
    if article is None:
        raise NotFound("知识不存在", {"article": article_id})
    return article


# ---------------------------------------------------------------- views


def flags(article: KbArticle, today: dt.date) -> list[Flag]:
    return Validity(article.valid_from, article.valid_until, article.review_by).flags(today)


def _names(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    units = {i: n for i, n in session.execute(sa.select(Unit.id, Unit.name))}
    return units, category_paths(session)


def category_paths(session: Session) -> dict[int, str]:
    rows = session.execute(sa.select(KbCategory.id, KbCategory.parent_id, KbCategory.name)).all()
    parent = {r.id: r.parent_id for r in rows}
    name = {r.id: r.name for r in rows}
    paths: dict[int, str] = {}
    for cid in name:
        parts, node, seen = [], cid, set()
        while node is not None and node not in seen:
            seen.add(node)
            parts.append(name[node])
            node = parent.get(node)
        paths[cid] = "/".join(reversed(parts))
    return paths


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


def _summary(
    a: KbArticle, today: dt.date, units: dict[int, str], paths: dict[int, str]
) -> dict[str, Any]:
    return {
        "id": a.id,
        "title": a.title,
        "kind": a.kind.value,
        "kind_label": KIND_LABELS[a.kind],
        "category_id": a.category_id,
        "category": paths.get(a.category_id, "") if a.category_id else "",
        "unit_id": a.unit_id,
        "unit": units.get(a.unit_id, "") if a.unit_id else "热线",
        "published": a.published,
        "archived": a.archived,
        "version": a.live_version,
        "valid_from": a.valid_from.isoformat() if a.valid_from else None,
        "valid_until": a.valid_until.isoformat() if a.valid_until else None,
        "review_by": a.review_by.isoformat() if a.review_by else None,
        "tags": list(a.tags or []),
        "flags": [{"code": f.value, "label": FLAG_LABELS[f]} for f in flags(a, today)],
        "updated_at": a.updated_at.isoformat(),
    }


def _visible(actor: Actor, article: KbArticle) -> bool:
    """Live articles for everyone; drafts and archived ones for editors and their unit."""
    return (article.published and not article.archived) or may_edit(actor, article)


def article_view(uow: UnitOfWork, actor: Actor, article_id: int, today: dt.date) -> dict[str, Any]:
    with uow:
        s = uow.session
        a = _article(s, article_id)
        if not _visible(actor, a):
            raise NotFound("知识不存在", {"article": article_id})
        units, paths = _names(s)
        view = _summary(a, today, units, paths)
        view.update(
            body=a.body,
            materials=a.materials,
            fees=a.fees,
            place=a.place,
            hours=a.hours,
            source_doc=a.source_doc,
            doc_number=a.doc_number,
            usage=usage(s, [a.id])[a.id],
            may_edit=may_edit(actor, a),
            may_review=is_editor(actor),
        )
        show_all = may_edit(actor, a)
        view["versions"] = [
            _version_view(v, units)
            for v in a.versions
            if show_all or v.status in (VersionStatus.PUBLISHED, VersionStatus.SUPERSEDED)
        ]
        return view


def _version_view(v: KbVersion, units: dict[int, str]) -> dict[str, Any]:
    return {
        "id": v.id,
        "number": v.number,
        "status": v.status.value,
        "status_label": VERSION_LABELS[v.status],
        "note": v.note,
        "author_id": v.author_id,
        "author_unit": units.get(v.author_unit_id, "") if v.author_unit_id else "热线",
        "created_at": v.created_at.isoformat(),
        "reviewed_at": v.reviewed_at.isoformat() if v.reviewed_at else None,
        "review_note": v.review_note,
        "content": v.content,
    }


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    category_id: int | None = None  # with its sub-categories
    kind: ArticleKind | None = None
    unit_id: int | None = None
    flagged: bool = False  # expired or overdue for review
    include_drafts: bool = False  # unpublished and archived ones the actor may edit
    page: int = 1
    per_page: int = 50


def _below(session: Session, category_id: int) -> list[int]:
    rows = session.execute(sa.select(KbCategory.id, KbCategory.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for cid, parent in rows:
        children.setdefault(parent, []).append(cid)
    out, todo = [], [category_id]
    while todo:
        node = todo.pop()
        out.append(node)
        todo += children.get(node, [])
    return out


def _filtered(s: Session, q: sa.Select[Any], f: ArticleFilter) -> sa.Select[Any]:
    """The filter's category (with its sub-categories), kind and unit."""
    if f.category_id is not None:
        q = q.where(KbArticle.category_id.in_(_below(s, f.category_id)))
    if f.kind is not None:
        q = q.where(KbArticle.kind == f.kind)
    if f.unit_id is not None:
        q = q.where(KbArticle.unit_id == f.unit_id)
    return q


def list_articles(
    uow: UnitOfWork, actor: Actor, f: ArticleFilter, today: dt.date
) -> dict[str, Any]:
    with uow:
        s = uow.session
        q = sa.select(KbArticle)
        if f.include_drafts and is_editor(actor):
            pass
        elif f.include_drafts and actor.role is Role.LIAISON:
            q = q.where(sa.or_(LIVE, KbArticle.unit_id == actor.unit_id))
        else:
            q = q.where(LIVE)
        q = _filtered(s, q, f)
        if f.flagged:
            q = q.where(sa.or_(KbArticle.valid_until < today, KbArticle.review_by < today))
        total = s.scalar(sa.select(sa.func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(
            q.order_by(KbArticle.updated_at.desc(), KbArticle.id.desc())
            .offset((f.page - 1) * f.per_page)
            .limit(f.per_page)
        ).all()
        units, paths = _names(s)
        used = usage(s, [a.id for a in rows])
        items = []
        for a in rows:
            item = _summary(a, today, units, paths)
            item["usage"] = used[a.id]
            items.append(item)
        return {"items": items, "total": total, "page": f.page, "per_page": f.per_page}


def pending_reviews(uow: UnitOfWork, actor: Actor) -> list[dict[str, Any]]:
    """The units' changes waiting for the hotline, oldest first, with the live text beside."""
    if not (is_editor(actor) or actor.role is Role.LIAISON):
        raise PermissionDenied("当前角色无权查看待审核知识")
    with uow:
        s = uow.session
        q = (
            sa.select(KbVersion)
            .where(KbVersion.status == VersionStatus.PENDING)
            .order_by(KbVersion.created_at, KbVersion.id)
        )
        if not is_editor(actor):
            q = q.join(KbArticle).where(KbArticle.unit_id == actor.unit_id)
        units, paths = _names(s)
        out = []
        for v in s.scalars(q).all():
            a = v.article
            live = next(
                (x.content for x in a.versions if x.status is VersionStatus.PUBLISHED), None
            )
            view = _version_view(v, units)
            view.update(article_id=a.id, title=v.content.get("title", a.title), live=live)
            out.append(view)
        return out


# ---------------------------------------------------------------- catalogue


def category_tree(uow: UnitOfWork) -> list[dict[str, Any]]:
    """The catalogue as a flat list in tree order, each with its depth and live articles."""
    with uow:
        s = uow.session
        rows = s.scalars(sa.select(KbCategory).order_by(KbCategory.position, KbCategory.id))
        children: dict[int | None, list[KbCategory]] = {}
        for c in rows:
            children.setdefault(c.parent_id, []).append(c)
        counts = {
            cid: n
            for cid, n in s.execute(
                sa.select(KbArticle.category_id, sa.func.count())
                .where(LIVE)
                .group_by(KbArticle.category_id)
            )
        }
        paths = category_paths(s)
        out: list[dict[str, Any]] = []

        def walk(parent: int | None, depth: int) -> int:
            total = 0
            for c in children.get(parent, []):
                item: dict[str, Any] = {"id": c.id, "name": c.name, "parent_id": c.parent_id}
                item.update(depth=depth, path=paths[c.id])
                out.append(item)
                n = counts.get(c.id, 0) + walk(c.id, depth + 1)
                item["articles"] = n
                total += n
            return total

        walk(None, 0)
        return out


def create_category(uow: UnitOfWork, actor: Actor, cmd: CategoryInput) -> dict[str, Any]:
    _require_editor(actor)
    with uow:
        s = uow.session
        if cmd.parent_id is not None and s.get(KbCategory, cmd.parent_id) is None:
            raise ValidationError({"parent_id": "上级目录不存在"})
        _unique_name(s, cmd.parent_id, cmd.name)
        c = KbCategory(name=cmd.name, parent_id=cmd.parent_id)
        s.add(c)
        s.flush()
        audit_act(s, actor, "kb.category", None, {"created": c.id, "name": c.name})
        uow.commit()
        return {"id": c.id, "name": c.name, "parent_id": c.parent_id}


def _unique_name(s: Session, parent_id: int | None, name: str, but: int | None = None) -> None:
    clash = s.scalar(
        sa.select(KbCategory.id).where(
            KbCategory.parent_id.is_(None)
            if parent_id is None
            else KbCategory.parent_id == parent_id,
            KbCategory.name == name,
            KbCategory.id != (but or 0),
        )
    )
    if clash:
        raise ValidationError({"name": "同一上级目录下已有同名目录"})


def rename_category(uow: UnitOfWork, actor: Actor, category_id: int, name: str) -> None:
    _require_editor(actor)
    cmd = CategoryInput(name=name)
    with uow:
        c = uow.session.get(KbCategory, category_id)
        if c is None:
            raise NotFound("目录不存在")
        _unique_name(uow.session, c.parent_id, cmd.name, but=c.id)
        c.name = cmd.name
        audit_act(uow.session, actor, "kb.category", None, {"renamed": c.id, "name": c.name})
        uow.commit()


def delete_category(uow: UnitOfWork, actor: Actor, category_id: int) -> None:
    """Only an empty category (no sub-categories, no articles) can go."""
    _require_editor(actor)
    with uow:
        s = uow.session
        c = s.get(KbCategory, category_id)
        if c is None:
            raise NotFound("目录不存在")
        if s.scalar(sa.select(KbCategory.id).where(KbCategory.parent_id == c.id).limit(1)):
            raise Conflict("该目录下还有子目录，不能删除")
        if s.scalar(sa.select(KbArticle.id).where(KbArticle.category_id == c.id).limit(1)):
            raise Conflict("该目录下还有知识文章，不能删除")
        s.delete(c)
        audit_act(s, actor, "kb.category", None, {"deleted": category_id, "name": c.name})
        uow.commit()


def find_category_path(session: Session, path: str) -> int | None:
    """The id of a category path ("社会保障/住房公积金"), or None if a level is missing."""
    return ensure_category_path(session, path, create=False)


def ensure_category_path(session: Session, path: str, *, create: bool = True) -> int | None:
    """The id of a category path ("社会保障/住房公积金"), creating the missing levels."""
    parent: int | None = None
    for name in [p.strip() for p in path.split("/") if p.strip()]:
        found = session.scalar(
            sa.select(KbCategory.id).where(
                KbCategory.parent_id.is_(None)
                if parent is None
                else KbCategory.parent_id == parent,
                KbCategory.name == name[:50],
            )
        )
        if found is None and not create:
            return None
        if found is None:
            c = KbCategory(name=name[:50], parent_id=parent)
            session.add(c)
            session.flush()
            found = c.id
        parent = found
    return parent


# ---------------------------------------------------------------- synonyms


def list_synonyms(uow: UnitOfWork) -> list[dict[str, Any]]:
    with uow:
        rows = uow.session.scalars(sa.select(KbSynonym).order_by(KbSynonym.id)).all()
        return [
            {"id": r.id, "words": list(r.words), "updated_at": r.updated_at.isoformat()}
            for r in rows
        ]


def save_synonyms(
    uow: UnitOfWork, actor: Actor, cmd: SynonymInput, group_id: int | None = None
) -> dict[str, Any]:
    """Create a group, or replace a group's words; a word belongs to one group only."""
    _require_editor(actor)
    words = list(dict.fromkeys(cmd.words))
    with uow:
        s = uow.session
        group = None
        if group_id is not None:
            group = s.get(KbSynonym, group_id)
            if group is None:
                raise NotFound("同义词组不存在")
        taken = {
            w: g.id
            for g in s.scalars(sa.select(KbSynonym).where(KbSynonym.id != (group_id or 0)))
            for w in g.words
        }
        clashes = [w for w in words if w in taken]
        if clashes:
            raise ValidationError(
                {"words": f"「{'、'.join(clashes)}」已在另一组同义词中"},
                "同一个词只能属于一组同义词",
            )
        if group is None:
            group = KbSynonym()
            s.add(group)
        group.words = words
        group.updated_by_id = actor.user_id
        group.updated_at = utcnow()
        s.flush()
        audit_act(s, actor, "kb.synonyms", None, {"group": group.id, "words": words})
        uow.commit()
        return {"id": group.id, "words": words}


def delete_synonyms(uow: UnitOfWork, actor: Actor, group_id: int) -> None:
    _require_editor(actor)
    with uow:
        group = uow.session.get(KbSynonym, group_id)
        if group is None:
            raise NotFound("同义词组不存在")
        uow.session.delete(group)
        audit_act(uow.session, actor, "kb.synonyms", None, {"deleted": group_id})
        uow.commit()


# ---------------------------------------------------------------- search and use


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
        units, paths = _names(s)
        items = []
        for h in hits:
            a = rows.get(h.id)
            if a is None or not a.published or a.archived:
                continue  # changed since this process indexed it
            item = _summary(a, today, units, paths)
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
        units, paths = _names(s)
        used = usage(s, list(shown))
        failed = []
        for aid, count in shown.most_common():
            a = articles.get(aid)
            if a is None or (not is_editor(actor) and a.unit_id != actor.unit_id):
                continue
            item = _summary(a, today, units, paths)
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


# ---------------------------------------------------------------- import, export, reminders


def import_articles(uow: UnitOfWork, actor: Actor, records: list[ArticleRecord]) -> dict[str, Any]:
    """Add the articles of an imported file, all or none.

    Editors' articles go live (the index job then indexes them); a liaison's wait for review
    and must all be their own unit's, filed under categories that exist: creating a category
    is an editor's act (create_category), through a file as through the form. A unit is named
    by its code or its name.
    """
    _require_writer(actor)
    with uow:
        s = uow.session
        by_key: dict[str, int] = {}
        for uid, code, name in s.execute(sa.select(Unit.id, Unit.code, Unit.name)).all():
            by_key[code] = by_key[name] = uid
        problems: list[tuple[str, str]] = []
        publish = is_editor(actor)
        for r in records:
            if r.unit and r.unit not in by_key:
                problems.append((r.where, f"单位「{r.unit}」不存在（请填写单位代码或全称）"))
            elif actor.role is Role.LIAISON and r.unit and by_key[r.unit] != actor.unit_id:
                problems.append((r.where, "联络员只能导入本单位的知识"))
            if not publish and r.category and find_category_path(s, r.category) is None:
                problems.append(
                    (
                        r.where,
                        f"分类「{r.category}」不存在：请选用已有分类，"
                        "新分类请联系热线知识库管理员建立",
                    )
                )
        if problems:
            raise ImportRefused(problems)
        created = []
        for r in records:
            unit_id = by_key[r.unit] if r.unit else None
            if actor.role is Role.LIAISON:
                unit_id = actor.unit_id
            content = {
                "title": r.title, "body": r.body, "kind": r.kind.value,
                "category_id": ensure_category_path(s, r.category) if r.category else None,
                "unit_id": unit_id, "materials": r.materials, "fees": r.fees, "place": r.place,
                "hours": r.hours, "source_doc": r.source_doc, "doc_number": r.doc_number,
                "valid_from": r.valid_from.isoformat() if r.valid_from else None,
                "valid_until": r.valid_until.isoformat() if r.valid_until else None,
                "review_by": r.review_by.isoformat() if r.review_by else None,
                "tags": list(r.tags),
            }  # fmt: skip
            article = KbArticle(created_by_id=actor.user_id, created_at=utcnow())
            _apply(article, content)
            s.add(article)
            s.flush()
            version = _new_version(s, actor, article, content, "导入")
            if publish:
                version.status = VersionStatus.PUBLISHED
                article.published = True
                article.live_version = version.number
            created.append(article.id)
        audit_act(s, actor, "kb.import", None, {"articles": len(created)})
        uow.commit()
        return {"created": len(created), "published": publish, "ids": created}


def export_records(uow: UnitOfWork, actor: Actor, f: ArticleFilter) -> list[ArticleRecord]:
    """The live articles (within the filter) as records for the export files."""
    with uow:
        s = uow.session
        q = _filtered(s, sa.select(KbArticle).where(LIVE), f)
        q = q.order_by(KbArticle.category_id, KbArticle.id)
        units, paths = _names(s)
        codes = {i: c for i, c in s.execute(sa.select(Unit.id, Unit.code))}
        return [
            ArticleRecord(
                title=a.title,
                body=a.body,
                kind=a.kind,
                category=paths.get(a.category_id, "") if a.category_id else "",
                unit=codes.get(a.unit_id, "") if a.unit_id else "",
                source_doc=a.source_doc,
                doc_number=a.doc_number,
                valid_from=a.valid_from,
                valid_until=a.valid_until,
                review_by=a.review_by,
                tags=tuple(a.tags or ()),
                materials=a.materials,
                fees=a.fees,
                place=a.place,
                hours=a.hours,
            )  # fmt: skip
            for a in s.scalars(q)
        ]


def remind_owners(
    uow: UnitOfWork, today: dt.date, now: dt.datetime | None = None
) -> dict[int | None, list[int]]:
    """Flag the live articles that expired or are overdue for review and tell their owners.

    An article is reminded again after `REMIND_EVERY` while it stays flagged. Returns the
    reminded article ids by owning unit (None: the hotline's own articles).
    """
    now = now or utcnow()
    out: dict[int | None, list[int]] = {}
    with uow:
        s = uow.session
        rows = s.scalars(
            sa.select(KbArticle).where(
                LIVE,
                sa.or_(KbArticle.valid_until < today, KbArticle.review_by < today),
                sa.or_(KbArticle.reminded_at.is_(None), KbArticle.reminded_at < now - REMIND_EVERY),
            )
        ).all()
        for a in rows:
            a.reminded_at = now
            out.setdefault(a.unit_id, []).append(a.id)
        uow.commit()
    return out
