"""Render a weekly brief (周报) as HTML, PDF or DOCX.

The Brief is first laid out once as sections of blocks (paragraphs, tables, charts, cases) with
all numbers already written out in Chinese; the HTML template (`templates/brief.html`, Jinja2,
autoescaped) and the DOCX writer both walk those blocks, so the three formats say the same
thing. The PDF is WeasyPrint over the standalone HTML and its print stylesheet.

Everything shown comes from the Brief. Ticket titles and summaries are citizens' and units' own
words: the template escapes them and the DOCX holds them as plain text runs.
"""

import base64
import datetime as dt
import io
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import ClassVar
from typing import Final

import jinja2
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Row
from docx.oxml.table import CT_Tc
from docx.shared import Cm
from docx.shared import Pt
from docx.shared import RGBColor
from docx.styles.style import ParagraphStyle
from docx.text.paragraph import Paragraph as DocxParagraph

from reports import charts
from reports.brief import Brief
from reports.brief import Change
from reports.brief import CountRow
from reports.brief import KpiLine
from reports.brief import UnitLine
from reports.kpis import FORMULAS
from reports.kpis import LOWER_IS_BETTER

MEDIA_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

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


def _week_text(week: str) -> str:
    """2026-W47 → 2026年第47周."""
    found = re.fullmatch(r"(\d{4})-W(\d{1,2})", week)
    return f"{found[1]}年第{int(found[2])}周" if found else week


def _date_text(moment: dt.date) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _ordinal(n: int) -> str:
    """1 → 一 … 10 → 十, 11 → 十一 (enough for headings)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return f"{NUMERALS[tens - 1] if tens > 1 else ''}十{NUMERALS[ones - 1] if ones else ''}"


# ---------------------------------------------------------------- the layout


@dataclass(frozen=True, slots=True)
class _Cell:
    text: str
    note: str = ""  # a small second line (a KPI's formula)


@dataclass(frozen=True, slots=True)
class _Row:
    cells: tuple[_Cell, ...]
    alert: bool = False  # drawn in red (a unit below the satisfaction floor)


@dataclass(frozen=True, slots=True)
class _Para:
    kind: ClassVar[str] = "para"
    text: str
    style: str = ""  # lead | alert | empty | note


@dataclass(frozen=True, slots=True)
class _Subheading:
    kind: ClassVar[str] = "subheading"
    text: str


@dataclass(frozen=True, slots=True)
class _Table:
    kind: ClassVar[str] = "table"
    name: str  # a CSS class: overview, units …
    headers: tuple[str, ...]
    rows: tuple[_Row, ...]
    numeric: tuple[bool, ...]  # right-aligned columns


@dataclass(frozen=True, slots=True)
class _Chart:
    kind: ClassVar[str] = "chart"
    png: bytes
    alt: str
    caption: str

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True, slots=True)
class _CaseItem:
    kind: ClassVar[str] = "case"
    heading: str
    facts: tuple[tuple[str, str], ...]
    summary: str


_Block = _Para | _Subheading | _Table | _Chart | _CaseItem


@dataclass(slots=True)
class _Section:
    heading: str
    blocks: list[_Block] = field(default_factory=list)


def _table(
    name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[str | _Cell]],
    numeric: Sequence[bool],
    *,
    alerts: Sequence[bool] = (),
) -> _Table:
    built = []
    for i, cells in enumerate(rows):
        alert = alerts[i] if i < len(alerts) else False
        built.append(
            _Row(tuple(c if isinstance(c, _Cell) else _Cell(c) for c in cells), alert=alert)
        )
    return _Table(name, tuple(headers), tuple(built), tuple(numeric))


def _table_or(empty: str, table: _Table) -> _Block:
    return table if table.rows else _Para(empty, "empty")


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


def _overview(brief: Brief) -> _Section:
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
    return _Section("总体情况", [_Para(_headline(brief), "lead"), table])


def _count_rows(rows: Sequence[CountRow]) -> list[tuple[str, ...]]:
    return [
        (r.label, str(r.now), str(r.before), _count_change(r.now, r.before), _share_of(r.now, rows))
        for r in rows
    ]


def _intake(brief: Brief, chart: _Chart | None) -> _Section:
    numeric = (False, True, True, True, True)
    blocks: list[_Block] = [_Subheading("（一）受理渠道")]
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
    blocks.append(_Subheading("（二）诉求类型"))
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
    return _Section("受理渠道与诉求类型", blocks)


def _daily(brief: Brief, chart: _Chart | None) -> _Section:
    days = brief.daily
    accepted = sum(d.accepted for d in days)
    if not days or accepted == 0:
        return _Section("每日受理趋势", [_Para("本周无受理记录。", "empty")])
    peak = max(days, key=lambda d: (d.accepted, -d.day.toordinal()))
    text = (
        f"本周日均受理{accepted / len(days):.1f}件、派单"
        f"{sum(d.dispatched for d in days) / len(days):.1f}件；"
        f"受理量最多的是{charts.day_label(peak.day)}，{peak.accepted}件。"
    )
    blocks: list[_Block] = [_Para(text)]
    if chart is not None:
        blocks.append(chart)
    return _Section("每日受理趋势", blocks)


def _kpis(brief: Brief) -> _Section:
    rows = [
        (
            _Cell(k.label, note=k.formula),
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
    blocks: list[_Block] = [_table_or("本周无指标数据。", table)]
    if brief.kpis:
        blocks.append(
            _Para(
                "注：环比为本周与上周之差（百分点）；本周计数为“分子/分母”；“—”表示无数据。", "note"
            )
        )
    return _Section("主要指标", blocks)


def _ratio(value: float | None) -> str:
    return "新出现" if value is None else f"{value:.1f}倍"


def _hot(brief: Brief, chart: _Chart | None) -> _Section:
    topics = brief.topics
    blocks: list[_Block] = [_Subheading("（一）诉求分类")]
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

    blocks.append(_Subheading("（二）热点话题"))
    if topics.topics:
        blocks.append(
            _Para(
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

    blocks.append(_Subheading("（三）热点地区"))
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

    blocks.append(_Subheading("（四）上升问题"))
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
    return _Section("热点问题", blocks)


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


def _units(brief: Brief, chart: _Chart | None) -> _Section:
    if not brief.units:
        return _Section("承办单位情况", [_Para("本周无承办单位派单或回访数据。", "empty")])
    floor = charts.floor_text(brief.satisfaction_floor)
    blocks: list[_Block] = []
    ranked = [u for u in brief.units if u.rank]
    short = [u for u in brief.units if not u.rank]
    intro = f"本周共{len(brief.units)}个承办单位有派单、到期或回访，其中{len(ranked)}个参与排名。"
    intro += _weights_text(brief)
    intro += f"每项计分指标须有不少于{brief.min_sample}件才参与排名。"
    blocks.append(_Para(intro))
    if brief.below_floor:
        blocks.append(_Para(f"满意率低于{floor}的单位：{'、'.join(brief.below_floor)}。", "alert"))
    else:
        blocks.append(_Para(f"本周无满意率低于{floor}的单位。"))
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
        blocks.append(_Subheading("样本不足、不参与排名的单位"))
        reasons = "；".join(f"{u.unit}：{'、'.join(u.short)}" for u in short)
        blocks.append(
            _Para(
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
    return _Section("承办单位情况", blocks)


def _notices(brief: Brief) -> _Section:
    if not brief.notices:
        return _Section("通报", [_Para("本周无通报单位。", "empty")])
    total = sum(n.count for n in brief.notices)
    names = "、".join(f"{n.unit}（{n.count}件）" for n in brief.notices)
    blocks: list[_Block] = [
        _Para(
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
    return _Section("通报", blocks)


def _problems(brief: Brief) -> _Section:
    table = _table(
        "problems",
        ("工单编号", "标题", "承办单位", "状态", "原因"),
        [(c.number, c.title, c.unit or DASH, c.status, c.why) for c in brief.problems],
        (False, False, False, False, False),
    )
    return _Section("问题工单", [_table_or("本周无问题工单。", table)])


def _cases(brief: Brief) -> _Section:
    if not brief.cases:
        return _Section("典型案例", [_Para("本周无典型案例。", "empty")])
    blocks: list[_Block] = [
        _CaseItem(
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
    return _Section("典型案例", blocks)


def _charts(brief: Brief) -> dict[str, _Chart | None]:
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
    found: dict[str, _Chart | None] = {}
    number = 0
    for key, shown, draw, alt, caption in wanted:
        if not shown:
            found[key] = None
            continue
        number += 1
        found[key] = _Chart(draw(), alt, f"图{number}　{caption}")
    return found


def _layout(brief: Brief) -> list[_Section]:
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


# ---------------------------------------------------------------- HTML and PDF

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def render_html(brief: Brief, *, standalone: bool = True) -> str:
    """The brief as a complete HTML page, or just its `<article>` for a page of the web UI."""
    return _ENV.get_template("brief.html").render(
        brief=brief,
        sections=_layout(brief),
        standalone=standalone,
        week=_week_text(brief.week),
        generated=f"{_date_text(brief.generated_at)} {brief.generated_at:%H:%M}",
    )


def render_pdf(brief: Brief) -> bytes:
    """The brief as an A4 PDF: WeasyPrint over the standalone HTML and its print stylesheet."""
    # Imported here: WeasyPrint loads Pango and fontconfig, which only the PDF needs.
    import weasyprint  # type: ignore[import-untyped, unused-ignore]

    pdf: bytes = weasyprint.HTML(string=render_html(brief), base_url=None).write_pdf()
    return pdf


# ---------------------------------------------------------------- DOCX

BODY_FONT: Final = "宋体"
HEADING_FONT: Final = "黑体"
LATIN_FONT: Final = "Times New Roman"
RED: Final = RGBColor(0xC0, 0x00, 0x00)
ALERT: Final = RGBColor(0xB4, 0x23, 0x18)
GREY: Final = RGBColor(0x59, 0x59, 0x59)
HEADER_FILL: Final = "E8EDF3"
# The elements that may follow w:pBdr in a w:pPr, and w:shd in a w:tcPr (ECMA-376 order).
_AFTER_PBDR: Final = (
    "w:shd",
    "w:tabs",
    "w:suppressAutoHyphens",
    "w:kinsoku",
    "w:wordWrap",
    "w:overflowPunct",
    "w:topLinePunct",
    "w:autoSpaceDE",
    "w:autoSpaceDN",
    "w:bidi",
    "w:adjustRightInd",
    "w:snapToGrid",
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
)
_AFTER_SHD: Final = (
    "w:noWrap",
    "w:tcMar",
    "w:textDirection",
    "w:tcFitText",
    "w:vAlign",
    "w:hideMark",
    "w:headers",
    "w:cellIns",
    "w:cellDel",
    "w:cellMerge",
    "w:tcPrChange",
)


def _set_fonts(
    element: ParagraphStyle, east_asian: str, size: float, *, bold: bool = False
) -> None:
    """Give a style a Latin and an East-Asian font; Word shows Chinese in the latter."""
    font = element.font
    font.name = LATIN_FONT
    font.size = Pt(size)
    font.bold = bold
    rpr = element.element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    # Theme fonts (the built-in headings' asciiTheme …) win over named ones: drop them.
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), east_asian)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")
    lang.set(qn("w:eastAsia"), "zh-CN")


def _styles(doc: DocxDocument) -> None:
    styles = doc.styles
    normal = styles["Normal"]
    assert isinstance(normal, ParagraphStyle)
    _set_fonts(normal, BODY_FONT, 11)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.25
    for name, size in (("Title", 20), ("Heading 1", 15), ("Heading 2", 12.5), ("Heading 3", 11.5)):
        style = styles[name]
        assert isinstance(style, ParagraphStyle)
        _set_fonts(style, HEADING_FONT, size, bold=True)
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.paragraph_format.space_before = Pt(12 if name == "Heading 1" else 8)
        style.paragraph_format.space_after = Pt(6)
        style.paragraph_format.keep_with_next = True
    title = styles["Title"]
    assert isinstance(title, ParagraphStyle)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    # The built-in Title has a blue bottom border.
    ppr = title.element.get_or_add_pPr()
    for border in ppr.findall(qn("w:pBdr")):
        ppr.remove(border)


def _page(doc: DocxDocument, brief: Brief) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2.5))
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run("第 ")
    _field(footer, "PAGE")
    footer.add_run(" 页 共 ")
    _field(footer, "NUMPAGES")
    footer.add_run(" 页")
    props = doc.core_properties
    props.title = brief.title
    props.author = brief.hotline
    props.subject = brief.range_text
    props.comments = ""  # the template says "generated by python-docx"
    made = brief.generated_at
    if made.tzinfo is not None:  # python-docx writes the time as UTC ("…Z") whatever it is
        made = made.astimezone(dt.UTC).replace(tzinfo=None)
    props.created = props.modified = made


def _field(paragraph: DocxParagraph, code: str) -> None:
    """A Word field (PAGE, NUMPAGES) Word fills in when it lays the page out."""
    simple = OxmlElement("w:fldSimple")
    simple.set(qn("w:instr"), code)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    simple.append(run)
    paragraph._p.append(simple)


def _masthead(doc: DocxDocument, brief: Brief) -> None:
    head = doc.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = head.add_run(f"{brief.hotline}工作周报")
    run.font.size = Pt(24)
    run.font.bold = True
    run.font.color.rgb = RED
    info = doc.add_paragraph()
    info.add_run(f"{_week_text(brief.week)}\t生成时间：{_date_text(brief.generated_at)}")
    info.paragraph_format.tab_stops.add_tab_stop(Cm(16), alignment=2)  # right-aligned
    _bottom_border(info, "C00000", 18)
    doc.add_paragraph(brief.title, style="Title")
    dates = doc.add_paragraph(f"（{brief.range_text}）")
    dates.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _bottom_border(paragraph: DocxParagraph, color: str, size: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (
        ("w:val", "single"),
        ("w:sz", str(size)),
        ("w:space", "4"),
        ("w:color", color),
    ):
        bottom.set(qn(key), value)
    borders.append(bottom)
    # Word rejects a document whose elements are out of the schema's order.
    ppr.insert_element_before(borders, *_AFTER_PBDR)


def _shade(cell_xml: CT_Tc, fill: str) -> None:
    tcpr = cell_xml.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    tcpr.insert_element_before(shading, *_AFTER_SHD)


def _row_props(row_xml: CT_Row, *, header: bool) -> None:
    trpr = row_xml.get_or_add_trPr()
    trpr.append(OxmlElement("w:cantSplit"))
    if header:
        trpr.append(OxmlElement("w:tblHeader"))  # repeated on every page


def _cell_text(
    paragraph: DocxParagraph,
    cell: _Cell,
    size: float,
    *,
    bold: bool,
    color: RGBColor | None,
    right: bool,
) -> None:
    paragraph.paragraph_format.space_after = Pt(0)
    paragraph.paragraph_format.line_spacing = 1.0
    if right:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = paragraph.add_run(cell.text)
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    if cell.note:
        note = paragraph.add_run(f"\n{cell.note}")
        note.font.size = Pt(size - 2)
        note.font.color.rgb = GREY


def _docx_table(doc: DocxDocument, table: _Table) -> None:
    size = 8.0 if len(table.headers) > 8 else 9.5
    grid = doc.add_table(rows=1 + len(table.rows), cols=len(table.headers))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    for j, header in enumerate(table.headers):
        cell = grid.rows[0].cells[j]
        _shade(cell._tc, HEADER_FILL)
        _cell_text(cell.paragraphs[0], _Cell(header), size, bold=True, color=None, right=False)
    _row_props(grid.rows[0]._tr, header=True)
    for i, row in enumerate(table.rows, start=1):
        _row_props(grid.rows[i]._tr, header=False)
        for j, value in enumerate(row.cells):
            _cell_text(
                grid.rows[i].cells[j].paragraphs[0],
                value,
                size,
                bold=False,
                color=ALERT if row.alert else None,
                right=table.numeric[j],
            )
    doc.add_paragraph().paragraph_format.space_after = Pt(2)


def _docx_block(doc: DocxDocument, block: _Block) -> None:
    if isinstance(block, _Para):
        paragraph = doc.add_paragraph()
        run = paragraph.add_run(block.text)
        if block.style == "alert":
            run.font.color.rgb = ALERT
            run.font.bold = True
        elif block.style == "note":
            run.font.size = Pt(9)
            run.font.color.rgb = GREY
        elif block.style == "lead":
            paragraph.paragraph_format.first_line_indent = Pt(22)
    elif isinstance(block, _Subheading):
        doc.add_heading(block.text, level=2)
    elif isinstance(block, _Table):
        _docx_table(doc, block)
    elif isinstance(block, _Chart):
        doc.add_picture(io.BytesIO(block.png), width=Cm(15))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        caption = doc.add_paragraph(block.caption)
        caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
        caption.runs[0].font.size = Pt(9)
    else:
        doc.add_heading(block.heading, level=3)
        facts = doc.add_paragraph("；".join(f"{k}：{v}" for k, v in block.facts))
        facts.runs[0].font.size = Pt(9.5)
        facts.runs[0].font.color.rgb = GREY
        if block.summary:
            summary = doc.add_paragraph()
            summary.add_run("办理情况：").bold = True
            summary.add_run(block.summary)


def render_docx(brief: Brief) -> bytes:
    """The brief as a Word document: the same sections, tables and charts as the PDF."""
    doc = Document()
    _styles(doc)
    _page(doc, brief)
    _masthead(doc, brief)
    for section in _layout(brief):
        doc.add_heading(section.heading, level=1)
        for block in section.blocks:
            _docx_block(doc, block)
    tail = doc.add_paragraph(f"（本周报由系统于{_date_text(brief.generated_at)}自动生成）")
    tail.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    tail.runs[0].font.size = Pt(9)
    tail.runs[0].font.color.rgb = GREY
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- dispatch

_RENDERERS: Final[dict[str, Callable[[Brief], bytes]]] = {
    "html": lambda brief: render_html(brief).encode("utf-8"),
    "pdf": render_pdf,
    "docx": render_docx,
}


def render(brief: Brief, fmt: str) -> bytes:
    """The brief in `fmt` (html, pdf or docx) as bytes, to serve with MEDIA_TYPES[fmt]."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"不支持的周报格式：{fmt!r}（可选：html、pdf、docx）") from None
    return renderer(brief)
