"""What every knowledge-base use case shares: who may do what, and how an article is summed up.

Who may do what:
- everyone signed in reads and searches the live articles;
- the hotline's editors (team leads, supervisors, admins) write articles, which go live at
  once, review the units' changes, and keep the catalogue and the synonym table;
- a unit's liaisons write their own unit's articles only; each change waits for review by
  the hotline (GB/T 44191: 权威准确) before it is published.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from infra.models import Unit
from kb.domain import FLAG_LABELS
from kb.domain import KIND_LABELS
from kb.domain import Flag
from kb.domain import Validity
from kb.models import KbArticle
from kb.models import KbCategory
from kernel.actor import Actor
from kernel.errors import PermissionDenied
from kernel.roles import HOTLINE_ROLES
from kernel.roles import SUPERVISE_ROLES
from kernel.roles import Role

EDITORS = frozenset(SUPERVISE_ROLES)  # team leads, supervisors, admins
# Who uses articles on tickets: the front desk, and leaders taking calls (领导接听).
USERS_OF_ARTICLES = HOTLINE_ROLES | {Role.LEADER}


def is_editor(actor: Actor) -> bool:
    return actor.role in EDITORS


def require_editor(actor: Actor) -> None:
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


def require_writer(actor: Actor) -> None:
    if not (is_editor(actor) or (actor.role is Role.LIAISON and actor.unit_id)):
        raise PermissionDenied("当前角色不能编写知识库文章")


def flags(article: KbArticle, today: dt.date) -> list[Flag]:
    return Validity(article.valid_from, article.valid_until, article.review_by).flags(today)


def names_by_id(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    """The units' names and the categories' paths, by id (what a summary shows)."""
    units = {i: n for i, n in session.execute(sa.select(Unit.id, Unit.name))}
    return units, category_paths(session)


def category_paths(session: Session) -> dict[int, str]:
    """Each category's path from the top ("社会保障/住房公积金"), by id."""
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


def article_summary(
    a: KbArticle, today: dt.date, units: dict[int, str], paths: dict[int, str]
) -> dict[str, Any]:
    """An article as lists, search results and the gap list show it."""
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
