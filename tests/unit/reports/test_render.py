"""The weekly brief's renderers: HTML, PDF and DOCX say the same thing, and charts are PNGs."""

import datetime as dt
import io
import re
from collections.abc import Callable

import docx
import pypdf
import pytest
from docx.oxml.ns import qn

from reports.brief import charts
from reports.brief.content import Brief
from reports.brief.content import CategoryLine
from reports.brief.content import CountRow
from reports.brief.content import DayCount
from reports.brief.content import UnitLine
from reports.brief.docx_writer import render_docx
from reports.brief.layout import date_in_words
from reports.brief.layout import week_in_words
from reports.brief.render import MEDIA_TYPES
from reports.brief.render import render
from reports.brief.render import render_html
from reports.brief.render import render_pdf
from tests.brief_sample import HOSTILE_TITLE
from tests.brief_sample import empty_brief
from tests.brief_sample import sample_brief

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEADINGS = (
    "一、总体情况",
    "二、受理渠道与诉求类型",
    "三、每日受理趋势",
    "四、主要指标",
    "五、热点问题",
    "六、承办单位情况",
    "七、通报",
    "八、问题工单",
    "九、典型案例",
)
BELOW_FLOOR = "满意率低于85%的单位：市热力集团。"


@pytest.fixture(scope="module")
def brief() -> Brief:
    return sample_brief()


@pytest.fixture(scope="module")
def html(brief: Brief) -> str:
    return render_html(brief)


@pytest.fixture(scope="module")
def pdf_text(brief: Brief) -> str:
    pdf = render_pdf(brief)
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def docx_bytes(brief: Brief) -> bytes:
    return render_docx(brief)


@pytest.fixture(scope="module")
def docx_text(docx_bytes: bytes) -> str:
    return _docx_text(docx_bytes)


def _docx_text(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def _squeeze(text: str) -> str:
    """PDF text extraction may break lines anywhere: compare without whitespace."""
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------- HTML


def test_html_has_the_sections_in_order(html: str) -> None:
    positions = [html.index(f">{heading}<") for heading in HEADINGS]
    assert positions == sorted(positions)
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>12345热线工作周报（2026年第47周）</title>" in html


def test_html_names_the_units_below_the_satisfaction_floor(html: str) -> None:
    assert BELOW_FLOOR in html
    row = re.search(r'<tr class="alert">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "市热力集团" in row[1]
    assert "79.2%" in row[1]


def test_html_escapes_ticket_titles(html: str) -> None:
    assert HOSTILE_TITLE not in html
    assert "<script>" not in html
    assert "小区路灯不亮&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_html_writes_numbers_and_changes_in_chinese(html: str) -> None:
    assert "96.1%" in html  # 接通率
    assert "↑1.0个百分点" in html
    assert "持平" in html  # 15秒接通率, 87.4% both weeks
    assert "↓0.8个百分点" in html  # 及时签收率
    assert "↑113" in html  # accepted 2242 vs 2129
    assert "↓16" in html  # 网站 214 vs 230
    assert "3分25秒" in html  # average talk 205 s
    assert "4.5倍" in html and "新出现" in html  # rising topics


def test_html_embeds_the_charts_as_data_uris(html: str) -> None:
    assert html.count('src="data:image/png;base64,') == 4
    for caption in ("图1", "图2", "图3", "图4"):
        assert caption in html


def test_html_fragment_is_the_article_alone(brief: Brief) -> None:
    fragment = render_html(brief, standalone=False).strip()
    assert fragment.startswith('<article class="brief"')
    assert fragment.endswith("</article>")
    assert "<html" not in fragment and "<style" not in fragment
    assert BELOW_FLOOR in fragment


# ---------------------------------------------------------------- PDF


def test_pdf_holds_the_headings_numbers_and_named_units(pdf_text: str) -> None:
    text = _squeeze(pdf_text)
    for heading in HEADINGS:
        assert heading in text
    for number in ("2242", "1400", "96.1%", "79.2%", "20261103-0042"):
        assert number in text
    assert _squeeze(BELOW_FLOOR) in text
    assert "第1页共" in text


# ---------------------------------------------------------------- DOCX


def test_docx_holds_the_headings_tables_and_named_units(docx_text: str) -> None:
    for heading in HEADINGS:
        assert heading in docx_text
    assert BELOW_FLOOR in docx_text
    assert "受理量（件） | 2242 | 2129 | ↑113" in docx_text
    assert "4 | 市热力集团 | 207 |" in docx_text
    assert HOSTILE_TITLE in docx_text  # plain text in Word, not markup


def test_docx_has_the_charts_and_a_chinese_font(docx_bytes: bytes) -> None:
    document = docx.Document(io.BytesIO(docx_bytes))
    assert len(document.inline_shapes) == 4
    normal = document.styles["Normal"].element
    fonts = normal.rPr.rFonts
    assert fonts.get(qn("w:eastAsia"))
    header = document.tables[0].rows[0]._tr
    assert header.trPr.find(qn("w:tblHeader")) is not None


# ---------------------------------------------------------------- charts

DAYS = [DayCount(dt.date(2026, 11, 16) + dt.timedelta(days=i), 10 * i, 5 * i) for i in range(7)]
CHANNELS = [CountRow("phone", "电话", 120, 100), CountRow("web", "网站", 8, 11)]
CATEGORIES = [CategoryLine("城乡建设", 40, 0.4, 30), CategoryLine("其他", 3, None, 0)]


def _unit(name: str, satisfaction: float | None) -> UnitLine:
    return UnitLine(
        rank=1,
        unit_id=1,
        unit=name,
        dispatched=10,
        on_time_sign_rate=None,
        reply_rate=None,
        on_time_reply_rate=None,
        overdue=0,
        overdue_rate=None,
        response_rate=None,
        resolution_rate=None,
        satisfaction_rate=satisfaction,
        score=None,
        below_floor=satisfaction is not None and satisfaction < 0.85,
    )


@pytest.mark.parametrize(
    "draw",
    [
        pytest.param(lambda: charts.daily_trend_chart(DAYS), id="daily"),
        pytest.param(lambda: charts.daily_trend_chart([]), id="daily-empty"),
        pytest.param(
            lambda: charts.daily_trend_chart([DayCount(d.day, 0, 0) for d in DAYS]),
            id="daily-zeros",
        ),
        pytest.param(lambda: charts.channels_chart(CHANNELS), id="channels"),
        pytest.param(lambda: charts.channels_chart([]), id="channels-empty"),
        pytest.param(lambda: charts.categories_chart(CATEGORIES), id="categories"),
        pytest.param(lambda: charts.categories_chart([]), id="categories-empty"),
        pytest.param(
            lambda: charts.satisfaction_chart(
                [_unit("市水务局", 0.97), _unit("区政府", 0.6)], 0.85
            ),
            id="satisfaction",
        ),
        pytest.param(
            lambda: charts.satisfaction_chart([_unit("市水务局", None)], 0.85),
            id="satisfaction-all-none",
        ),
        pytest.param(lambda: charts.satisfaction_chart([], 0.85), id="satisfaction-empty"),
    ],
)
def test_charts_are_pngs_whatever_the_data(draw: Callable[[], bytes]) -> None:
    assert draw().startswith(PNG_MAGIC)


def test_charts_give_the_same_bytes_for_the_same_data() -> None:
    assert charts.channels_chart(CHANNELS) == charts.channels_chart(CHANNELS)


def test_chart_labels_name_the_day_and_weekday() -> None:
    assert charts.day_label(dt.date(2026, 11, 16)) == "11月16日（周一）"
    assert charts.floor_text(0.85) == "85%"
    assert "市水务局97.0%" in charts.satisfaction_alt([_unit("市水务局", 0.97)], 0.85)


# ---------------------------------------------------------------- dispatch and empty weeks


def test_render_rejects_an_unknown_format(brief: Brief) -> None:
    with pytest.raises(ValueError, match="不支持的周报格式"):
        render(brief, "xls")


def test_render_dispatches_on_the_format(brief: Brief) -> None:
    assert set(MEDIA_TYPES) == {"html", "pdf", "docx"}
    assert render(brief, "html").decode("utf-8").startswith("<!DOCTYPE html>")


def test_an_empty_week_renders_in_every_format() -> None:
    empty = empty_brief()
    html = render(empty, "html").decode("utf-8")
    for heading in HEADINGS:
        assert heading in html
    for sentence in (
        "本周无受理记录。",
        "本周无指标数据。",
        "本周无突出的热点话题。",
        "本周无承办单位派单或回访数据。",
        "本周无通报单位。",
        "本周无问题工单。",
        "本周无典型案例。",
    ):
        assert sentence in html
    assert "data:image/png" not in html
    assert "<tbody>\n  </tbody>" not in html and "<tbody></tbody>" not in html

    pdf = render(empty, "pdf")
    assert pdf.startswith(b"%PDF-")
    assert "本周无通报单位" in _squeeze(pypdf.PdfReader(io.BytesIO(pdf)).pages[-1].extract_text())

    text = _docx_text(render(empty, "docx"))
    assert "本周无通报单位。" in text and "九、典型案例" in text


def test_weeks_and_dates_are_written_out_in_chinese() -> None:
    assert week_in_words("2026-W07") == "2026年第7周"
    assert week_in_words("last week") == "last week"  # not an ISO week: as it is
    assert date_in_words(dt.date(2026, 11, 3)) == "2026年11月3日"
