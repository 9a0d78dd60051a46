"""The report pages (报表): who may open them, what they show, and the errors they give.

Week 2026-W47 (16–22 Nov 2026), Shanghai time; every ticket is urgent (sign 30 min, reply 24 h):

A  Mon 10:00 楼道灯不亮 → zjj, replied Mon 15:00 (on time), followed up: very satisfied
B  Mon 10:30 路边垃圾桶破损 → cgj, replied Tue 09:00 (on time), followed up: dissatisfied
C  Mon 11:00 供水管道漏水 → zjj, signed, never replied: overdue since Tue 11:00
D  Mon 11:30 人行道地砖松动 → cgj, replied Tue 10:00 (on time), followed up: satisfied
N1–N3  Wed evening: 幸福小区夜间施工噪音扰民, three times, not dispatched
Now: Mon 23 Nov 09:00, so "last full week" is 2026-W47.

按时办结率 = 3 of 4 due (75.0%): zjj 1 of 2, cgj 2 of 2. 满意率: cgj 1 of 2 (below 85%).
"""

import datetime as dt
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from dispatch.supervision.sweep import sweep
from hotline.bootstrap import Container
from kernel.worktime import Duration
from tests.conftest import SHANGHAI
from tests.conftest import Api
from tests.conftest import Clock
from tests.conftest import World

W47 = "from=2026-11-16&to=2026-11-22"
NOISE_TITLE = "幸福小区夜间施工噪音扰民"
NOISE = (
    "幸福小区旁边的工地每天夜里十一点以后还在施工，噪音很大，居民无法休息",
    "幸福小区附近工地夜间施工，机器噪音扰民，晚上睡不着觉",
    "幸福小区东侧工地夜里施工噪音太大，影响小区居民夜间休息",
)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in November 2026, Shanghai time."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


class Week:
    """Drives the API through the week described in the module docstring."""

    def __init__(self, api: Api, clock: Clock, world: World) -> None:
        self.api, self.clock, self.world = api, clock, world
        self.ids: dict[str, int] = {}
        self.numbers: dict[str, str] = {}

    def ticket(self, name: str, when: dt.datetime, unit: str | None, title: str, **kw: Any) -> None:
        self.clock.set(when)
        fields = {"title": title, "urgency": "urgent", **kw}
        created = self.api.dispatched(unit, **fields) if unit else self.api.create(**fields)
        self.ids[name] = created["id"]
        self.numbers[name] = created["number"]

    def act(
        self, when: dt.datetime, name: str, action: str, body: Any = None, as_: str = ""
    ) -> None:
        self.clock.set(when)
        self.api.act(self.ids[name], action, body, as_=as_ or "operator")

    def replied(self, when: dt.datetime, name: str, unit: str, satisfaction: str) -> None:
        self.act(when, name, "reply", {"text": "已到现场处理完毕"}, as_=unit)
        self.act(when + dt.timedelta(minutes=30), name, "review", {"approve": True}, as_="lead")
        solved = satisfaction != "dissatisfied"
        body = {"reached": True, "solved": solved, "satisfaction": satisfaction}
        self.act(when + dt.timedelta(hours=2), name, "follow_up", body)

    def build(self) -> "Week":
        content = "请尽快派人处理"
        self.ticket("A", at(16, 10), "zjj", "楼道灯不亮", content="单元楼道的灯坏了一个月")
        self.act(at(16, 10, 10), "A", "sign", as_="zjj")
        self.ticket("B", at(16, 10, 30), "cgj", "路边垃圾桶破损", content=content)
        self.act(at(16, 10, 40), "B", "sign", as_="cgj")
        self.ticket("C", at(16, 11), "zjj", "供水管道漏水", content="地下室水管破裂漏水")
        self.act(at(16, 11, 10), "C", "sign", as_="zjj")
        self.ticket("D", at(16, 11, 30), "cgj", "人行道地砖松动", content=content)
        self.act(at(16, 11, 40), "D", "sign", as_="cgj")
        self.replied(at(16, 15), "A", "zjj", "very_satisfied")
        self.replied(at(17, 9), "B", "cgj", "dissatisfied")
        self.replied(at(17, 10), "D", "cgj", "satisfied")
        for i, text in enumerate(NOISE, start=1):
            self.ticket(
                f"N{i}",
                at(18, 20, i),
                None,
                NOISE_TITLE,
                content=text,
                category="市容环境/噪声",
                address="东湖区幸福小区",
                request_type="complaint",
                urgency="normal",
            )
        self.clock.set(at(23, 9))
        return self


@pytest.fixture
def week(api: Api, clock: Clock, world: World) -> Week:
    return Week(api, clock, world).build()


def login(client: FlaskClient, world: World, username: str) -> None:
    resp = client.post("/api/auth/login", json={"username": username, "password": world.password})
    assert resp.status_code == 200, resp.get_json()


def page(client: FlaskClient, world: World, username: str, path: str) -> tuple[int, str]:
    login(client, world, username)
    resp = client.get(path)
    return resp.status_code, resp.get_data(as_text=True)


def text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def kpi_row(html: str, name: str) -> list[str]:
    """The KPI table's row: label, value, part, whole, formula."""
    match = re.search(rf'<tr data-kpi="{name}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, name
    return [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)]


def options(html: str, select_id: str) -> list[str]:
    match = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert match, select_id
    found = re.findall(r"<option[^>]*>(.*?)</option>", match.group(1), re.S)
    return [o.strip(" \n") for o in found]  # the indent (U+3000) is kept


def alert(html: str) -> str:
    match = re.search(r'role="alert">(.*?)</p>', html, re.S)
    assert match, "no alert on the page"
    return text(match.group(1))


# ---------------------------------------------------------------- who may open what

PAGES = (
    "/reports",
    "/reports/ranking",
    "/reports/topics",
    "/reports/briefs",
    "/reports/briefs/kept",
)


@pytest.mark.parametrize("path", PAGES)
def test_operators_may_open_no_report_page(client: FlaskClient, world: World, path: str) -> None:
    status, html = page(client, world, "operator", path)
    assert status == 403
    assert "考核指标" not in html


@pytest.mark.parametrize("path", PAGES[1:])
def test_liaisons_may_open_only_their_kpis(client: FlaskClient, world: World, path: str) -> None:
    assert page(client, world, "zjj", path)[0] == 403


@pytest.mark.parametrize("username", ["lead", "supervisor", "leader", "admin"])
def test_the_hotlines_leads_open_every_report_page(
    client: FlaskClient, world: World, username: str
) -> None:
    login(client, world, username)
    for path in PAGES[:4]:
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert '<a href="/reports" aria-current="page">报表</a>' in resp.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient, world: World) -> None:
    resp = client.get("/reports/ranking")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=/reports/ranking")


# ---------------------------------------------------------------- 考核指标


def test_kpis_show_every_value_with_its_counts_and_formula(
    client: FlaskClient, world: World, week: Week
) -> None:
    status, html = page(client, world, "leader", f"/reports?{W47}")
    assert status == 200
    assert kpi_row(html, "on_time_reply_rate") == [
        "按时办结率",
        "75.0%",
        "3",
        "4",
        "按时回复量 ÷ 到期量（回复时限在期内且已到）",
    ]
    assert kpi_row(html, "satisfaction_rate")[1:4] == ["66.7%", "2", "3"]
    assert kpi_row(html, "answer_rate")[1:4] == ["—", "0", "0"]  # no calls this week
    assert 'title="按时办结率 = 按时回复量 ÷ 到期量（回复时限在期内且已到）：3 ÷ 4"' in html
    assert "办理结果截至 2026年11月23日 09:00" in html
    assert re.search(r'data-total="accepted"><span class="label">受理量</span>\D*7<', html)
    assert 'href="/api/reports/kpis?from=2026-11-16&amp;to=2026-11-22&amp;format=xlsx"' in html
    assert "group-table" not in html


def test_kpis_grouped_by_unit_have_a_row_per_unit(
    client: FlaskClient, world: World, week: Week
) -> None:
    html = page(client, world, "supervisor", f"/reports?{W47}&unit=&by=unit")[1]
    rows = dict(
        re.findall(
            r'<th scope="row">([^<]+)</th>.*?data-kpi="on_time_reply_rate"[^>]*>([^<]*)<',
            html.split('id="group-table"')[1],
            re.S,
        )
    )
    assert rows == {"住房和城乡建设局": "50.0%", "城市管理局": "100.0%"}
    assert "by=unit&amp;format=xlsx" in html


def test_the_default_period_is_the_month_so_far(client: FlaskClient, world: World) -> None:
    html = page(client, world, "leader", "/reports")[1]
    assert 'name="from" value="2026-11-01"' in html
    assert 'name="to" value="2026-11-16"' in html  # the clock's today
    assert "2026年11月01日—2026年11月16日" in html


def test_the_unit_select_lists_every_unit_indented_by_level(
    client: FlaskClient, world: World
) -> None:
    html = page(client, world, "leader", "/reports")[1]
    assert options(html, "kpi-unit") == [
        "全部（热线整体）",
        "住房和城乡建设局",
        "城市管理局",
        "供电公司",
        "东湖区",
        "\u3000湖滨街道",
        "\u3000\u3000滨江社区",
        "西山区",
        "\u3000翠屏街道",
    ]


def test_a_liaison_sees_only_their_own_unit(client: FlaskClient, world: World, week: Week) -> None:
    status, html = page(client, world, "zjj", f"/reports?{W47}")
    assert status == 200
    assert options(html, "kpi-unit") == ["住房和城乡建设局"]
    assert "2026年11月16日—2026年11月22日 · 住房和城乡建设局" in html
    assert kpi_row(html, "on_time_reply_rate")[1:4] == ["50.0%", "1", "2"]
    assert kpi_row(html, "answer_rate")[1:4] == ["—", "—", "—"]
    assert "单位排名" not in html  # the other report tabs are not offered
    assert f"unit={world.units['zjj']}" in html  # the export asks for the same unit
    other = client.get(f"/reports?{W47}&unit={world.units['cgj']}")
    assert other.status_code == 403
    assert "联络员只能查看本单位的指标" in other.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-11-22&to=2026-11-16", "结束日期——结束日期不能早于开始日期"),
        ("from=2026-13-01&to=2026-11-16", "开始日期——开始日期格式不正确：“2026-13-01”"),
        ("from=&to=2026-11-16", "开始日期——请填写开始日期"),
        ("from=2020-01-01&to=2026-11-16", "时间跨度不能超过1098天"),
        (f"{W47}&unit=abc", "单位——所选单位不存在"),
        (f"{W47}&unit=999999", "单位——所选单位不存在"),
        (f"{W47}&by=street", "分组——分组方式无效"),
    ],
)
def test_bad_kpi_queries_are_explained(
    client: FlaskClient, world: World, query: str, message: str
) -> None:
    status, html = page(client, world, "leader", f"/reports?{query}")
    assert status == 422
    assert alert(html).startswith("查询条件有误：")
    assert message in alert(html)
    assert 'id="kpi-table"' not in html


# ---------------------------------------------------------------- 单位排名


def test_ranking_names_and_marks_the_units_below_the_satisfaction_floor(
    client: FlaskClient, world: World, week: Week
) -> None:
    status, html = page(client, world, "lead", "/reports/ranking")
    assert status == 200
    assert "2026年第47周" in html
    below = re.search(r'<p id="below-floor"[^>]*>(.*?)</p>', html, re.S)
    # 2 follow-ups each: too few (5) to rank anyone, but 城管's 满意率 is named with its size
    assert below and text(below[1]) == "满意率低于85%的单位：城市管理局（样本不足，有效回访2件）。"
    flagged = re.findall(r'<tr data-unit-id="(\d+)" class="flagged">', html)
    assert flagged == [str(world.units["cgj"])]
    units = re.findall(r'<th scope="row">([^<]+?)(?: <span|</th>)', html)
    assert units == ["住房和城乡建设局", "城市管理局"]
    assert "当前权重：响应率 1、解决率 1、满意率 1" in html
    assert 'href="/api/reports/ranking?period=week&amp;week=2026-W47&amp;level=top' in html


def test_ranking_by_month(client: FlaskClient, world: World, week: Week) -> None:
    html = page(client, world, "leader", "/reports/ranking?period=month&month=2026-11&level=all")[1]
    assert "2026年11月" in html
    assert "period=month&amp;month=2026-11&amp;level=all&amp;format=xlsx" in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=year", "取值无效，可选：week, month"),
        ("period=week&week=2026-W60", "周次不存在：2026年只有第1至53周"),
        ("period=week&week=abc", "周次格式不正确"),
        ("period=month&month=2026-13", "月份格式不正确"),
        ("level=everyone", "单位范围无效"),
    ],
)
def test_bad_ranking_queries_are_explained(
    client: FlaskClient, world: World, query: str, message: str
) -> None:
    status, html = page(client, world, "leader", f"/reports/ranking?{query}")
    assert status == 422
    assert message in alert(html)


# ---------------------------------------------------------------- 热点分析


def test_topics_show_the_weeks_hot_topic_with_its_tickets(
    client: FlaskClient, world: World, week: Week
) -> None:
    status, html = page(client, world, "supervisor", "/reports/topics?week=2026-W47")
    assert status == 200
    table = html.split('id="topics-table"')[1].split("</table>")[0]
    first = re.search(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S)
    assert first
    cells = first.group(1)
    assert '<td class="num" data-col="count">3</td>' in cells
    assert "噪音" in cells and "市容环境" in cells
    for name in ("N1", "N2", "N3"):
        assert f'<a href="/tickets/{week.ids[name]}"' in cells
        assert week.numbers[name] in cells
    rising = html.split('id="rising-table"')[1]
    assert "新出现" in rising


@pytest.mark.parametrize("asked", ["2026-W60", "abc"])
def test_an_unknown_week_is_explained(client: FlaskClient, world: World, asked: str) -> None:
    for path in ("/reports/topics", "/reports/briefs"):
        status, html = page(client, world, "leader", f"{path}?week={asked}")
        assert status == 422
        assert "周次" in alert(html)


# ---------------------------------------------------------------- 周报


def test_the_brief_of_last_week_is_shown_with_its_downloads(
    client: FlaskClient, world: World, week: Week
) -> None:
    status, html = page(client, world, "leader", "/reports/briefs")
    assert status == 200
    assert '<article class="brief"' in html
    for heading in ("一、总体情况", "四、主要指标", "五、热点问题", "六、承办单位情况"):
        assert f"<h2>{heading}</h2>" in html
    assert "共受理群众诉求7件" in html
    assert 'href="/api/reports/brief?week=2026-W47&amp;format=pdf"' in html
    assert 'href="/api/reports/brief?week=2026-W47&amp;format=docx"' in html
    assert 'id="generate-brief"' in html
    assert "还没有保存的周报" in html


def test_team_leads_read_briefs_but_do_not_keep_them(
    client: FlaskClient, world: World, week: Week
) -> None:
    html = page(client, world, "lead", "/reports/briefs?week=2026-W47")[1]
    assert '<article class="brief"' in html
    assert 'id="generate-brief"' not in html


def test_kept_briefs_are_listed_with_their_downloads(
    client: FlaskClient, world: World, week: Week, api: Api
) -> None:
    resp = api.post("/api/reports/briefs", {"week": "2026-W47"}, as_="supervisor")
    assert resp.status_code == 201, resp.get_json()
    kept = {item["format"]: item["id"] for item in resp.get_json()["items"]}
    status, fragment = page(client, world, "supervisor", "/reports/briefs/kept?week=2026-W47")
    assert status == 200
    assert '<tr data-week="2026-W47" class="current" aria-current="true">' in fragment
    assert "手动生成" in fragment
    for fmt, label in (("html", "HTML"), ("pdf", "PDF"), ("docx", "DOCX")):
        assert f'href="/api/reports/briefs/{kept[fmt]}" data-format="{fmt}"' in fragment
        assert f">{label}</a>" in fragment
    assert f'href="/api/reports/briefs/{kept["pdf"]}"' in client.get("/reports/briefs").text


# ---------------------------------------------------------------- elsewhere


def test_the_dashboard_links_to_the_brief_of_its_week(client: FlaskClient, world: World) -> None:
    html = page(client, world, "leader", "/dashboard?week=2026-W46")[1]
    card = html.split('<h2 id="brief-heading">周报</h2>')[1].split("</section>")[0]
    assert re.findall(r'<a class="button" href="([^"]+)"', card) == [
        "/reports/briefs?week=2026-W46",
        "/api/reports/brief?week=2026-W46&amp;format=pdf",
        "/api/reports/brief?week=2026-W46&amp;format=docx",
    ]
    assert "尚在建设中" not in card


def test_the_ticket_list_exports_with_its_filters(client: FlaskClient, world: World) -> None:
    html = page(client, world, "operator", "/tickets?status=dispatched&light=&q=路灯&page=2")[1]
    match = re.search(r'<a class="button" id="tickets-export" href="([^"]+)"', html)
    assert match
    assert match.group(1) == "/api/reports/tickets.xlsx?status=dispatched&amp;q=%E8%B7%AF%E7%81%AF"
    bare = client.get("/tickets").get_data(as_text=True)
    assert 'id="tickets-export" href="/api/reports/tickets.xlsx"' in bare


def test_system_supervision_shows_on_the_ticket_page(
    client: FlaskClient, world: World, api: Api, clock: Clock, container: Container
) -> None:
    ticket = api.dispatched("zjj", title="路灯全部不亮", urgency="urgent")  # reply by Tue 10:00
    clock.set(at(17, 10, 30))
    result = sweep(container.uow(), container.dispatch, notice_after=Duration.parse("5wd"))
    assert ticket["id"] in result.supervised
    order = f"DB20261117{ticket['id']:07d}H"
    for username in ("supervisor", "zjj"):
        html = page(client, world, username, f"/tickets/{ticket['id']}")[1]
        events = re.findall(r'<li data-event="supervise" class="system">(.*?)</li>', html, re.S)
        flat = [text(e) for e in events]
        assert any("督办" in e and "系统" in e and f"督办单{order}" in e for e in flat), flat


# ---------------------------------------------------------------- unit heads (admin)


def test_a_units_head_is_saved_and_checked(client: FlaskClient, world: World) -> None:
    login(client, world, "admin")
    with client.session_transaction() as s:
        csrf = str(s["csrf"])
    form = {
        "name": "城市管理局",
        "responsibility": "市容管理",
        "keywords": "占道经营",
        "phone": "",
        "active": "1",
        "csrf": csrf,
    }
    bad = client.post(
        f"/admin/units/{world.units['cgj']}",
        data={**form, "head_name": "王" * 51, "head_phone": "138 0000 0000"},
    )
    assert bad.status_code == 422
    assert "负责人姓名不能超过50个字符" in bad.text
    assert "负责人电话只能包含数字和连字符（-），最多32位" in bad.text
    good = client.post(
        f"/admin/units/{world.units['cgj']}",
        data={**form, "head_name": " 李四 ", "head_phone": "0710-88886666"},
    )
    assert good.status_code == 302
    listing = client.get("/admin/units").text
    assert "李四 <small>0710-88886666</small>" in listing
    edit = client.get(f"/admin/units?edit={world.units['cgj']}").text
    assert 'name="head_name" type="text" value="李四"' in edit
