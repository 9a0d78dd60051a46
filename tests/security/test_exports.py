"""Formula injection (issue 17, finding 5): no export hands a spreadsheet a formula to run.

The attack: a citizen types ``=HYPERLINK("http://evil.example","x")`` as the title on the
public form; a team lead exports the ticket list and opens it beside columns of unmasked
phone numbers. The same goes for names an admin or a unit writes (a unit's name in the KPI
and ranking sheets, a knowledge article's title in the KB export).
"""

import io
import re
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from hotline.bootstrap import Container
from infra.models import Unit
from kb.transfer import read_articles
from kernel.cells import safe_cell
from kernel.cells import unsafe_cell
from tests.conftest import Api
from tests.conftest import World

pytestmark = pytest.mark.redis

EVIL = '=HYPERLINK("http://evil.example","x")'
PAYLOADS = (EVIL, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=2+2", "＝3+3")


def _formulas(xlsx: bytes) -> list[tuple[str, Any]]:
    """Every cell a spreadsheet would run: stored as a formula, or text starting with =."""
    found = []
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                text = cell.value
                starts = isinstance(text, str) and text.startswith(("=", "+", "-", "@", "\t", "\r"))
                if cell.data_type == "f" or starts:
                    found.append((f"{sheet.title}!{cell.coordinate}", text))
    return found


def _cells(xlsx: bytes) -> list[Any]:
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    return [c.value for s in book.worksheets for row in s.iter_rows() for c in row]


@pytest.fixture
def redis_db(real_redis: Any) -> Iterator[Any]:
    yield real_redis


def _submit_public_form(client: FlaskClient, title: str) -> None:
    html = client.get("/intake").get_data(as_text=True)
    hidden = dict(
        re.findall(r'<input type="hidden" name="(csrf|form_token)" value="([^"]*)"', html)
    )
    resp = client.post(
        "/intake",
        data={
            **hidden,
            "description": "楼下每天晚上有人摆摊占道经营，影响通行",
            "title": title,
            "address": "",
            "latitude": "",
            "longitude": "",
            "name": "",
            "phone": "",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_a_public_form_title_is_no_formula_in_the_ticket_export(
    api: Api, world: World, redis_db: Any
) -> None:
    _submit_public_form(api.client, EVIL)
    api.create(title="+1+cmd|' /C calc'!A0", caller_phone="13812345678")
    resp = api.get("/api/reports/tickets.xlsx", as_="lead")
    assert resp.status_code == 200
    assert _formulas(resp.data) == []
    cells = _cells(resp.data)
    assert "'" + EVIL in cells  # the text is kept, shown as text
    assert "'+1+cmd|' /C calc'!A0" in cells


def test_unit_names_are_no_formulas_in_the_kpi_and_ranking_exports(
    api: Api, world: World, container: Container, redis_db: Any
) -> None:
    with container.uow() as uow:
        uow.session.execute(
            sa.update(Unit).where(Unit.id == world.units["zjj"]).values(name="@SUM(1,2)")
        )
        uow.commit()
    api.dispatched("zjj")
    kpis = api.get(
        "/api/reports/kpis?from=2026-11-01&to=2026-11-30&by=unit&format=xlsx", as_="leader"
    )
    ranking = api.get("/api/reports/ranking?period=month&month=2026-11&format=xlsx", as_="leader")
    for resp in (kpis, ranking):
        assert resp.status_code == 200
        assert _formulas(resp.data) == []
    assert "'@SUM(1,2)" in _cells(kpis.data)
    assert "'@SUM(1,2)" in _cells(ranking.data)


def test_a_knowledge_article_title_is_no_formula_in_the_kb_export_and_reads_back(
    api: Api, world: World, redis_db: Any
) -> None:
    for n, payload in enumerate(PAYLOADS):
        body = {"title": payload.strip() or f"t{n}", "body": f"正文 {payload}", "kind": "faq"}
        assert api.post("/api/kb/articles", body, as_="admin").status_code == 201
    resp = api.get("/api/kb/export?format=xlsx", as_="admin")
    assert resp.status_code == 200
    assert _formulas(resp.data) == []
    titles = {r.title for r in read_articles("x.xlsx", resp.data)}
    assert titles == {p.strip() for p in PAYLOADS}  # the import drops the added quote


@pytest.mark.parametrize("text", [*PAYLOADS, "'", "'=1", "''", "plain", "", "12345"])
def test_safe_cell_round_trips(text: str) -> None:
    assert unsafe_cell(safe_cell(text)) == text
    assert not str(safe_cell(text)).startswith(("=", "+", "-", "@", "\t", "\r"))
