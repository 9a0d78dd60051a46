"""sip credentials

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infra.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sip_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.Column("realm", sa.String(length=64), nullable=False),
        sa.Column("ha1", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("rotated_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_sip_accounts_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["rotated_by_id"], ["users.id"], name=op.f("fk_sip_accounts_rotated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_sip_accounts_name")),
    )


def downgrade() -> None:
    op.drop_table("sip_accounts")
