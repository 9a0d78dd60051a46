"""SQLAlchemy tables of the knowledge base: catalogue, articles, versions, synonyms, use."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from infra.db import Base
from infra.db import utcnow
from kb.domain import ArticleKind
from kb.domain import VersionStatus


class KbCategory(Base):
    """A node of the catalogue tree (知识目录)."""

    __tablename__ = "kb_categories"
    __table_args__ = (sa.UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("kb_categories.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    position: Mapped[int] = mapped_column(default=0)


class KbArticle(Base):
    """An article as it is live (its published version), or as first proposed until then.

    The content columns are a copy of the published version's content, so that search and
    lists read one row; `KbVersion` keeps every text ever proposed.
    """

    __tablename__ = "kb_articles"
    __table_args__ = (sa.Index("ix_kb_articles_published_archived", "published", "archived"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("kb_categories.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    kind: Mapped[ArticleKind]
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    materials: Mapped[str] = mapped_column(sa.Text, default="")
    fees: Mapped[str] = mapped_column(sa.Text, default="")
    place: Mapped[str] = mapped_column(sa.Text, default="")
    hours: Mapped[str] = mapped_column(sa.Text, default="")
    source_doc: Mapped[str] = mapped_column(sa.String(200), default="")
    doc_number: Mapped[str] = mapped_column(sa.String(100), default="")
    valid_from: Mapped[dt.date | None] = mapped_column(sa.Date)
    valid_until: Mapped[dt.date | None] = mapped_column(sa.Date)
    review_by: Mapped[dt.date | None] = mapped_column(sa.Date)
    tags: Mapped[list[str]] = mapped_column(default=list)
    published: Mapped[bool] = mapped_column(default=False)
    live_version: Mapped[int | None]  # number of the published version
    archived: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The search terms of the live text (kb.search.terms), filled by the index job; NULL
    # means not indexed yet. indexed_at moves whenever the index must be rebuilt.
    terms: Mapped[list[str] | None] = mapped_column(sa.JSON, deferred=True)
    indexed_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]  # owners last told it is expired or overdue

    versions: Mapped[list["KbVersion"]] = relationship(
        back_populates="article", order_by="KbVersion.number"
    )


class KbVersion(Base):
    """One proposed text of an article, and what the hotline's review made of it."""

    __tablename__ = "kb_versions"
    __table_args__ = (
        sa.UniqueConstraint("article_id", "number"),
        sa.Index("ix_kb_versions_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("kb_articles.id"))
    number: Mapped[int]
    status: Mapped[VersionStatus]
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)  # kb.articles.CONTENT
    note: Mapped[str] = mapped_column(sa.Text, default="")  # the author's change note
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    author_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[dt.datetime | None]
    review_note: Mapped[str] = mapped_column(sa.Text, default="")

    article: Mapped[KbArticle] = relationship(back_populates="versions")


class KbSynonym(Base):
    """A group of words that mean the same to a caller (孩子 · 子女 · 小孩)."""

    __tablename__ = "kb_synonyms"

    id: Mapped[int] = mapped_column(primary_key=True)
    words: Mapped[list[str]] = mapped_column(default=list)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KbLink(Base):
    """An article an operator used for a ticket (引用): counts as the article's use."""

    __tablename__ = "kb_links"
    __table_args__ = (sa.UniqueConstraint("ticket_id", "article_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"))
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("kb_articles.id"), index=True)
    version: Mapped[int | None]
    linked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    linked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KbSearch(Base):
    """One search and the articles it showed, for the editors' gap list.

    `draft` is the client token of the ticket being typed when the search ran; once that
    ticket exists, its fate (answered with an article, or dispatched anyway) tells whether
    the articles shown were any good.
    """

    __tablename__ = "kb_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    query: Mapped[str] = mapped_column(sa.String(200))
    draft: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    hit_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)  # all shown (top 5 each)
    n_hits: Mapped[int] = mapped_column(default=0)  # what the latest query found
