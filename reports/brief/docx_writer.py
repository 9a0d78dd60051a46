"""The weekly brief as a Word document (DOCX): the same sections, tables and charts as the PDF.

Walks the blocks of reports.brief.layout with python-docx; ticket titles and summaries are
held as plain text runs.
"""

import datetime as dt
import io
from typing import Final

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

from reports.brief.content import Brief
from reports.brief.layout import Block
from reports.brief.layout import Cell
from reports.brief.layout import Chart
from reports.brief.layout import Para
from reports.brief.layout import Subheading
from reports.brief.layout import Table
from reports.brief.layout import date_in_words
from reports.brief.layout import layout
from reports.brief.layout import week_in_words

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
    info.add_run(f"{week_in_words(brief.week)}\t生成时间：{date_in_words(brief.generated_at)}")
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
    cell: Cell,
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


def _docx_table(doc: DocxDocument, table: Table) -> None:
    size = 8.0 if len(table.headers) > 8 else 9.5
    grid = doc.add_table(rows=1 + len(table.rows), cols=len(table.headers))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    for j, header in enumerate(table.headers):
        cell = grid.rows[0].cells[j]
        _shade(cell._tc, HEADER_FILL)
        _cell_text(cell.paragraphs[0], Cell(header), size, bold=True, color=None, right=False)
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


def _docx_block(doc: DocxDocument, block: Block) -> None:
    if isinstance(block, Para):
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
    elif isinstance(block, Subheading):
        doc.add_heading(block.text, level=2)
    elif isinstance(block, Table):
        _docx_table(doc, block)
    elif isinstance(block, Chart):
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
    for section in layout(brief):
        doc.add_heading(section.heading, level=1)
        for block in section.blocks:
            _docx_block(doc, block)
    tail = doc.add_paragraph(f"（本周报由系统于{date_in_words(brief.generated_at)}自动生成）")
    tail.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    tail.runs[0].font.size = Pt(9)
    tail.runs[0].font.color.rgb = GREY
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
