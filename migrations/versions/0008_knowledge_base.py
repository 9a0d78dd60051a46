"""knowledge base: catalogue, articles, versions, synonyms, use

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 12:45:46.013930
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infra.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["kb_categories.id"],
            name=op.f("fk_kb_categories_parent_id_kb_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_categories")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_kb_categories_parent_id")),
    )
    with op.batch_alter_table("kb_categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_categories_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "policy",
                "guide",
                "faq",
                "script",
                name="articlekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("materials", sa.Text(), nullable=False),
        sa.Column("fees", sa.Text(), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("hours", sa.Text(), nullable=False),
        sa.Column("source_doc", sa.String(length=200), nullable=False),
        sa.Column("doc_number", sa.String(length=100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("review_by", sa.Date(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("live_version", sa.Integer(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=True),
        sa.Column("indexed_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["kb_categories.id"],
            name=op.f("fk_kb_articles_category_id_kb_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_kb_articles_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_kb_articles_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
    )
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_articles_category_id"), ["category_id"], unique=False
        )
        batch_op.create_index(
            "ix_kb_articles_published_archived", ["published", "archived"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_kb_articles_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "kb_synonyms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_kb_synonyms_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_synonyms")),
    )
    op.create_table(
        "kb_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["kb_articles.id"], name=op.f("fk_kb_links_article_id_kb_articles")
        ),
        sa.ForeignKeyConstraint(
            ["linked_by_id"], ["users.id"], name=op.f("fk_kb_links_linked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_kb_links_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_links")),
        sa.UniqueConstraint("ticket_id", "article_id", name=op.f("uq_kb_links_ticket_id")),
    )
    with op.batch_alter_table("kb_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_links_article_id"), ["article_id"], unique=False)

    op.create_table(
        "kb_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("query", sa.String(length=200), nullable=False),
        sa.Column("draft", sa.String(length=64), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("hit_ids", sa.JSON(), nullable=False),
        sa.Column("n_hits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_kb_searches_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_kb_searches_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_searches")),
    )
    with op.batch_alter_table("kb_searches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_searches_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_searches_draft"), ["draft"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_searches_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "published",
                "rejected",
                "superseded",
                "withdrawn",
                name="versionstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_unit_id", sa.Integer(), nullable=True),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["kb_articles.id"], name=op.f("fk_kb_versions_article_id_kb_articles")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_kb_versions_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["author_unit_id"], ["units.id"], name=op.f("fk_kb_versions_author_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_kb_versions_reviewed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_versions")),
        sa.UniqueConstraint("article_id", "number", name=op.f("uq_kb_versions_article_id")),
    )
    with op.batch_alter_table("kb_versions", schema=None) as batch_op:
        batch_op.create_index("ix_kb_versions_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kb_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_versions_status")

    op.drop_table("kb_versions")
    with op.batch_alter_table("kb_searches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_searches_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_kb_searches_draft"))
        batch_op.drop_index(batch_op.f("ix_kb_searches_at"))

    op.drop_table("kb_searches")
    with op.batch_alter_table("kb_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_links_article_id"))

    op.drop_table("kb_links")
    op.drop_table("kb_synonyms")
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_articles_unit_id"))
        batch_op.drop_index("ix_kb_articles_published_archived")
        batch_op.drop_index(batch_op.f("ix_kb_articles_category_id"))

    op.drop_table("kb_articles")
    with op.batch_alter_table("kb_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_categories_parent_id"))

    op.drop_table("kb_categories")
