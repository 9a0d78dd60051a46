"""Validated input of the knowledge base's use cases (strict, as dispatch.tickets.commands)."""

import datetime as dt
from typing import Annotated

from pydantic import Field
from pydantic import StringConstraints
from pydantic import model_validator

from infra.commands import Command
from infra.ids import RowId
from kb.domain import ArticleKind
from kb.domain import Validity

MAX_BODY = 100_000


def _text(max_length: int, min_length: int = 0) -> object:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Title = Annotated[str, _text(200, 1)]
Body = Annotated[str, _text(MAX_BODY, 1)]
Long = Annotated[str, _text(5_000)]
Short = Annotated[str, _text(200)]
Tag = Annotated[str, _text(30, 1)]
Id = RowId


class ArticleInput(Command):
    """An article's content as an editor or a unit liaison writes it."""

    title: Title
    body: Body
    kind: ArticleKind = ArticleKind.FAQ
    category_id: Id | None = None
    unit_id: Id | None = None  # the owning unit; none = the hotline itself
    materials: Long = ""
    fees: Long = ""
    place: Long = ""
    hours: Long = ""
    source_doc: Short = ""
    doc_number: Annotated[str, _text(100)] = ""
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    review_by: dt.date | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    note: Long = ""  # what changed and why (修改说明)

    @model_validator(mode="after")
    def _dates_agree(self) -> "ArticleInput":
        problems = Validity(self.valid_from, self.valid_until, self.review_by).problems()
        if problems:
            raise ValueError("；".join(problems.values()))
        return self


class Review(Command):
    """The hotline's decision on a pending version (审核)."""

    approve: bool
    note: Long = ""

    @model_validator(mode="after")
    def _refusal_says_why(self) -> "Review":
        if not self.approve and not self.note:
            raise ValueError("退回时请填写退回理由")
        return self


class CategoryInput(Command):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    parent_id: Id | None = None


class SynonymInput(Command):
    words: Annotated[
        list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]],
        Field(min_length=2, max_length=30),
    ]

    @model_validator(mode="after")
    def _distinct(self) -> "SynonymInput":
        if len(set(self.words)) < 2:
            raise ValueError("一组同义词至少要有两个不同的词")
        return self


class LinkArticles(Command):
    """Articles an operator used for a ticket (引用)."""

    ticket_id: Id
    article_ids: Annotated[list[Id], Field(min_length=1, max_length=20)]
