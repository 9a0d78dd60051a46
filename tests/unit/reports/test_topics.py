"""Hot topics (reports/topics/): words, clusters and keywords on hand-written tickets."""

import random

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from hotline import demo_content
from reports.topics.clusters import Space
from reports.topics.clusters import cluster_keywords
from reports.topics.clusters import cluster_texts
from reports.topics.words import tokenize

NOISE = [
    "工地夜间施工噪音扰民，晚上十一点以后还在施工",
    "附近工地夜间施工，噪音很大，晚上睡不着",
    "建筑工地晚上施工噪音扰民，凌晨还在打桩",
    "工地夜间施工噪音太大，影响居民晚上休息",
    "夜间工地施工噪音扰民，希望管一管",
]
PARKING = [
    "小区停车位不足，车辆乱停乱放占用消防通道",
    "小区里车辆乱停乱放，停车位太少",
    "小区停车位不足，车辆乱停乱放，消防通道被堵",
    "小区停车位严重不足，车辆乱停乱放",
]
FUND = [
    "咨询住房公积金提取需要哪些材料",
    "想提取住房公积金，咨询提取条件",
    "咨询公积金提取的办理流程和材料",
]
SINGLES = [
    "路灯不亮了，晚上很黑",
    "表扬公交司机拾金不昧",
    "咨询社保卡丢失如何补办",
    "自来水水压太低",
]
TEXTS = NOISE + PARKING + FUND + SINGLES
NOISE_AT, PARKING_AT, FUND_AT = list(range(0, 5)), list(range(5, 9)), list(range(9, 12))


def test_three_groups_make_three_clusters_biggest_first() -> None:
    assert cluster_texts(TEXTS) == [NOISE_AT, PARKING_AT, FUND_AT]


def test_keywords_say_what_each_group_is_about() -> None:
    noise, parking, fund = cluster_keywords(TEXTS, [NOISE_AT, PARKING_AT, FUND_AT])
    assert {"施工", "噪音", "工地", "夜间"} <= set(noise)
    assert {"小区", "车辆", "停车位"} <= set(parking)
    assert fund[:2] == ("提取", "公积金")
    assert len(noise) == len(parking) == len(fund) == 5
    # No word twice in other words: 噪音扰民 does not come with 噪音, 公积金 not with 公积.
    for words in (noise, parking, fund):
        assert not [(a, b) for a in words for b in words if a != b and a in b]


def test_min_cluster_leaves_out_smaller_groups() -> None:
    assert cluster_texts(TEXTS, min_cluster=4) == [NOISE_AT, PARKING_AT]
    assert cluster_texts(TEXTS, min_cluster=6) == []
    everything = cluster_texts(TEXTS, min_cluster=1)
    assert everything[:3] == [NOISE_AT, PARKING_AT, FUND_AT]
    assert everything[3:] == [[12], [13], [14], [15]]


def test_a_higher_similarity_asks_more_of_each_link() -> None:
    assert cluster_texts(TEXTS, similarity=0.9) == []
    assert cluster_texts(TEXTS, similarity=0.9, min_cluster=1) == [[i] for i in range(16)]


def test_same_texts_same_clusters_in_any_order() -> None:
    assert cluster_texts(TEXTS) == cluster_texts(TEXTS)
    assert cluster_keywords(TEXTS, cluster_texts(TEXTS)) == cluster_keywords(
        TEXTS, cluster_texts(TEXTS)
    )
    order = list(range(len(TEXTS)))
    random.Random(7).shuffle(order)
    shuffled = cluster_texts([TEXTS[i] for i in order])
    assert sorted(sorted(order[i] for i in c) for c in shuffled) == sorted(cluster_texts(TEXTS))


def test_nothing_to_cluster() -> None:
    assert cluster_texts([]) == []
    assert cluster_keywords([], []) == []
    assert cluster_keywords(TEXTS, []) == []
    # Texts without a single word resemble nothing, not even each other.
    assert cluster_texts(["", "。。。！", "12345 678", "ABC def", "的了吗"] * 3) == []


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        cluster_texts(TEXTS, similarity=0)
    with pytest.raises(ValueError):
        cluster_texts(TEXTS, similarity=1.5)
    with pytest.raises(ValueError):
        cluster_texts(TEXTS, min_cluster=0)


def test_words_leave_out_boilerplate_numbers_and_punctuation() -> None:
    words = tokenize("来电人反映：3号楼电梯坏了2天，希望相关部门尽快处理！！ABC 12345")
    assert "电梯" in words
    assert not set(words) & {"来电人", "反映", "希望", "相关部门", "尽快", "处理"}
    assert all(len(w) >= 2 and not any(ch.isascii() for ch in w) for w in words)
    assert tokenize("三百元，两年，一次，半个月") == []
    assert tokenize("") == []


def test_government_terms_stay_whole() -> None:
    assert tokenize("工地夜间施工噪音扰民") == ["工地", "夜间", "施工", "噪音扰民"]
    assert tokenize("门口流动摊贩占道经营") == ["门口", "流动摊贩", "占道经营"]


def test_overlapping_words_go_to_the_first() -> None:
    # 要求 (a stop word) takes 求 from 求学: 学生 is left, 求学 is not.
    assert tokenize("学校要求学生统一购买教辅资料") == [
        "学校",
        "学生",
        "统一",
        "购买",
        "教辅",
        "资料",
    ]


def test_a_chain_through_mixed_tickets_does_not_make_one_giant_topic() -> None:
    parking = "小区停车位严重不足，车辆乱停乱放"
    noise = "工地夜间施工噪音扰民，凌晨还在打桩"
    # Each mixed ticket resembles both kinds (cosine about 0.7): at 0.5 all 110 tickets
    # would be one component, more than 30 % and more than 50 of them.
    texts = [parking] * 40 + [noise] * 40 + [f"{parking}；{noise}"] * 30
    clusters = cluster_texts(texts)
    assert clusters == [list(range(0, 40)), list(range(40, 80)), list(range(80, 110))]


def demo_texts(n: int) -> list[str]:
    rng = random.Random(12345)
    streets = list(demo_content.STREET_ADDRESSES)
    texts = []
    for _ in range(n):
        template = rng.choice(demo_content.TEMPLATES[:60])
        address = rng.choice(demo_content.STREET_ADDRESSES[rng.choice(streets)])
        content = template.content.format(address=address, name="张先生")
        # Leave out one of the sentences, as callers tell the same thing differently.
        sentences = [s for s in content.split("。") if s]
        if len(sentences) > 1:
            sentences.pop(rng.randrange(len(sentences)))
        texts.append(template.title + "\n" + "。".join(sentences))
    return texts


@pytest.mark.parametrize("similarity", [0.4, 0.5, 0.7, 0.9])
def test_clusters_are_the_components_of_the_whole_similarity_matrix(similarity: float) -> None:
    # The pair search skips most pairs unseen; the result must be what the whole X·Xᵀ gives.
    texts = demo_texts(400)
    matrix = Space.fit(texts).matrix
    linked = (matrix @ matrix.T).toarray() >= similarity - 1e-9
    _, labels = connected_components(linked, directed=False)
    expected = sorted(np.flatnonzero(labels == label).tolist() for label in set(labels))
    assert max(map(len, expected)) <= 50  # no giant component to split again
    assert sorted(cluster_texts(texts, similarity=similarity, min_cluster=1)) == expected
