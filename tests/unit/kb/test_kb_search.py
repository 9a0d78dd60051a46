"""Knowledge-base ranking (kb/search.py): what an operator types finds the right article."""

from kb.index import jieba_words
from kb.search import Article
from kb.search import SearchIndex
from kb.search import Synonyms
from kb.search import bigrams
from kb.search import terms

ARTICLES = [
    Article(
        1,
        "住房公积金提取办事指南",
        "职工购买自住住房、退休、离职可以申请提取住房公积金，需携带身份证和银行卡。",
    ),
    Article(
        2,
        "义务教育阶段新生入学报名材料",
        "适龄儿童入学报名需提供户口簿、房产证明或租赁合同、预防接种证。",
    ),
    Article(3, "城市道路占道经营管理规定", "任何单位和个人不得擅自占用城市道路摆摊设点。"),
    Article(4, "居民医保参保缴费", "城乡居民基本医疗保险按年度缴费，可在社区服务中心办理。"),
]


def index() -> SearchIndex:
    return SearchIndex(ARTICLES, jieba_words)


def test_an_exact_title_comes_first() -> None:
    assert index().search("城市道路占道经营管理规定")[0].id == 3


def test_a_colloquial_question_finds_the_guide() -> None:
    assert index().search("公积金怎么提取")[0].id == 1
    assert index().search("孩子上学要什么材料")[0].id == 2


def test_a_one_character_typo_still_finds_it() -> None:
    # 公基金 for 公积金: the jieba word is lost, the bigrams 提取 / 住房 still hold
    assert index().search("住房公基金提取")[0].id == 1


def test_hits_name_the_query_words_they_hold_for_highlighting() -> None:
    hit = index().search("公积金提取需要什么")[0]
    # how jieba cuts it depends on the vocabulary loaded so far (公积金提取 may be one word)
    assert any("公积金" in w for w in hit.words) and any("提取" in w for w in hit.words)
    assert all(w in ARTICLES[0].title + ARTICLES[0].body for w in hit.words)


def test_no_words_or_nothing_matching_finds_nothing() -> None:
    assert index().search("") == []
    assert index().search("！？。") == []
    assert index().search("火星探测器") == []
    assert SearchIndex([], jieba_words).search("公积金") == []


def test_results_are_best_first_and_at_most_k() -> None:
    hits = index().search("办理 缴费 提取 入学 道路", k=2)
    assert len(hits) == 2
    assert hits[0].score >= hits[1].score > 0


def test_bigrams_cover_each_run_of_text() -> None:
    assert bigrams("公积金A3区") == ["公积", "积金", "金A", "A3", "3区"]
    assert bigrams("好") == ["好"]
    assert bigrams("，。") == []


def test_an_updated_index_ranks_exactly_as_one_built_afresh() -> None:
    extra = Article(5, "公积金贷款额度", "住房公积金贷款最高额度按缴存余额计算。")
    changed = Article(1, "住房公积金提取须知", "退休、离职可提取住房公积金。")
    updated = index().updated([extra, changed], removed=[3])
    fresh = SearchIndex([ARTICLES[1], ARTICLES[3], extra, changed], jieba_words)
    assert len(updated) == 4
    for query in ("公积金提取", "住房公积金贷款", "占道经营", "入学材料", "缴费"):
        got = [(h.id, round(h.score, 5)) for h in updated.search(query)]
        assert got == [(h.id, round(h.score, 5)) for h in fresh.search(query)], query
    assert updated.search("占道经营") == []
    assert [h.id for h in index().search("占道经营")] == [3]  # the old one is untouched


def test_synonyms_widen_the_question_with_the_other_words_of_a_group() -> None:
    syn = Synonyms([("孩子", "子女", "儿童"), ("上学", "入学")])
    assert syn.expand("孩子上学要什么") == ["子女", "儿童", "入学"]
    assert syn.expand("公积金") == []
    plain = index().search("子女读书")
    assert not plain or plain[0].id != 2  # without the table, 子女 and 读书 miss the article
    syn = Synonyms([("孩子", "子女", "儿童"), ("读书", "入学")])
    assert index().search("子女读书", synonyms=syn)[0].id == 2


def test_terms_are_the_given_tokenizers_words_and_the_bigrams() -> None:
    # one word per character, where jieba would keep 公积金 whole
    assert terms("公积金", list) == ["w:公", "w:积", "w:金", "b:公积", "b:积金"]
    assert terms("公积金", jieba_words) == ["w:公积金", "b:公积", "b:积金"]


def test_the_index_searches_and_highlights_with_its_own_tokenizer() -> None:
    articles = [Article(1, "住房公积金", "提取"), Article(2, "入学报名", "材料")]
    assert SearchIndex(articles, jieba_words).search("金") == []  # 金 is no jieba word here
    by_char = SearchIndex(articles, list)
    hits = by_char.search("金")
    assert [(h.id, h.words) for h in hits] == [(1, ("金",))]
    # an updated index keeps cutting with the same tokenizer
    updated = by_char.updated([Article(3, "黄金", "")])
    assert {h.id for h in updated.search("金")} == {1, 3}
