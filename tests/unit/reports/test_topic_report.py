"""The topic report's assembly (reports.topics.report): places, hot spots and rising keywords."""

import datetime as dt

from reports.topics.clusters import Space
from reports.topics.clusters import cluster_rows
from reports.topics.report import MAX_CONTENT_CHARS
from reports.topics.report import RisingTopic
from reports.topics.report import TopicTicket
from reports.topics.report import rising_keywords
from reports.topics.report import ticket_place
from reports.topics.report import ticket_text
from reports.topics.report import topics_and_spots

NAMES = {1: "滨江社区", 2: "湖滨街道", 3: "西湖区", 4: "东"}
NOISE = [
    "工地夜间施工噪音扰民，晚上十一点以后还在施工",
    "附近工地夜间施工，噪音很大，晚上睡不着",
    "建筑工地晚上施工噪音扰民，凌晨还在打桩",
    "工地夜间施工噪音太大，影响居民晚上休息",
]
PARKING = [
    "小区停车位不足，车辆乱停乱放占用消防通道",
    "小区里车辆乱停乱放，停车位太少",
    "小区停车位不足，车辆乱停乱放，消防通道被堵",
]
MONDAY = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)


def test_a_tickets_text_leaves_out_its_own_place() -> None:
    text = ticket_text(
        "湖滨街道阳光花园3号楼噪音",
        "西湖区滨江社区，湖滨街道阳光花园旁工地夜间施工",
        "湖滨街道 阳光花园3号楼",
        (1, 2, 3),
        NAMES,
    )
    # The address as written, without spaces, and up to its first digit; the unit names.
    for place in ("湖滨街道", "阳光花园", "滨江社区", "西湖区"):
        assert place not in text
    assert "噪音" in text and "工地夜间施工" in text


def test_a_tickets_text_keeps_one_character_names_and_cuts_long_content() -> None:
    assert ticket_text("东门路灯", "不亮", None, (4, None, None), NAMES) == "东门路灯\n不亮"
    long = ticket_text("标题", "字" * (MAX_CONTENT_CHARS + 500), None, (None, None, None), {})
    assert long == "标题\n" + "字" * MAX_CONTENT_CHARS


def test_a_tickets_place_is_its_community_else_street_else_bare_address() -> None:
    assert ticket_place(1, 2, "某路 8号", NAMES) == "滨江社区"
    assert ticket_place(None, 2, "某路 8号", NAMES) == "湖滨街道"
    assert ticket_place(99, None, "某路 8号", NAMES) == "某路8号"  # no name: next choice
    assert ticket_place(None, None, "  ", NAMES) is None


def tickets(places: list[str | None], texts: list[str]) -> list[TopicTicket]:
    return [
        TopicTicket(i + 1, text, "城市管理/噪音", place, MONDAY + dt.timedelta(hours=i))
        for i, (place, text) in enumerate(zip(places, texts, strict=True))
    ]


def test_hot_spots_are_a_topics_tickets_at_one_place() -> None:
    period = tickets(
        ["滨江社区", "滨江社区", "湖滨街道", "滨江社区", None, None, "湖滨街道"], NOISE + PARKING
    )
    space = Space.fit([t.text for t in period])
    # At 0.4 the four noise tickets link (their weakest link is about 0.45).
    clusters = cluster_rows(space.matrix, 0.4, 2)
    topics, spots = topics_and_spots(period, space, clusters, 10, 2)
    assert [(t.count, t.ticket_ids, t.category) for t in topics] == [
        (4, (4, 3, 2, 1), "城市管理"),
        (3, (7, 6, 5), "城市管理"),
    ]
    assert "施工" in topics[0].keywords and "停车位" in topics[1].keywords
    # 湖滨街道 holds one ticket of each topic: no hot spot; tickets without a place make none.
    assert [(s.place, s.topic, s.count, s.ticket_ids) for s in spots] == [
        ("滨江社区", topics[0].label, 3, (4, 2, 1))
    ]
    topics, spots = topics_and_spots(period, space, clusters, 1, 2)
    assert [t.count for t in topics] == [4] and len(spots) == 1


def rising(now: list[str], before: list[str], week_sizes: list[int]) -> list[RisingTopic]:
    space = Space.fit(now)
    return rising_keywords(space, space.read(before), week_sizes, 3, 10)


def test_weeks_without_tickets_are_left_out_of_the_baseline() -> None:
    found = rising(["小区停车位不足"] * 4, ["小区停车位不足"], [1, 0, 0, 0])
    assert [(r.keyword, r.count, r.baseline, r.ratio) for r in found] == [
        ("不足", 4, 1.0, 4.0),
        ("停车位", 4, 1.0, 4.0),
        ("小区", 4, 1.0, 4.0),
    ]


def test_a_keyword_rises_at_twice_its_weekly_baseline() -> None:
    assert [r.ratio for r in rising(["小区停车位不足"] * 4, ["小区停车位不足"] * 4, [2, 2])] == [
        2.0,
        2.0,
        2.0,
    ]
    assert rising(["小区停车位不足"] * 4, ["小区停车位不足"] * 6, [3, 3]) == []


def test_a_new_keyword_has_no_ratio_and_a_word_inside_a_shown_one_is_not_shown_again() -> None:
    found = rising(["噪音扰民"] * 3 + ["噪音很大"] * 3 + ["工地夜间施工噪音扰民"], [], [0, 0])
    # 噪音扰民 (3 tickets) says what 噪音 (6) already says.
    assert [(r.keyword, r.count, r.baseline, r.ratio) for r in found] == [
        ("噪音", 6, 0.0, None),
        ("很大", 3, 0.0, None),
    ]
