"""Articles in bulk: imported from a file (all or none), exported, their owners reminded.

The file formats themselves are kb.transfer's; this module writes and reads the database.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa

from infra.audit import audit_act
from infra.db import UnitOfWork
from infra.db import utcnow
from infra.models import Unit
from kb.articles import ArticleFilter
from kb.articles import apply_content
from kb.articles import filtered
from kb.articles import new_version
from kb.catalogue import ensure_category_path
from kb.catalogue import find_category_path
from kb.domain import VersionStatus
from kb.index import LIVE
from kb.models import KbArticle
from kb.shared import is_editor
from kb.shared import names_by_id
from kb.shared import require_writer
from kb.transfer import ArticleRecord
from kb.transfer import ImportRefused
from kernel.actor import Actor
from kernel.roles import Role

REMIND_EVERY = dt.timedelta(days=7)


def import_articles(uow: UnitOfWork, actor: Actor, records: list[ArticleRecord]) -> dict[str, Any]:
    """Add the articles of an imported file, all or none.

    Editors' articles go live (the index job then indexes them); a liaison's wait for review
    and must all be their own unit's, filed under categories that exist: creating a category
    is an editor's act (create_category), through a file as through the form. A unit is named
    by its code or its name.
    """
    require_writer(actor)
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
            apply_content(article, content)
            s.add(article)
            s.flush()
            version = new_version(s, actor, article, content, "导入")
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
        q = filtered(s, sa.select(KbArticle).where(LIVE), f)
        q = q.order_by(KbArticle.category_id, KbArticle.id)
        units, paths = names_by_id(s)
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
