"""The catalogue (知识目录): the tree of categories the editors keep, and lookups by path."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from infra.audit import audit_act
from infra.db import UnitOfWork
from kb.commands import CategoryInput
from kb.index import LIVE
from kb.models import KbArticle
from kb.models import KbCategory
from kb.shared import category_paths
from kb.shared import require_editor
from kernel.actor import Actor
from kernel.errors import Conflict
from kernel.errors import NotFound
from kernel.errors import ValidationError


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
    require_editor(actor)
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
    require_editor(actor)
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
    require_editor(actor)
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


def categories_below(session: Session, category_id: int) -> list[int]:
    """The category and all its sub-categories, at any depth."""
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
