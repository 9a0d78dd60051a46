"""Supervision sweep marks, the contact clock, KPI indexes, unit heads, weekly briefs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 13:45:11.347017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infra.db

# 通报 (notice) joins the ticket events; SQLite cannot alter a CHECK constraint, so there the
# table is rebuilt, and its append-only trigger (dropped with the old table) made again.
_EVENTS = (
    "create",
    "resolve_directly",
    "dispatch",
    "sign",
    "return",
    "reassign",
    "uphold",
    "extend",
    "approve_extension",
    "deny_extension",
    "reply",
    "approve_reply",
    "reject_reply",
    "follow_up",
    "close",
    "reopen",
    "remind",
    "supervise",
    "merge",
)
_SQLITE_TRIGGER = """
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
BEGIN SELECT RAISE(ABORT, 'ticket_events is append-only'); END;
"""


def _event_type(values: Sequence[str]) -> sa.Enum:
    return sa.Enum(
        *values,
        name=op.f("ck_ticket_events_event"),
        native_enum=False,
        create_constraint=True,
        length=32,
    )


def _set_events(before: Sequence[str], after: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        listed = ", ".join(f"'{v}'" for v in after)
        op.drop_constraint(op.f("ck_ticket_events_event"), "ticket_events", type_="check")
        op.create_check_constraint(
            op.f("ck_ticket_events_event"), "ticket_events", f"event IN ({listed})"
        )
        return
    op.execute("DROP TRIGGER IF EXISTS ticket_events_no_update")
    with op.batch_alter_table("ticket_events", recreate="always") as batch_op:
        batch_op.alter_column(
            "event",
            existing_type=_event_type(before),
            type_=_event_type(after),
            existing_nullable=False,
        )
    op.execute(_SQLITE_TRIGGER)


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _set_events(_EVENTS, (*_EVENTS, "notice"))
    op.create_table(
        "weekly_briefs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_weekly_briefs_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_briefs")),
    )
    with op.batch_alter_table("weekly_briefs", schema=None) as batch_op:
        batch_op.create_index("ix_weekly_briefs_week_format", ["week", "format"], unique=False)

    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_events_event_at", ["event", "at"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("contact_due_at", infra.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sign_reminded_due", infra.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reply_reminded_due", infra.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sign_ordered_due", infra.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reply_ordered_due", infra.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("noticed_due", infra.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("noticed_at", infra.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("escalated_at", infra.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_tickets_closed_at", ["closed_at"], unique=False)
        batch_op.create_index("ix_tickets_dispatched_at", ["dispatched_at"], unique=False)
        batch_op.create_index("ix_tickets_followed_up_at", ["followed_up_at"], unique=False)
        batch_op.create_index("ix_tickets_reply_due_at", ["reply_due_at"], unique=False)

    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("head_name", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("head_phone", sa.String(length=32), nullable=True))

    # Tickets dispatched before the contact clock existed: the reply deadline was the bound.
    op.execute("UPDATE tickets SET contact_due_at = reply_due_at WHERE reply_due_at IS NOT NULL")


def downgrade() -> None:
    # Refused while 通报 events exist: the event log is append-only, so they stay.
    _set_events((*_EVENTS, "notice"), _EVENTS)
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("head_phone")
        batch_op.drop_column("head_name")

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_reply_due_at")
        batch_op.drop_index("ix_tickets_followed_up_at")
        batch_op.drop_index("ix_tickets_dispatched_at")
        batch_op.drop_index("ix_tickets_closed_at")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("noticed_at")
        batch_op.drop_column("noticed_due")
        batch_op.drop_column("reply_ordered_due")
        batch_op.drop_column("sign_ordered_due")
        batch_op.drop_column("reply_reminded_due")
        batch_op.drop_column("sign_reminded_due")
        batch_op.drop_column("contact_due_at")

    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_events_event_at")

    with op.batch_alter_table("weekly_briefs", schema=None) as batch_op:
        batch_op.drop_index("ix_weekly_briefs_week_format")

    op.drop_table("weekly_briefs")
