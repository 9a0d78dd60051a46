"""SQLAlchemy tables of the reports package: the weekly briefs as circulated."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from infra.db import Base
from infra.db import utcnow


class WeeklyBrief(Base):
    """One generated weekly brief (周报) in one format, kept as the bytes that were sent.

    The Monday job and `hotline report weekly --store` write them; a newer one of the same
    week and format replaces nothing: the page offers the latest and the history stays.
    """

    __tablename__ = "weekly_briefs"
    __table_args__ = (sa.Index("ix_weekly_briefs_week_format", "week", "format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(sa.String(8))  # ISO week, 2026-W47
    format: Mapped[str] = mapped_column(sa.String(8))  # html, pdf, docx
    trigger: Mapped[str] = mapped_column(sa.String(16))  # schedule, manual, cli
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    seconds: Mapped[float] = mapped_column(default=0.0)  # time it took to build
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
