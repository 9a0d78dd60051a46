"""Knowledge-base vocabulary and rules that need nothing but the standard library.

GB/T 44191-2024 asks for articles that are authoritative (an owning unit and a source
document), uniform (one catalogue, one set of kinds) and current (valid dates and a review
date): the flags below say when an article is none of that any more.
"""

import datetime as dt
import enum
from dataclasses import dataclass


class ArticleKind(enum.StrEnum):
    POLICY = "policy"  # 政策法规
    GUIDE = "guide"  # 办事指南: materials, fees, place and hours
    FAQ = "faq"  # 常见问题
    SCRIPT = "script"  # 话术: what operators say


KIND_LABELS: dict[ArticleKind, str] = {
    ArticleKind.POLICY: "政策法规",
    ArticleKind.GUIDE: "办事指南",
    ArticleKind.FAQ: "常见问题",
    ArticleKind.SCRIPT: "话术",
}


class VersionStatus(enum.StrEnum):
    PENDING = "pending"  # a unit's change, waiting for the hotline's review
    PUBLISHED = "published"  # the live text
    REJECTED = "rejected"  # refused by the reviewer, with a note
    SUPERSEDED = "superseded"  # published once, replaced by a later version
    WITHDRAWN = "withdrawn"  # a pending change its author replaced before review


VERSION_LABELS: dict[VersionStatus, str] = {
    VersionStatus.PENDING: "待审核",
    VersionStatus.PUBLISHED: "已发布",
    VersionStatus.REJECTED: "已退回",
    VersionStatus.SUPERSEDED: "历史版本",
    VersionStatus.WITHDRAWN: "已撤回",
}


class Flag(enum.StrEnum):
    EXPIRED = "expired"  # past valid_until: no longer in force
    REVIEW_OVERDUE = "review_overdue"  # past review_by: its owner must confirm or update it
    NOT_YET_VALID = "not_yet_valid"  # valid_from is still ahead


FLAG_LABELS: dict[Flag, str] = {
    Flag.EXPIRED: "已失效",
    Flag.REVIEW_OVERDUE: "逾期未复审",
    Flag.NOT_YET_VALID: "尚未生效",
}


@dataclass(frozen=True, slots=True)
class Validity:
    valid_from: dt.date | None
    valid_until: dt.date | None
    review_by: dt.date | None

    def flags(self, today: dt.date) -> list[Flag]:
        out = []
        if self.valid_until is not None and self.valid_until < today:
            out.append(Flag.EXPIRED)
        if self.review_by is not None and self.review_by < today:
            out.append(Flag.REVIEW_OVERDUE)
        if self.valid_from is not None and self.valid_from > today:
            out.append(Flag.NOT_YET_VALID)
        return out

    def problems(self) -> dict[str, str]:
        """Field errors of dates that contradict each other."""
        errors = {}
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = "失效日期不能早于生效日期"
        if self.valid_from and self.review_by and self.review_by < self.valid_from:
            errors["review_by"] = "复审日期不能早于生效日期"
        return errors
