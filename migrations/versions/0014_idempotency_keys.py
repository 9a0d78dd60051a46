"""Scope client_token to its creator; keep idempotency keys of ticket actions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infra.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _swap_token_constraint(drop: str, create: str, columns: list[str]) -> None:
    # SQLite rebuilds the table (copy, drop, rename): hotline.migrate runs with its foreign
    # keys off, and checks them all once the migrations are done.
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(drop, type_="unique")
        batch_op.create_unique_constraint(create, columns)


def upgrade() -> None:
    # A token was unique across all users, so a second operator sending the same token got
    # the first operator's ticket. Now it is unique per creating user.
    _swap_token_constraint(
        "uq_tickets_client_token",
        "uq_tickets_created_by_id_client_token",
        ["created_by_id", "client_token"],
    )
    op.create_table(
        "action_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_action_requests_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_action_requests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_requests")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_action_requests_user_id")),
    )
    with op.batch_alter_table("action_requests", schema=None) as batch_op:
        batch_op.create_index("ix_action_requests_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_action_requests_created_at")
    op.drop_table("action_requests")
    # Fails if two users now hold the same token: that data cannot go back to one scope.
    _swap_token_constraint(
        "uq_tickets_created_by_id_client_token", "uq_tickets_client_token", ["client_token"]
    )
