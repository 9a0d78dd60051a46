"""The weekly brief laid out once: sections of blocks, every number written out in Chinese.

The HTML template (`templates/brief.html`) and the DOCX writer (reports.brief.docx_writer)
both walk these blocks, so every format says the same thing. Pure: no I/O but the charts'
drawing (reports.brief.charts).
"""

import base64
import datetime as dt
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import ClassVar
from typing import Final

from reports.brief import charts
from reports.brief.content import Brief
from reports.brief.content import Change
from reports.brief.content import CountRow
from reports.brief.content import KpiLine
from reports.brief.content import UnitLine
from reports.kpis import FORMULAS
from reports.kpis import LOWER_IS_BETTER

DASH: Final = "—"
NUMERALS: Final = "一二三四五六七八九十"


# ---------------------------------------------------------------- numbers in words


def _pct(value: float | None) -> str:
    """A share as 97.3%; None as —."""
    return DASH if value is None else f"{value * 100:.1f}%"


def _pp_change(now: float | None, before: float | None) -> str:
    """A change of shares in percentage points: ↑1.2个百分点, ↓0.4个百分点, 持平 or —."""
    if now is None or before is None:
        return DASH
    points = round((now - before) * 100, 1)
    if points == 0:
        return "持平"
    return f"{'↑' if points > 0 else '↓'}{abs(points):.1f}个百分点"


def _count(value: float | None) -> str:
    return DASH if value is None else str(round(value))


def _count_change(now: float | None, before: float | None) -> str:
    """A change of counts: ↑12, ↓3, 持平 or —."""
    if now is None or before is None:
        return DASH
    diff = round(now) - round(before)
    if diff == 0:
        return "持平"
    return f"{'↑' if diff > 0 else '↓'}{abs(diff)}"


def _seconds(value: float | None) -> str:
    """A duration as 18秒 or 3分05秒."""
    if value is None:
        return DASH
    total = round(value)
    if total < 60:
        return f"{total}秒"
    return f"{total // 60}分{total % 60:02d}秒"


def _seconds_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return DASH
    diff = round(now) - round(before)
    if diff == 0:
        return "持平"
    return f"{'↑' if diff > 0 else '↓'}{_seconds(abs(diff))}"


def _score(value: float | None) -> str:
    """The ranking score (a weighted mean of shares) on a 100-point scale: 93.2."""
    return DASH if value is None else f"{value * 100:.1f}"


def _share_of(part: int, rows: Iterable[CountRow]) -> str:
    total = sum(r.now for r in rows)
    return _pct(part / total) if total else DASH


def week_in_words(week: str) -> str:
    """2026-W47 → 2026年第47周."""
    found = re.fullmatch(r"(\d{4})-W(\d{1,2})", week)
    return f"{found[1]}年第{int(found[2])}周" if found else week


def date_in_words(moment: dt.date) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _ordinal(n: int) -> str:
    """1 → 一 … 10 → 十, 11 → 十一 (enough for headings)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return f"{NUMERALS[tens - 1] if tens > 1 else ''}十{NUMERALS[ones - 1] if ones else ''}"


# ---------------------------------------------------------------- the layout


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    note: str = ""  # a small second line (a KPI's formula)


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[Cell, ...]
    alert: bool = False  # drawn in red (a unit below the satisfaction floor)


@dataclass(frozen=True, slots=True)
class Para:
    kind: ClassVar[str] = "para"
    text: str
    style: str = ""  # lead | alert | empty | note


@dataclass(frozen=True, slots=True)
class Subheading:
    kind: ClassVar[str] = "subheading"
    text: str


@dataclass(frozen=True, slots=True)
class Table:
    kind: ClassVar[str] = "table"
    name: str  # a CSS class: overview, units …
    headers: tuple[str, ...]
    rows: tuple[Row, ...]
    numeric: tuple[bool, ...]  # right-aligned columns


@dataclass(frozen=True, slots=True)
class Chart:
    kind: ClassVar[str] = "chart"
    png: bytes
    alt: str
    caption: str

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True, slots=True)
class CaseItem:
    kind: ClassVar[str] = "case"
    heading: str
    facts: tuple[tuple[str, str], ...]
    summary: str


Block = Para | Subheading | Table | Chart | CaseItem


@dataclass(slots=True)
class Section:
    heading: str
    blocks: list[Block] = field(default_factory=list)


def _table(
    name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[str | Cell]],
    numeric: Sequence[bool],
    *,
    alerts: Sequence[bool] = (),
) -> Table:
    built = []
    for i, cells in enumerate(rows):
        alert = alerts[i] if i < len(alerts) else False
        built.append(Row(tuple(c if isinstance(c, Cell) else Cell(c) for c in cells), alert=alert))
    return Table(name, tuple(headers), tuple(built), tuple(numeric))


def _table_or(empty: str, table: Table) -> Block:
    return table if table.rows else Para(empty, "empty")


def _kpi(brief: Brief, name: str) -> KpiLine | None:
    return next((k for k in brief.kpis if k.name == name), None)


def _answer_rate(brief: Brief) -> tuple[float | None, float | None]:
    line = _kpi(brief, "answer_rate")
    if line is not None:
        return line.now, line.before

    def rate(answered: float | None, offered: float | None) -> float | None:
        return answered / offered if answered is not None and offered else None

    return (
        rate(brief.calls_answered.now, brief.calls_offered.now),
        rate(brief.calls_answered.before, brief.calls_offered.before),
    )


def _headline(brief: Brief) -> str:
    if brief.headline:
        return "".join(brief.headline)
    return (
        f"本周共受理群众诉求{_count(brief.accepted.now)}件，"
        f"环比{_count_change(brief.accepted.now, brief.accepted.before)}；"
        f"派单{_count(brief.dispatched.now)}件，直接办结{_count(brief.resolved_directly.now)}件。"
    )


def _overview(brief: Brief) -> Section:
    def counted(label: str, c: Change) -> tuple[str, ...]:
        return (label, _count(c.now), _count(c.before), _count_change(c.now, c.before))

    def timed(label: str, c: Change) -> tuple[str, ...]:
        return (label, _seconds(c.now), _seconds(c.before), _seconds_change(c.now, c.before))

    answer_now, answer_before = _answer_rate(brief)
    level = _kpi(brief, "service_level_15s")
    level_now, level_before = (level.now, level.before) if level else (None, None)
    rows = [
        counted("受理量（件）", brief.accepted),
        counted("派单量（件）", brief.dispatched),
        counted("直接办结量（件）", brief.resolved_directly),
        counted("呼入量（次）", brief.calls_offered),
        counted("人工接通量（次）", brief.calls_answered),
        ("接通率", _pct(answer_now), _pct(answer_before), _pp_change(answer_now, answer_before)),
        ("15秒接通率", _pct(level_now), _pct(level_before), _pp_change(level_now, level_before)),
        timed("平均等待时长", brief.average_wait_seconds),
        timed("平均通话时长", brief.average_talk_seconds),
    ]
    table = _table("overview", ("项目", "本周", "上周", "环比"), rows, (False, True, True, True))
    return Section("总体情况", [Para(_headline(brief), "lead"), table])


def _count_rows(rows: Sequence[CountRow]) -> list[tuple[str, ...]]:
    return [
        (r.label, str(r.now), str(r.before), _count_change(r.now, r.before), _share_of(r.now, rows))
        for r in rows
    ]


def _intake(brief: Brief, chart: Chart | None) -> Section:
    numeric = (False, True, True, True, True)
    blocks: list[Block] = [Subheading("（一）受理渠道")]
    blocks.append(
        _table_or(
            "本周无分渠道受理数据。",
            _table(
                "channels",
                ("渠道", "本周", "上周", "环比", "占比"),
                _count_rows(brief.channels),
                numeric,
            ),
        )
    )
    if chart is not None:
        blocks.append(chart)
    blocks.append(Subheading("（二）诉求类型"))
    blocks.append(
        _table_or(
            "本周无分类型受理数据。",
            _table(
                "types",
                ("诉求类型", "本周", "上周", "环比", "占比"),
                _count_rows(brief.request_types),
                numeric,
            ),
        )
    )
    return Section("受理渠道与诉求类型", blocks)


def _daily(brief: Brief, chart: Chart | None) -> Section:
    days = brief.daily
    accepted = sum(d.accepted for d in days)
    if not days or accepted == 0:
        return Section("每日受理趋势", [Para("本周无受理记录。", "empty")])
    peak = max(days, key=lambda d: (d.accepted, -d.day.toordinal()))
    text = (
        f"本周日均受理{accepted / len(days):.1f}件、派单"
        f"{sum(d.dispatched for d in days) / len(days):.1f}件；"
        f"受理量最多的是{charts.day_label(peak.day)}，{peak.accepted}件。"
    )
    blocks: list[Block] = [Para(text)]
    if chart is not None:
        blocks.append(chart)
    return Section("每日受理趋势", blocks)


def _kpis(brief: Brief) -> Section:
    rows = [
        (
            Cell(k.label, note=k.formula),
            _pct(k.now),
            _pct(k.before),
            _pp_change(k.now, k.before),
            f"{k.part}/{k.whole}",
        )
        for k in brief.kpis
    ]
    table = _table(
        "kpis",
        ("指标", "本周", "上周", "环比", "本周计数"),
        rows,
        (False, True, True, True, True),
    )
    blocks: list[Block] = [_table_or("本周无指标数据。", table)]
    if brief.kpis:
        blocks.append(
            Para(
                "注：环比为本周与上周之差（百分点）；本周计数为“分子/分母”；“—”表示无数据。", "note"
            )
        )
    return Section("主要指标", blocks)


def _ratio(value: float | None) -> str:
    return "新出现" if value is None else f"{value:.1f}倍"


def _hot(brief: Brief, chart: Chart | None) -> Section:
    topics = brief.topics
    blocks: list[Block] = [Subheading("（一）诉求分类")]
    categories = _table(
        "categories",
        ("排名", "分类", "本周", "占比", "上周", "环比"),
        [
            (
                str(i),
                c.name,
                str(c.count),
                _pct(c.share),
                str(c.before),
                _count_change(c.count, c.before),
            )
            for i, c in enumerate(brief.categories, start=1)
        ],
        (True, False, True, True, True, True),
    )
    blocks.append(_table_or("本周无诉求分类数据。", categories))
    if chart is not None:
        blocks.append(chart)

    blocks.append(Subheading("（二）热点话题"))
    if topics.topics:
        blocks.append(
            Para(
                f"对本周{topics.tickets}件诉求进行聚类分析，归纳出热点话题{len(topics.topics)}个。"
            )
        )
    blocks.append(
        _table_or(
            "本周无突出的热点话题。",
            _table(
                "topics",
                ("序号", "话题关键词", "件数", "主要分类"),
                [
                    (str(i), "、".join(t.keywords) or t.label, str(t.count), t.category or DASH)
                    for i, t in enumerate(topics.topics, start=1)
                ],
                (True, False, True, False),
            ),
        )
    )

    blocks.append(Subheading("（三）热点地区"))
    blocks.append(
        _table_or(
            "本周无同一地点集中反映的问题。",
            _table(
                "spots",
                ("地点", "问题", "件数"),
                [(s.place, s.topic, str(s.count)) for s in topics.hot_spots],
                (False, False, True),
            ),
        )
    )

    blocks.append(Subheading("（四）上升问题"))
    blocks.append(
        _table_or(
            "本周无明显上升的问题。",
            _table(
                "rising",
                ("关键词", "本周件数", "此前周均", "为周均的"),
                [
                    (r.keyword, str(r.count), f"{r.baseline:.1f}", _ratio(r.ratio))
                    for r in topics.rising
                ],
                (False, True, True, True),
            ),
        )
    )
    return Section("热点问题", blocks)


def _weights_text(brief: Brief) -> str:
    if not brief.weights:
        return ""
    labels = {k.name: k.label for k in brief.kpis}
    # The Brief lists only the KPIs it shows; the weights may name others.
    names = [labels.get(n) or (FORMULAS[n].label if n in FORMULAS else n) for n in brief.weights]
    weights = ":".join(f"{w:g}" for w in brief.weights.values())
    text = f"综合得分为{'、'.join(names)}的加权平均（权重{weights}），按百分制显示"
    lower = [FORMULAS[n].label for n in brief.weights if n in LOWER_IS_BETTER]
    if lower:
        text += f"，其中{'、'.join(lower)}越低越好，按（1 − 比率）计分"
    return text + "。"


def _unit_row(u: UnitLine) -> tuple[str, ...]:
    return (
        str(u.rank) if u.rank else DASH,  # 0: not ranked (样本不足)
        u.unit,
        str(u.dispatched),
        _pct(u.on_time_sign_rate),
        _pct(u.reply_rate),
        _pct(u.on_time_reply_rate),
        str(u.overdue),
        _pct(u.response_rate),
        _pct(u.resolution_rate),
        _pct(u.satisfaction_rate),
        _score(u.score),
    )


def _units(brief: Brief, chart: Chart | None) -> Section:
    if not brief.units:
        return Section("承办单位情况", [Para("本周无承办单位派单或回访数据。", "empty")])
    floor = charts.floor_text(brief.satisfaction_floor)
    blocks: list[Block] = []
    ranked = [u for u in brief.units if u.rank]
    short = [u for u in brief.units if not u.rank]
    intro = f"本周共{len(brief.units)}个承办单位有派单、到期或回访，其中{len(ranked)}个参与排名。"
    intro += _weights_text(brief)
    intro += f"每项计分指标须有不少于{brief.min_sample}件才参与排名。"
    blocks.append(Para(intro))
    if brief.below_floor:
        blocks.append(Para(f"满意率低于{floor}的单位：{'、'.join(brief.below_floor)}。", "alert"))
    else:
        blocks.append(Para(f"本周无满意率低于{floor}的单位。"))
    headers = (
        "排名",
        "单位",
        "派单",
        "及时签收率",
        "回复率",
        "按时办结率",
        "超期",
        "响应率",
        "解决率",
        "满意率",
        "综合得分",
    )
    numeric = (True, False, *([True] * 9))
    if ranked:
        blocks.append(
            _table(
                "units",
                headers,
                [_unit_row(u) for u in ranked],
                numeric,
                alerts=[u.below_floor for u in ranked],
            )
        )
    if short:
        blocks.append(Subheading("样本不足、不参与排名的单位"))
        reasons = "；".join(f"{u.unit}：{'、'.join(u.short)}" for u in short)
        blocks.append(
            Para(
                f"以下单位计分指标缺少数据或件数不足，不排名，仅列出数字供参考：{reasons}。", "note"
            )
        )
        blocks.append(
            _table(
                "units",
                headers,
                [_unit_row(u) for u in short],
                numeric,
                alerts=[u.below_floor for u in short],
            )
        )
    if chart is not None:
        blocks.append(chart)
    return Section("承办单位情况", blocks)


def _notices(brief: Brief) -> Section:
    if not brief.notices:
        return Section("通报", [Para("本周无通报单位。", "empty")])
    total = sum(n.count for n in brief.notices)
    names = "、".join(f"{n.unit}（{n.count}件）" for n in brief.notices)
    blocks: list[Block] = [
        Para(
            f"以下{len(brief.notices)}个单位共{total}件工单超过办理时限仍未办结，予以通报：{names}。",
            "alert",
        ),
        _table(
            "notices",
            ("单位", "件数", "工单编号"),
            [(n.unit, str(n.count), "、".join(n.numbers) or DASH) for n in brief.notices],
            (False, True, False),
        ),
    ]
    return Section("通报", blocks)


def _problems(brief: Brief) -> Section:
    table = _table(
        "problems",
        ("工单编号", "标题", "承办单位", "状态", "原因"),
        [(c.number, c.title, c.unit or DASH, c.status, c.why) for c in brief.problems],
        (False, False, False, False, False),
    )
    return Section("问题工单", [_table_or("本周无问题工单。", table)])


def _cases(brief: Brief) -> Section:
    if not brief.cases:
        return Section("典型案例", [Para("本周无典型案例。", "empty")])
    blocks: list[Block] = [
        CaseItem(
            heading=f"（{_ordinal(i)}）{c.title}",
            facts=(
                ("工单编号", c.number),
                ("承办单位", c.unit or DASH),
                ("办理状态", c.status),
                ("入选原因", c.why),
            ),
            summary=c.summary,
        )
        for i, c in enumerate(brief.cases, start=1)
    ]
    return Section("典型案例", blocks)


def _charts(brief: Brief) -> dict[str, Chart | None]:
    """The charts that have something to show, numbered in the order they appear."""
    wanted: list[tuple[str, bool, Callable[[], bytes], str, str]] = [
        (
            "channels",
            bool(brief.channels),
            lambda: charts.channels_chart(brief.channels),
            charts.channels_alt(brief.channels),
            "受理渠道本周与上周对比",
        ),
        (
            "daily",
            any(d.accepted or d.dispatched for d in brief.daily),
            lambda: charts.daily_trend_chart(brief.daily),
            charts.daily_trend_alt(brief.daily),
            "每日受理量与派单量",
        ),
        (
            "categories",
            bool(brief.categories),
            lambda: charts.categories_chart(brief.categories),
            charts.categories_alt(brief.categories),
            "主要诉求分类占比",
        ),
        (
            "satisfaction",
            any(u.satisfaction_rate is not None for u in brief.units),
            lambda: charts.satisfaction_chart(brief.units, brief.satisfaction_floor),
            charts.satisfaction_alt(brief.units, brief.satisfaction_floor),
            "承办单位满意率",
        ),
    ]
    found: dict[str, Chart | None] = {}
    number = 0
    for key, shown, draw, alt, caption in wanted:
        if not shown:
            found[key] = None
            continue
        number += 1
        found[key] = Chart(draw(), alt, f"图{number}　{caption}")
    return found


def layout(brief: Brief) -> list[Section]:
    """The brief as numbered sections of blocks, every figure written out."""
    drawn = _charts(brief)
    sections = [
        _overview(brief),
        _intake(brief, drawn["channels"]),
        _daily(brief, drawn["daily"]),
        _kpis(brief),
        _hot(brief, drawn["categories"]),
        _units(brief, drawn["satisfaction"]),
        _notices(brief),
        _problems(brief),
        _cases(brief),
    ]
    for i, section in enumerate(sections, start=1):
        section.heading = f"{_ordinal(i)}、{section.heading}"
    return sections
