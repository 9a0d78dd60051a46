"""SQLAlchemy tables of routing: the matter catalogue (事项目录) and saved routing models."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from infra.db import Base
from infra.db import utcnow


class Matter(Base):
    """A matter category of the dispatch catalogue (事项目录) and who handles it.

    `local` matters (占道经营, 噪音扰民 …) go to the street or district where they happen;
    the others to `unit_id`, the city department responsible.
    """

    __tablename__ = "matters"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(sa.String(200), unique=True)  # levels joined by "/"
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    local: Mapped[bool] = mapped_column(default=False)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)


class RoutingModel(Base):
    """One trained version of the routing models, kept whether it went live or was refused."""

    __tablename__ = "routing_models"

    id: Mapped[int] = mapped_column(primary_key=True)  # the version number
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # active, retired, rejected
    trigger: Mapped[str] = mapped_column(sa.String(16))  # schedule, manual, cli, demo
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    n_examples: Mapped[int] = mapped_column(default=0)
    n_holdout: Mapped[int] = mapped_column(default=0)
    train_seconds: Mapped[float] = mapped_column(default=0.0)
    # {"candidate": {...}, "previous": {...} | null, "previous_version": int | null}
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    blob: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
