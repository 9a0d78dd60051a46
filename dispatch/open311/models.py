"""SQLAlchemy table of Open311: the API keys of the systems that file requests."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from infra.db import Base
from infra.db import utcnow


class ApiKey(Base):
    """A client of the Open311 API (another system or an app): its key and its rate limit.

    Only the key's SHA-256 is kept; the key itself is shown once, when it is made.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    contact: Mapped[str] = mapped_column(sa.String(200), default="")
    key_prefix: Mapped[str] = mapped_column(sa.String(16))  # shown in lists: "k7Qx…"
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    rate_per_minute: Mapped[int] = mapped_column(default=60)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
