"""The journeys' English-word rule, on its own (no demo, no browser)."""

from tests.journeys.watch import english_words


def test_numbers_codes_and_seat_names_are_not_words() -> None:
    text = "工单 JC202612060000042 督办单DB202612060000215H 坐席 s01 模型 v2 Open311 接口"
    assert english_words(text) == []


def test_file_formats_sizes_and_key_caps_are_allowed() -> None:
    text = "下载 PDF 下载 DOCX 导出 Excel 现场.jpg 12.5 KB 不超过 10 MB（JPG/PNG/XLSX）"
    text += "Alt+S 提交 · 按 Enter 接听"
    assert english_words(text) == []


def test_english_words_are_found_once_each_in_order() -> None:
    text = "Submit 提交 · API 令牌 · 12 ms · submit again · docs/open311.md"
    assert english_words(text) == ["Submit", "API", "ms", "submit", "again", "docs", "md"]


def test_a_page_may_allow_its_own_data_and_mail_addresses_are_data() -> None:
    assert english_words("liaison-zjj 住建局联络员", allow=["liaison-zjj"]) == []
    assert english_words("联系方式 app@example.gov.cn 渠道 APP 周报（HTML、PDF）") == []
