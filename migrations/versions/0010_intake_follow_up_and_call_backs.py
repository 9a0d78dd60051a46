"""intake, follow-up and call-backs

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 16:38:38.306970
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infra.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_api_keys_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "followup_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("try_no", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("scheduled_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sip_status", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=True),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_followup_attempts_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_attempts")),
    )
    with op.batch_alter_table("followup_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_followup_attempts_status_due", ["status", "scheduled_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_followup_attempts_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("first_call_id", sa.Integer(), nullable=True),
        sa.Column("last_call_id", sa.Integer(), nullable=True),
        sa.Column("missed_calls", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("done_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"], ["users.id"], name=op.f("fk_callback_tasks_claimed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["done_by_id"], ["users.id"], name=op.f("fk_callback_tasks_done_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["first_call_id"],
            ["call_records.id"],
            name=op.f("fk_callback_tasks_first_call_id_call_records"),
        ),
        sa.ForeignKeyConstraint(
            ["last_call_id"],
            ["call_records.id"],
            name=op.f("fk_callback_tasks_last_call_id_call_records"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_callback_tasks_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_tasks")),
    )
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_tasks_caller"), ["caller"], unique=False)
        batch_op.create_index(batch_op.f("ix_callback_tasks_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_callback_tasks_status_created", ["status", "created_at"], unique=False
        )

    # Plain ADD COLUMNs: rebuilding `tickets` on SQLite, which many tables reference, is not
    # worth a unique constraint (a unique index does the same) or a foreign key to api_keys.
    op.add_column("tickets", sa.Column("latitude", sa.Double(), nullable=True))
    op.add_column("tickets", sa.Column("longitude", sa.Double(), nullable=True))
    op.add_column("tickets", sa.Column("public_token", sa.String(length=64), nullable=True))
    op.add_column("tickets", sa.Column("api_key_id", sa.Integer(), nullable=True))
    op.add_column(
        "tickets",
        sa.Column("followup_handover_at", infra.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(op.f("ix_tickets_api_key_id"), "tickets", ["api_key_id"], unique=False)
    op.create_index(op.f("ix_tickets_public_token"), "tickets", ["public_token"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_tickets_public_token"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_api_key_id"), table_name="tickets")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("followup_handover_at")
        batch_op.drop_column("api_key_id")
        batch_op.drop_column("public_token")
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")

    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_tasks_status_created")
        batch_op.drop_index(batch_op.f("ix_callback_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_callback_tasks_caller"))

    op.drop_table("callback_tasks")
    with op.batch_alter_table("followup_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followup_attempts_ticket_id"))
        batch_op.drop_index("ix_followup_attempts_status_due")

    op.drop_table("followup_attempts")
    op.drop_table("api_keys")
