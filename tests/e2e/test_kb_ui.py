"""The knowledge base (知识库) in a real browser: search, the console's panel, review, import.

Every test runs against the test Redis database (HOTLINE_TEST_REDIS_URL), never another:
the console and the import queue work there.
"""

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from hotline.bootstrap import Container
from kb.index import index_pending
from tests.conftest import Api
from tests.conftest import World
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.slow, pytest.mark.redis]
Open = Callable[[str], Any]

EDUCATION = {
    "title": "义务教育新生入学报名",
    "kind": "guide",
    "body": (
        "适龄孩子在户籍所在地或居住地就近入学。家长在报名系统为孩子填报信息，"
        "按学区划分到校现场审核。\n咨询电话：教育局招生办。"
    ),
    "materials": "户口簿\n房产证明或租赁合同\n预防接种证",
    "place": "学区内公办学校",
    "source_doc": "义务教育招生入学工作实施办法",
    "doc_number": "教发〔2026〕3号",
    "tags": ["入学", "报名"],
}
FUND = {
    "title": "住房公积金租房提取",
    "kind": "guide",
    "body": "职工租住商品住房，可按月提取住房公积金支付房租，每年额度不超过一万二千元。",
    "materials": "身份证\n租赁合同",
}
VENDORS = {
    "title": "占道经营的处理",
    "kind": "faq",
    "body": "流动摊贩占道经营由所在街道综合执法队处理，市民可拍照反映。",
}


def _article(api: Api, as_: str = "admin", **fields: Any) -> dict[str, Any]:
    resp = api.post("/api/kb/articles", fields, as_=as_)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def _article_view(api: Api, article_id: int, as_: str = "admin") -> dict[str, Any]:
    resp = api.get(f"/api/kb/articles/{article_id}", as_=as_)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def _search(page: Any, query: str) -> None:
    page.get_by_label("搜索知识", exact=True).fill(query)
    page.get_by_role("button", name="搜索", exact=True).click()
    page.wait_for_load_state()


@pytest.fixture(autouse=True)
def _test_redis(real_redis: Any) -> Any:
    return real_redis


def test_operator_finds_an_article_in_plain_words_and_a_synonym_widens_the_search(
    signed_in: Open, api: Api, live_server: str
) -> None:
    education = _article(api, **EDUCATION)
    _article(api, **FUND)
    _article(api, **VENDORS)
    page = signed_in("operator")
    page.get_by_role("link", name="知识库").click()
    _search(page, "孩子上学要什么材料")
    first = page.locator("#kb-results > li").first
    assert first.get_attribute("data-article-id") == str(education["id"])
    assert "孩子" in first.locator(".kb-snippet mark").all_inner_texts()
    assert first.locator(".kb-kind").inner_text() == "办事指南"
    assert "引用 0 次" in first.locator(".kb-meta").inner_text()
    shot(page, "kb-search")

    _search(page, "娃上学")
    assert page.locator("#kb-no-results").is_visible()  # 娃 is nowhere in the articles

    admin = signed_in("admin")
    admin.goto(f"{live_server}/kb/synonyms")
    words = admin.get_by_label("同义词（用空格、顿号或逗号分隔）")
    words.fill("娃")
    admin.get_by_role("button", name="添加", exact=True).click()
    assert admin.locator("#syn-new-error").inner_text() == "至少需要2个词"
    words.fill("孩子 娃、小孩")
    admin.get_by_role("button", name="添加", exact=True).click()
    assert "已添加同义词：孩子、娃、小孩" in admin.get_by_role("status").first.inner_text()
    words.fill("子女，小孩")
    admin.get_by_role("button", name="添加", exact=True).click()
    assert admin.locator("#syn-new-error").inner_text() == "「小孩」已在另一组同义词中"
    assert words.get_attribute("aria-invalid") == "true"
    assert admin.locator("#kb-synonyms tbody tr").count() == 1
    shot(admin, "kb-synonyms")

    page.reload()  # the same question again: 娃 now brings 孩子 along
    first = page.locator("#kb-results > li").first
    assert first.get_attribute("data-article-id") == str(education["id"])
    assert "孩子" in first.locator(".kb-snippet mark").all_inner_texts()
    assert "同时搜索了同义词：孩子、小孩" in page.locator("main").inner_text()


def _type_ticket(page: Any, title: str, content: str) -> None:
    page.get_by_label("诉求类型").select_option("enquiry")
    page.get_by_label("标题").fill(title)
    page.get_by_label("诉求内容").fill(content)


def test_operator_cites_an_article_in_the_console_and_resolves_another_ticket_with_one(
    signed_in: Open, api: Api, live_server: str
) -> None:
    education = _article(api, **EDUCATION)
    fund = _article(api, **FUND)
    vendors = _article(api, **VENDORS)
    page = signed_in("operator")
    _type_ticket(page, "孩子上学报名", "孩子明年上小学，报名要准备哪些材料")
    hit = page.locator("#kb-hits > li").first
    hit.wait_for()  # no button pressed: the panel follows the typing
    assert hit.get_attribute("data-article-id") == str(education["id"])
    assert hit.locator("mark", has_text="孩子").count() >= 1
    assert hit.get_by_role("link").get_attribute("target") == "_blank"
    hit.get_by_role("button", name=f"引用《{EDUCATION['title']}》", exact=True).click()
    assert page.locator("#kb-cited li span").all_inner_texts() == [EDUCATION["title"]]
    assert hit.locator(".kb-cite").inner_text() == "已引用"
    shot(page, "kb-console")
    page.get_by_label("派单至", exact=True).select_option("")  # 仅受理，不派单
    page.get_by_role("button", name="提交（Alt+S）").click()
    assert page.locator("#kb-linked-result").inner_text() == "已引用知识 1 篇"
    assert page.locator("#kb-hits > li").count() == 0  # the form was reset, and the panel
    assert page.locator("#kb-cited").is_hidden()
    first_ticket = page.locator("#created a").first.get_attribute("href")
    assert _article_view(api, education["id"], "operator")["usage"] == {"uses": 1, "resolved": 0}

    _type_ticket(page, "租房提取公积金", "我想提取住房公积金付房租，需要带什么")
    hit = page.locator("#kb-hits > li").first
    hit.wait_for()
    assert hit.get_attribute("data-article-id") == str(fund["id"])
    hit.get_by_role("button", name=f"引用《{FUND['title']}》并直接办结").click()
    result = page.locator("#kb-resolve-result")
    assert result.inner_text() == f"已直接办结：依据知识《{FUND['title']}》答复"
    second_ticket = page.locator("#created a").first.get_attribute("href")
    detail = api.get(f"/api{second_ticket}").get_json()
    assert detail["status"] == "resolved"
    assert detail["resolution"].startswith(f"依据知识《{FUND['title']}》答复：职工租住商品住房")
    assert _article_view(api, fund["id"], "operator")["usage"] == {"uses": 1, "resolved": 1}

    # The first ticket's page lists its article, and another can be found and cited there.
    page.goto(f"{live_server}{first_ticket}")
    assert page.locator("#kb-linked li").all_inner_texts() == [
        f"{EDUCATION['title']} 办事指南 第1版"
    ]
    page.get_by_label("查找知识", exact=True).fill("占道经营")
    page.get_by_role("button", name="查找知识").click()
    found = page.locator("#kb-hits > li").first
    found.wait_for()
    assert found.get_attribute("data-article-id") == str(vendors["id"])
    found.get_by_role("button", name=f"引用《{VENDORS['title']}》").click()
    page.locator("#kb-linked li", has_text=VENDORS["title"]).wait_for()
    assert page.locator("#kb-linked li").count() == 2
    assert found.locator(".kb-cite").inner_text() == "已引用"


def _fill_article(page: Any, title: str, body: str, note: str) -> None:
    page.get_by_role("textbox", name="标题", exact=True).fill(title)
    page.get_by_label("类型", exact=True).select_option(label="办事指南")
    page.get_by_label("正文").fill(body)
    page.get_by_label("修改说明").fill(note)


def test_a_units_article_waits_for_review_and_a_refused_change_keeps_the_live_text(
    signed_in: Open, api: Api, live_server: str
) -> None:
    liaison = signed_in("zjj")
    liaison.get_by_role("link", name="知识库").click()
    liaison.get_by_role("link", name="新建知识").click()
    assert liaison.get_by_label("所属单位").input_value() == "住房和城乡建设局"
    _fill_article(
        liaison, "物业维修资金使用", "小区电梯更换可申请使用住宅专项维修资金。", "首次提交"
    )
    liaison.get_by_label("生效日期").fill("2026-03-01")
    liaison.get_by_label("失效日期").fill("2026-01-01")
    liaison.get_by_role("button", name="提交审核").click()
    assert liaison.locator("#kb-f-valid_until-error").inner_text() == "失效日期不能早于生效日期"
    assert (
        liaison.get_by_role("textbox", name="标题", exact=True).input_value() == "物业维修资金使用"
    )
    liaison.get_by_label("失效日期").fill("")
    liaison.get_by_role("button", name="提交审核").click()
    assert liaison.get_by_role("status").first.inner_text() == "已提交审核，审核通过后生效"
    article_id = int(re.findall(r"/kb/articles/(\d+)", liaison.url)[0])
    assert "未发布" in liaison.locator("#kb-article-meta").inner_text()
    assert (
        liaison.locator("#kb-versions tbody tr").first.locator("td").nth(1).inner_text() == "待审核"
    )

    operator = signed_in("operator")
    operator.goto(f"{live_server}/kb/")
    _search(operator, "物业维修资金")
    assert operator.locator("#kb-no-results").is_visible()
    assert operator.goto(f"{live_server}/kb/articles/{article_id}").status == 404

    admin = signed_in("admin")
    admin.goto(f"{live_server}/kb/")
    admin.get_by_role("link", name="待审核").click()
    review = admin.locator(".kb-review").first
    assert "新建 · 住房和城乡建设局" in review.locator("h2").inner_text()
    assert "首次提交" in review.inner_text()
    review.get_by_role("button", name="通过").click()
    assert admin.get_by_role("status").first.inner_text() == "已通过：第1版已发布"
    operator.goto(f"{live_server}/kb/?q=物业维修资金")
    assert operator.locator("#kb-results > li").first.get_attribute("data-article-id") == str(
        article_id
    )

    liaison.goto(f"{live_server}/kb/articles/{article_id}")
    liaison.get_by_role("link", name="编辑").click()
    liaison.get_by_label("正文").fill("小区电梯更换、外墙维修可申请使用住宅专项维修资金。")
    liaison.get_by_label("申请材料").fill("业主大会表决结果\n维修方案和预算")
    liaison.get_by_label("修改说明").fill("补充外墙维修")
    liaison.get_by_role("button", name="提交审核").click()
    assert liaison.get_by_role("status").first.inner_text() == "已提交审核，审核通过后生效"
    live = _article_view(api, article_id, "operator")
    assert live["body"] == "小区电梯更换可申请使用住宅专项维修资金。"  # unchanged until review

    admin.goto(f"{live_server}/kb/reviews")
    review = admin.locator(".kb-review").first
    assert review.locator("tr[data-field='body'] ins").inner_text() == (
        "小区电梯更换、外墙维修可申请使用住宅专项维修资金。"
    )
    assert review.locator("tr[data-field='body'] del").inner_text() == (
        "小区电梯更换可申请使用住宅专项维修资金。"
    )
    assert review.locator("tr[data-field='materials'] ins").inner_text() == (
        "业主大会表决结果\n维修方案和预算"
    )
    shot(admin, "kb-review")
    review.get_by_role("button", name="退回").click()
    review = admin.locator(".kb-review").first
    assert review.locator(".field-error").inner_text() == "退回时请填写退回理由"
    review.get_by_label("审核意见（退回时必填）").fill("请附上维修资金管理办法的文号")
    review.get_by_role("button", name="退回").click()
    assert "已退回第2版" in admin.get_by_role("status").first.inner_text()
    assert _article_view(api, article_id, "operator")["body"] == live["body"]

    liaison.goto(f"{live_server}/kb/articles/{article_id}")
    row = liaison.locator("#kb-versions tr[data-version='2']")
    assert row.locator("td").nth(1).inner_text() == "已退回"
    assert row.locator(".kb-review-note").inner_text() == "请附上维修资金管理办法的文号"
    assert liaison.locator("#kb-body").inner_text() == live["body"]

    other = signed_in("cgj")
    other.goto(f"{live_server}/kb/articles/{article_id}")
    assert other.get_by_role("link", name="编辑").count() == 0
    assert other.goto(f"{live_server}/kb/articles/{article_id}/edit").status == 403


def test_an_article_past_its_review_date_is_flagged_on_its_page_and_in_the_list(
    signed_in: Open, api: Api, world: World, live_server: str
) -> None:
    overdue = _article(
        api,
        **FUND,
        unit_id=world.units["zjj"],
        source_doc="住房公积金提取管理办法",
        doc_number="公积金〔2025〕8号",
        valid_from="2025-01-01",
        review_by="2026-06-30",  # the tests' today is 2026-11-16
        tags=["公积金", "租房"],
    )
    _article(api, **EDUCATION, review_by="2027-06-30")
    page = signed_in("operator")
    page.goto(f"{live_server}/kb/articles/{overdue['id']}")
    assert page.locator("#kb-article-meta .kb-flag").all_inner_texts() == ["逾期未复审"]
    facts = page.locator("#kb-facts").inner_text()
    assert "公积金〔2025〕8号" in facts and "2026-06-30" in facts
    assert page.locator("#kb-materials").inner_text() == "身份证\n租赁合同"
    assert page.locator("#kb-usage").inner_text() == "引用 0 次，其中直接办结 0 次"
    shot(page, "kb-article")

    page.goto(f"{live_server}/kb/")
    assert page.locator("#kb-results > li").count() == 2
    page.get_by_label("只看需复审").check()
    page.get_by_role("button", name="筛选").click()
    items = page.locator("#kb-results > li")
    assert items.count() == 1
    assert items.first.get_attribute("data-article-id") == str(overdue["id"])
    assert items.first.locator(".kb-flag").inner_text() == "逾期未复审"

    liaison = signed_in("zjj")
    liaison.goto(f"{live_server}/kb/")
    assert (
        liaison.locator("#kb-unit-flagged")
        .inner_text()
        .startswith("本单位有 1 篇知识已失效或逾期未复审，请及时更新")
    )
    other = signed_in("cgj")
    other.goto(f"{live_server}/kb/")
    assert other.locator("#kb-unit-flagged").count() == 0


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD_MARKDOWN = """# 居民医保参保缴费
类型：办事指南
分类：社会保障/医疗保险
收费标准：每人每年 380 元

城乡居民基本医疗保险按年度缴费，可在社区服务中心或手机上办理。

# 医保卡丢失补办
类型：常见问题
分类：社会保障/医疗保险

医保卡丢失后先挂失，再到银行网点补办。
"""


def test_a_malformed_file_is_refused_whole_and_a_good_one_is_imported_and_found(
    signed_in: Open, api: Api, container: Container, live_server: str, tmp_path: Path
) -> None:
    _article(api, **FUND)
    before = api.get("/api/kb/articles?drafts=1", as_="admin").get_json()["total"]
    bad = tmp_path / "知识.xlsx"
    bad.write_bytes(
        _xlsx(
            [
                ["标题", "正文", "复审日期"],
                ["医保缴费", "按年度缴费", "2027-01-31"],
                ["医保卡补办", "先挂失再补办", "明年一月"],
            ]
        )
    )
    page = signed_in("admin")
    page.goto(f"{live_server}/kb/")
    page.get_by_role("link", name="导入导出").click()
    page.get_by_label("选择文件").set_input_files(str(bad))
    with page.expect_navigation() as sent:
        page.get_by_role("button", name="上传并导入").click()
    assert sent.value.status == 422
    problems = page.locator("#kb-import-problems")
    assert "没有导入任何内容" in problems.inner_text()
    rows = problems.locator("tbody tr").all_inner_texts()
    assert len(rows) == 1 and rows[0].startswith("第3行\t复审日期「明年一月」")
    shot(page, "kb-import-error")
    assert api.get("/api/kb/articles?drafts=1", as_="admin").get_json()["total"] == before

    good = tmp_path / "医保.md"
    good.write_text(GOOD_MARKDOWN, encoding="utf-8")
    page.get_by_label("选择文件").set_input_files(str(good))
    page.get_by_role("button", name="上传并导入").click()
    assert page.get_by_role("status").first.inner_text() == (
        "已导入 2 篇，正在后台建立搜索索引，通常一分钟内即可搜索到"
    )
    assert api.get("/api/kb/articles", as_="admin").get_json()["total"] == before + 2
    with container.uow() as uow:  # what the queued job does (no worker runs in the tests)
        assert index_pending(uow.session) == 2
    page.goto(f"{live_server}/kb/?q=医保卡丢了怎么办")
    first = page.locator("#kb-results > li").first
    assert first.locator("h3").inner_text() == "医保卡丢失补办"
    assert "社会保障/医疗保险" in first.locator(".kb-meta").inner_text()
    page.get_by_role("link", name="医疗保险").click()
    assert page.locator("#kb-results > li").count() == 2


def test_an_article_shown_but_not_cited_before_dispatching_is_a_gap(
    signed_in: Open, api: Api, live_server: str
) -> None:
    education = _article(api, **EDUCATION)
    page = signed_in("operator")
    _type_ticket(page, "孩子入学报名", "孩子入学报名材料不齐，学校不给报名")
    page.locator(f"#kb-hits > li[data-article-id='{education['id']}']").wait_for()
    page.get_by_label("派单至", exact=True).select_option(label="住房和城乡建设局")
    page.get_by_role("button", name="提交（Alt+S）").click()
    page.locator("#created").get_by_text("已受理并派单").wait_for()
    page.goto(f"{live_server}/kb/?q=火星探测器")

    admin = signed_in("admin")
    admin.goto(f"{live_server}/kb/")
    admin.get_by_role("link", name="知识缺口").click()
    row = admin.locator(f"#kb-failed tr[data-article-id='{education['id']}']")
    cells = row.locator("td").all_inner_texts()
    assert cells[0].startswith(EDUCATION["title"])
    assert cells[2] == "1 次"
    assert "孩子入学报名" in cells[3]
    assert cells[4] == "0 / 0"
    unanswered = admin.locator("#kb-unanswered tbody tr").first.locator("td").all_inner_texts()
    assert unanswered[:2] == ["火星探测器", "1"]
    shot(admin, "kb-gaps")
    admin.get_by_label("统计时段").select_option("7")
    admin.get_by_role("button", name="查看").click()
    assert admin.locator(f"#kb-failed tr[data-article-id='{education['id']}']").count() == 1


def test_editor_adds_and_renames_categories_and_cannot_delete_one_in_use(
    signed_in: Open, api: Api, live_server: str
) -> None:
    page = signed_in("lead")
    page.goto(f"{live_server}/kb/")
    page.get_by_role("link", name="目录管理").click()
    page.get_by_label("目录名称").fill("教育")
    page.get_by_role("button", name="添加目录").click()
    assert page.get_by_role("status").first.inner_text() == "已添加目录「教育」"
    page.get_by_label("目录名称").fill("义务教育")
    page.get_by_label("上级目录").select_option(label="教育")
    page.get_by_role("button", name="添加目录").click()
    page.get_by_label("目录名称").fill("义务教育")
    page.get_by_label("上级目录").select_option(label="教育")
    page.get_by_role("button", name="添加目录").click()
    assert page.locator("#cat-new-error").inner_text() == "同一上级目录下已有同名目录"

    page.get_by_label("目录「教育」的新名称", exact=True).fill("教育服务")
    page.get_by_role("button", name="重命名目录「教育」", exact=True).click()
    assert page.get_by_role("status").first.inner_text() == "已重命名为「教育服务」"
    tree = {c["path"]: c["id"] for c in api.get("/api/kb/categories").get_json()["items"]}
    assert set(tree) == {"教育服务", "教育服务/义务教育"}
    _article(api, **EDUCATION, category_id=tree["教育服务/义务教育"])

    page.get_by_role("button", name="删除目录「教育服务」", exact=True).click()
    assert page.locator(f"#cat-{tree['教育服务']}-error").inner_text() == (
        "该目录下还有子目录，不能删除"
    )
    page.get_by_role("button", name="删除目录「教育服务/义务教育」", exact=True).click()
    assert page.locator(f"#cat-{tree['教育服务/义务教育']}-error").inner_text() == (
        "该目录下还有知识文章，不能删除"
    )
    page.get_by_label("目录名称").fill("临时")
    page.get_by_role("button", name="添加目录").click()
    page.get_by_role("button", name="删除目录「临时」", exact=True).click()
    assert page.get_by_role("status").first.inner_text() == "已删除目录"
    assert page.locator("#kb-categories tbody tr").count() == 2

    page.get_by_role("link", name="查找知识").click()
    side = page.locator(".kb-tree li", has_text="义务教育")
    assert side.locator(".kb-n").inner_text() == "1"
    side.get_by_role("link").click()
    assert page.locator("#kb-results > li").first.locator("h3").inner_text() == (EDUCATION["title"])
