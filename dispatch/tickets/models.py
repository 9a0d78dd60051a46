"""SQLAlchemy tables of the dispatch package: units, tickets, assignments, events, extensions."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from dispatch.tickets.domain import AssignmentRole
from dispatch.tickets.domain import Channel
from dispatch.tickets.domain import Satisfaction
from dispatch.tickets.domain import TicketEvent
from dispatch.tickets.domain import TicketStatus
from infra.db import Base
from infra.db import utcnow
from infra.models import Unit
from kernel.vocabulary import RequestType
from kernel.vocabulary import Urgency


class Ticket(Base):
    """A citizen request (工单). Status changes only through dispatch.tickets.actions."""

    __tablename__ = "tickets"
    __table_args__ = (
        sa.Index("ix_tickets_status_reply_due_at", "status", "reply_due_at"),
        sa.Index("ix_tickets_created_at", "created_at"),
        # The KPIs read each population by one range scan (reports.kpis).
        sa.Index("ix_tickets_dispatched_at", "dispatched_at"),
        sa.Index("ix_tickets_reply_due_at", "reply_due_at"),
        sa.Index("ix_tickets_closed_at", "closed_at"),
        sa.Index("ix_tickets_followed_up_at", "followed_up_at"),
        sa.UniqueConstraint(
            "created_by_id", "client_token", name="uq_tickets_created_by_id_client_token"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A double submit's token, unique per creating user (one user's token is not another's).
    client_token: Mapped[str | None] = mapped_column(sa.String(64))
    channel: Mapped[Channel]
    caller_phone: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    citizen_name: Mapped[str | None] = mapped_column(sa.String(50))
    anonymous: Mapped[bool] = mapped_column(default=False)
    confidential: Mapped[bool] = mapped_column(default=False)
    disclosure_allowed: Mapped[bool] = mapped_column(default=False)
    contact_phone: Mapped[str | None] = mapped_column(sa.String(32))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    district_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    street_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    community_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    request_type: Mapped[RequestType]
    urgency: Mapped[Urgency]
    category: Mapped[str | None] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(200))
    content: Mapped[str] = mapped_column(sa.Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[TicketStatus] = mapped_column(index=True)
    lead_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    # Resolution at the hotline (直办).
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    resolved_at: Mapped[dt.datetime | None]

    # Clocks: the sign-for clock starts at dispatch; the reply clock at dispatch or reopen.
    dispatched_at: Mapped[dt.datetime | None]
    sign_due_at: Mapped[dt.datetime | None]
    sign_warn_at: Mapped[dt.datetime | None]
    signed_at: Mapped[dt.datetime | None]
    reply_started_at: Mapped[dt.datetime | None]
    reply_due_at: Mapped[dt.datetime | None]
    reply_warn_at: Mapped[dt.datetime | None]
    replied_at: Mapped[dt.datetime | None]
    reply_text: Mapped[str | None] = mapped_column(sa.Text)
    contacted_at: Mapped[dt.datetime | None]
    # 响应: the unit should contact the citizen by then (sla.contact_within, at most the reply due).
    contact_due_at: Mapped[dt.datetime | None]
    extended_days: Mapped[int] = mapped_column(default=0)

    reviewed_at: Mapped[dt.datetime | None]
    followed_up_at: Mapped[dt.datetime | None]
    follow_up_reached: Mapped[bool | None]
    follow_up_solved: Mapped[bool | None]
    follow_up_satisfaction: Mapped[Satisfaction | None]
    follow_up_note: Mapped[str | None] = mapped_column(sa.Text)
    closed_at: Mapped[dt.datetime | None]

    reopen_count: Mapped[int] = mapped_column(default=0)
    lead_unit_count: Mapped[int] = mapped_column(default=0)
    problem: Mapped[bool] = mapped_column(default=False)
    remind_count: Mapped[int] = mapped_column(default=0)
    supervised_at: Mapped[dt.datetime | None]
    # What the supervision sweep already did, keyed by the deadline it acted on, so that a
    # second sweep does nothing and a new clock (extension, reassign, reopen) starts afresh.
    sign_reminded_due: Mapped[dt.datetime | None]
    reply_reminded_due: Mapped[dt.datetime | None]
    sign_ordered_due: Mapped[dt.datetime | None]
    reply_ordered_due: Mapped[dt.datetime | None]
    noticed_due: Mapped[dt.datetime | None]
    noticed_at: Mapped[dt.datetime | None]  # 通报: named in the weekly brief
    escalated_at: Mapped[dt.datetime | None]  # 提级督办 of a problem ticket
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tickets.id"), index=True)

    # Where the citizen put a pin (Open311 lat/long, the web form's location), WGS-84.
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # Requests from outside (web form, Open311): the secret in the citizen's status link
    # (/status/<number>?t=...), and the API key that filed it.
    public_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True, index=True)
    # The citizen agreed to publish the request on Open311 (web form checkbox, Open311
    # `publish=true`); without it nothing of the ticket is published.
    publish: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # (api_keys.id; no foreign key: SQLite cannot add one without rebuilding `tickets`)
    api_key_id: Mapped[int | None] = mapped_column(index=True)
    # 回访: when automated follow-up gave up (no answer after its tries) and the ticket went
    # to the human follow-up queue (人工回访).
    followup_handover_at: Mapped[dt.datetime | None]

    version_id: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version_id}

    assignments: Mapped[list["Assignment"]] = relationship(
        back_populates="ticket", order_by="Assignment.id"
    )
    events: Mapped[list["TicketEventRecord"]] = relationship(
        back_populates="ticket", order_by="TicketEventRecord.id"
    )
    extensions: Mapped[list["ExtensionRequest"]] = relationship(
        back_populates="ticket", order_by="ExtensionRequest.id"
    )
    attachments: Mapped[list["Attachment"]] = relationship(order_by="Attachment.id")
    lead_unit: Mapped[Unit | None] = relationship(foreign_keys=[lead_unit_id])


class Assignment(Base):
    """A unit's part in a ticket: the lead (主办) or an assisting unit (协办)."""

    __tablename__ = "ticket_assignments"
    __table_args__ = (sa.Index("ix_ticket_assignments_unit_active", "unit_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    role: Mapped[AssignmentRole]
    active: Mapped[bool] = mapped_column(default=True)
    upheld: Mapped[bool] = mapped_column(default=False)
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]

    ticket: Mapped[Ticket] = relationship(back_populates="assignments")
    unit: Mapped[Unit] = relationship()


class TicketEventRecord(Base):
    """One transition of one ticket: who, when, from, to, why. Append-only."""

    __tablename__ = "ticket_events"
    # Event-based KPIs (退回率, 重办率) count one kind of event over a period.
    __table_args__ = (sa.Index("ix_ticket_events_event_at", "event", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    event: Mapped[TicketEvent]
    from_status: Mapped[TicketStatus | None]
    to_status: Mapped[TicketStatus]
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(sa.String(32))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class ExtensionRequest(Base):
    """A unit's request for more time (延期), decided once by the hotline."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    days: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved: Mapped[bool | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    decision_note: Mapped[str | None] = mapped_column(sa.Text)

    ticket: Mapped[Ticket] = relationship(back_populates="extensions")


class Attachment(Base):
    """A file on a ticket (photos, documents a unit sends with its reply).

    The bytes live in the attachment store under their SHA-256; the row says whose, what
    and where. Rows are never edited.
    """

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SlaRule(Base):
    """An admin's change to a clock: per urgency (`request_type` "*") or per request type.

    Layered over config.yaml: a type's own rule, then the config's type override, then the
    urgency's rule here, then the config's default. A blank duration keeps the layer below.
    """

    __tablename__ = "sla_rules"
    __table_args__ = (sa.UniqueConstraint("request_type", "urgency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_type: Mapped[str] = mapped_column(sa.String(32))  # a RequestType value or "*"
    urgency: Mapped[Urgency]
    sign: Mapped[str | None] = mapped_column(sa.String(16))
    reply: Mapped[str | None] = mapped_column(sa.String(16))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarOverride(Base):
    """A day an admin declares working or off, over the official calendar and config.yaml."""

    __tablename__ = "calendar_overrides"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    workday: Mapped[bool]
    note: Mapped[str | None] = mapped_column(sa.String(100))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@event.listens_for(Session, "before_flush")
def _keep_events_append_only(session: Session, _ctx: Any, _instances: Any) -> None:
    # The database refuses UPDATE on ticket_events too (migration trigger); this catches it
    # earlier, with a clearer message, and also refuses deletes.
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TicketEventRecord) and (
            obj in session.deleted or session.is_modified(obj)
        ):
            raise RuntimeError("ticket_events is append-only")


class ActionRequest(Base):
    """A ticket action sent with an idempotency key, and its first answer.

    See dispatch.tickets.idempotency.

    Keys are the user's own: another user's same key is another row.
    """

    __tablename__ = "action_requests"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "key"),
        sa.Index("ix_action_requests_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(sa.String(64))
    # sha256 of (ticket id, action, the body's hash): the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"))
    action: Mapped[str] = mapped_column(sa.String(32))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
