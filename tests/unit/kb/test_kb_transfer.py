"""Knowledge-base import and export (kb/transfer.py): what a unit's file becomes, and why not."""

import datetime as dt
import io
import zipfile
from collections.abc import Callable
from typing import Any

import docx
import openpyxl
import pytest
from docx.enum.style import WD_STYLE_TYPE

from infra import ooxml
from kb import transfer
from kb.domain import ArticleKind
from kb.transfer import ArticleRecord
from kb.transfer import ImportRefused
from kb.transfer import read_articles
from kb.transfer import write_docx
from kb.transfer import write_markdown
from kb.transfer import write_xlsx

FULL = ArticleRecord(
    title="住房公积金租房提取",
    body="无自有住房且租房自住的职工，可以每年提取一次。\n\n# 这一行不是标题\n\\# 这一行也不是\n"
    "来源：正文里的一行\n  缩进\t和制表符保留",
    kind=ArticleKind.GUIDE,
    category="社会保障/住房公积金",
    unit="住房公积金管理中心",
    source_doc="《江城市住房公积金提取管理办法》",
    doc_number="江政办发〔2024〕12号",
    valid_from=dt.date(2024, 3, 1),
    valid_until=dt.date(2029, 2, 28),
    review_by=dt.date(2027, 3, 1),
    tags=("公积金", "租房", "提取"),
    materials="1. 居民身份证\n2. 租赁合同",
    fees="不收费",
    place="市政务服务中心二楼公积金窗口",
    hours="周一至周五\n9:00-12:00，13:30-17:00",
)
PLAIN = ArticleRecord(title="12345 热线受理哪些事项", body="非紧急的政务服务诉求。")

WRITERS: list[tuple[str, Callable[[list[ArticleRecord]], bytes]]] = [
    ("导出.md", lambda records: write_markdown(records).encode()),
    ("导出.docx", write_docx),
    ("导出.xlsx", write_xlsx),
]


def refused(filename: str, data: bytes) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        read_articles(filename, data)
    return caught.value


def problems(filename: str, data: bytes) -> list[tuple[str, str]]:
    details = refused(filename, data).details["problems"]
    assert isinstance(details, list)
    return [(p["where"], p["message"]) for p in details]


def md(text: str) -> bytes:
    return text.encode()


def xlsx(*rows: tuple[Any, ...]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def word(*blocks: tuple[str, str]) -> bytes:
    """A .docx of ("h", text) headings, ("p", text) paragraphs and ("t", "a|b;c|d") tables."""
    document = docx.Document()
    for kind, text in blocks:
        if kind == "h":
            document.add_heading(text, level=1)
        elif kind == "p":
            document.add_paragraph(text)
        else:
            rows = [row.split("|") for row in text.split(";")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for cells, row in zip(table.rows, rows, strict=True):
                for cell, value in zip(cells.cells, row, strict=True):
                    cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# -- Markdown ---------------------------------------------------------------


def test_markdown_reads_metadata_and_keeps_the_body_as_text() -> None:
    text = (
        "\ufeff\n"
        "# 孩子上小学要带什么材料\n"
        "\n"
        "类型: guide\n"
        "分类： 教育 / 义务教育入学 \n"
        "标签：入学，小学,材料、入学\n"
        "生效日期：2025年3月1日\n"
        "复审日期：2027/3/1\n"
        "申请材料：户口簿\n"
        "  房产证\n"
        "\n"
        "一、报名时间\n"
        "\n"
        "每年 5 月。\n"
        "\n"
        "# 第二篇\n"
        "这是正文，没有字段。\n"
    )
    first, second = read_articles("知识.MD", md(text))
    assert first == ArticleRecord(
        title="孩子上小学要带什么材料",
        body="一、报名时间\n\n每年 5 月。",
        kind=ArticleKind.GUIDE,
        category="教育/义务教育入学",
        tags=("入学", "小学", "材料"),
        valid_from=dt.date(2025, 3, 1),
        review_by=dt.date(2027, 3, 1),
        materials="户口簿\n房产证",
    )
    assert first.where == "第1篇「孩子上小学要带什么材料」"
    assert second == ArticleRecord(title="第二篇", body="这是正文，没有字段。")
    assert second.kind is ArticleKind.FAQ


def test_markdown_body_may_follow_the_metadata_without_a_blank_line() -> None:
    (record,) = read_articles("a.txt", md("# 标题\n类型：话术\n您好，这里是 12345。\n"))
    assert record.kind is ArticleKind.SCRIPT
    assert record.body == "您好，这里是 12345。"


def test_markdown_ignores_blank_text_before_the_first_heading_and_level_two_headings() -> None:
    (record,) = read_articles("a.markdown", md("\n  \n# 标题\n\n## 小节\n内容\n"))
    assert record.body == "## 小节\n内容"


def test_markdown_refuses_text_before_the_first_heading() -> None:
    assert problems("a.md", md("说明文字\n\n# 标题\n正文\n")) == [
        ("第1行", "第一篇文章之前有内容：每篇文章以一级标题「# 标题」开头")
    ]


def test_markdown_without_any_heading_is_refused() -> None:
    ((where, message),) = problems("a.md", md("#标题没有空格\n正文\n"))
    assert where == "文件"
    assert "「# 标题」" in message


def test_markdown_refuses_an_unknown_or_repeated_key_in_the_metadata() -> None:
    text = "# 标题\n类型：办事指南\n来原：《办法》\n类型：常见问题\n\n正文\n"
    found = problems("a.md", md(text))
    assert [where for where, _ in found] == ["第1篇「标题」第3行", "第1篇「标题」第4行"]
    assert found[0][1].startswith("字段「来原」不认识")
    assert found[1][1] == "字段「类型」写了两次"


def test_markdown_that_is_not_utf8_is_refused() -> None:
    ((where, message),) = problems("a.md", "# 标题\n正文\n".encode("gbk"))
    assert where == "文件"
    assert "不是 UTF-8 编码" in message and "第1行附近" in message


# -- Word -------------------------------------------------------------------


def test_word_reads_headings_metadata_paragraphs_and_tables() -> None:
    data = word(
        ("p", ""),
        ("h", "社保卡补办"),
        ("p", ""),
        ("p", "类型：办事指南"),
        ("p", "办理地点：各区政务服务中心"),
        ("p", "社保卡丢失后先挂失。"),
        ("t", "渠道|时限;窗口|即时"),
        ("p", "温馨提示：带身份证。"),
        ("h", "噪音扰民怎么办"),
        ("p", "提示：夜间噪音可报警。"),
    )
    first, second = read_articles("guide.docx", data)
    assert first == ArticleRecord(
        title="社保卡补办",
        body="社保卡丢失后先挂失。\n渠道 | 时限\n窗口 | 即时\n温馨提示：带身份证。",
        kind=ArticleKind.GUIDE,
        place="各区政务服务中心",
    )
    assert first.where == "第1篇「社保卡补办」"
    # an unknown key with no known key after it is where the body starts
    assert second.body == "提示：夜间噪音可报警。"


def test_word_accepts_the_chinese_heading_style_name() -> None:
    document = docx.Document()
    document.styles.add_style("标题 1", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("居住证办理", style="标题 1")
    document.add_paragraph("类型：常见问题")
    document.add_paragraph("到居住地派出所申领。")
    out = io.BytesIO()
    document.save(out)
    (record,) = read_articles("a.docx", out.getvalue())
    assert (record.title, record.body) == ("居住证办理", "到居住地派出所申领。")


def test_word_refuses_an_unknown_key_followed_by_known_ones() -> None:
    data = word(("h", "标题"), ("p", "来原：《办法》"), ("p", "文号：某号"), ("p", "正文"))
    ((where, message),) = problems("a.docx", data)
    assert where == "第1篇「标题」"
    assert message.startswith("字段「来原」不认识")


def test_word_refuses_text_before_the_first_heading_and_a_file_without_headings() -> None:
    ((where, message),) = problems("a.docx", word(("p", "封面"), ("h", "标题"), ("p", "正文")))
    assert where == "文件开头"
    assert "「封面」" in message
    ((where, message),) = problems("a.docx", word(("p", "只有正文")))
    assert "标题 1" in message


# -- Excel ------------------------------------------------------------------


def test_excel_reads_columns_in_any_order_and_skips_empty_rows() -> None:
    data = xlsx(
        ("正文*", "生效日期", "标题 *", "类型", "标签", "文号"),
        ("可在线办理。", dt.datetime(2025, 1, 2), "营业执照怎么办", "办事指南", "执照, 个体户", 12),
        (None, None, "  ", None, None, None),
        ("拨打 12315。", "2025-02-03", "消费投诉打哪个电话", None, None, None),
    )
    first, second = read_articles("a.xlsx", data)
    assert first == ArticleRecord(
        title="营业执照怎么办",
        body="可在线办理。",
        kind=ArticleKind.GUIDE,
        valid_from=dt.date(2025, 1, 2),
        tags=("执照", "个体户"),
        doc_number="12",
    )
    assert (first.where, second.where) == ("第2行", "第4行")
    assert second.valid_from == dt.date(2025, 2, 3)


def test_excel_header_problems_are_all_reported() -> None:
    data = xlsx(("标题", "内容", "标题", None, "备注"), ("a", "b", "c", "d", "e"))
    found = problems("a.xlsx", data)
    assert ("第1行", "C 列的表头「标题」与前面的列重复") in found
    assert any(w == "第1行" and m.startswith("B 列的表头「内容」不认识") for w, m in found)
    assert any(w == "第1行" and m.startswith("E 列的表头「备注」不认识") for w, m in found)
    assert ("第1行", "缺少必填的列：正文") in found


def test_excel_values_under_no_header_are_refused() -> None:
    data = xlsx(("标题", "正文"), ("a", "b", "备注"), ("c", "d", "又一条"))
    assert problems("a.xlsx", data) == [("第2行", "C 列有内容但没有表头")]


def test_excel_with_only_a_header_row_is_refused() -> None:
    ((where, message),) = problems("a.xlsx", xlsx(("标题", "正文")))
    assert where == "文件" and "没有数据行" in message
    ((where, message),) = problems("a.xlsx", xlsx())
    assert where == "第1行" and "表头" in message


def test_excel_with_more_than_5000_rows_is_refused() -> None:
    rows = [(f"标题{n}", "正文") for n in range(5001)]
    ((where, message),) = problems("a.xlsx", xlsx(("标题", "正文"), *rows))
    assert (where, message) == ("文件", "数据超过 5000 行，请分成几个文件导入")


def test_excel_export_writes_text_never_formulas_and_a_bold_header() -> None:
    record = ArticleRecord(title='=HYPERLINK("http://x")', body="=1+1")
    workbook = openpyxl.load_workbook(io.BytesIO(write_xlsx([record])))
    sheet = workbook.active
    assert [cell.value for cell in sheet[1]] == list(transfer.FIELDS)
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet["A2"].data_type == "s" and sheet["B2"].data_type == "s"
    assert read_articles("a.xlsx", write_xlsx([record])) == [record]


def test_excel_export_continues_a_body_longer_than_a_cell() -> None:
    record = ArticleRecord(title="长文", body="政" * 40_000 + "😀" * 20_000)
    data = write_xlsx([record, PLAIN])
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    headers = [cell.value for cell in sheet[1]]
    assert headers[len(transfer.FIELDS) :] == ["正文续1", "正文续2"]  # 80,000 UTF-16 units
    pieces = [sheet.cell(row=2, column=headers.index(h) + 1).value for h in ("正文", "正文续1")]
    assert [len(piece.encode("utf-16-le")) // 2 for piece in pieces] == [32_767, 32_767]
    assert read_articles("a.xlsx", data) == [record, PLAIN]


# -- Round trips ------------------------------------------------------------


@pytest.mark.parametrize(("filename", "write"), WRITERS)
def test_export_reads_back_to_the_same_records(
    filename: str, write: Callable[[list[ArticleRecord]], bytes]
) -> None:
    records = [FULL, PLAIN, ArticleRecord(title="话术", body="您好", kind=ArticleKind.SCRIPT)]
    assert read_articles(filename, write(records)) == records


@pytest.mark.parametrize(("filename", "write"), WRITERS)
def test_export_of_nothing_is_refused_on_import(
    filename: str, write: Callable[[list[ArticleRecord]], bytes]
) -> None:
    ((where, _),) = problems(filename, write([]))
    assert where == "文件"


# -- Problems ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("类型：通知", "类型「通知」不认识，可选：政策法规、办事指南、常见问题、话术"),
        ("生效日期：明年", "生效日期「明年」不是有效日期，请写成 2025-01-31 这样"),
        ("失效日期：2025-02-30", "失效日期「2025-02-30」不是有效日期，请写成 2025-01-31 这样"),
        ("生效日期：2025-06-01\n失效日期：2025-01-01", "失效日期不能早于生效日期"),
        ("生效日期：2025-06-01\n复审日期：2025-01-01", "复审日期不能早于生效日期"),
        ("标签：" + "长" * 31, "标签「" + "长" * 20 + "…」超过 30 字"),
        ("文号：" + "号" * 101, "文号超过 100 字（现有 101 字）"),
        ("分类：政务/" + "类" * 51, "分类「" + "类" * 20 + "…」超过 50 字"),
        ("申请材料：" + "材" * 5001, "申请材料超过 5000 字（现有 5001 字）"),
    ],
)
def test_a_bad_value_is_refused_with_its_article(value: str, message: str) -> None:
    assert problems("a.md", md(f"# 标题\n{value}\n\n正文\n")) == [("第1篇「标题」", message)]


def test_empty_titles_and_bodies_are_refused_in_every_format() -> None:
    assert problems("a.md", md("# 标题\n类型：话术\n\n#\n正文\n")) == [
        ("第1篇「标题」", "正文为空"),
        ("第2篇", "标题为空"),
    ]
    assert problems("a.docx", word(("h", "标题"), ("h", " "), ("p", "正文"))) == [
        ("第1篇「标题」", "正文为空"),
        ("第2篇", "标题为空"),
    ]
    assert problems("a.xlsx", xlsx(("标题", "正文"), ("标题", None), (None, "正文"))) == [
        ("第2行", "正文为空"),
        ("第3行", "标题为空"),
    ]


def test_a_title_over_200_characters_is_refused() -> None:
    title = "长" * 201
    ((where, message),) = problems("a.xlsx", xlsx(("标题", "正文"), (title, "正文")))
    assert (where, message) == ("第2行", "标题超过 200 字（现有 201 字）")


def test_duplicate_titles_name_both_places() -> None:
    data = xlsx(("标题", "正文"), ("社保卡补办", "a"), ("其他", "b"), (" 社保卡补办 ", "c"))
    assert problems("a.xlsx", data) == [("第4行", "标题「社保卡补办」与第2行重复")]


def test_more_than_5000_articles_are_refused() -> None:
    text = "".join(f"# 标题{n}\n正文\n" for n in range(5001))
    ((where, message),) = problems("a.md", md(text))
    assert where == "文件"
    assert message == "文章超过 5000 篇（共 5001 篇），请分成几个文件导入"


@pytest.mark.parametrize(
    ("filename", "hint"),
    [
        ("a.pdf", "不支持的文件类型（.pdf），请上传 .md、.docx 或 .xlsx"),
        ("README", "不支持的文件类型（无扩展名），请上传 .md、.docx 或 .xlsx"),
        ("旧.doc", "旧版 Word 文件（.doc）无法读取，请在 Word 中“另存为” .docx 后再上传"),
        ("旧.XLS", "旧版 Excel 文件（.xls）无法读取，请在 Excel 中“另存为” .xlsx 后再上传"),
    ],
)
def test_other_file_types_are_refused_with_a_hint(filename: str, hint: str) -> None:
    error = refused(filename, b"anything")
    assert error.details["problems"] == [{"where": "文件", "message": hint}]
    assert error.message == f"{hint}，未导入任何内容"
    assert error.details["fields"] == {"file": error.message}


@pytest.mark.parametrize("filename", ["a.docx", "a.xlsx"])
def test_a_file_that_is_not_office_open_xml_is_refused(filename: str) -> None:
    ((where, message),) = problems(filename, b"# just text")
    assert where == "文件" and message.startswith("不是有效的")
    ((_, message),) = problems(filename, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    assert "打开密码" in message
    other = write_xlsx([PLAIN]) if filename.endswith(".docx") else write_docx([PLAIN])
    ((_, message),) = problems(filename, other)  # a zip, but the other format
    assert message.startswith("不是有效的")


@pytest.mark.parametrize("filename", ["a.docx", "a.xlsx"])
def test_a_zip_that_unpacks_too_large_is_refused_before_it_is_opened(filename: str) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", bytes(ooxml.MAX_UNPACKED_BYTES + 1))
    data = out.getvalue()
    assert len(data) < 100_000
    assert problems(filename, data) == [("文件", "文件解压后超过 50 MB，请拆分或压缩图片后再上传")]


def test_several_problems_are_reported_together() -> None:
    data = xlsx(
        ("标题", "正文", "类型", "生效日期"),
        ("甲", "正文", "通知", None),
        ("乙", None, None, "2025-13-01"),
        ("甲", "正文", None, None),
    )
    error = refused("a.xlsx", data)
    assert error.message == "文件有 4 处错误，未导入任何内容"
    assert error.details["problem_count"] == 4
    assert error.details["problems"] == [
        {
            "where": "第2行",
            "message": "类型「通知」不认识，可选：政策法规、办事指南、常见问题、话术",
        },
        {"where": "第3行", "message": "正文为空"},
        {"where": "第3行", "message": "生效日期「2025-13-01」不是有效日期，请写成 2025-01-31 这样"},
        {"where": "第4行", "message": "标题「甲」与第2行重复"},
    ]


def test_problems_are_capped_at_50_but_all_counted() -> None:
    text = "".join(f"# 标题{n}\n类型：通知\n\n正文\n" for n in range(60))
    error = refused("a.md", md(text))
    assert error.message == "文件有 60 处错误，未导入任何内容"
    assert error.details["problem_count"] == 60
    shown = error.details["problems"]
    assert isinstance(shown, list) and len(shown) == 50
    assert shown[-1]["where"] == "第50篇「标题49」"
