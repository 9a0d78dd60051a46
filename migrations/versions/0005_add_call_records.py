"""Add call records (CDR)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 09:01:41.182900
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infra.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=200), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("seat", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("offered_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rang_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Double(), nullable=True),
        sa.Column("talk_seconds", sa.Double(), nullable=True),
        sa.Column("missed_seats", sa.String(length=300), nullable=False),
        sa.Column("transfer_target", sa.String(length=100), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_call_records_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_records")),
        sa.UniqueConstraint("call_id", name=op.f("uq_call_records_call_id")),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index("ix_call_records_offered_at", ["offered_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_records_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_records_ticket_id"))
        batch_op.drop_index("ix_call_records_offered_at")

    op.drop_table("call_records")
