"""网上诉求 on a phone: a citizen submits with a photo, keeps the link, follows the ticket."""

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from dispatch.tickets.models import Attachment
from dispatch.tickets.models import Ticket
from hotline.bootstrap import Container
from tests.conftest import World
from tests.e2e.conftest import shot

pytestmark = pytest.mark.slow
PHONE_VIEWPORT = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def fake_redis(container: Container) -> Iterator[None]:
    import fakeredis

    container._redis = fakeredis.FakeRedis()
    yield
    container._redis = None


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized browser that may use its location (a point in 东湖区)."""
    context = browser.new_context(
        locale="zh-CN",
        viewport=PHONE_VIEWPORT,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        permissions=["geolocation"],
        geolocation={"latitude": 30.5728, "longitude": 114.2796},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def png() -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", (320, 240), (90, 140, 200))
    for x in range(120, 200):
        for y in range(150, 240):
            img.putpixel((x, y), (70, 70, 70))
    img.save(out, format="PNG")
    return out.getvalue()


def tickets(container: Container) -> list[tuple[str, str, float | None, int]]:
    with container.uow() as uow:
        rows = uow.session.scalars(sa.select(Ticket).order_by(Ticket.id)).all()
        return [
            (
                t.channel.value,
                t.status.value,
                t.latitude,
                len(
                    uow.session.scalars(
                        sa.select(Attachment).where(Attachment.ticket_id == t.id)
                    ).all()
                ),
            )
            for t in rows
        ]


def test_a_citizen_submits_with_a_photo_and_follows_the_ticket(
    phone: Any, live_server: str, container: Container, catalogue: World
) -> None:
    page = phone
    page.goto(f"{live_server}/intake")
    assert page.get_by_role("heading", name="网上诉求").is_visible()
    page.get_by_label("诉求内容").fill(
        "阳光花园3号楼电梯故障停运一个月，物业不管不问，老人上下楼困难。"
    )
    assert page.locator("[data-count-for=description]").inner_text() == "32 / 4000 字，至少 5 字"
    page.get_by_label("标题").fill("小区电梯坏了一个月没人修")
    page.get_by_label("地址").fill("东湖区滨江路阳光花园3号楼")
    page.get_by_role("button", name="使用当前位置").click()
    page.get_by_text("已获取位置（30.572800, 114.279600）").wait_for()
    page.get_by_label("联系电话").fill("13912345678")
    page.get_by_label("照片").set_input_files(
        {"name": "电梯.png", "mimeType": "image/png", "buffer": png()}
    )
    page.locator("#photo-preview").wait_for(state="visible")
    # One column that fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    shot(page, "intake-form")
    page.get_by_role("button", name="提交诉求").click()

    page.get_by_role("heading", name="提交成功").wait_for()
    number = page.locator("#number").inner_text()
    assert re.fullmatch(r"JC\d{8}\d{7}", number)
    link = page.get_by_label("查询链接").input_value()
    assert link.startswith(f"{live_server}/status/{number}?t=")
    assert page.get_by_role("button", name="复制链接").is_visible()
    shot(page, "intake-done")
    assert tickets(container) == [("web", "dispatched", 30.5728, 1)]

    page.get_by_role("link", name="查看办理进度").click()
    page.get_by_role("heading", name="办理进度").wait_for()
    assert page.locator("#status-label").inner_text() in ("已受理", "办理中")
    assert page.locator(".steps li[aria-current=step]").inner_text() == "办理中"
    assert "住房和城乡建设局" in page.locator(".facts").inner_text()
    assert "13912345678" not in page.content()
    image = page.get_by_role("img", name="诉求照片 1")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 320
    shot(page, "intake-status")


def test_a_too_large_photo_is_stopped_in_the_browser_and_at_the_server(
    phone: Any, live_server: str, container: Container, tmp_path: Path
) -> None:
    page = phone
    page.goto(f"{live_server}/intake")
    page.get_by_label("诉求内容").fill("路口红绿灯坏了，早晚高峰很危险。")
    big = tmp_path / "big.png"
    big.write_bytes(png() + b"\0" * (20 * 1024 * 1024))
    page.get_by_label("照片").set_input_files(str(big))
    warning = page.locator('[data-error-for="photo-client"]')
    warning.wait_for(state="visible")
    assert "照片太大（20.0 MB），不能超过 10 MB" in warning.inner_text()
    page.get_by_role("button", name="提交诉求").click()
    assert page.url == f"{live_server}/intake" and tickets(container) == []

    # Without the browser's check (an old phone, scripts off) the server says the same.
    page.evaluate("document.getElementById('intake-form').dataset.maxBytes = '0'")
    page.get_by_role("button", name="提交诉求").click()
    page.get_by_text("照片太大，未能提交").wait_for()
    assert "照片不能超过 10 MB" in page.locator('[data-error-for="photo"]').inner_text()
    assert tickets(container) == []


def test_going_back_and_submitting_again_makes_no_second_ticket(
    phone: Any, live_server: str, container: Container, catalogue: World
) -> None:
    page = phone
    page.goto(f"{live_server}/intake")
    page.get_by_label("诉求内容").fill("滨江路路灯坏了一个星期，晚上很黑，老人走路不安全。")
    page.get_by_label("联系电话").fill("139-1234-5679")
    page.get_by_role("button", name="提交诉求").click()
    first = page.locator("#number").inner_text()

    page.go_back()
    page.get_by_label("诉求内容").fill("滨江路路灯坏了一个星期，晚上很黑，老人走路不安全。")
    page.get_by_role("button", name="提交诉求").click()

    assert page.locator("#number").inner_text() == first
    assert len(tickets(container)) == 1
    # a new request, opened afresh, is a new ticket
    page.get_by_role("link", name="再提交一个诉求").click()
    page.get_by_label("诉求内容").fill("小区门口的垃圾桶三天没人清运，气味很大。")
    page.get_by_role("button", name="提交诉求").click()
    assert page.locator("#number").inner_text() != first
    assert len(tickets(container)) == 2


def test_an_over_long_title_is_named_before_it_is_sent(
    phone: Any, live_server: str, container: Container, catalogue: World
) -> None:
    page = phone
    page.goto(f"{live_server}/intake")
    page.get_by_label("诉求内容").fill("滨江路路灯坏了一个星期，晚上很黑。")
    page.get_by_label("标题").fill("路灯" * 60)  # 120 characters: nothing is cut off

    assert page.locator("[data-count-for=title]").inner_text() == "120 / 100 字，超出 20 字，请删减"
    page.get_by_role("button", name="提交诉求").click()
    assert page.get_by_label("标题").input_value() == "路灯" * 60
    assert tickets(container) == []
