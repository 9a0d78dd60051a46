"""A weekly brief built by hand (2026-W47), and an empty one, for tests of the renderers."""

import datetime as dt

from reports.brief.content import Brief
from reports.brief.content import CaseLine
from reports.brief.content import CategoryLine
from reports.brief.content import Change
from reports.brief.content import CountRow
from reports.brief.content import DayCount
from reports.brief.content import KpiLine
from reports.brief.content import NoticeLine
from reports.brief.content import UnitLine
from reports.topics.report import HotSpot
from reports.topics.report import RisingTopic
from reports.topics.report import Topic
from reports.topics.report import TopicReport

MONDAY = dt.date(2026, 11, 16)
GENERATED = dt.datetime(2026, 11, 23, 7, 0)
# A citizen's title that must come out as text, never as markup.
HOSTILE_TITLE = '小区路灯不亮<script>alert("x")</script>'


def _unit(
    rank: int,
    unit_id: int,
    name: str,
    dispatched: int,
    satisfaction: float | None,
    score: float | None,
    *,
    overdue: int = 0,
    floor: float = 0.85,
) -> UnitLine:
    return UnitLine(
        rank=rank,
        unit_id=unit_id,
        unit=name,
        dispatched=dispatched,
        on_time_sign_rate=0.982,
        reply_rate=0.951,
        on_time_reply_rate=0.913,
        overdue=overdue,
        overdue_rate=overdue / dispatched if dispatched else None,
        # A unit with none of the weighted KPIs has no score and no rank.
        response_rate=0.967 if score is not None else None,
        resolution_rate=0.884 if score is not None else None,
        satisfaction_rate=satisfaction,
        score=score,
        below_floor=satisfaction is not None and satisfaction < floor,
    )


def sample_brief() -> Brief:
    """A busy week: every section has something to show, one unit is below the floor."""
    daily_counts = [
        (412, 268),
        (398, 251),
        (376, 240),
        (365, 233),
        (351, 220),
        (188, 102),
        (152, 86),
    ]
    return Brief(
        week="2026-W47",
        title="12345热线工作周报（2026年第47周）",
        range_text="2026年11月16日—11月22日",
        monday=MONDAY,
        generated_at=GENERATED,
        hotline="12345政务服务便民热线",
        headline=[
            "本周共受理群众诉求2242件，环比增长5.3%。",
            "其中派单1400件，直接办结842件，直办率37.6%。",
            "呼入电话3105次，接通率96.1%。",
        ],
        accepted=Change(2242, 2129),
        dispatched=Change(1400, 1391),
        resolved_directly=Change(842, 738),
        calls_offered=Change(3105, 2987),
        calls_answered=Change(2984, 2841),
        average_wait_seconds=Change(14.6, 18.2),
        average_talk_seconds=Change(205.0, 198.4),
        channels=[
            CountRow("phone", "电话", 1730, 1655),
            CountRow("web", "网站", 214, 230),
            CountRow("wechat", "微信", 251, 201),
            CountRow("app", "APP", 47, 43),
        ],
        request_types=[
            CountRow("complaint", "投诉", 811, 790),
            CountRow("request", "求助", 702, 655),
            CountRow("consult", "咨询", 553, 540),
            CountRow("suggestion", "建议", 121, 98),
            CountRow("praise", "表扬", 55, 46),
        ],
        kpis=_kpis(),
        daily=[
            DayCount(MONDAY + dt.timedelta(days=i), accepted, dispatched)
            for i, (accepted, dispatched) in enumerate(daily_counts)
        ],
        categories=[
            CategoryLine("城乡建设", 512, 0.2284, 480),
            CategoryLine("交通运输", 338, 0.1508, 351),
            CategoryLine("市场监管", 301, 0.1343, 266),
            CategoryLine("劳动保障", 245, 0.1093, 245),
            CategoryLine("生态环境", 176, 0.0785, 150),
        ],
        topics=_topics(),
        units=[
            _unit(1, 11, "市水务局", 152, 0.974, 0.958),
            _unit(2, 12, "朝阳区人民政府", 433, 0.912, 0.921, overdue=4),
            _unit(3, 13, "市城市管理委员会", 288, 0.887, 0.903, overdue=2),
            _unit(4, 14, "市热力集团", 207, 0.792, 0.851, overdue=11),
            _unit(0, 15, "市园林绿化局", 3, None, None),
        ],
        satisfaction_floor=0.85,
        below_floor=["市热力集团"],
        notices=[
            NoticeLine(14, "市热力集团", 2, ("20261103-0042", "20261104-0117")),
        ],
        problems=_problems(),
        cases=_cases(),
        weights={"response_rate": 1.0, "resolution_rate": 1.0, "satisfaction_rate": 1.0},
    )


def _kpis() -> list[KpiLine]:
    """The sample week's KPI table; 退回率 has no figure this week."""
    return [
        KpiLine("answer_rate", "接通率", "人工接通量 ÷ 呼入量", 0.961, 0.951, 2984, 3105),
        KpiLine(
            "service_level_15s",
            "15秒接通率",
            "15秒内接通量 ÷ 人工接通量",
            0.874,
            0.874,
            2608,
            2984,
        ),
        KpiLine("direct_resolution_rate", "直办率", "直接办结量 ÷ 受理量", 0.376, 0.347, 842, 2242),
        KpiLine("on_time_sign_rate", "及时签收率", "按时签收量 ÷ 派单量", 0.982, 0.99, 1375, 1400),
        KpiLine(
            "satisfaction_rate",
            "满意率",
            "（非常满意 + 满意 + 基本满意）÷ 有效回访量",
            0.923,
            0.911,
            1012,
            1096,
        ),
        KpiLine("return_rate", "退回率", "退回次数 ÷ 派往单位次数", None, 0.021, 0, 0),
    ]


def _topics() -> TopicReport:
    """The sample week's topics, hot spots and rising topics."""
    return TopicReport(
        tickets=2242,
        topics=[
            Topic("供暖、暖气、温度", ("供暖", "暖气", "温度", "室温"), 96, (101, 102), "城乡建设"),
            Topic("预付卡、退费、健身房", ("预付卡", "退费", "健身房"), 41, (201,), "市场监管"),
            Topic("工资、拖欠", ("工资", "拖欠"), 33, (301,), None),
        ],
        hot_spots=[
            HotSpot("幸福里小区", "供暖、暖气、温度", 18, (101, 102)),
            HotSpot("学院路街道", "噪音、施工、夜间", 9, (401,)),
        ],
        rising=[
            RisingTopic("供暖", 96, 21.5, 4.465),
            RisingTopic("流感疫苗", 12, 0.0, None),
        ],
    )


def _problems() -> list[CaseLine]:
    """The sample week's problem tickets; the first has markup in its title."""
    return [
        CaseLine(
            101,
            "20261116-0001",
            HOSTILE_TITLE,
            "朝阳区人民政府",
            "办理中",
            "重办3次",
        ),
        CaseLine(102, "20261112-0230", "供暖温度长期不达标", "市热力集团", "已超期", "经3个单位"),
    ]


def _cases() -> list[CaseLine]:
    """The sample week's 典型案例."""
    return [
        CaseLine(
            103,
            "20261117-0088",
            "老旧小区加装电梯协调难",
            "朝阳区人民政府",
            "已办结",
            "多部门协同",
            "街道牵头召开协调会三次，业主达成一致，电梯已于11月20日开工。",
        ),
    ]


def empty_brief() -> Brief:
    """A week with nothing in it: all counts zero, no topics, no units, no cases."""
    zero = Change(0, 0)
    none = Change(None, None)
    return Brief(
        week="2026-W47",
        title="12345热线工作周报（2026年第47周）",
        range_text="2026年11月16日—11月22日",
        monday=MONDAY,
        generated_at=GENERATED,
        hotline="12345政务服务便民热线",
        headline=[],
        accepted=zero,
        dispatched=zero,
        resolved_directly=zero,
        calls_offered=zero,
        calls_answered=zero,
        average_wait_seconds=none,
        average_talk_seconds=none,
        channels=[],
        request_types=[],
        kpis=[],
        daily=[DayCount(MONDAY + dt.timedelta(days=i), 0, 0) for i in range(7)],
        categories=[],
        topics=TopicReport(tickets=0, topics=[], hot_spots=[], rising=[]),
        units=[],
        satisfaction_floor=0.85,
        below_floor=[],
        notices=[],
        problems=[],
        cases=[],
    )
