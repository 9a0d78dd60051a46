"""Call records: wrap-up time, end reason, recording, three-way party

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wrap_up_seconds", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("recording", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("conference_target", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_column("conference_target")
        batch_op.drop_column("recording")
        batch_op.drop_column("end_reason")
        batch_op.drop_column("wrap_up_seconds")
