"""Bring knowledge-base articles in from files and out to files: Markdown, Word and Excel.

Units keep their guides in Word, the hotline keeps lists in Excel, and Markdown is what a
person can write by hand, so all three carry the same fields. A file is taken whole or not
at all: every problem found (the first 50 of them) is reported with its place, and nothing is
imported until the file is clean. What write_markdown, write_docx and write_xlsx produce reads
back to equal records (values normalised as an import normalises them; `where` aside).

Fields and their Chinese names (the Markdown/Word keys and the Excel headers):
标题 title · 正文 body · 类型 kind · 分类 category · 单位 unit · 来源 source_doc · 文号 doc_number ·
生效日期 valid_from · 失效日期 valid_until · 复审日期 review_by · 标签 tags · 申请材料 materials ·
收费标准 fees · 办理地点 place · 办理时间 hours.

Values:
- 类型: 政策法规, 办事指南, 常见问题 or 话术 (or policy, guide, faq, script); empty means 常见问题.
- 分类: catalogue levels joined by "/", e.g. 社会保障/住房公积金.
- Dates: written 2025-01-31; 2025/1/31 and 2025年1月31日 are read too, and Excel date cells.
- 标签: separated by 、 or , or ，; written with 、.
- 标题 is one line of 1–200 characters; 正文 is required, at most 100,000 characters;
  分类/单位/来源 at most 200 (a 分类 level 50), 文号 100, 申请材料/收费标准/办理地点/办理时间
  5,000; at most 20 tags of 30 characters (the limits of kb.commands.ArticleInput). Values
  other than 正文 are trimmed line by line, blank lines dropped; characters XML cannot hold
  (control characters) are dropped everywhere.

Markdown (.md, .markdown, .txt; UTF-8, a BOM is fine)::

    # 住房公积金租房提取
    类型：办事指南
    分类：社会保障/住房公积金
    申请材料：身份证
      租赁合同
    标签：公积金、租房

    正文，原样保留……

A level-1 heading (``# ``, with the space) starts an article. After it (blank lines skipped),
a block of ``键：值`` or ``键: value`` lines up to the first blank line is the metadata; a line
indented by spaces continues the value above it (that is how multi-line values are written).
An unknown key there is a problem, so a typo does not land in the body silently. The rest,
trimmed, is the body; when it should begin with a line like ``提示：…``, write a metadata line
(``类型：常见问题``) and a blank line before it. A body line that would read as a level-1 heading
is written with a backslash (``\\# …``) and read back without it. Text before the first
heading is a problem unless blank.

Word (.docx): a paragraph in style "Heading 1" (标题 1) starts an article; the following
``键：值`` paragraphs with known keys are metadata (line breaks inside one continue its
value), until an empty or any other paragraph. An unknown key followed by known ones is a
problem; one at the end of the run is the start of the body. The remaining paragraphs, and
table rows with their cells joined by " | ", are the body, one line each. Export writes the
heading, the metadata, an empty paragraph, then one paragraph per body line.

Excel (.xlsx): the first sheet; row 1 holds the headers above (标题 and 正文 required, the rest
optional, in any order; a trailing * is allowed); each further row is one article and empty
rows are skipped. A cell holds at most 32,767 characters, so a longer body continues in the
columns 正文续1, 正文续2, … (at the end of the sheet), which are read back after 正文. Export
writes every column, a bold frozen header row, dates as date cells and text as text (never as
a formula: text starting with = + - @, a tab or a line break is written after a single quote,
which the import drops again; see kernel.cells).

Guards: at most 5,000 articles per file; a .docx/.xlsx must be a real Word/Excel package
(`[Content_Types].xml` and `word/document.xml` or `xl/workbook.xml`) that unpacks to at most
50 MB, checked from the zip directory before anything is inflated (infra.ooxml). Old
binary .doc/.xls/.wps/.et files get a hint to save them in the new format.
"""

import datetime as dt
import io
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import PurePath
from typing import Any

import docx
import openpyxl
from docx.table import Table
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from infra.ooxml import NotAPackage
from infra.ooxml import check_package
from kb.domain import KIND_LABELS
from kb.domain import ArticleKind
from kb.domain import Validity
from kernel.cells import safe_cell
from kernel.cells import unsafe_cell
from kernel.errors import ValidationError

MAX_ARTICLES = 5000
MAX_PROBLEMS = 50
# Longest value of each field, in characters. All but the body fit in one Excel cell (32,767),
# so an export loses nothing; the body continues over several cells.
MAX_CHARS: dict[str, int] = (
    {"标题": 200, "正文": 100_000}
    | dict.fromkeys(("分类", "单位", "来源"), 200)
    | {"文号": 100}
    | dict.fromkeys(("申请材料", "收费标准", "办理地点", "办理时间"), 5000)
)
MAX_LEVEL_CHARS = 50  # one level of 分类
MAX_TAGS = 20
MAX_TAG_CHARS = 30

EXTENSIONS = (".md", ".markdown", ".txt", ".docx", ".xlsx")  # what read_articles takes

# Chinese name → ArticleRecord attribute, in the export's column order.
FIELDS: dict[str, str] = {
    "标题": "title",
    "正文": "body",
    "类型": "kind",
    "分类": "category",
    "单位": "unit",
    "来源": "source_doc",
    "文号": "doc_number",
    "生效日期": "valid_from",
    "失效日期": "valid_until",
    "复审日期": "review_by",
    "标签": "tags",
    "申请材料": "materials",
    "收费标准": "fees",
    "办理地点": "place",
    "办理时间": "hours",
}
META_KEYS: tuple[str, ...] = tuple(FIELDS)[2:]  # what Markdown and Word carry as `键：值`
_DATE_KEYS = ("生效日期", "失效日期", "复审日期")
_BODY_KEYS = ("正文", *(f"正文续{n}" for n in range(1, 10)))  # Excel: a long body's cells
_CELL_UNITS = 32_767  # Excel's limit on a cell, in UTF-16 code units
_TEXT_KEYS = ("单位", "来源", "文号", "申请材料", "收费标准", "办理地点", "办理时间")

_KINDS: dict[str, ArticleKind] = {label: kind for kind, label in KIND_LABELS.items()} | {
    kind.value: kind for kind in ArticleKind
}
_HEADING = re.compile(r"#(?:[ \t]+(.*))?")  # fullmatch: `#` alone or `# 标题`
_HEADING_LIKE = re.compile(r"\\*#(?:[ \t]|$)")  # a body line that needs (one more) backslash
_ESCAPED_HEADING = re.compile(r"\\+#(?:[ \t]|$)")
_META = re.compile(r"(\w{1,10})[ \t]*[：:][ \t]*(.*)", re.S)  # fullmatch
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_TAG_SPLIT = re.compile(r"[、,，;；\n]")
_LEVEL_SPLIT = re.compile(r"[/／]")
# Characters XML 1.0 cannot hold: Word and Excel files refuse them, so no text keeps them.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary Office, or an encrypted OOXML file

_XLSX_WIDTHS = {"标题": 32, "正文": 80, "分类": 20, "单位": 18, "来源": 28, "文号": 22, "标签": 20}
_XLSX_WIDE = ("申请材料", "收费标准", "办理地点", "办理时间")


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """One article as a file carries it: plain values, nothing resolved against the database."""

    title: str
    body: str
    kind: ArticleKind = ArticleKind.FAQ
    category: str = ""  # catalogue levels joined by "/"; "" = none
    unit: str = ""  # the owning unit's code or name as written; "" = the hotline itself
    source_doc: str = ""  # 来源文件
    doc_number: str = ""  # 文号
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    review_by: dt.date | None = None
    tags: tuple[str, ...] = ()
    materials: str = ""  # 办事指南: 申请材料
    fees: str = ""  # 收费标准
    place: str = ""  # 办理地点
    hours: str = ""  # 办理时间
    # Where the article came from, for messages ("第3行", "第2篇「标题」"); not part of the
    # article, so it takes no part in equality.
    where: str = field(default="", compare=False)


class ImportRefused(ValidationError):
    """A file that cannot be imported as a whole; nothing of it is taken."""

    def __init__(self, problems: Sequence[tuple[str, str]], count: int | None = None) -> None:
        """:param problems: ``(where, message)`` pairs; :param count: all found, if more."""
        total = max(count or 0, len(problems))
        if total == 1:
            where, message = problems[0]
            place = "" if where == "文件" else f"{where}："
            summary = f"{place}{message}，未导入任何内容"
        else:
            summary = f"文件有 {total} 处错误，未导入任何内容"
        super().__init__({"file": summary}, summary)
        self.problems = list(problems[:MAX_PROBLEMS])
        self.details["problems"] = [{"where": w, "message": m} for w, m in self.problems]
        self.details["problem_count"] = total


class _Problems:
    """Collects problems; keeps the first MAX_PROBLEMS and counts the rest."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.count = 0

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append((where, message))

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass(slots=True)
class _Entry:
    """One article as read, before its values are checked: Chinese field name → raw value."""

    where: str
    values: dict[str, object]


_Reader = Callable[[bytes, _Problems], list[_Entry]]


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def read_articles(filename: str, data: bytes) -> list[ArticleRecord]:
    """Read every article of an uploaded file, chosen by its extension.

    :raises ImportRefused: the file cannot be read, or any article in it is malformed.
    """
    problems = _Problems()
    reader = _reader_for(filename, problems)
    entries = reader(data, problems) if reader is not None else []
    records = _records(entries, problems)
    if problems:
        raise ImportRefused(problems.items, problems.count)
    return records


def _reader_for(filename: str, problems: _Problems) -> _Reader | None:
    suffix = PurePath(filename.strip()).suffix.lower()
    if suffix in (".md", ".markdown", ".txt"):
        return _read_markdown
    if suffix == ".docx":
        return _read_docx
    if suffix == ".xlsx":
        return _read_xlsx
    hints = {
        ".doc": "旧版 Word 文件（.doc）无法读取，请在 Word 中“另存为” .docx 后再上传",
        ".wps": "WPS 文字文件（.wps）无法读取，请在 WPS 中“另存为” .docx 后再上传",
        ".xls": "旧版 Excel 文件（.xls）无法读取，请在 Excel 中“另存为” .xlsx 后再上传",
        ".et": "WPS 表格文件（.et）无法读取，请在 WPS 中“另存为” .xlsx 后再上传",
    }
    shown = suffix or "无扩展名"
    problems.add(
        "文件",
        hints.get(suffix, f"不支持的文件类型（{shown}），请上传 .md、.docx 或 .xlsx"),
    )
    return None


def _records(entries: list[_Entry], problems: _Problems) -> list[ArticleRecord]:
    if len(entries) > MAX_ARTICLES:
        problems.add(
            "文件", f"文章超过 {MAX_ARTICLES} 篇（共 {len(entries)} 篇），请分成几个文件导入"
        )
        return []
    records = []
    first_seen: dict[str, str] = {}
    for entry in entries:
        record = _record(entry, problems)
        if record is not None:
            records.append(record)
        title = _title(entry.values.get("标题"))
        if title in first_seen:
            problems.add(entry.where, f"标题「{_short(title)}」与{first_seen[title]}重复")
        elif title:
            first_seen[title] = entry.where
    if not entries and not problems:
        problems.add("文件", "文件里没有文章")
    return records


def _record(entry: _Entry, problems: _Problems) -> ArticleRecord | None:
    """Check and convert one entry's values; report each bad one and return None if any."""
    values = entry.values
    errors: list[str] = []
    title = _title(values.get("标题"))
    if not title:
        errors.append("标题为空")
    body = "".join(_text(values.get(key)) for key in _BODY_KEYS).strip()
    if not body:
        errors.append("正文为空")
    kind = _kind(_text(values.get("类型")).strip(), errors)
    dates = [_date(key, values.get(key), errors) for key in _DATE_KEYS]
    errors.extend(Validity(*dates).problems().values())
    texts = {key: _lines(_text(values.get(key))) for key in _TEXT_KEYS}
    category = _category(_text(values.get("分类")))
    tags = _tags(_text(values.get("标签")))
    sized = {"标题": title, "正文": body, "分类": category} | texts
    errors.extend(_too_long(sized, tags))
    for message in errors:
        problems.add(entry.where, message)
    if errors:
        return None
    valid_from, valid_until, review_by = dates
    return ArticleRecord(
        title=title,
        body=body,
        kind=kind,
        category=category,
        unit=texts["单位"],
        source_doc=texts["来源"],
        doc_number=texts["文号"],
        valid_from=valid_from,
        valid_until=valid_until,
        review_by=review_by,
        tags=tags,
        materials=texts["申请材料"],
        fees=texts["收费标准"],
        place=texts["办理地点"],
        hours=texts["办理时间"],
        where=entry.where,
    )


def _kind(text: str, errors: list[str]) -> ArticleKind:
    if not text:
        return ArticleKind.FAQ
    kind = _KINDS.get(text) or _KINDS.get(text.lower())
    if kind is None:
        errors.append(f"类型「{text}」不认识，可选：{'、'.join(KIND_LABELS.values())}")
        return ArticleKind.FAQ
    return kind


def _date(key: str, value: object, errors: list[str]) -> dt.date | None:
    """Read a date cell or text; None when empty or not a date (then with an error)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value).strip()
    if not text:
        return None
    match = _DATE.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day = (int(part) for part in match.groups())
        return dt.date(year, month, day)  # ValueError for 2025-02-30
    except ValueError:
        errors.append(f"{key}「{_short(text)}」不是有效日期，请写成 2025-01-31 这样")
        return None


def _too_long(texts: Mapping[str, str], tags: tuple[str, ...]) -> Iterator[str]:
    for key, text in texts.items():
        if len(text) > MAX_CHARS[key]:
            yield f"{key}超过 {MAX_CHARS[key]} 字（现有 {len(text)} 字）"
    for level in texts.get("分类", "").split("/"):
        if len(level) > MAX_LEVEL_CHARS:
            yield f"分类「{_short(level)}」超过 {MAX_LEVEL_CHARS} 字"
    if len(tags) > MAX_TAGS:
        yield f"标签超过 {MAX_TAGS} 个（现有 {len(tags)} 个）"
    for tag in tags:
        if len(tag) > MAX_TAG_CHARS:
            yield f"标签「{_short(tag)}」超过 {MAX_TAG_CHARS} 字"


def _text(value: object) -> str:
    """Any cell or line value as text, with newlines normalised and XML-illegal characters gone."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return _NOT_XML.sub("", text)


def _title(value: object) -> str:
    return " ".join(_text(value).split())


def _lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def _category(text: str) -> str:
    levels = (" ".join(level.split()) for level in _LEVEL_SPLIT.split(text))
    return "/".join(level for level in levels if level)


def _tags(text: str) -> tuple[str, ...]:
    tags = (" ".join(tag.split()) for tag in _TAG_SPLIT.split(text))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= 20 else title[:20] + "…"


def _article_where(number: int, title: str) -> str:
    title = _short(title)
    return f"第{number}篇「{title}」" if title else f"第{number}篇"


# -- Markdown ---------------------------------------------------------------


def _read_markdown(data: bytes, problems: _Problems) -> list[_Entry]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        near = data[: exc.start].count(b"\n") + 1
        problems.add(
            "文件",
            f"不是 UTF-8 编码的文本（第{near}行附近），请用记事本等“另存为”UTF-8 编码后再上传",
        )
        return []
    chunks: list[tuple[str, list[tuple[int, str]]]] = []  # (title, [(line number, line)])
    preamble: int | None = None
    for number, line in enumerate(_text(text).split("\n"), 1):
        heading = _HEADING.fullmatch(line)
        if heading is not None:
            chunks.append(((heading.group(1) or "").strip(), []))
        elif chunks:
            chunks[-1][1].append((number, line))
        elif preamble is None and line.strip():
            preamble = number
    if not chunks:
        if preamble is not None:
            problems.add("文件", "没有找到文章：每篇文章以一级标题「# 标题」开头（# 后有空格）")
        return []
    if preamble is not None:
        problems.add(f"第{preamble}行", "第一篇文章之前有内容：每篇文章以一级标题「# 标题」开头")
    entries = []
    for number, (title, lines) in enumerate(chunks, 1):
        where = _article_where(number, title)
        values = _markdown_article(where, lines, problems)
        if title or any(values.values()):  # a stray `#` alone is nothing
            entries.append(_Entry(where, {"标题": title} | values))
    return entries


def _markdown_article(
    where: str, lines: list[tuple[int, str]], problems: _Problems
) -> dict[str, object]:
    values: dict[str, object] = {}
    at = 0
    while at < len(lines) and not lines[at][1].strip():
        at += 1
    if at < len(lines) and _META.fullmatch(lines[at][1]):
        key: str | None = None  # the key a continuation line adds to; None: a rejected key
        while at < len(lines) and lines[at][1].strip():
            number, line = lines[at]
            meta = _META.fullmatch(line)
            if line[0] in " \t\u3000":
                if key is not None:
                    values[key] = f"{values[key]}\n{line}"
            elif meta is None:
                break  # the body follows without a blank line
            else:
                key = _meta_key(meta.group(1), values, f"{where}第{number}行", problems)
                if key is not None:
                    values[key] = meta.group(2)
            at += 1
    body = (_unescape_heading(line) for _, line in lines[at:])
    return {"正文": "\n".join(body)} | values


def _meta_key(key: str, seen: Mapping[str, object], where: str, problems: _Problems) -> str | None:
    """The key if it is a known, first-time field; else report it and return None."""
    if key not in META_KEYS:
        problems.add(
            where,
            f"字段「{key}」不认识，可用的字段：{'、'.join(META_KEYS)}"
            "（若这是正文，请与上面的字段空一行）",
        )
        return None
    if key in seen:
        problems.add(where, f"字段「{key}」写了两次")
        return None
    return key


def _escape_heading(line: str) -> str:
    return "\\" + line if _HEADING_LIKE.match(line) else line


def _unescape_heading(line: str) -> str:
    return line[1:] if _ESCAPED_HEADING.match(line) else line


# -- Word -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Block:
    text: str
    heading: bool = False
    table: bool = False


def _read_docx(data: bytes, problems: _Problems) -> list[_Entry]:
    if not _zip_fits(data, "Word", ".docx", problems):
        return []
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_docx_blocks(document.iter_inner_content()))
    except Exception:  # any failure of the parser on untrusted input means "not a Word file"
        problems.add("文件", "不是有效的 Word（.docx）文件，请用 Word 或 WPS 打开后另存为 .docx")
        return []
    chunks: list[tuple[str, list[_Block]]] = []
    preamble = ""
    for block in blocks:
        if block.heading:
            chunks.append((block.text.strip(), []))
        elif chunks:
            chunks[-1][1].append(block)
        elif not preamble and block.text.strip():
            preamble = block.text.strip()
    if not chunks:
        problems.add("文件", "没有找到文章：每篇文章以“标题 1”（Heading 1）样式的段落开头")
        return []
    if preamble:
        problems.add(
            "文件开头",
            f"第一篇文章之前有内容「{_short(preamble)}」：每篇文章以“标题 1”样式的段落开头",
        )
    entries = []
    for number, (title, article_blocks) in enumerate(chunks, 1):
        where = _article_where(number, title)
        values = _docx_article(where, article_blocks, problems)
        if title or any(values.values()):
            entries.append(_Entry(where, {"标题": title} | values))
    return entries


def _docx_blocks(items: Iterator[Paragraph | Table]) -> Iterator[_Block]:
    for item in items:
        if isinstance(item, Paragraph):
            style = item.style.name if item.style is not None else ""
            heading = (style or "").lower().replace(" ", "") in ("heading1", "标题1")
            yield _Block(item.text, heading=heading)
        else:
            for row in item.rows:
                cells: list[_Cell] = []
                for cell in row.cells:
                    if not cells or cell is not cells[-1]:  # a merged cell repeats itself
                        cells.append(cell)
                line = " | ".join(" ".join(cell.text.split()) for cell in cells)
                yield _Block(line, table=True)


def _docx_article(where: str, blocks: list[_Block], problems: _Problems) -> dict[str, object]:
    values: dict[str, object] = {}
    at = 0
    while at < len(blocks) and not blocks[at].table and not blocks[at].text.strip():
        at += 1
    body_from = at
    unknown: list[str] = []  # keys not (yet) known: the body's start, or typos if a known follows
    while at < len(blocks) and not blocks[at].table:
        meta = _META.fullmatch(blocks[at].text.strip())
        if meta is None:
            break
        key = meta.group(1)
        if key in META_KEYS:
            for typo in unknown:
                _meta_key(typo, values, where, problems)
            unknown.clear()
            if _meta_key(key, values, where, problems) is not None:
                values[key] = meta.group(2)
            body_from = at + 1
        else:
            unknown.append(key)
        at += 1
    body = "\n".join(block.text for block in blocks[body_from:])
    return {"正文": body} | values


# -- Excel ------------------------------------------------------------------


def _read_xlsx(data: bytes, problems: _Problems) -> list[_Entry]:
    if not _zip_fits(data, "Excel", ".xlsx", problems):
        return []
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # any failure of the parser on untrusted input means "not an Excel file"
        problems.add("文件", "不是有效的 Excel（.xlsx）文件，请用 Excel 或 WPS 打开后另存为 .xlsx")
        return []
    try:
        if not workbook.worksheets:
            problems.add("文件", "表格里没有工作表")
            return []
        sheet = workbook.worksheets[0]
        # The stored dimension may be wrong (some tools write "A1"); read what is there.
        sheet.reset_dimensions()
        return _xlsx_rows(sheet.iter_rows(values_only=True), problems)
    except Exception:
        problems.add("文件", "表格内容无法读取，请用 Excel 或 WPS 打开后另存为 .xlsx")
        return []
    finally:
        workbook.close()


def _xlsx_rows(rows: Iterator[tuple[Any, ...]], problems: _Problems) -> list[_Entry]:
    header = next(rows, ())
    columns = _xlsx_header(header, problems)
    if columns is None:
        return []
    entries: list[_Entry] = []
    headerless: set[int] = set()  # columns with values under no header, reported once each
    for number, row in enumerate(rows, 2):
        if all(_blank(value) for value in row):
            continue
        if len(entries) == MAX_ARTICLES:
            problems.add("文件", f"数据超过 {MAX_ARTICLES} 行，请分成几个文件导入")
            break
        for index, value in enumerate(row):
            if index not in columns and not _blank(value) and index not in headerless:
                headerless.add(index)
                problems.add(f"第{number}行", f"{get_column_letter(index + 1)} 列有内容但没有表头")
        values = {
            key: unsafe_cell(row[index]) for index, key in columns.items() if index < len(row)
        }
        entries.append(_Entry(f"第{number}行", values))
    if not entries and not problems:
        problems.add("文件", "表格里没有数据行（第1行是表头，文章从第2行开始）")
    return entries


def _xlsx_header(header: tuple[Any, ...], problems: _Problems) -> dict[int, str] | None:
    """Map column index → field name; None when the rows cannot be read at all."""
    columns: dict[int, str] = {}
    for index, value in enumerate(header):
        name = " ".join(_text(value).split()).strip("*＊ ")
        if not name:
            continue
        letter = get_column_letter(index + 1)
        if name not in FIELDS and name not in _BODY_KEYS:
            problems.add(
                "第1行", f"{letter} 列的表头「{name}」不认识，可用的表头：{'、'.join(FIELDS)}"
            )
        elif name in columns.values():
            problems.add("第1行", f"{letter} 列的表头「{name}」与前面的列重复")
        else:
            columns[index] = name
    missing = [name for name in ("标题", "正文") if name not in columns.values()]
    if not columns:
        problems.add("第1行", f"第1行应是表头：{'、'.join(FIELDS)}")
        return None
    if missing:
        problems.add("第1行", f"缺少必填的列：{'、'.join(missing)}")
        return None
    return columns


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _zip_fits(data: bytes, app: str, suffix: str, problems: _Problems) -> bool:
    """Check the container before a parser inflates it: a zip, and not a zip bomb."""
    if data.startswith(_OLE2):
        problems.add(
            "文件",
            f"不是有效的 {suffix} 文件：可能设置了打开密码，或是改了扩展名的旧版文件；"
            f"请去掉密码或在 {app} 中另存为 {suffix}",
        )
        return False
    try:
        check_package(data, suffix)
    except NotAPackage as exc:
        problems.add("文件", exc.message)
        return False
    return True


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _meta_items(record: ArticleRecord) -> Iterator[tuple[str, str]]:
    """The record's metadata as (key, text) in file order; 类型 always, the rest when set."""
    for key in META_KEYS:
        value = getattr(record, FIELDS[key])
        if key == "类型":
            yield key, KIND_LABELS[record.kind]
        elif key == "标签":
            if value:
                yield key, "、".join(_clean(tag) for tag in value)
        elif isinstance(value, dt.date):
            yield key, value.isoformat()
        elif value:
            yield key, _clean(value)


def _clean(text: str) -> str:
    return _text(text).strip()


def write_markdown(records: Iterable[ArticleRecord]) -> str:
    """Write the records in the Markdown import format."""
    articles = []
    for record in records:
        lines = [f"# {' '.join(_clean(record.title).split())}"]
        for key, value in _meta_items(record):
            first, *more = _lines(value).split("\n")
            lines.append(f"{key}：{first}")
            lines.extend(f"  {line}" for line in more)
        lines.append("")
        lines.extend(_escape_heading(line) for line in _clean(record.body).split("\n"))
        articles.append("\n".join(lines))
    return "\n\n".join(articles) + "\n"


def write_docx(records: Iterable[ArticleRecord]) -> bytes:
    """Write the records as a Word document in the import format."""
    document = docx.Document()
    document.core_properties.author = "12345 热线知识库"
    document.core_properties.title = "知识库文章"
    for record in records:
        document.add_heading(" ".join(_clean(record.title).split()), level=1)
        for key, value in _meta_items(record):
            document.add_paragraph(f"{key}：{_lines(value)}")  # "\n" becomes a line break
        document.add_paragraph()  # ends the metadata even if the body starts like `键：值`
        for line in _clean(record.body).split("\n"):
            document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write_xlsx(records: Iterable[ArticleRecord]) -> bytes:
    """Write the records as an Excel sheet in the import format."""
    rows = [_xlsx_values(record) for record in records]
    overflow = max((len(row) - len(FIELDS) for row in rows), default=0)
    headers = [*FIELDS, *_BODY_KEYS[1 : overflow + 1]]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "知识库"
    bold = Font(bold=True)
    for column, key in enumerate(headers, 1):
        sheet.cell(row=1, column=column, value=key).font = bold
        width = _XLSX_WIDTHS.get(key, 30 if key in _XLSX_WIDE else 12)
        sheet.column_dimensions[get_column_letter(column)].width = width
    for row_number, row in enumerate(rows, 2):
        for column, value in enumerate(row, 1):
            cell = sheet.cell(row=row_number, column=column, value=safe_cell(value))
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, str):
                # A text cell, quoted when it starts like a formula (kernel.cells): stored as
                # text it is not run on opening, and the quote keeps it text when edited.
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_values(record: ArticleRecord) -> list[str | dt.date | None]:
    """The record's cells in column order; a body too long for one cell continues at the end."""
    first, *rest = _cell_chunks(_clean(record.body))
    values: list[str | dt.date | None] = [" ".join(_clean(record.title).split()), first]
    meta = dict(_meta_items(record))
    for key in META_KEYS:
        date = getattr(record, FIELDS[key]) if key in _DATE_KEYS else None
        values.append(date if date is not None else meta.get(key))
    return values + rest


def _cell_chunks(text: str) -> list[str]:
    """Split text into pieces that each fit a cell (Excel counts UTF-16 code units)."""
    chunks = []
    start = units = 0
    for at, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > _CELL_UNITS:
            chunks.append(text[start:at])
            start, units = at, 0
        units += width
    chunks.append(text[start:])
    return chunks
