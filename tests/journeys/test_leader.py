"""The leader reads the dashboard and the reports, and takes the weekly brief (PDF, DOCX)
and the KPIs (Excel) away."""

import io
import zipfile
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.journeys.conftest import Journey

BUILD_MS = 120_000  # a brief (charts, PDF, DOCX) on the demo's 300 tickets, on 2 busy cores


def download(page: Any, link: Any) -> bytes:
    with page.expect_download(timeout=BUILD_MS) as info:
        link.click()
    return Path(info.value.path()).read_bytes()


def test_the_leader_downloads_the_weekly_brief_and_the_kpis(journey: Journey) -> None:
    page = journey.sign_in("leader1")
    journey.seen(page, "dashboard")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="报表").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("考核指标")
    journey.seen(page, "reports-kpis")

    def figures_behind(key: str) -> None:
        """The demo's history has what the KPI counts: its part and whole are not empty."""
        row = page.locator(f'#kpi-table tr[data-kpi="{key}"]')
        part, whole = row.locator(".part").inner_text(), row.locator(".whole").inner_text()
        assert part.isdigit() and int(part) > 0, f"{key}: {part} of {whole}"
        assert whole.isdigit() and int(whole) >= int(part), f"{key}: {part} of {whole}"

    # A leader opening the demo sees contacts (响应率) and calls (接通率), not empty figures.
    journey.soft("the demo's 响应率 rests on contacts", lambda: figures_behind("response_rate"))
    journey.soft("the demo's 接通率 rests on calls", lambda: figures_behind("answer_rate"))

    def kpi_workbook() -> None:
        data = download(page, page.get_by_role("link", name="导出 Excel"))
        book = load_workbook(io.BytesIO(data))
        rows = [r for ws in book.worksheets for r in ws.iter_rows(values_only=True)]
        figures = [
            c for r in rows for c in r if isinstance(c, int | float) and not isinstance(c, bool)
        ]
        assert figures, f"the KPI workbook has no figures (sheets {book.sheetnames})"
        assert "满意率" in {c for r in rows for c in r}, "no 满意率 column in the KPI workbook"

    journey.soft("the KPIs download as an Excel workbook of figures", kpi_workbook)

    page.get_by_role("navigation", name="报表").get_by_role("link", name="周报").click()
    brief = page.locator("#brief article.brief")
    expect(brief).to_be_visible(timeout=BUILD_MS)
    expect(brief).to_contain_text("周报")
    journey.seen(page, "reports-brief")

    def brief_pdf() -> None:
        data = download(page, page.get_by_role("link", name="下载 PDF"))
        assert data.startswith(b"%PDF-"), data[:40]
        text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
        assert "周报" in text, text[:200]

    def brief_docx() -> None:
        data = download(page, page.get_by_role("link", name="下载 DOCX"))
        assert data.startswith(b"PK"), data[:40]
        with zipfile.ZipFile(io.BytesIO(data)) as docx:
            body = docx.read("word/document.xml").decode("utf-8")
        assert "周报" in body, "no 周报 in the DOCX"

    journey.soft("the weekly brief downloads as PDF", brief_pdf)
    journey.soft("the weekly brief downloads as DOCX", brief_docx)
    journey.seen(page, "reports-brief-downloaded")
    journey.assert_clean()
