"""Articles and their review: writing them, the units' changes waiting for review, reading them.

An editor's article or change goes live at once; a unit's waits as a pending version (one at
a time) until an editor publishes it or sends it back. Readers see the live articles; drafts
and archived ones only editors and the owning unit.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from infra.audit import audit_act
from infra.db import UnitOfWork
from infra.db import utcnow
from infra.models import Unit
from kb.catalogue import categories_below
from kb.commands import ArticleInput
from kb.commands import Review
from kb.domain import VERSION_LABELS
from kb.domain import ArticleKind
from kb.domain import VersionStatus
from kb.index import LIVE
from kb.index import index_article
from kb.models import KbArticle
from kb.models import KbCategory
from kb.models import KbVersion
from kb.shared import article_summary
from kb.shared import is_editor
from kb.shared import may_edit
from kb.shared import names_by_id
from kb.shared import require_editor
from kb.shared import require_writer
from kb.usage import usage
from kernel.actor import Actor
from kernel.errors import Conflict
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.roles import Role

CONTENT = (
    "title", "body", "kind", "category_id", "unit_id", "materials", "fees", "place", "hours",
    "source_doc", "doc_number", "valid_from", "valid_until", "review_by", "tags",
)  # fmt: skip
DATES = ("valid_from", "valid_until", "review_by")


def _content(cmd: ArticleInput) -> dict[str, Any]:
    data = cmd.model_dump(include=set(CONTENT), mode="json")
    return data


def apply_content(article: KbArticle, content: dict[str, Any]) -> None:
    """Set the article's fields from a version's content (JSON: dates as ISO text)."""
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


def new_version(
    session: Session, actor: Actor, article: KbArticle, content: dict[str, Any], note: str
) -> KbVersion:
    """The article's next version, pending: the caller publishes it or leaves it for review."""
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
    apply_content(article, version.content)
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
    require_writer(actor)
    with uow:
        s = uow.session
        if actor.role is Role.LIAISON and cmd.unit_id is None:
            cmd = cmd.model_copy(update={"unit_id": actor.unit_id})
        _check_refs(s, actor, cmd)
        article = KbArticle(created_by_id=actor.user_id, created_at=utcnow())
        content = _content(cmd)
        apply_content(article, content)
        s.add(article)
        s.flush()
        version = new_version(s, actor, article, content, cmd.note)
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
        version = new_version(s, actor, article, _content(cmd), cmd.note)
        if is_editor(actor):
            _publish(s, article, version)
        else:
            _withdraw_pending(s, article.id, keep=version.id)
            if not article.published:  # never live: the row shows the latest proposal
                apply_content(article, version.content)
        article.updated_at = utcnow()
        audit_act(s, actor, "kb.update", None, {"article": article.id, "version": version.number})
        uow.commit()
        return {"id": article.id, "version": version.number, "status": version.status.value}


def review(uow: UnitOfWork, actor: Actor, version_id: int, cmd: Review) -> dict[str, Any]:
    """Publish or send back a unit's pending version."""
    require_editor(actor)
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
    require_editor(actor)
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


def _visible(actor: Actor, article: KbArticle) -> bool:
    """Live articles for everyone; drafts and archived ones for editors and their unit."""
    return (article.published and not article.archived) or may_edit(actor, article)


def article_view(uow: UnitOfWork, actor: Actor, article_id: int, today: dt.date) -> dict[str, Any]:
    with uow:
        s = uow.session
        a = _article(s, article_id)
        if not _visible(actor, a):
            raise NotFound("知识不存在", {"article": article_id})
        units, paths = names_by_id(s)
        view = article_summary(a, today, units, paths)
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


def filtered(s: Session, q: sa.Select[Any], f: ArticleFilter) -> sa.Select[Any]:
    """The filter's category (with its sub-categories), kind and unit."""
    if f.category_id is not None:
        q = q.where(KbArticle.category_id.in_(categories_below(s, f.category_id)))
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
        q = filtered(s, q, f)
        if f.flagged:
            q = q.where(sa.or_(KbArticle.valid_until < today, KbArticle.review_by < today))
        total = s.scalar(sa.select(sa.func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(
            q.order_by(KbArticle.updated_at.desc(), KbArticle.id.desc())
            .offset((f.page - 1) * f.per_page)
            .limit(f.per_page)
        ).all()
        units, paths = names_by_id(s)
        used = usage(s, [a.id for a in rows])
        items = []
        for a in rows:
            item = article_summary(a, today, units, paths)
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
        units, paths = names_by_id(s)
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
