"""The report pages (报表), the ticket list's export, system supervision and unit heads, in a
real browser. The week's data is tests/integration/reports/test_reports_pages.py's `Week`."""

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from dispatch.supervision.sweep import sweep
from hotline.bootstrap import Container
from kernel.worktime import Duration
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World
from tests.e2e.conftest import shot
from tests.integration.reports.test_reports_pages import NOISE_TITLE
from tests.integration.reports.test_reports_pages import Week
from tests.integration.reports.test_reports_pages import at

pytestmark = pytest.mark.slow
Open = Callable[[str], Any]
# Building a brief (charts, PDF, DOCX) takes a few seconds.
SLOW_MS = 60_000


def sheet_rows(path: Path, sheet: str | None = None) -> list[tuple[Any, ...]]:
    # Downloads are kept without their name: openpyxl wants a file object then.
    book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    ws = book[sheet] if sheet else book.worksheets[0]
    return list(ws.iter_rows(values_only=True))


def download(page: Any, link: Any) -> Path:
    with page.expect_download(timeout=SLOW_MS) as info:
        link.click()
    return Path(info.value.path())


def test_leader_reads_the_kpis_groups_them_by_unit_and_exports_them(
    signed_in: Open, api: Api, clock: Clock, world: World
) -> None:
    Week(api, clock, world).build()
    page = signed_in("leader")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="报表").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("考核指标")

    page.get_by_label("开始日期").fill("2026-11-16")
    page.get_by_label("结束日期").fill("2026-11-22")
    page.get_by_role("button", name="查询").click()

    row = page.locator('#kpi-table tr[data-kpi="on_time_reply_rate"]')
    expect(row.get_by_role("rowheader")).to_have_text("按时办结率")
    expect(row.locator(".value")).to_have_text("75.0%")
    expect(row.locator(".part")).to_have_text("3")
    expect(row.locator(".whole")).to_have_text("4")
    expect(row.locator(".formula")).to_have_text("按时回复量 ÷ 到期量（回复时限在期内且已到）")

    page.get_by_label("分组").select_option(label="按承办单位")
    page.get_by_role("button", name="查询").click()
    unit_row = page.locator("#group-table tbody tr", has_text="城市管理局")
    expect(unit_row.locator('[data-kpi="on_time_reply_rate"]')).to_have_text("100.0%")
    expect(unit_row.locator('[data-kpi="satisfaction_rate"]')).to_have_text("50.0%")
    shot(page, "reports-kpis")

    path = download(page, page.get_by_role("link", name="导出 Excel"))
    rows = sheet_rows(path, "指标")
    header, total = rows[1], rows[2]
    column = header.index("按时办结率")
    assert total[column] == pytest.approx(0.75)
    assert (total[column + 1], total[column + 2]) == (3, 4)
    cgj = next(r for r in rows[3:] if r[0] == "城市管理局")
    assert cgj[column] == pytest.approx(1.0)

    page.get_by_label("开始日期").fill("2026-11-22")
    page.get_by_label("结束日期").fill("2026-11-16")
    with page.expect_response(lambda r: "/reports?" in r.url) as answer:
        page.get_by_role("button", name="查询").click()
    assert answer.value.status == 422
    expect(page.get_by_role("alert")).to_contain_text("结束日期不能早于开始日期")
    expect(page.locator("#kpi-to-error")).to_have_text("结束日期不能早于开始日期")
    expect(page.locator("#kpi-table")).to_have_count(0)


def test_ranking_names_and_highlights_the_unit_below_the_floor(
    signed_in: Open, api: Api, clock: Clock, world: World, live_server: str
) -> None:
    Week(api, clock, world).build()
    page = signed_in("supervisor")
    page.goto(f"{live_server}/reports/ranking")  # last full week: 2026-W47

    expect(page.get_by_role("heading", level=1)).to_contain_text("2026年第47周")
    # 城管局 has two follow-ups in the week: named, with the size its rate rests on
    floor = "满意率低于85%的单位：城市管理局（样本不足，有效回访2件）。"
    expect(page.locator("#below-floor")).to_have_text(floor)
    # listed apart, under 样本不足, never among the ranked units
    expect(page.locator("#ranking-table tbody tr.flagged")).to_have_count(0)
    flagged = page.locator("#short-table tbody tr.flagged")
    expect(flagged).to_have_count(1)
    expect(flagged.get_by_role("rowheader")).to_have_text("城市管理局 满意率低于85%")
    assert flagged.evaluate("r => getComputedStyle(r).backgroundColor") == "rgb(255, 241, 240)"
    # a small week: no unit has 5 cases behind every weighted rate, so none is ranked
    expect(page.locator("#ranking-table tbody")).to_have_text("本期没有数据完整、可以排名的单位")
    expect(page.locator("#short-table tbody")).to_contain_text("住房和城乡建设局")
    expect(page.locator("#ranking-weights")).to_contain_text("响应率 1、解决率 1、满意率 1")
    shot(page, "reports-ranking")

    path = download(page, page.get_by_role("link", name="导出 Excel"))
    assert any("城市管理局" in row for row in sheet_rows(path))

    page.get_by_label("按月").check()
    page.get_by_label("月份").fill("2026-11")
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("2026年11月")
    expect(page.locator("#below-floor")).to_have_text(floor)  # the month holds the same week


def test_topics_show_the_noise_complaints_as_one_hot_topic(
    signed_in: Open, api: Api, clock: Clock, world: World, live_server: str
) -> None:
    week = Week(api, clock, world).build()
    page = signed_in("leader")
    page.goto(f"{live_server}/reports/topics")
    page.get_by_label("周次", exact=True).fill("2026-W47")
    page.get_by_role("button", name="查看").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("2026年第47周")
    topic = page.locator("#topics-table tbody tr").first
    expect(topic.locator('[data-col="count"]')).to_have_text("3")
    expect(topic).to_contain_text("噪音")
    expect(topic).to_contain_text("市容环境")
    expect(page.locator("#rising-table")).to_contain_text("新出现")
    shot(page, "reports-topics")

    topic.get_by_role("link", name=week.numbers["N3"]).click()
    page.wait_for_url(f"{live_server}/tickets/{week.ids['N3']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(NOISE_TITLE)


def test_the_weekly_brief_is_shown_kept_and_downloaded(
    signed_in: Open, api: Api, clock: Clock, world: World, live_server: str
) -> None:
    Week(api, clock, world).build()
    page = signed_in("supervisor")
    page.goto(f"{live_server}/reports/briefs")  # last full week: 2026-W47

    brief = page.locator("#brief article.brief")
    expect(brief.get_by_role("heading", level=1)).to_have_text(
        "12345政务服务便民热线工作周报（2026年第47周）"
    )
    headings = brief.get_by_role("heading", level=2).all_inner_texts()
    assert headings[:6] == [
        "一、总体情况",
        "二、受理渠道与诉求类型",
        "三、每日受理趋势",
        "四、主要指标",
        "五、热点问题",
        "六、承办单位情况",
    ]
    expect(brief).to_contain_text("共受理群众诉求7件")
    expect(brief).to_contain_text("满意率低于85%的单位：城市管理局")
    expect(page.locator("#kept-table")).to_contain_text("还没有保存的周报")
    shot(page, "reports-brief")

    page.get_by_role("button", name="立即生成并保存").click()
    expect(page.locator("#generate-status")).to_have_text(
        "已生成并保存 2026-W47 周报（HTML、PDF、DOCX）", timeout=SLOW_MS
    )
    kept = page.locator('#kept-table tr[data-week="2026-W47"]')
    expect(kept.get_by_role("link")).to_have_text(["HTML", "PDF", "DOCX"])
    expect(kept).to_contain_text("手动生成")

    pdf = download(page, page.get_by_role("link", name="下载 PDF"))
    assert pdf.read_bytes()[:4] == b"%PDF"
    kept_pdf = download(page, kept.get_by_role("link", name="PDF"))
    assert kept_pdf.read_bytes()[:4] == b"%PDF"
    docx = download(page, page.get_by_role("link", name="下载 DOCX"))
    assert docx.read_bytes()[:2] == b"PK"

    page.goto(f"{live_server}/reports/briefs?week=2026-W60")
    expect(page.get_by_role("alert")).to_have_text(
        "无法生成该周周报：周次不存在：2026年只有第1至53周"
    )


def test_the_ticket_list_exports_what_it_lists_masked_for_units(
    signed_in: Open, api: Api, live_server: str
) -> None:
    dispatched = [api.dispatched("zjj", title=f"待派工单{i}") for i in range(2)]
    api.create(title="未派单的工单")
    page = signed_in("operator")
    page.goto(f"{live_server}/tickets")
    page.get_by_label("状态").select_option(label="待签收")
    page.get_by_role("button", name="筛选").click()
    listed = page.locator("#live-region tr[data-ticket-id] td:nth-child(2)").all_inner_texts()
    assert sorted(listed) == sorted(t["number"] for t in dispatched)

    rows = sheet_rows(download(page, page.get_by_role("link", name="导出 Excel")))
    assert rows[0][:2] == ("工单号", "受理时间")
    assert sorted(r[0] for r in rows[1:]) == sorted(listed)
    phone = rows[0].index("来电号码")
    assert {r[phone] for r in rows[1:]} == {"13812345678"}

    unit = signed_in("zjj")
    unit.goto(f"{live_server}/tickets")
    rows = sheet_rows(download(unit, unit.get_by_role("link", name="导出 Excel")))
    assert sorted(r[0] for r in rows[1:]) == sorted(listed)
    assert {r[phone] for r in rows[1:]} == {"138****5678"}


def test_system_supervision_shows_on_the_ticket_for_the_hotline_and_the_unit(
    signed_in: Open, api: Api, clock: Clock, container: Container, live_server: str
) -> None:
    ticket = api.dispatched("zjj", title="路灯全部不亮", urgency="urgent")  # sign by 10:30
    clock.set(at(17, 10, 30))  # and reply by Tue 10:00: both clocks have run out
    result = sweep(container.uow(), container.dispatch, notice_after=Duration.parse("5wd"))
    assert result.supervised == [ticket["id"]]
    order = f"DB20261117{ticket['id']:07d}"

    for username in ("supervisor", "zjj"):
        page = signed_in(username)
        page.goto(f"{live_server}/tickets/{ticket['id']}")
        events = page.locator('.timeline li[data-event="supervise"].system')
        expect(events).to_have_count(2)  # one 督办单 for each clock
        reply = events.filter(has_text=f"督办单{order}H")
        expect(reply.locator(".actor")).to_have_text("系统")
        expect(reply).to_contain_text("督办")
        expect(reply.locator(".reason")).to_have_text(
            f"督办单{order}H：回复时限已于11月17日 10:00届满，请立即办理并报告"
        )
        if username == "supervisor":
            shot(page, "supervision-events")


def test_admin_records_a_units_head(
    signed_in: Open, live_server: str, container: Container, world: World
) -> None:
    page = signed_in("admin")
    page.goto(f"{live_server}/admin/units")
    page.get_by_role("link", name="编辑 城市管理局").click()
    form = page.locator("#edit-unit")
    form.get_by_label("单位负责人").fill("李四")
    form.get_by_label("负责人电话").fill("138 0000 0000")
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#edit-head-phone-error")).to_have_text(
        "负责人电话只能包含数字和连字符（-），最多32位"
    )
    shot(page, "admin-unit-head")
    form.get_by_label("负责人电话").fill("0710-88886666")
    form.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status").first).to_have_text("已保存单位 城市管理局")
    row = page.locator("#units tr", has_text="城市管理局")
    expect(row.locator("td").nth(7)).to_have_text("李四 0710-88886666")

    from infra.models import Unit

    with container.uow() as uow:
        unit = uow.session.get(Unit, world.units["cgj"])
        assert unit is not None
        assert (unit.head_name, unit.head_phone) == ("李四", "0710-88886666")


def test_the_dashboard_card_opens_the_brief_of_its_week(
    signed_in: Open, api: Api, clock: Clock, world: World, live_server: str
) -> None:
    Week(api, clock, world).build()
    clock.set(at(22, 18))  # Sunday evening of 2026-W47
    page = signed_in("leader")
    page.goto(f"{live_server}/dashboard")
    card = page.locator("section", has=page.locator("#brief-heading"))
    card.get_by_role("link", name="查看").click()
    page.wait_for_url(f"{live_server}/reports/briefs?week=2026-W47")
    expect(page.locator("#brief article.brief")).to_contain_text("共受理群众诉求7件")
