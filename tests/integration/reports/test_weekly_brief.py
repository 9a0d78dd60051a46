"""The weekly brief (周报): its numbers are the KPI API's, it renders Chinese in every format,
it is kept by the API, the job and the command line, and bad weeks get a clear error.

Week 2026-W47 (16–22 Nov); the tests' clock starts on its Monday at 10:00.
"""

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from docx import Document
from pypdf import PdfReader

from hotline.bootstrap import Container
from reports.brief import weekly
from reports.models import WeeklyBrief
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World
from tests.integration.hotline.test_cli import run

MONDAY = dt.date(2026, 11, 16)


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def week(api: Api, clock: Clock, world: World) -> dict[str, int]:
    """Three noise complaints at one place, a resolved enquiry, a late and a dissatisfied case."""
    ids: dict[str, int] = {}
    for i in range(3):
        clock.set(at(16 + i, 10))
        t = api.dispatched(
            "cgj",
            title="翠屏花园工地夜间施工噪音扰民",
            content="翠屏花园旁工地每天夜间施工，噪音很大，影响休息",
        )
        ids[f"noise{i}"] = t["id"]
    clock.set(at(17, 11))
    ids["enquiry"] = api.create(request_type="enquiry", title="公积金怎么提取")["id"]
    api.act(ids["enquiry"], "resolve_directly", {"answer": "按规定提交材料即可"})
    api.act(ids["noise0"], "sign", as_="cgj")
    clock.set(at(18, 10))
    api.act(ids["noise0"], "reply", {"text": "已责令工地夜间停工"}, as_="cgj")
    api.act(ids["noise0"], "review", {"approve": True}, as_="lead")
    api.act(
        ids["noise0"],
        "follow_up",
        {"reached": True, "solved": False, "satisfaction": "dissatisfied", "note": "夜里还在施工"},
        as_="lead",
    )
    api.act(ids["noise0"], "close", as_="lead")
    clock.set(at(23, 9))
    return ids


def sources(container: Container) -> weekly.Sources:
    return weekly.Sources(uow=container.uow, ctx=container.dispatch, settings=container.settings)


def test_the_brief_numbers_are_the_kpi_api_numbers(
    week: dict[str, int], api: Api, container: Container
) -> None:
    brief = weekly.gather(sources(container), MONDAY)
    body = api.get("/api/reports/kpis?from=2026-11-16&to=2026-11-22", as_="leader").get_json()
    for line in brief.kpis:
        assert line.now == body[line.name], line.name
        assert (line.part, line.whole) == tuple(body["counts"][line.name].values()), line.name
    assert brief.accepted.now == body["totals"]["accepted"] == 4
    assert brief.dispatched.now == 3
    assert [c.name for c in brief.categories][:1] and brief.week == "2026-W47"
    cgj = next(u for u in brief.units if u.unit == "城市管理局")
    assert cgj.satisfaction_rate == 0 and cgj.below_floor
    assert brief.below_floor == ["城市管理局（样本不足，有效回访1件）"]
    assert any("城市管理局" in s for s in brief.headline)
    assert any(c.ticket_id == week["noise0"] and "不满意" in c.why for c in brief.cases)
    assert brief.topics.topics and brief.topics.topics[0].count == 3


def test_the_pdf_and_docx_carry_the_chinese_text_and_numbers(
    week: dict[str, int], container: Container
) -> None:
    pdf = weekly.build(sources(container), MONDAY, "pdf")
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = "".join(text.split())
    assert "工作周报" in flat and "2026年第47周" in flat
    assert "共受理群众诉求4件" in flat
    assert "城市管理局" in flat and "噪音" in flat
    document = Document(io.BytesIO(weekly.build(sources(container), MONDAY, "docx")))
    words = "\n".join(p.text for p in document.paragraphs)
    cells = "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    assert "共受理群众诉求4件" in words.replace(" ", "")
    assert "城市管理局" in cells


def test_briefs_are_kept_and_downloaded_through_the_api(week: dict[str, int], api: Api) -> None:
    made = api.post("/api/reports/briefs", {"week": "2026-W47"}, as_="leader")
    assert made.status_code == 201, made.get_json()
    items = made.get_json()["items"]
    assert {i["format"] for i in items} == {"html", "pdf", "docx"}
    listed = api.get("/api/reports/briefs?week=2026-W47", as_="supervisor").get_json()["items"]
    assert {i["id"] for i in listed} == {i["id"] for i in items}
    pdf = next(i for i in items if i["format"] == "pdf")
    got = api.get(f"/api/reports/briefs/{pdf['id']}", as_="leader")
    assert got.status_code == 200 and got.data.startswith(b"%PDF")
    assert got.headers["Content-Type"] == "application/pdf"
    assert api.post("/api/reports/briefs", {"week": "2026-W47"}, as_="operator").status_code == 403
    assert api.get("/api/reports/briefs/99999", as_="leader").status_code == 404
    html = api.get("/api/reports/brief?week=2026-W47&format=html", as_="leader")
    assert "工作周报" in html.get_data(as_text=True)


@pytest.mark.parametrize(
    ("body", "field"),
    [({"week": "2026-W60"}, "week"), ({"week": "abc"}, "week"), ({}, "week"), ([], "body")],
)
def test_a_bad_week_gets_a_clear_error(api: Api, world: World, body: Any, field: str) -> None:
    resp = api.post("/api/reports/briefs", body, as_="leader")
    assert resp.status_code == 422
    assert field in resp.get_json()["details"]["fields"]
    bad = api.get("/api/reports/brief?week=2026-W60&format=pdf", as_="leader")
    assert bad.status_code == 422 and "周次不存在" in bad.get_json()["details"]["fields"]["week"]
    fmt = api.get("/api/reports/brief?week=2026-W47&format=xls", as_="leader")
    assert fmt.status_code == 422


def test_the_command_line_writes_a_brief(week: dict[str, int], db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "brief.docx"
    result = run(
        db_url, "report", "weekly", "--week", "2026-W47", "--format", "docx", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "2026-W47" in result.output
    assert "城市管理局" in "".join(
        c.text for t in Document(str(out)).tables for row in t.rows for c in row.cells
    )
    bad = run(db_url, "report", "weekly", "--week", "2026-W60", "--out", str(out))
    assert bad.exit_code != 0 and "周次不存在" in bad.output
    missing = run(
        db_url, "report", "weekly", "--week", "2026-W47", "--out", str(tmp_path / "no" / "x.pdf")
    )
    assert missing.exit_code != 0 and "无法写入" in missing.output


def test_the_monday_job_keeps_last_weeks_brief(
    week: dict[str, int], db_url: str, monkeypatch: pytest.MonkeyPatch, container: Container
) -> None:
    from reports.jobs import build_weekly_brief

    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)
    kept = build_weekly_brief("2026-W47")
    assert {k["format"] for k in kept} == {"html", "pdf", "docx"}
    assert {k["trigger"] for k in kept} == {"schedule"}
    assert weekly.latest(container.uow(), "2026-W47")


def test_a_case_in_the_brief_carries_no_callers_name_or_number(
    api: Api, clock: Clock, world: World, container: Container
) -> None:
    """A brief travels as a PDF: the caller's name and number written into the text stay out."""
    for day in (16, 17, 18):  # three alike: a hot topic too
        clock.set(at(day, 10))
        t = api.dispatched(
            "cgj",
            title="张三反映翠屏花园工地夜间施工噪音，电话13812345678",
            content="张三说翠屏花园工地每天夜间施工，噪音很大",
        )
    api.act(t["id"], "sign", as_="cgj")
    api.act(t["id"], "reply", {"text": "已责令停工，已告知张先生"}, as_="cgj")
    api.act(t["id"], "review", {"approve": True}, as_="lead")
    api.act(
        t["id"],
        "follow_up",
        {
            "reached": True,
            "solved": False,
            "satisfaction": "dissatisfied",
            "note": "张三说还在施工",
        },
        as_="lead",
    )
    clock.set(at(23, 9))

    brief = weekly.gather(sources(container), MONDAY)

    case = next(c for c in brief.cases if c.ticket_id == t["id"])
    shown = case.title + case.summary
    assert "张三" not in shown and "13812345678" not in shown and "张先生" not in shown
    assert case.title.startswith("某某反映翠屏花园工地")
    topics = api.get("/api/reports/topics?week=2026-W47", as_="leader").get_json()
    titles = [e["title"] for topic in topics["topics"] for e in topic["examples"]]
    assert titles and not any("张三" in title or "13812345678" in title for title in titles)


def test_the_monday_job_run_twice_keeps_one_brief(
    week: dict[str, int], db_url: str, monkeypatch: pytest.MonkeyPatch, container: Container
) -> None:
    """A retried or doubled Monday job (issue 18, item 3) adds no second set of rows."""
    from reports.jobs import build_weekly_brief

    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)
    first = build_weekly_brief("2026-W47")
    again = build_weekly_brief("2026-W47")

    assert sorted(k["id"] for k in again) == sorted(k["id"] for k in first)
    with container.uow() as uow:
        rows = uow.session.scalars(sa.select(WeeklyBrief).where(WeeklyBrief.week == "2026-W47"))
        assert sorted(r.format for r in rows) == ["docx", "html", "pdf"]


def test_a_lost_monday_brief_is_caught_up_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch, container: Container, world: World
) -> None:
    """The Monday job was lost: the catch-up builds last week's brief, and only once."""
    from reports.jobs import catch_up_weekly_brief

    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)
    monkeypatch.setenv("HOTLINE_REPORTS__BRIEF_CRON", "0 7 * * 1")
    kept = catch_up_weekly_brief()
    again = catch_up_weekly_brief()

    assert {k["format"] for k in kept} == {"html", "pdf", "docx"}
    assert sorted(k["id"] for k in again) == sorted(k["id"] for k in kept)
    # Last week as of the latest Monday 07:00 (Shanghai) that has passed.
    now = dt.datetime.now(SHANGHAI)
    back = now.weekday() if (now.weekday() > 0 or now.hour >= 7) else 7
    iso = (now.date() - dt.timedelta(days=back + 7)).isocalendar()
    assert {k["week"] for k in kept} == {f"{iso.year}-W{iso.week:02d}"}
