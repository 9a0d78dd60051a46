"""The synonym table: groups of words that mean the same thing to a search, kept by the editors."""

from typing import Any

import sqlalchemy as sa

from infra.audit import audit_act
from infra.db import UnitOfWork
from infra.db import utcnow
from kb.commands import SynonymInput
from kb.models import KbSynonym
from kb.shared import require_editor
from kernel.actor import Actor
from kernel.errors import NotFound
from kernel.errors import ValidationError


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
    require_editor(actor)
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
    require_editor(actor)
    with uow:
        group = uow.session.get(KbSynonym, group_id)
        if group is None:
            raise NotFound("同义词组不存在")
        uow.session.delete(group)
        audit_act(uow.session, actor, "kb.synonyms", None, {"deleted": group_id})
        uow.commit()
