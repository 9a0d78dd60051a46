"""派单建议 in the operator's console, and the routing models page of the admin area."""

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.routing.learning import retrain
from dispatch.routing.models import RoutingModel
from hotline.bootstrap import Container
from tests.conftest import HOUSING
from tests.conftest import VENDOR
from tests.conftest import Api
from tests.conftest import World
from tests.conftest import history
from tests.e2e.conftest import shot

Open = Callable[[str], Any]


def _type_draft(page: Any, title: str, content: str, address: str = "") -> None:
    if address:
        page.get_by_label("地址").fill(address)
    page.get_by_label("标题").fill(title)
    page.get_by_label("诉求内容").fill(content)


def test_typing_a_complaint_shows_units_type_category_and_it_is_dispatched_at_once(
    signed_in: Open, api: Api, catalogue: World, container: Container
) -> None:
    container.assistant.router.threshold = 0.5
    page = signed_in("operator")
    page.get_by_label("来电号码").fill("13812345678")
    _type_draft(page, **HOUSING)
    first = page.locator("#suggested-units li").first
    first.get_by_text("住房和城乡建设局").wait_for()
    assert first.locator("mark", has_text="电梯").count() == 1  # the words that drove it
    assert page.locator("#suggested-units li").count() == 3
    # Empty fields take the top suggestion; the operator can still change them.
    assert page.get_by_label("诉求类型").input_value() == "complaint"
    assert page.get_by_label("事项分类").input_value() == "城乡建设/物业管理/电梯"
    assert (
        "提交后将自动派单至住房和城乡建设局" in page.locator("#auto-dispatch-preview").inner_text()
    )
    shot(page, "routing-suggestions")
    page.keyboard.press("Alt+S")
    page.locator("#created").get_by_text("已受理并派单").wait_for()
    why = page.locator("#auto-dispatch-result").inner_text()
    assert "自动派单至住房和城乡建设局" in why and "依据" in why
    ticket = api.get("/api/tickets").get_json()["items"][0]
    assert ticket["status"] == "dispatched"
    detail = api.get(f"/api/tickets/{ticket['id']}").get_json()
    assert detail["lead_unit"]["id"] == catalogue.units["zjj"]
    # The ticket page says why it went there.
    page.locator("#created a").click()
    page.get_by_text("自动派单至住房和城乡建设局").first.wait_for()


def test_a_street_vendor_at_an_address_is_suggested_to_that_street(
    signed_in: Open, catalogue: World, container: Container
) -> None:
    container.assistant.router.threshold = 1.0  # the operator decides here
    page = signed_in("operator")
    _type_draft(page, address="东湖区滨江路88号", **VENDOR)
    page.locator("#suggested-locality").get_by_text("东湖区 › 湖滨街道 › —").wait_for()
    first = page.locator("#suggested-units li").first
    assert "湖滨街道" in first.inner_text() and "事项目录规定属地办理" in first.inner_text()
    # The locality fields were empty: they take what the address says.
    assert page.get_by_label("区", exact=True).input_value() == str(catalogue.units["dh"])
    assert page.get_by_label("街道", exact=True).input_value() == str(catalogue.units["dh-hb"])
    assert "低于自动派单阈值" in page.locator("#auto-dispatch-preview").inner_text()
    first.get_by_role("button", name="选用").click()
    assert page.get_by_label("派单至", exact=True).input_value() == str(catalogue.units["dh-hb"])
    shot(page, "routing-locality")


def test_a_likely_duplicate_is_shown_and_merged(
    signed_in: Open, api: Api, catalogue: World, container: Container
) -> None:
    master = api.create(caller_phone="13900001111", **HOUSING)
    page = signed_in("operator")
    page.get_by_label("来电号码").fill("13900001111")
    _type_draft(page, "电梯还是坏的", "三号楼电梯故障停运，物业一直不修")
    dup = page.locator("#duplicates li").first
    dup.get_by_text(master["number"]).wait_for()
    assert "同一来电号码" in dup.inner_text()
    assert "疑似重复" in page.locator("#auto-dispatch-preview").inner_text()
    shot(page, "routing-duplicates")
    dup.get_by_role("button", name="合并到此工单").click()
    page.locator("#created").get_by_text("已受理并合并").wait_for()
    items = api.get("/api/tickets?status=merged").get_json()["items"]
    assert len(items) == 1 and items[0]["title"] == "电梯还是坏的"


@pytest.mark.parametrize("text", ["！！！？？……", "   "])
def test_text_without_words_gets_a_plain_message_and_the_form_still_works(
    signed_in: Open, api: Api, catalogue: World, text: str
) -> None:
    page = signed_in("operator")
    page.get_by_label("标题").fill("电梯")
    page.locator("#suggested-units li").first.wait_for()
    page.get_by_label("标题").fill(text)
    if text.strip():
        page.locator("#suggest-error").get_by_text("诉求内容为空").wait_for()
    else:
        page.locator("#suggestions").get_by_text("输入标题或诉求内容后显示派单建议").wait_for()
    page.get_by_label("标题").fill("路灯不亮")
    page.get_by_label("诉求内容").fill("滨江路路灯一周不亮")
    page.locator("#suggested-units li").first.wait_for()
    page.get_by_label("派单至", exact=True).select_option("")
    page.keyboard.press("Alt+S")
    page.locator("#created").get_by_text("已受理").wait_for()
    assert api.get("/api/tickets").get_json()["total"] == 1


@pytest.mark.redis
def test_admin_sees_the_model_versions_and_queues_a_retraining(
    signed_in: Open,
    live_server: str,
    catalogue: World,
    container: Container,
    api: Api,
    real_redis: Any,
) -> None:
    history(api, catalogue, 60)
    retrain(container.uow(), trigger="manual")
    page = signed_in("admin")
    page.goto(f"{live_server}/admin/routing")
    active = page.locator("#active-model")
    assert "v1" in active.inner_text() and "启用中" in active.inner_text()
    assert page.locator("#active-scores tbody tr").count() == 3
    assert "启用中" in page.locator("#version-1").inner_text()
    assert "属地办理" in (page.locator("#matters").text_content() or "")
    shot(page, "admin-routing")
    page.get_by_role("button", name="立即重新训练").click()
    assert "已提交重新训练任务" in page.get_by_role("status").first.inner_text()
    page.get_by_role("button", name="立即重新训练").click()
    assert "已有一个训练任务在排队或进行中" in page.get_by_role("status").first.inner_text()
    assert real_redis.llen("rq:queue:dispatch") == 1  # queued once, for the worker
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(RoutingModel)) == 1


def test_admin_marks_a_matter_local_and_the_console_follows(
    signed_in: Open, live_server: str, catalogue: World
) -> None:
    admin = signed_in("admin")
    admin.goto(f"{live_server}/admin/routing")
    admin.get_by_label("事项分类（各级用 / 分隔）").fill("城市管理/市政设施")
    admin.get_by_role("button", name="保存事项").click()
    assert "请选择主管部门" in admin.locator("#matter-unit_id-error").inner_text()
    admin.get_by_label("属地办理（不选主管部门）").check()
    admin.get_by_label("事项分类（各级用 / 分隔）").fill("环境保护/噪声污染/广场舞噪声")
    admin.get_by_label("关键词（用空格或逗号分隔）").fill("广场舞 音响")
    admin.get_by_role("button", name="保存事项").click()
    assert "已添加事项" in admin.get_by_role("status").first.inner_text()
    assert "环境保护/噪声污染/广场舞噪声" in (admin.locator("#matters").text_content() or "")

    page = signed_in("operator")
    _type_draft(page, "广场舞音响太吵", "每晚广场舞音响噪音扰民", address="滨江路1号")
    page.locator("#suggested-category").get_by_text(
        "环境保护/噪声污染/广场舞噪声（属地）"
    ).wait_for()
    assert "湖滨街道" in page.locator("#suggested-units li").first.inner_text()
