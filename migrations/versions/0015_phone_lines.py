"""Merged lines (合并热线): numbers that reach the hotline, and the line on each call record

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infra.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("skill", sa.String(length=20), nullable=False),
        sa.Column("user_ids", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", infra.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_lines")),
        sa.UniqueConstraint("number", name=op.f("uq_phone_lines_number")),
        sa.UniqueConstraint("skill", name=op.f("uq_phone_lines_skill")),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line", sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_column("line")
    op.drop_table("phone_lines")
