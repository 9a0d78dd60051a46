"""The units a ticket can be dispatched to, as the forms list them."""

from typing import Any

import sqlalchemy as sa

from infra.db import UnitOfWork
from infra.models import Unit


def list_units(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Return every active unit with its catalogue entry, parents before children."""
    with uow:
        units = uow.session.scalars(
            sa.select(Unit).where(Unit.active).order_by(Unit.parent_id.nulls_first(), Unit.id)
        ).all()
        return [
            {
                "id": u.id,
                "code": u.code,
                "name": u.name,
                "kind": u.kind.value,
                "parent_id": u.parent_id,
                "responsibility": u.responsibility,
                "keywords": list(u.keywords),
                "phone": u.phone,
            }
            for u in units
        ]
