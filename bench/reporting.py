"""Reports on PostgreSQL: a year of 1,000,000 tickets, then a month's KPIs and one weekly brief.

Creates a throwaway database `hotline_bench_<hex>`, migrates it to head and loads a year of
realistic work before `--until` (default: Monday 00:00 of the current ISO week, Asia/Shanghai):
about 40 units, tickets with daily and weekly seasonality, their whole lifecycle in
ticket_events (dispatch, sign, reply, review, follow-up, close; returns and reassignments,
extensions, reopenings, reminders, merged duplicates; the last weeks still open), and the
calls behind the phone tickets. Rows are generated from one seeded random.Random and written
with COPY; the secondary indexes and foreign keys of the bulk tables are dropped for the load
and built again afterwards, then VACUUM ANALYZE.

Then it times `reports.kpis.compute` for the last full calendar month (per unit, three runs,
and overall) and `reports.brief.weekly.build(src, monday, "pdf")` for the last full ISO
week, and prints one JSON object. The database is dropped at the end unless --keep;
--database reuses a loaded one (no load, never dropped).

    python -m bench.reporting [--tickets 1000000] [--seed 12345] [--until YYYY-MM-DD]
                            [--keep] [--database NAME] [--out-dir /tmp]
"""

import argparse
import bisect
import contextlib
import datetime as dt
import importlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import sqlalchemy as sa

from dispatch.tickets.domain import TRANSITIONS
from hotline import demo_content as content

if TYPE_CHECKING:
    from hotline.bootstrap import Container

ROOT = Path(__file__).resolve().parent.parent

ADMIN_URL = os.environ.get(
    "HOTLINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TZ = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
OFFSET = 8 * HOUR  # Asia/Shanghai: UTC+8 all year (no daylight saving)
WARNING_SHARE = 0.75  # sla.warning_share
TARGETS = {"kpis_seconds": 2, "brief_seconds": 30}

# The tables written with COPY: their secondary indexes and foreign keys go during the load.
BULK_TABLES = (
    "tickets",
    "ticket_events",
    "ticket_assignments",
    "extension_requests",
    "call_records",
)

# (status, event) -> status, as plain strings (the lifecycle of dispatch.tickets.domain).
NEXT: dict[tuple[str, str], str] = {
    (s.value, e.value): t.value for (s, e), t in TRANSITIONS.items()
}
OPEN = frozenset({"dispatched", "signed", "returned", "replied", "reviewed", "followed_up"})

# Who performs each event (dispatch.tickets.domain.ACTION_ROLES, one role picked per event).
EVENT_ROLE = {
    "create": "operator",
    "resolve_directly": "operator",
    "dispatch": "operator",
    "follow_up": "operator",
    "merge": "operator",
    "sign": "liaison",
    "return": "liaison",
    "extend": "liaison",
    "reply": "liaison",
    "reassign": "team_lead",
    "approve_extension": "team_lead",
    "deny_extension": "team_lead",
    "approve_reply": "team_lead",
    "reject_reply": "team_lead",
    "close": "team_lead",
    "reopen": "team_lead",
    "remind": "supervisor",
    "supervise": "supervisor",
}

# ---------------------------------------------------------------- the city

DEPARTMENTS = (
    ("zjj", "住房和城乡建设局"),
    ("cgj", "城市管理局"),
    ("jtj", "交通运输局"),
    ("sthjj", "生态环境局"),
    ("scjgj", "市场监督管理局"),
    ("rsj", "人力资源和社会保障局"),
    ("jyj", "教育局"),
    ("wjw", "卫生健康委员会"),
    ("gaj", "公安局"),
    ("mzj", "民政局"),
    ("gjj", "住房公积金管理中心"),
    ("zrzyj", "自然资源和规划局"),
)
UTILITIES = (("gdgs", "供电公司"), ("swjt", "水务集团"), ("rlgs", "热力公司"))
DISTRICTS = (
    ("dh", "东湖区", ("湖滨街道", "解放街道", "梨园街道", "水果湖街道")),
    ("xs", "西山区", ("翠屏街道", "桂花街道", "松柏街道")),
    ("nc", "南城区", ("南湖街道", "新华街道", "白沙街道", "长江街道")),
    ("bg", "北港区", ("港口街道", "青山街道", "红钢城街道")),
    ("gx", "高新区", ("光谷街道", "关山街道", "佛祖岭街道", "豹澥街道")),
    ("jb", "江北区", ("汉正街道", "宝丰街道", "古田街道")),
)
# Two-character words: roads, estates (小区) and construction sites are made from them.
_WORDS = (
    "滨江 柳岸 解放 梨园 金桥 翠屏 松林 桂花 南湖 长青 新华 白沙 江岸 港口 青山 光谷 关山 "
    "汉正 宝丰 古田 紫阳 晴川 月湖 黄鹤 鹦鹉 珞珈 卓刀 首义 积玉 复兴 和平 幸福 友谊 建设 "
    "胜利 民主 中山 人民 文化 育才 东亭 西园 北湖 南苑 锦绣 阳光 丽水 碧桂 清江 汉阳 "
    "百瑞 万科 保利 华润 中建 绿地 融创 金地 招商 世茂 龙湖 远洋 联投 城投 东原 旭辉 "
    "星河 新城 雅居 馨苑 怡景"
).split()
_ROAD_SUFFIX = ("路", "大道", "街")
_ESTATE_SUFFIX = ("花园", "小区", "家园", "新村", "苑", "公寓")
_SITES = ("江悦府", "云著", "城市之光", "和光尘樾", "东湖印", "天玺", "滨江壹号", "锦绣江城")
_RIVERS = ("巡司河", "黄孝河", "机场河", "青山港", "南湖渠")


@dataclass(frozen=True, slots=True)
class Street:
    id: int
    district_id: int
    name: str
    district: str
    roads: tuple[str, ...]
    estates: tuple[str, ...]


@dataclass(slots=True)
class City:
    units: list[tuple[int, str, str, str, int | None, list[str]]] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    departments: list[int] = field(default_factory=list)
    streets: list[Street] = field(default_factory=list)
    district_names: dict[int, str] = field(default_factory=dict)
    users: list[tuple[int, str, str, str, int | None]] = field(default_factory=list)
    staff: dict[str, list[int]] = field(default_factory=dict)
    liaison: dict[int, int] = field(default_factory=dict)


def build_city() -> City:
    """About 40 units (12 departments, 6 districts with 3-4 streets, 3 utilities) and users."""
    city = City()

    def unit(code: str, name: str, kind: str, parent: int | None, places: list[str]) -> int:
        uid = len(city.units) + 1
        city.units.append((uid, code, name, kind, parent, places))
        city.codes[code] = uid
        return uid

    for code, name in DEPARTMENTS:
        city.departments.append(unit(code, name, "department", None, []))
    words = iter(_WORDS * 4)
    n = 0
    for code, name, streets in DISTRICTS:
        did = unit(code, name, "district", None, [])
        city.district_names[did] = name
        for i, street_name in enumerate(streets):
            roads = tuple(next(words) + _ROAD_SUFFIX[(n + k) % 3] for k in range(3))
            estates = tuple(next(words) + _ESTATE_SUFFIX[(n + k) % 6] for k in range(3))
            n += 1
            sid = unit(f"{code}-{i + 1:02d}", street_name, "street", did, [*roads, *estates])
            city.streets.append(Street(sid, did, street_name, name, roads, estates))
    for code, name in UTILITIES:
        unit(code, name, "utility", None, [])

    staff: dict[str, list[int]] = {}
    for role, count in (("operator", 12), ("team_lead", 3), ("supervisor", 2), ("admin", 1)):
        for i in range(count):
            uid = len(city.users) + 1
            city.users.append((uid, f"bench-{role}-{i + 1}", f"{role} {i + 1}", role, None))
            staff.setdefault(role, []).append(uid)
    for unit_id, code, name, *_ in city.units:
        uid = len(city.users) + 1
        city.users.append((uid, f"bench-liaison-{code}", f"{name}联络员", "liaison", unit_id))
        city.liaison[unit_id] = uid
    city.staff = staff
    return city


# ---------------------------------------------------------------- what people call about


@dataclass(frozen=True, slots=True)
class Template:
    key: str
    kind: str  # ask (咨询), issue (求助/投诉/举报), suggest (建议), praise (表扬)
    category: str
    handler: str  # "local" (the street, sometimes the district) or a unit code
    weight: float
    title: str
    content: str
    words: tuple[str, ...]
    placed: bool = True  # always has an address (asks without one are about policy)


def _T(
    key: str,
    kind: str,
    category: str,
    handler: str,
    weight: float,
    title: str,
    text: str,
    words: str,
    placed: bool = True,
) -> Template:
    return Template(key, kind, category, handler, weight, title, text, tuple(words.split()), placed)


# key, kind, category, handler, weight, title, content, the words {word} takes, placed
# fmt: off
TEMPLATES: tuple[Template, ...] = (
    # --- 咨询 ---
    _T("gjj-draw", "ask", "住房保障/公积金", "gjj", 12,
       "咨询{word}提取住房公积金的条件",
       "来电人咨询{word}提取住房公积金需要哪些材料、办理流程以及多久到账。",
       "购房 租房 退休 离职 装修 大病医疗", placed=False),
    _T("gjj-loan", "ask", "住房保障/公积金", "gjj", 6,
       "咨询公积金贷款{word}",
       "来电人计划在{district}购房，咨询公积金贷款{word}的具体规定。",
       "额度 利率 异地使用 提前还款 二套房认定", placed=False),
    _T("social", "ask", "劳动社保/社保医保", "rsj", 12,
       "咨询{word}社保缴费问题",
       "来电人系{word}，咨询社保缴费基数、缴费方式以及断缴后如何补缴。",
       "灵活就业人员 退休返聘人员 新参保人员 外地户籍人员", placed=False),
    _T("medical", "ask", "劳动社保/社保医保", "rsj", 9,
       "咨询医保{word}",
       "来电人咨询医保{word}的办理条件和流程，希望告知办理渠道。",
       "异地就医备案 门诊报销比例 慢特病申请 个人账户家庭共济", placed=False),
    _T("school", "ask", "教育/入学招生", "jyj", 5,
       "咨询{district}{word}入学政策",
       "来电人咨询{district}{word}入学的划片范围、报名时间和所需材料。",
       "小学一年级 初中 随迁子女 公办幼儿园", placed=False),
    _T("hukou", "ask", "公安/户籍办理", "gaj", 7,
       "咨询{word}办理流程",
       "来电人咨询{word}需要携带哪些材料、在哪里办理以及办理时限。",
       "户口迁入 身份证补办 居住证 新生儿落户", placed=False),
    _T("estate", "ask", "自然资源/不动产登记", "zrzyj", 5,
       "咨询不动产{word}",
       "来电人咨询{community}房屋不动产{word}的办理流程和费用。",
       "登记 过户 抵押登记 证书补办"),
    _T("bus-ask", "ask", "交通出行/公交线路", "jtj", 5,
       "咨询{road}附近公交线路{word}",
       "来电人咨询{road}附近公交线路{word}，希望告知具体情况。",
       "首末班时间 调整情况 换乘方式 站点位置"),
    _T("vaccine", "ask", "卫生健康/疫苗接种", "wjw", 4,
       "咨询{word}接种",
       "来电人咨询{district}哪些社区卫生服务中心可以接种{word}，是否需要预约。",
       "流感疫苗 HPV疫苗 狂犬疫苗 儿童免疫规划疫苗", placed=False),
    _T("elderly", "ask", "民政/养老服务", "mzj", 5,
       "咨询{word}",
       "来电人家住{street}，咨询{word}的申请条件和办理渠道。",
       "高龄津贴申领 居家养老服务补贴 养老机构入住 老年人优待证"),
    _T("jobs", "ask", "劳动社保/就业创业", "rsj", 5,
       "咨询{word}政策",
       "来电人咨询{word}政策的申请条件、标准和办理流程。",
       "创业担保贷款 失业保险金领取 一次性就业补贴 职业技能培训补贴", placed=False),
    _T("heat-fee", "ask", "公用事业/供暖", "rlgs", 2,
       "咨询{community}供暖费{word}",
       "来电人咨询{community}今年供暖费{word}，以及未开栓住户如何办理。",
       "缴费时间 缴费方式 收费标准 减免政策"),
    _T("housing", "ask", "住房保障/保障性住房", "zjj", 4,
       "咨询{word}申请条件",
       "来电人咨询{word}的申请条件、轮候时间和租金标准。",
       "公租房 人才住房 保障性租赁住房", placed=False),
    # --- 求助 / 投诉 / 举报 ---
    _T("heat-cold", "issue", "公用事业/供暖", "rlgs", 3,
       "{community}{n}号楼供暖温度不达标",
       "来电人反映{district}{street}{community}{n}号楼室内温度仅{temp}度左右，"
       "{word}，希望尽快派人检修。",
       "暖气片不热 已持续多日 家中有老人孩子 多次联系物业未果"),
    _T("noise-site", "issue", "城市管理/噪音扰民", "local", 3,
       "{road}{site}工地夜间施工噪音扰民",
       "来电人反映{district}{street}{road}附近{site}工地{word}，"
       "严重影响周边居民休息，希望相关部门查处。",
       "夜间十一点后仍在施工 凌晨打桩 渣土车整夜进出 周末全天施工"),
    _T("noise-shop", "issue", "城市管理/噪音扰民", "local", 4,
       "{road}商铺外放音乐噪音扰民",
       "来电人反映{street}{road}沿街{word}长期用音响外放音乐招揽顾客，噪音很大。",
       "服装店 手机店 超市 奶茶店"),
    _T("dance", "issue", "城市管理/噪音扰民", "local", 3,
       "{community}广场舞音响声音过大",
       "来电人反映{community}广场每天{word}有人跳广场舞，音响声音过大，影响休息。",
       "晚上七点到十点 早上六点 中午 晚上"),
    _T("stall", "issue", "城市管理/占道经营", "local", 5,
       "{road}路口流动摊贩占道经营",
       "来电人反映{street}{road}路口{word}占道经营，影响通行且卫生差。",
       "早餐摊 水果摊 烧烤摊 夜市摊贩"),
    _T("illegal-build", "issue", "城市管理/违章搭建", "local", 3,
       "{community}{n}号楼顶楼违章搭建",
       "来电人举报{community}{n}号楼有住户{word}，存在安全隐患。",
       "在楼顶加盖房屋 封闭公共露台 侵占绿地建棚 私自破墙开门"),
    _T("garbage", "issue", "城市管理/垃圾清运", "local", 5,
       "{community}垃圾桶满溢无人清运",
       "来电人反映{community}垃圾{word}，气味很大，希望尽快清运。",
       "已两天无人清运 桶满溢散落一地 堆放在楼道口 分类点无人管理"),
    _T("lamp", "issue", "城市管理/路灯照明", "cgj", 3,
       "{road}路灯不亮",
       "来电人反映{road}{word}路灯不亮，夜间出行不安全。",
       "一段 多盏 靠近路口的 人行道上的"),
    _T("property", "issue", "住房保障/物业管理", "local", 6,
       "{community}物业{word}",
       "来电人反映{community}物业{word}，多次沟通无果，希望相关部门督促整改。",
       "不作为 乱收费 维修不及时 门禁损坏不修"),
    _T("lift", "issue", "住房保障/物业管理", "local", 4,
       "{community}{n}号楼电梯频繁故障",
       "来电人反映{community}{n}号楼电梯{word}，老人出行困难，希望督促物业维修。",
       "近一个月多次停运 经常困人 运行异响 停运一周无人维修"),
    _T("water-off", "issue", "公用事业/供水", "swjt", 4,
       "{community}突然停水无通知",
       "来电人反映{community}从{word}开始停水，事先没有任何通知，希望尽快恢复供水。",
       "早上 昨晚 中午 今天凌晨"),
    _T("water-dirty", "issue", "公用事业/供水", "swjt", 2,
       "{community}自来水发黄有异味",
       "来电人反映{community}自来水{word}，担心水质安全。",
       "发黄 有异味 有沉淀物 水压很低"),
    _T("power-off", "issue", "公用事业/供电", "gdgs", 3,
       "{community}频繁停电",
       "来电人反映{community}{word}，影响正常生活，希望排查线路。",
       "近期频繁停电 晚上用电高峰跳闸 电压不稳 停电无通知"),
    _T("road-broken", "issue", "交通出行/道路设施", "jtj", 4,
       "{road}路面坑洼破损",
       "来电人反映{district}{road}{word}，车辆和行人通行存在安全隐患。",
       "路面坑洼破损 井盖松动 人行道地砖破损 护栏倒伏"),
    _T("flood", "issue", "交通出行/道路设施", "jtj", 1,
       "{road}下雨后路面积水严重",
       "来电人反映{road}每逢下雨{word}，行人车辆无法通行。",
       "积水没过脚踝 积水严重 排水不畅"),
    _T("bus", "issue", "交通出行/公交线路", "jtj", 3,
       "{n}路公交车{word}",
       "来电人反映{n}路公交车在{road}站{word}，希望加强管理。",
       "经常不到站 间隔时间过长 司机态度差 过站不停"),
    _T("taxi", "issue", "交通出行/出租车网约车", "jtj", 3,
       "出租车司机{word}",
       "来电人反映在{road}乘坐出租车时司机{word}，要求处理。",
       "拒载 绕路 不打表 议价"),
    _T("parking", "issue", "交通出行/交通违法", "gaj", 4,
       "{road}车辆违停堵塞通道",
       "来电人反映{road}{word}，影响通行，希望交管部门处理。",
       "车辆长期违停 消防通道被占 非机动车乱停 僵尸车长期占用车位"),
    _T("smoke", "issue", "生态环境/大气污染", "sthjj", 3,
       "{road}餐馆油烟直排扰民",
       "来电人反映{road}一餐馆{word}，油烟直排居民楼，要求整改。",
       "未安装油烟净化器 排烟管直对窗户 露天烧烤 凌晨仍在营业"),
    _T("river", "issue", "生态环境/水污染", "sthjj", 1,
       "{river}河道有异味",
       "来电人反映{district}{river}河道{word}，影响周边居民。",
       "发黑发臭 漂浮垃圾 有排污口"),
    _T("food", "issue", "市场监管/食品安全", "scjgj", 3,
       "{road}一餐馆{word}",
       "来电人反映在{road}一餐馆就餐后发现{word}，要求查处。",
       "食品变质 卫生条件差 无证经营 使用过期食材"),
    _T("prepaid", "issue", "市场监管/消费维权", "scjgj", 3,
       "{word}预付卡商家跑路",
       "来电人反映在{road}一家{word}办理预付卡后商家关门，余额无法退还。",
       "健身房 理发店 培训机构 美容院"),
    _T("price", "issue", "市场监管/价格收费", "scjgj", 2,
       "{road}停车场乱收费",
       "来电人反映{road}停车场{word}，要求查处。",
       "未明码标价 超标准收费 不开发票"),
    _T("wages", "issue", "劳动社保/欠薪维权", "rsj", 3,
       "{road}某工地拖欠农民工工资",
       "来电人反映在{road}附近工地务工，{word}，要求帮助讨薪。",
       "已被拖欠三个月工资 包工头失联 年底工资未结清"),
    _T("tutoring", "issue", "教育/校外培训", "jyj", 1,
       "{district}{word}培训机构违规",
       "来电人反映{district}{road}一家{word}培训机构违规收费、超前培训。",
       "学科类 艺术类 托管类"),
    _T("hospital", "issue", "卫生健康/医疗服务", "wjw", 2,
       "{district}某医院{word}",
       "来电人反映{district}某医院{word}，希望改进。",
       "挂号难 排队时间长 服务态度差"),
    _T("house", "issue", "城乡建设/房屋质量", "zjj", 2,
       "{community}新房{word}",
       "来电人反映{community}交付的新房{word}，开发商拖延维修。",
       "墙体开裂 渗水漏水 地面空鼓"),
    _T("dust", "issue", "城乡建设/建筑施工", "zjj", 2,
       "{road}工地扬尘严重",
       "来电人反映{road}{site}工地{word}，扬尘很大。",
       "未覆盖裸土 渣土车未密闭 未洒水降尘"),
    _T("ads", "issue", "城市管理/市容环境", "local", 2,
       "{road}小广告乱贴乱画",
       "来电人反映{road}沿线{word}，影响市容。",
       "小广告乱贴 墙面乱涂乱画 横幅乱挂"),
    _T("trees", "issue", "城市管理/市容环境", "local", 2,
       "{community}树木遮挡采光需修剪",
       "来电人反映{community}{n}号楼前树木{word}，希望修剪。",
       "遮挡采光 枝干断裂有隐患 虫害严重"),
    # --- 建议 / 表扬 ---
    _T("bus-stop", "suggest", "交通出行/公交线路", "jtj", 1,
       "建议在{road}增设公交站点",
       "来电人建议在{road}{word}，方便周边居民出行。",
       "增设公交站点 延长末班车时间 增加班次"),
    _T("praise", "praise", "综合/表扬感谢", "local", 1,
       "表扬{street}工作人员{word}",
       "来电人表扬{street}工作人员{word}，特致电感谢。",
       "热心服务 及时处理噪音问题 帮助独居老人 上门解决困难"),
)
# The hot spot of the brief's week: one construction site in one street, much noise.
HOTSPOT = _T("noise-hotspot", "issue", "城市管理/噪音扰民", "local", 0,
             "{road}{site}工地夜间施工噪音扰民",
             "来电人反映{district}{street}{road}附近{site}工地{word}，噪音很大，"
             "严重影响周边居民休息，此前已多次反映，希望相关部门立即查处。",
             "夜间十一点后仍在施工 凌晨两点还在打桩 渣土车整夜进出 混凝土泵车彻夜作业")
# fmt: on

ANSWERS = (
    "已根据知识库政策解答，来电人表示清楚。",
    "已告知办理地点、所需材料和办理时限，来电人表示满意。",
    "已告知相关政策及咨询电话，来电人无其他诉求。",
    "已按知识库口径答复，并告知可通过政务服务网在线办理。",
)
REPLIES = {
    "local": (
        "经街道执法中队现场核查，已责令当事人立即整改，现场已恢复正常，后续将加强巡查。",
        "街道已联系社区网格员上门了解情况，协调相关方达成一致，问题已处理完毕。",
        "经现场核实，已督促物业服务企业限期整改，社区将跟踪落实情况。",
    ),
    "department": (
        "经核实，我单位已安排工作人员现场处置，相关问题已整改完毕，已电话告知来电人。",
        "您好，您反映的问题已交业务科室办理，相关政策已电话向来电人解释，来电人表示理解。",
        "经调查，情况基本属实，我单位已依法责令其限期改正，并将持续跟踪督促。",
    ),
    "utility": (
        "经现场检修，故障已排除，已恢复正常供应，已向来电人说明原因。",
        "已安排抢修人员到场处置，更换故障设备后运行正常，来电人表示认可。",
    ),
}
REMIND_NOTES = ("即将超期，请抓紧办理", "请尽快签收并联系诉求人")
SUPERVISE_NOTES = ("已超期，请说明原因并立即办理", "工单已超期，请单位负责人督促落实")
EXTEND_REASONS = ("需协调多个部门现场处置", "涉及工程维修，需等待施工队进场", "需进一步调查取证")
REOPEN_REASON = "市民对处理结果不满意，要求重新办理"
CHANNELS = (("phone", 72), ("app", 12), ("web", 8), ("open311", 4), ("sms", 2), ("mail", 2))
# 咨询 64%, 求助 the rest, 投诉 1%, 建议 0.6%, 举报 0.5%, 表扬 0.2% (DOMAIN.md's shares).
REQUEST_TYPES = (
    ("enquiry", 640),
    ("help", 337),
    ("complaint", 10),
    ("suggestion", 6),
    ("report", 5),
    ("praise", 2),
)
SATISFIED = (("very_satisfied", 35), ("satisfied", 45), ("basically_satisfied", 20))
UNSATISFIED = (("dissatisfied", 70), ("very_dissatisfied", 30))
# Calls per hour of the local day, and per weekday (Monday first).
# fmt: off
HOURLY = (0.15, 0.08, 0.05, 0.04, 0.04, 0.06, 0.2, 0.5, 1.1, 1.6, 1.7, 1.5,
          1.0, 1.1, 1.5, 1.6, 1.5, 1.3, 0.9, 0.8, 0.8, 0.6, 0.4, 0.25)
# fmt: on
WEEKDAYS = (1.2, 1.1, 1.05, 1.0, 1.0, 0.75, 0.6)
SPRING_FESTIVALS = tuple(
    dt.date.fromisoformat(d)
    for d in ("2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13")
)


def _in_days(day: dt.date, first: tuple[int, int], last: tuple[int, int]) -> bool:
    """Tell whether the month-day falls in [first, last] (which may wrap over the new year)."""
    md = (day.month, day.day)
    return first <= md <= last if first <= last else (md >= first or md <= last)


# Seasonal weight factors of the templates that have a season.
SEASONS: dict[str, Callable[[dt.date], float]] = {
    "heat-cold": lambda d: (
        5.0 if _in_days(d, (11, 5), (11, 30)) else 1.0 if _in_days(d, (12, 1), (3, 15)) else 0.03
    ),
    "heat-fee": lambda d: 5.0 if _in_days(d, (10, 15), (11, 20)) else 0.3,
    "school": lambda d: 4.0 if 5 <= d.month <= 8 else 0.5,
    "vaccine": lambda d: 3.0 if d.month >= 10 else 0.6,
    "power-off": lambda d: 3.0 if d.month in (7, 8) else 1.0,
    "flood": lambda d: 5.0 if 6 <= d.month <= 8 else 0.2,
    "wages": lambda d: 3.0 if d.month in (12, 1) else 1.0,
    "dance": lambda d: 2.0 if 5 <= d.month <= 9 else 0.6,
    "stall": lambda d: 1.5 if 5 <= d.month <= 9 else 0.9,
    "river": lambda d: 2.5 if 6 <= d.month <= 9 else 0.5,
    "water-off": lambda d: 2.0 if d.month in (7, 8) else 1.0,
}


def _flat(_: dt.date) -> float:
    return 1.0


def _cumulative(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[float]]:
    names, cum, total = [], [], 0.0
    for name, weight in pairs:
        total += weight
        names.append(name)
        cum.append(total)
    return names, cum


# ---------------------------------------------------------------- time arithmetic


def _weekday(ts: float) -> int:
    return (int((ts + OFFSET) // DAY) + 3) % 7  # 1970-01-01 was a Thursday


def add_workdays(ts: float, n: int) -> float:
    """Add n days, skipping Saturdays and Sundays (the bench's stand-in for working days)."""
    for _ in range(n):
        ts += DAY
        while _weekday(ts) >= 5:
            ts += DAY
    return ts


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=TZ).astimezone(UTC)


def _utc(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, UTC)


def _iso(ts: float | None) -> str | None:
    """A moment as the events' data hold it: UTC, ISO 8601."""
    return None if ts is None else dt.datetime.fromtimestamp(ts, UTC).isoformat()


def _deadlines(clocks: dict[str, Any]) -> dict[str, str | None]:
    """The deadlines a dispatch, reassignment or reopening puts on its event."""
    return {name: _iso(clocks[name]) for name in ("sign_due_at", "reply_due_at", "contact_due_at")}


# ---------------------------------------------------------------- the generator

TICKET_COLUMNS = (
    "id channel caller_phone citizen_name anonymous confidential disclosure_allowed "
    "contact_phone address district_id street_id request_type urgency category title content "
    "tags status lead_unit_id created_by_id created_at updated_at resolution resolved_at "
    "dispatched_at sign_due_at sign_warn_at signed_at reply_started_at reply_due_at reply_warn_at "
    "replied_at reply_text contacted_at contact_due_at extended_days reviewed_at followed_up_at "
    "follow_up_reached follow_up_solved follow_up_satisfaction follow_up_note closed_at "
    "reopen_count lead_unit_count problem remind_count supervised_at sign_reminded_due "
    "reply_reminded_due sign_ordered_due reply_ordered_due noticed_due noticed_at escalated_at "
    "merged_into_id version_id"
).split()
TIME_COLUMNS = frozenset(c for c in TICKET_COLUMNS if c.endswith("_at") or c.endswith("_due"))
_TIME_INDEXES = tuple(i for i, c in enumerate(TICKET_COLUMNS) if c in TIME_COLUMNS)
EVENT_COLUMNS = (
    "id ticket_id event from_status to_status actor_id actor_role unit_id at reason data"
)
ASSIGNMENT_COLUMNS = "id ticket_id unit_id role active upheld assigned_at ended_at"
EXTENSION_COLUMNS = (
    "id ticket_id unit_id requested_by_id days reason requested_at approved decided_by_id "
    "decided_at decision_note"
)
CALL_COLUMNS = (
    "id call_id caller outcome seat agent offered_at rang_at answered_at ended_at wait_seconds "
    "talk_seconds missed_seats wrap_up_seconds end_reason ticket_id"
)

# One lifecycle step: (at, event, unit_id, reason, data JSON, column updates). A step with
# no event ("") only sets columns (what the supervision sweep marks without an event row).
Step = tuple[float, str, int | None, str | None, str, dict[str, Any] | None]
# In a step's updates: "the step's own time" (a step may move later than asked, see add).
AT: Any = object()


class Timeline:
    """The steps of one ticket in time order (a step never goes before the one before it)."""

    __slots__ = ("last", "steps")

    def __init__(self, start: float) -> None:
        self.steps: list[Step] = []
        self.last = start

    def add(
        self,
        at: float,
        event: str,
        unit: int | None,
        reason: str | None = None,
        data: str = "{}",
        updates: dict[str, Any] | None = None,
    ) -> float:
        at = max(at, self.last)
        self.last = at
        if updates:
            for column, value in updates.items():
                if value is AT:
                    updates[column] = at
        self.steps.append((at, event, unit, reason, data, updates))
        return at


@dataclass(slots=True)
class Plan:
    """What will happen to one dispatched ticket (the clock cuts it off at --until)."""

    urgency: str  # normal, urgent, critical
    enquiry: bool
    handler: str  # local, department, utility
    late: bool = False
    very_late: bool = False
    extension: bool = False
    returned: bool = False
    reopens: int = 0
    extended_days: int = 0


@dataclass(slots=True)
class Writers:
    tickets: psycopg.Copy
    events: psycopg.Copy
    assignments: psycopg.Copy
    extensions: psycopg.Copy
    calls: psycopg.Copy


@dataclass(slots=True)
class Counts:
    tickets: int = 0
    events: int = 0
    assignments: int = 0
    extensions: int = 0
    calls: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class Generator:
    """Makes the tickets, their events and calls, and writes them to the COPY streams."""

    def __init__(
        self, rng: random.Random, city: City, start: dt.date, until: dt.datetime, hot_week: dt.date
    ) -> None:
        self.rng = rng
        self.city = city
        self.start = start
        self.now = until.timestamp()
        self.hot_week = hot_week
        self.counts = Counts()
        self.ids = {"event": 0, "assignment": 0, "extension": 0, "call": 0}
        self.w: Writers | None = None
        self.first_day = int((local_midnight(start).timestamp() + OFFSET) // DAY)
        self.channels = _cumulative(CHANNELS)
        self.types = _cumulative(REQUEST_TYPES)
        self.satisfied = _cumulative(SATISFIED)
        self.unsatisfied = _cumulative(UNSATISFIED)
        self.day_tables: dict[int, dict[str, tuple[list[Template], list[float]]]] = {}
        by_code = city.codes
        self.hot_street = city.streets[len(city.streets) // 3]
        self.hot_road = self.hot_street.roads[1]
        self.hot_site = "中建·江悦府"
        self.unit_kind = {u[0]: u[3] for u in city.units}
        self.department_of = {t.key: by_code[t.handler] for t in TEMPLATES if t.handler != "local"}
        self.follow_up_data: dict[tuple[bool, bool | None, str | None], str] = {}
        self.recent: dict[tuple[str, int], tuple[int, float, list[tuple[float, str]]]] = {}
        self.phones = [f"1{rng.choice('3589')}{rng.randrange(10**9):09d}" for _ in range(200_000)]

    # ------------------------------------------------------------ choosing

    def _pick(self, table: tuple[list[str], list[float]]) -> str:
        names, cum = table
        return names[bisect.bisect(cum, self.rng.random() * cum[-1])]

    def _day_table(self, day: int) -> dict[str, tuple[list[Template], list[float]]]:
        table = self.day_tables.get(day)
        if table is not None:
            return table
        date = self.start + dt.timedelta(days=day)
        hot = self.hot_week <= date < self.hot_week + dt.timedelta(days=7)
        table = {}
        for kind in ("ask", "issue", "suggest", "praise"):
            chosen = [t for t in TEMPLATES if t.kind == kind]
            weights = [t.weight * SEASONS.get(t.key, _flat)(date) for t in chosen]
            if kind == "issue" and hot:
                chosen.append(HOTSPOT)
                weights.append(10.0)
            cum, total = [], 0.0
            for w in weights:
                total += w
                cum.append(total)
            table[kind] = (chosen, cum)
        self.day_tables[day] = table
        return table

    def _template(self, day: int, request_type: str) -> Template:
        rng = self.rng
        if request_type == "enquiry":
            kind = "ask"
        elif request_type == "praise":
            kind = "praise"
        elif request_type == "suggestion" and rng.random() < 0.5:
            kind = "suggest"
        else:
            kind = "issue"
        chosen, cum = self._day_table(day)[kind]
        return chosen[bisect.bisect(cum, rng.random() * cum[-1])]

    def _text(self, tpl: Template, street: Street | None) -> tuple[str, str, str | None]:
        rng = self.rng
        if tpl is HOTSPOT:
            street = self.hot_street
        slots = {
            "word": rng.choice(tpl.words),
            "n": rng.randint(1, 36),
            "temp": rng.randint(12, 17),
            "site": self.hot_site if tpl is HOTSPOT else rng.choice(_SITES),
            "river": rng.choice(_RIVERS),
            "district": street.district if street else "",
            "street": street.name if street else "",
            "road": (self.hot_road if tpl is HOTSPOT else rng.choice(street.roads))
            if street
            else "",
            "community": rng.choice(street.estates) if street else "",
        }
        address = None
        if street is not None:
            place = slots["road"] if "{road}" in tpl.title else slots["community"]
            address = f"{street.district}{street.name}{place}{rng.randint(1, 300)}号"
        return tpl.title.format_map(slots), tpl.content.format_map(slots), address

    # ------------------------------------------------------------ one ticket

    def ticket(self, tid: int, created: float) -> None:
        rng = self.rng
        day = int((created + OFFSET) // DAY) - self.first_day
        request_type = self._pick(self.types)
        tpl = self._template(day, request_type)
        street: Street | None = None
        if tpl is HOTSPOT:
            street = self.hot_street
        elif tpl.placed or tpl.handler == "local" or rng.random() < 0.5:
            street = rng.choice(self.city.streets)
        title, text, address = self._text(tpl, street)
        channel = self._pick(self.channels)
        phone = self.phones[rng.randrange(len(self.phones))]
        anonymous = rng.random() < 0.03
        name = None
        if not anonymous:
            name = rng.choice(content.SURNAMES) + rng.choice(("先生", "女士", "", ""))
            if name[-1] not in "生士":
                name += rng.choice(content.GIVEN_NAMES)
        r = rng.random()
        urgency = "critical" if r < 0.005 else "urgent" if r < 0.05 else "normal"
        state: dict[str, Any] = dict.fromkeys(TICKET_COLUMNS)
        state.update(
            id=tid,
            channel=channel,
            caller_phone=phone,
            citizen_name=name,
            anonymous=anonymous,
            confidential=request_type == "report" or rng.random() < 0.01,
            disclosure_allowed=rng.random() < 0.3,
            contact_phone=phone if rng.random() < 0.9 else self.phones[rng.randrange(1000)],
            address=address,
            district_id=street.district_id if street else None,
            street_id=street.id if street else None,
            request_type=request_type,
            urgency=urgency,
            category=tpl.category,
            title=title,
            content=text,
            tags="[]",
            created_by_id=rng.choice(self.city.staff["operator"]),
            created_at=created,
            extended_days=0,
            reopen_count=0,
            lead_unit_count=0,
            problem=False,
            remind_count=0,
        )
        tl = Timeline(created)
        tl.add(created, "create", None)
        if self._resolves_directly(tpl, request_type):
            answer = rng.choice(ANSWERS)
            at = created + rng.uniform(1, 8) * MINUTE
            updates = {"resolution": answer, "resolved_at": AT}
            tl.add(at, "resolve_directly", None, answer, "{}", updates)
        elif not self._merges(tl, tid, tpl, street, created):
            self._dispatched(tl, tpl, street, urgency, request_type == "enquiry")
        history = self._apply(tid, state, tl.steps)
        if street is not None and tpl.kind == "issue" and state["lead_unit_id"] is not None:
            self.recent[(tpl.key, street.id)] = (tid, created, history)
        if channel == "phone":
            self._calls(tid, created, phone)

    def _resolves_directly(self, tpl: Template, request_type: str) -> bool:
        share = 0.88 if request_type == "enquiry" else 0.7 if request_type == "praise" else 0.08
        return tpl is not HOTSPOT and self.rng.random() < share

    def _merges(
        self, tl: Timeline, tid: int, tpl: Template, street: Street | None, created: float
    ) -> bool:
        """Merge a repeat report into the open ticket about the same thing at the same place."""
        if street is None or tpl.kind != "issue":
            return False
        if self.rng.random() >= (0.3 if tpl is HOTSPOT else 0.015):
            return False
        found = self.recent.get((tpl.key, street.id))
        if found is None or created - found[1] > 7 * DAY:
            return False
        master, _, history = found
        at = created + self.rng.uniform(2, 6) * MINUTE
        status = None
        for when, to in history:
            if when > at:
                break
            status = to
        if status not in OPEN or at > self.now:
            return False
        tl.add(
            at,
            "merge",
            None,
            "同一诉求重复来电",
            json.dumps({"master_id": master}),
            {"merged_into_id": master},
        )
        self._event(
            master,
            "merge",
            status,
            status,
            "operator",
            None,
            at,
            "同一诉求重复来电",
            json.dumps({"merged_ticket_id": tid}),
        )
        return True

    # ------------------------------------------------------------ the lifecycle

    def _lead(self, tpl: Template, street: Street | None) -> int:
        if tpl.handler != "local":
            return self.department_of[tpl.key]
        assert street is not None
        return street.district_id if self.rng.random() < 0.1 else street.id

    def _wrong_unit(self, tpl: Template, street: Street | None, lead: int) -> tuple[int, str]:
        rng = self.rng
        if tpl.handler == "local" and street is not None and rng.random() < 0.7:
            others = [s.id for s in self.city.streets if s.id != street.id]
            neighbours = [s.id for s in self.city.streets if s.district_id == street.district_id]
            pool = [u for u in neighbours if u != lead and u != street.id] or others
            return rng.choice(pool), "wrong_locality"
        pool = [u for u in self.city.departments if u != lead]
        return rng.choice(pool), "not_ours"

    def _plan(self, urgency: str, enquiry: bool, lead: int) -> Plan:
        rng = self.rng
        kind = self.unit_kind[lead]
        handler = "local" if kind in ("street", "district") else kind
        plan = Plan(urgency=urgency, enquiry=enquiry, handler=handler)
        r = rng.random()
        plan.very_late = r < 0.02
        plan.late = r < 0.12
        plan.extension = urgency == "normal" and rng.random() < 0.03
        plan.returned = rng.random() < 0.05
        r = rng.random()
        plan.reopens = 3 if r < 0.005 else 1 if r < 0.045 else 0
        return plan

    def _dispatched(
        self, tl: Timeline, tpl: Template, street: Street | None, urgency: str, enquiry: bool
    ) -> None:
        rng = self.rng
        lead = self._lead(tpl, street)
        plan = self._plan(urgency, enquiry, lead)
        at = tl.last + (0.0 if rng.random() < 0.5 else rng.uniform(2, 40) * MINUTE)
        unit, code = lead, ""
        if plan.returned:
            unit, code = self._wrong_unit(tpl, street, lead)
        clocks = self._clocks(at, plan)
        tl.add(
            at,
            "dispatch",
            unit,
            None,
            json.dumps({"lead_unit_id": unit, "assist_unit_ids": [], **_deadlines(clocks)}),
            {"lead_unit_id": unit, "lead_unit_count": 1, **clocks},
        )
        if plan.returned:
            if rng.random() < 0.4:
                tl.add(
                    self._office(at + rng.uniform(0.3, 4) * HOUR),
                    "sign",
                    unit,
                    None,
                    "{}",
                    {"signed_at": AT},
                )
            back = tl.add(
                self._office(tl.last + rng.uniform(1, 24) * HOUR),
                "return",
                unit,
                rng.choice(content.RETURN_REASONS),
                json.dumps({"reason_code": code}),
            )
            at = back + rng.uniform(0.2, 6) * HOUR
            clocks = self._clocks(at, plan)
            data = json.dumps(
                {
                    "from_unit_id": unit,
                    "lead_unit_id": lead,
                    "assist_unit_ids": [],
                    **_deadlines(clocks),
                }
            )
            tl.add(
                at,
                "reassign",
                lead,
                "按职责改派",
                data,
                {"lead_unit_id": lead, "lead_unit_count": 2, **clocks},
            )
        for round_ in range(plan.reopens + 1):
            again = round_ < plan.reopens
            reviewed = self._work(tl, plan, lead, clocks)
            end = self._finish(tl, plan, lead, reviewed, again)
            if not again:
                break
            at = end + (
                rng.uniform(1, 24) * HOUR
                if tl.steps[-1][1] == "follow_up"
                else rng.uniform(1, 7) * DAY
            )
            ended_due = clocks["reply_due_at"]
            clocks = self._clocks(self._office(at), plan)
            cleared = dict.fromkeys(
                (
                    "reviewed_at",
                    "followed_up_at",
                    "closed_at",
                    "follow_up_reached",
                    "follow_up_solved",
                    "follow_up_satisfaction",
                    "follow_up_note",
                )
            )
            n = round_ + 1
            updates = {**clocks, **cleared, "reopen_count": n}
            if n >= 3:
                updates["problem"] = True
            tl.add(
                clocks["dispatched_at"],
                "reopen",
                lead,
                REOPEN_REASON,
                json.dumps(
                    {
                        "ended_reply_due_at": _iso(ended_due),
                        **_deadlines(clocks),
                        "reopen_count": n,
                    }
                ),
                updates,
            )
            if n >= 3:  # 提级督办 of the problem ticket by the supervision sweep
                tl.add(
                    tl.last + rng.uniform(0.5, 3) * HOUR, "", lead, None, "{}", {"escalated_at": AT}
                )

    def _clocks(self, at: float, plan: Plan) -> dict[str, Any]:
        """The clocks a dispatch, reassignment or reopening starts (simple arithmetic)."""
        if plan.urgency == "normal":
            sign_due = add_workdays(at, 1)
            reply_due = add_workdays(at, 3 if plan.enquiry else 5)
        elif plan.urgency == "urgent":
            sign_due, reply_due = at + 30 * MINUTE, at + 24 * HOUR
        else:
            sign_due, reply_due = at + 15 * MINUTE, at + 2 * HOUR
        return {
            "dispatched_at": at,
            "sign_due_at": sign_due,
            "sign_warn_at": at + WARNING_SHARE * (sign_due - at),
            "signed_at": None,
            "reply_started_at": at,
            "reply_due_at": reply_due,
            "reply_warn_at": at + WARNING_SHARE * (reply_due - at),
            "replied_at": None,
            "contact_due_at": min(add_workdays(at, 1), reply_due),
            "contacted_at": None,
        }

    def _office(self, ts: float) -> float:
        """Move a moment outside office hours (Mon-Fri 08:30-18:00) to the next morning."""
        local = ts + OFFSET
        midnight = local - local % DAY
        hour = (local - midnight) / HOUR
        wd = (int(local // DAY) + 3) % 7
        if wd < 5 and 8.5 <= hour < 18:
            return ts
        if hour >= 18:
            midnight += DAY
            wd = (wd + 1) % 7
        if wd >= 5:
            midnight += (7 - wd) * DAY
        return midnight + (8.5 + self.rng.random() * 1.5) * HOUR - OFFSET

    def _when(self, ts: float, plan: Plan) -> float:
        """Units and reviewers work office hours, except on urgent tickets."""
        return ts if plan.urgency != "normal" else self._office(ts)

    def _work(self, tl: Timeline, plan: Plan, unit: int, clocks: dict[str, Any]) -> float:
        """Sign, perhaps extend, reply and have the reply reviewed; return the review time."""
        rng = self.rng
        start, sign_due = clocks["dispatched_at"], clocks["sign_due_at"]
        reply_due, contact_due = clocks["reply_due_at"], clocks["contact_due_at"]
        if rng.random() < 0.08:
            sign = sign_due + rng.uniform(0.5, 20) * HOUR
        else:
            sign = start + rng.uniform(0.05, 0.9) * (sign_due - start)
        sign = self._when(sign, plan)
        warn = clocks["sign_warn_at"]
        at = warn + rng.uniform(0, 0.2) * (sign_due - warn)
        if at < sign and rng.random() < 0.25:
            self._remind(tl, unit, at, "sign_reminded_due", sign_due)
        sign = tl.add(sign, "sign", unit, None, "{}", {"signed_at": AT})
        if plan.extension and sign < reply_due:
            plan.extension = False  # once per ticket, reopened or not
            reply_due = self._extend(tl, plan, unit, start, reply_due)
            clocks["reply_due_at"] = reply_due  # in force, for the reopening that may end it
        window = reply_due - start
        if plan.very_late:
            reply = reply_due + rng.uniform(4, 40) * DAY
        elif plan.late:
            reply = reply_due + rng.uniform(0.1, 4) * DAY
        else:
            reply = start + rng.uniform(0.1, 0.95) * window
        reply = self._when(max(reply, tl.last + rng.uniform(0.2, 3) * HOUR), plan)
        at = start + WARNING_SHARE * window + rng.uniform(0, 0.1) * window
        if at < reply and rng.random() < 0.3:
            self._remind(tl, unit, at, "reply_reminded_due", reply_due)
        at = reply_due + rng.uniform(1, 20) * HOUR
        if at < reply and rng.random() < 0.5:
            tl.add(
                at,
                "supervise",
                unit,
                rng.choice(SUPERVISE_NOTES),
                "{}",
                {"supervised_at": AT, "reply_ordered_due": reply_due},
            )
        at = add_workdays(reply_due, 5)
        if at < reply:  # 通报: the sweep names it in the weekly brief (columns only)
            tl.add(at, "", unit, None, "{}", {"noticed_due": reply_due, "noticed_at": AT})
        contact = self._contact(sign, contact_due, reply)
        text = rng.choice(REPLIES[plan.handler])
        # The 联系时间 the unit states (none now and then); the ticket's is the reply then.
        stated = {"contacted_at": _iso(contact), "contact_due_at": _iso(contact_due)}
        tl.add(
            reply,
            "reply",
            unit,
            text,
            json.dumps(stated),
            {
                "replied_at": AT,
                "reply_text": text,
                "contacted_at": contact if contact is not None else AT,
            },
        )
        if rng.random() < 0.03:
            at = tl.add(
                self._when(tl.last + rng.uniform(1, 10) * HOUR, plan),
                "reject_reply",
                unit,
                "答复内容不完整，请补充办理结果",
                "{}",
                {"replied_at": None},
            )
            again = self._when(at + rng.uniform(4, 48) * HOUR, plan)
            data = json.dumps({"contacted_at": None, "contact_due_at": _iso(contact_due)})
            tl.add(again, "reply", unit, text, data, {"replied_at": AT, "reply_text": text})
        at = self._when(tl.last + rng.uniform(0.5, 20) * HOUR, plan)
        return tl.add(at, "approve_reply", unit, None, "{}", {"reviewed_at": AT})

    def _remind(self, tl: Timeline, unit: int, at: float, column: str, due: float) -> None:
        tl.add(at, "remind", unit, self.rng.choice(REMIND_NOTES), "{}", {column: due})
        self._bump_reminds(tl)

    @staticmethod
    def _bump_reminds(tl: Timeline) -> None:
        count = sum(1 for s in tl.steps if s[1] == "remind")
        updates = tl.steps[-1][5]
        assert updates is not None
        updates["remind_count"] = count

    def _contact(self, sign: float, due: float, reply: float) -> float | None:
        rng = self.rng
        r = rng.random()
        if r < 0.05:
            return None
        if r < 0.9 and due > sign:
            at = sign + rng.uniform(0.05, 0.9) * (due - sign)
        else:
            at = max(due, sign) + rng.uniform(1, 48) * HOUR
        return min(at, reply - rng.uniform(0, 0.1) * HOUR)

    def _extend(self, tl: Timeline, plan: Plan, unit: int, start: float, due: float) -> float:
        """延期: the unit asks for more days, the hotline mostly agrees; return the new due."""
        rng = self.rng
        at = self._office(tl.last + rng.uniform(0.2, 0.6) * (due - tl.last))
        if at >= due:
            return due
        days = rng.choice((3, 5, 5, 7, 10))
        tl.add(
            at,
            "extend",
            unit,
            rng.choice(EXTEND_REASONS),
            json.dumps({"days": days}),
            {"_extension": days},
        )
        decided = self._office(at + rng.uniform(1, 20) * HOUR)
        ext_id = self.ids["extension"] + 1  # the id _apply gives it
        if rng.random() < 0.08:
            data = json.dumps({"extension_id": ext_id, "days": days, "approved": False})
            tl.add(decided, "deny_extension", unit, "理由不充分，请按时办结", data)
            return due
        new_due = add_workdays(due, days)
        plan.extended_days += days
        data = json.dumps(
            {
                "extension_id": ext_id,
                "days": days,
                "approved": True,
                "reply_due_at": dt.datetime.fromtimestamp(new_due, UTC).isoformat(),
            }
        )
        tl.add(
            decided,
            "approve_extension",
            unit,
            None,
            data,
            {
                "reply_due_at": new_due,
                "reply_warn_at": start + WARNING_SHARE * (new_due - start),
                "extended_days": plan.extended_days,
            },
        )
        return new_due

    def _finish(self, tl: Timeline, plan: Plan, unit: int, reviewed: float, again: bool) -> float:
        """Follow up and close (or, when `again`, leave it for the reopening); return the time."""
        rng = self.rng
        r = rng.random()
        at = self._office(reviewed + rng.uniform(2, 48) * HOUR)
        if r < 0.03 and not again:
            note = "来电人明确表示无需回访"
            return tl.add(at, "close", unit, note, "{}", {"closed_at": AT})
        reached = again or r < 0.95
        satisfaction, solved = None, None
        if reached:
            happy = not again and rng.random() < (0.75 if plan.late or plan.returned else 0.9)
            satisfaction = self._pick(self.satisfied if happy else self.unsatisfied)
            solved = rng.random() < (0.9 if happy else 0.25) and not again
        note = self._follow_up_note(reached, satisfaction)
        key = (reached, solved, satisfaction)
        data = self.follow_up_data.get(key)
        if data is None:
            data = json.dumps({"reached": reached, "solved": solved, "satisfaction": satisfaction})
            self.follow_up_data[key] = data
        tl.add(
            at,
            "follow_up",
            unit,
            note,
            data,
            {
                "followed_up_at": AT,
                "follow_up_reached": reached,
                "follow_up_solved": solved,
                "follow_up_satisfaction": satisfaction,
                "follow_up_note": note,
            },
        )
        if again and rng.random() < 0.5:
            return tl.last  # reopened straight from the follow-up
        closed = self._office(tl.last + rng.uniform(0.1, 4) * HOUR)
        return tl.add(closed, "close", unit, None, "{}", {"closed_at": AT})

    def _follow_up_note(self, reached: bool, satisfaction: str | None) -> str:
        notes = content.FOLLOW_UP_NOTES
        if not reached:
            return notes[4]
        if satisfaction in ("dissatisfied", "very_dissatisfied"):
            return self.rng.choice((notes[2], notes[5], notes[10]))
        return self.rng.choice((notes[0], notes[1], notes[3], notes[8]))

    # ------------------------------------------------------------ writing

    def _event(
        self,
        tid: int,
        event: str,
        from_status: str | None,
        to_status: str,
        role: str,
        unit: int | None,
        at: float,
        reason: str | None,
        data: str,
    ) -> None:
        assert self.w is not None
        if role == "liaison" and unit is not None:
            actor: int = self.city.liaison[unit]
        else:
            actor = self.rng.choice(self.city.staff[role])
        self.ids["event"] += 1
        self.w.events.write_row(
            (
                self.ids["event"],
                tid,
                event,
                from_status,
                to_status,
                actor,
                role,
                unit,
                _utc(at),
                reason,
                data,
            )
        )
        self.counts.events += 1

    def _apply(self, tid: int, state: dict[str, Any], steps: list[Step]) -> list[tuple[float, str]]:
        """Play the steps up to --until onto the ticket; write it, its events and the rest."""
        assert self.w is not None
        status: str | None = None
        history: list[tuple[float, str]] = []
        assignments: list[list[Any]] = []
        extension: list[Any] | None = None
        last = state["created_at"]
        for at, event, unit, reason, data, updates in steps:
            if at > self.now:
                break
            if not event:
                state.update(updates or {})
                continue
            to = "accepted" if status is None else NEXT[(status, event)]
            self._event(tid, event, status, to, EVENT_ROLE[event], unit, at, reason, data)
            if updates:
                state.update(updates)
            if event in ("dispatch", "reassign"):
                for a in assignments:
                    a[4], a[7] = False, _utc(at)
                self.ids["assignment"] += 1
                assignments.append(
                    [self.ids["assignment"], tid, unit, "lead", True, False, _utc(at), None]
                )
            elif event == "extend":
                self.ids["extension"] += 1
                extension = [
                    self.ids["extension"],
                    tid,
                    unit,
                    self.city.liaison[unit or 0],
                    state.pop("_extension"),
                    reason,
                    _utc(at),
                    None,
                    None,
                    None,
                    None,
                ]
            elif event in ("approve_extension", "deny_extension") and extension is not None:
                extension[7:11] = [
                    event == "approve_extension",
                    self.city.staff["team_lead"][0],
                    _utc(at),
                    reason,
                ]
            status, last = to, at
            history.append((at, to))
        state.pop("_extension", None)
        assert status is not None
        state["status"] = status
        state["updated_at"] = last
        state["version_id"] = len(history)
        self._write_ticket(state)
        for a in assignments:
            self.w.assignments.write_row(a)
        self.counts.assignments += len(assignments)
        if extension is not None:
            self.w.extensions.write_row(extension)
            self.counts.extensions += 1
        by_status = self.counts.by_status
        by_status[status] = by_status.get(status, 0) + 1
        return history

    def _write_ticket(self, state: dict[str, Any]) -> None:
        assert self.w is not None
        row = [state[c] for c in TICKET_COLUMNS]
        for i in _TIME_INDEXES:
            v = row[i]
            if v is not None:
                row[i] = dt.datetime.fromtimestamp(v, UTC)
        self.w.tickets.write_row(row)
        self.counts.tickets += 1

    def _calls(self, tid: int, created: float, phone: str) -> None:
        """The call that made the ticket, and ~0.3 others (abandoned, overflow, no ticket)."""
        rng = self.rng
        talk = min(1800.0, max(30.0, rng.lognormvariate(math.log(200), 0.5)))
        wait = self._wait()
        offered = created - wait - talk * rng.uniform(0.3, 0.9)
        self._call(offered, phone, "answered", wait, talk, tid)
        while rng.random() < 0.2308:  # geometric: 0.3 more calls per phone ticket on average
            at = created + rng.uniform(-3, 3) * HOUR
            if at >= self.now:
                continue
            r = rng.random()
            if r < 0.24:
                self._call(at, phone, "abandoned", rng.uniform(3, 60), None, None)
            elif r < 0.30:
                self._call(at, phone, "overflow", 60.0, None, None)
            else:
                talk = min(900.0, max(10.0, rng.lognormvariate(math.log(90), 0.6)))
                self._call(at, phone, "answered", self._wait(), talk, None)

    def _wait(self) -> float:
        rng = self.rng
        if rng.random() < 0.85:
            return rng.uniform(1, 15)
        return min(59.0, 15.0 + rng.expovariate(1 / 12))

    def _call(
        self,
        offered: float,
        phone: str,
        outcome: str,
        wait: float,
        talk: float | None,
        tid: int | None,
    ) -> None:
        assert self.w is not None
        rng = self.rng
        self.ids["call"] += 1
        cid = self.ids["call"]
        answered = offered + wait if talk is not None else None
        seat, agent, rang, ended, wrap, reason = None, None, None, None, None, None
        if answered is not None and talk is not None:
            n = rng.randrange(1, 41)
            seat, agent = f"seat-{n:02d}", f"u{1 + n % 12}"
            rang, ended = answered - rng.uniform(2, 6), answered + talk
            wrap, reason = rng.uniform(5, 15), "caller" if rng.random() < 0.7 else "seat"
        elif outcome == "abandoned":
            ended, reason = offered + wait, "caller"
        else:
            ended = offered + wait
        self.w.calls.write_row(
            (
                cid,
                f"bench-{cid:09d}",
                phone,
                outcome,
                seat,
                agent,
                _utc(offered),
                _utc(rang),
                _utc(answered),
                _utc(ended),
                wait,
                talk,
                "",
                wrap,
                reason,
                tid,
            )
        )
        self.counts.calls += 1


def creation_times(rng: random.Random, n: int, first: dt.date, until: dt.date) -> Iterator[float]:
    """n moments over [first, until), local days shaped by hour, weekday and season."""
    slots: list[tuple[float, float]] = []
    day = first
    while day < until:
        base = local_midnight(day).timestamp()
        doy = day.timetuple().tm_yday
        season = 1 + 0.08 * math.sin(2 * math.pi * (doy - 100) / 365)
        if any(abs((day - f).days) <= 4 for f in SPRING_FESTIVALS):
            season *= 0.6
        factor = WEEKDAYS[day.weekday()] * season
        for h, w in enumerate(HOURLY):
            slots.append((base + h * HOUR, w * factor * rng.uniform(0.85, 1.15)))
        day += dt.timedelta(days=1)
    total = sum(w for _, w in slots)
    made, cum = 0, 0.0
    for start, w in slots:
        cum += w
        upto = round(n * cum / total)
        k, made = upto - made, upto
        yield from sorted(start + rng.random() * HOUR for _ in range(k))


# ---------------------------------------------------------------- loading


@dataclass(slots=True)
class Saved:
    """The secondary indexes and constraints of the bulk tables, to build again after COPY."""

    indexes: list[str] = field(default_factory=list)
    constraints: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # table,name,kind,def


def _strip(conn: psycopg.Connection[Any]) -> Saved:
    """Drop the foreign keys, unique constraints and other non-primary indexes of BULK_TABLES."""
    saved = Saved()
    tables = list(BULK_TABLES)
    rows = conn.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)"
        " FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u')"
        " ORDER BY contype",
        (tables,),
    ).fetchall()
    for table, name, kind, definition in rows:
        saved.constraints.append((table, name, kind, definition))
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    rows = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (tables,),
    ).fetchall()
    for name, definition in rows:
        saved.indexes.append(definition)
        conn.execute(f'DROP INDEX "{name}"')
    return saved


def _restore(conn: psycopg.Connection[Any], saved: Saved) -> None:
    conn.execute("SET maintenance_work_mem = '512MB'")
    for definition in saved.indexes:
        _log(f"  {definition.split(' USING')[0]}")
        conn.execute(definition)
    # Unique constraints before the foreign keys (a key may need one); drop order reversed.
    for table, name, _, definition in sorted(saved.constraints, key=lambda c: c[2] != "u"):
        _log(f"  ALTER TABLE {table} ADD CONSTRAINT {name}")
        conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _insert_city(conn: psycopg.Connection[Any], city: City, at: dt.datetime) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO units (id, code, name, kind, parent_id, responsibility, keywords, places,"
            " active) VALUES (%s, %s, %s, %s, %s, '', '[]', %s, true)",
            [
                (i, code, name, kind, parent, json.dumps(places, ensure_ascii=False))
                for i, code, name, kind, parent, places in city.units
            ],
        )
        cur.executemany(
            "INSERT INTO users (id, username, display_name, password_hash, role, unit_id, active,"
            " created_at) VALUES (%s, %s, %s, '!bench', %s, %s, true, %s)",
            [(*u, at) for u in city.users],
        )


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load(url: str, n: int, seed: int, until: dt.datetime) -> Counts:
    """Fill a migrated, empty database: the city, then n tickets with everything behind them."""
    conninfo = _conninfo(url)
    rng = random.Random(seed)
    until_day = until.astimezone(TZ).date()
    first = until_day - dt.timedelta(days=365)
    hot_week = _brief_monday(until)
    city = build_city()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        saved = _strip(admin)
        _insert_city(admin, city, local_midnight(first))
        gen = Generator(rng, city, first, until, hot_week)
        t0 = time.perf_counter()
        with contextlib.ExitStack() as stack:

            def copy(table: str, columns: str) -> psycopg.Copy:
                conn = stack.enter_context(psycopg.connect(conninfo))
                conn.execute("SET synchronous_commit = off")
                cur = stack.enter_context(conn.cursor())
                cols = ", ".join(columns.split())
                return stack.enter_context(cur.copy(f"COPY {table} ({cols}) FROM STDIN"))

            gen.w = Writers(
                tickets=copy("tickets", " ".join(TICKET_COLUMNS)),
                events=copy("ticket_events", EVENT_COLUMNS),
                assignments=copy("ticket_assignments", ASSIGNMENT_COLUMNS),
                extensions=copy("extension_requests", EXTENSION_COLUMNS),
                calls=copy("call_records", CALL_COLUMNS),
            )
            for tid, created in enumerate(creation_times(rng, n, first, until_day), start=1):
                gen.ticket(tid, created)
                if tid % 100_000 == 0:
                    rate = tid / (time.perf_counter() - t0)
                    _log(f"  {tid:,} tickets, {gen.counts.events:,} events ({rate:,.0f}/s)")
        _log(f"rows written in {time.perf_counter() - t0:.0f} s; building indexes and keys")
        t1 = time.perf_counter()
        _restore(admin, saved)
        for table in ("units", "users", *BULK_TABLES):
            admin.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        _log(f"indexes and keys in {time.perf_counter() - t1:.0f} s; VACUUM ANALYZE")
        t2 = time.perf_counter()
        for table in ("units", "users", *BULK_TABLES):
            admin.execute(f"VACUUM (ANALYZE) {table}")
        _log(f"VACUUM ANALYZE in {time.perf_counter() - t2:.0f} s")
    return gen.counts


def _conninfo(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _table_counts(url: str) -> Counts:
    with psycopg.connect(_conninfo(url)) as conn:

        def count(table: str) -> int:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            return int(row[0]) if row else 0

        counts = Counts(
            tickets=count("tickets"),
            events=count("ticket_events"),
            assignments=count("ticket_assignments"),
            extensions=count("extension_requests"),
            calls=count("call_records"),
        )
        rows = conn.execute("SELECT status, count(*) FROM tickets GROUP BY status").fetchall()
        counts.by_status = {str(s): int(c) for s, c in rows}
    return counts


# ---------------------------------------------------------------- timing


def _brief_monday(until: dt.datetime) -> dt.date:
    """The Monday of the last full ISO week before `until`."""
    day = until.astimezone(TZ).date()
    if until.astimezone(TZ).time() != dt.time():
        day += dt.timedelta(days=1)  # the day `until` falls in is not over
    return day - dt.timedelta(days=day.weekday()) - dt.timedelta(days=7)


def _last_month(until: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first days of the last full calendar month before `until` and of the month after."""
    day = until.astimezone(TZ).date()
    if until.astimezone(TZ).time() != dt.time():
        day += dt.timedelta(days=1)
    end = day.replace(day=1)
    start = (end - dt.timedelta(days=1)).replace(day=1)
    return start, end


def time_reports(url: str, until: dt.datetime, out_dir: Path) -> dict[str, Any]:
    from hotline.bootstrap import bootstrap
    from infra.settings import load_settings
    from reports import kpis

    instance = tempfile.mkdtemp(prefix="hotline-bench-reports-")
    settings = load_settings(
        None,
        environ={
            "HOTLINE_DATABASE__URL": url,
            "HOTLINE_INSTANCE_PATH": instance,
            "HOTLINE_LOG_LEVEL": "WARNING",
        },
    )
    container = bootstrap(settings, now=lambda: until)
    result: dict[str, Any] = {}
    try:
        first, after = _last_month(until)
        period = kpis.Period(local_midnight(first), local_midnight(after), until)
        runs = []
        rows = 0
        for _ in range(3):
            t0 = time.perf_counter()
            report = kpis.compute(container.uow(), period, group=kpis.GroupBy.UNIT)
            runs.append(time.perf_counter() - t0)
            rows = len(report.rows)
        t0 = time.perf_counter()
        overall = kpis.compute(container.uow(), period)
        overall_seconds = time.perf_counter() - t0
        result.update(
            kpis_month={
                "start": first.isoformat(),
                "end": after.isoformat(),
                "unit_rows": rows,
                "accepted": overall.overall.counts["accepted"],
                "dispatched": overall.overall.counts["dispatched"],
            },
            kpis_month_seconds={
                "cold": round(runs[0], 3),
                "median": round(statistics.median(runs), 3),
            },
            kpis_overall_seconds=round(overall_seconds, 3),
        )
        result.update(_time_brief(container, until, out_dir))
    finally:
        container.close()
    return result


def _time_brief(container: "Container", until: dt.datetime, out_dir: Path) -> dict[str, Any]:
    monday = _brief_monday(until)
    iso = monday.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    try:
        weekly = importlib.import_module("reports.brief.weekly")
        # build(src, monday, fmt) reads through a Sources (as reports.jobs and reports.cli
        # make it from the container); an older build took the container itself.
        src: Any = container
        if hasattr(weekly, "Sources"):
            src = weekly.Sources(
                uow=container.uow, ctx=container.dispatch, settings=container.settings
            )
        t0 = time.perf_counter()
        pdf: bytes = weekly.build(src, monday, "pdf")
        seconds = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - the KPI figures are still worth printing
        traceback.print_exc()
        return {"brief_week": week, "brief_pdf_seconds": None, "brief_error": f"{exc!r}"}
    path = out_dir / f"brief-{week}.pdf"
    path.write_bytes(pdf)
    return {
        "brief_week": week,
        "brief_pdf_seconds": round(seconds, 3),
        "brief_pdf": str(path),
        "brief_pdf_bytes": len(pdf),
    }


# ---------------------------------------------------------------- main


def _default_until() -> dt.datetime:
    today = dt.datetime.now(TZ).date()
    return local_midnight(today - dt.timedelta(days=today.weekday()))


def _loaded_until(name: str) -> dt.datetime:
    """The --until a bench database was loaded with: the local midnight after its last ticket."""
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(_conninfo(url)) as conn:
        row = conn.execute("SELECT max(created_at) FROM tickets").fetchone()
    if row is None or row[0] is None:
        return _default_until()
    last: dt.datetime = row[0]
    return local_midnight(last.astimezone(TZ).date() + dt.timedelta(days=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument(
        "--until",
        type=dt.date.fromisoformat,
        help="end of the year of data and 'now' of the reports (local midnight, Asia/Shanghai);"
        " default: Monday of the current ISO week",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database; print its URL")
    parser.add_argument("--database", help="reuse this loaded bench database (no load)")
    parser.add_argument(
        "--name", help="the throwaway database's name (default: hotline_bench_<random>)"
    )
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp"), help="where the PDF goes")
    args = parser.parse_args()
    if args.until:
        until = local_midnight(args.until)
    elif args.database:
        until = _loaded_until(args.database)
    else:
        until = _default_until()

    from infra.migrate import upgrade

    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = args.database or args.name or f"hotline_bench_{uuid.uuid4().hex[:10]}"
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    created = False
    load_seconds: float | None = None
    try:
        if args.database:
            counts = _table_counts(url)
        else:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            created = True
            _log(f"database {name}: migrating, then loading {args.tickets:,} tickets")
            t0 = time.perf_counter()
            upgrade(url)
            counts = load(url, args.tickets, args.seed, until)
            load_seconds = time.perf_counter() - t0
            _log(f"loaded in {load_seconds:.0f} s")
        timings = time_reports(url, until, args.out_dir)
    finally:
        if created and not args.keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    if args.keep or args.database:
        _log(f"database kept: {url}")
    report: dict[str, Any] = {
        "benchmark": "a month's KPIs and one weekly brief PDF over a year of tickets on PostgreSQL",
        "tickets": counts.tickets,
        "events": counts.events,
        "calls": counts.calls,
        "assignments": counts.assignments,
        "extensions": counts.extensions,
        "statuses": dict(sorted(counts.by_status.items(), key=lambda kv: -kv[1])),
        "until": until.isoformat(),
        "load_seconds": round(load_seconds, 1) if load_seconds is not None else None,
        **timings,
        "targets": TARGETS,
        "database": name,
        "database_url": url if (args.keep or args.database) else None,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
