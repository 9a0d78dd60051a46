"""Add leader duty windows (领导接听)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infra.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leader_duties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="ck_leader_duties_ends_after_start"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_leader_duties_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_leader_duties_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leader_duties")),
    )
    with op.batch_alter_table("leader_duties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leader_duties_ends_at"), ["ends_at"], unique=False)
        batch_op.create_index(
            "ix_leader_duties_user_id_starts_at", ["user_id", "starts_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("leader_duties", schema=None) as batch_op:
        batch_op.drop_index("ix_leader_duties_user_id_starts_at")
        batch_op.drop_index(batch_op.f("ix_leader_duties_ends_at"))

    op.drop_table("leader_duties")
