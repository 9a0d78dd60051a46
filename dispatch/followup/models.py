"""SQLAlchemy table of follow-up: every try to ask a citizen (call, survey call or SMS)."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from infra.db import Base
from infra.db import utcnow


class FollowUpAttempt(Base):
    """One try at an automated follow-up (回访) of a ticket: a survey call or an SMS.

    Status: scheduled → queued (handed to a survey process or the SMS channel) → calling →
    answered | no_answer | busy | failed | hung_up | expired; cancelled when a person
    followed the ticket up first. `answers` holds the keys pressed per question.
    """

    __tablename__ = "followup_attempts"
    __table_args__ = (sa.Index("ix_followup_attempts_status_due", "status", "scheduled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    try_no: Mapped[int] = mapped_column(default=1)
    channel: Mapped[str] = mapped_column(sa.String(8), default="voice")  # voice, sms
    status: Mapped[str] = mapped_column(sa.String(16), default="scheduled")
    phone: Mapped[str] = mapped_column(sa.String(32), default="")
    scheduled_at: Mapped[dt.datetime]
    queued_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    sip_status: Mapped[int | None]
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    worker: Mapped[str | None] = mapped_column(sa.String(64))  # the survey process
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
