"""The demo knowledge base (kb/demo_content.py): it imports, and it shows what the demo needs."""

import datetime as dt
from collections import Counter

from kb.demo_content import SYNONYMS
from kb.demo_content import demo_articles
from kb.domain import ArticleKind
from kb.domain import Flag
from kb.domain import Validity

TODAY = dt.date(2026, 11, 21)


def flagged(flag: Flag) -> list[str]:
    return [
        record.title
        for record in demo_articles()
        if flag in Validity(record.valid_from, record.valid_until, record.review_by).flags(TODAY)
    ]


def test_the_demo_articles_import_with_unique_titles() -> None:
    records = demo_articles()
    assert len(records) >= 28
    assert len({record.title for record in records}) == len(records)


def test_every_kind_is_there_and_bodies_are_real_text() -> None:
    records = demo_articles()
    kinds = Counter(record.kind for record in records)
    assert kinds[ArticleKind.GUIDE] >= 10 and kinds[ArticleKind.FAQ] >= 5
    assert 3 <= kinds[ArticleKind.SCRIPT] <= 4 and 2 <= kinds[ArticleKind.POLICY] <= 3
    assert all(80 <= len(record.body) <= 400 for record in records)
    assert all(record.category and record.valid_from for record in records)


def test_every_guide_says_what_to_bring_where_when_and_what_it_costs() -> None:
    guides = [r for r in demo_articles() if r.kind is ArticleKind.GUIDE]
    assert all(g.materials and g.fees and g.place and g.hours for g in guides)


def test_every_policy_has_its_document_number() -> None:
    policies = [r for r in demo_articles() if r.kind is ArticleKind.POLICY]
    assert all(p.doc_number and p.source_doc for p in policies)


def test_two_articles_are_overdue_for_review_and_one_has_expired() -> None:
    assert sorted(flagged(Flag.REVIEW_OVERDUE)) == [
        "公交卡怎么办，有什么优惠",
        "电动自行车怎么上牌",
    ]
    assert flagged(Flag.EXPIRED) == ["关于做好2026年度城乡居民基本医疗保险参保缴费工作的通知"]
    assert flagged(Flag.NOT_YET_VALID) == []


def test_synonym_groups_are_distinct_words_in_one_group_each() -> None:
    assert len(SYNONYMS) >= 25
    assert all(len(set(group)) == len(group) >= 2 for group in SYNONYMS)
    assert all(word == word.strip() and word for group in SYNONYMS for word in group)
    words = Counter(word for group in SYNONYMS for word in group)
    assert [word for word, n in words.items() if n > 1] == []
