"""网上诉求 on a phone (390 px): a citizen writes with a photo, submits, goes back and presses
提交 again (one ticket all the same), and follows the ticket on the status page, photo and
all."""

import random
import re

from playwright.sync_api import expect

from tests.journeys.conftest import PHONE
from tests.journeys.conftest import Journey
from tests.journeys.conftest import sha256
from tests.journeys.files import jpeg

PHOTO = jpeg(480, 640, seed=3)  # portrait, as phones take them


def test_a_citizen_reports_with_a_photo_and_follows_the_ticket(journey: Journey) -> None:
    phone = f"139{random.randrange(10**8):08d}"
    page = journey.browser_for(
        "citizen", PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page.goto(f"{journey.url}/intake")
    expect(page.get_by_role("heading", name="网上诉求")).to_be_visible()
    journey.seen(page, "intake")
    page.get_by_label("诉求内容").fill(
        "滨江路阳光花园门口的路灯坏了一个多星期，晚上很黑，老人走路容易摔倒。"
    )
    page.get_by_label("标题").fill("小区门口路灯不亮")
    page.get_by_label("地址").fill("东湖区滨江路阳光花园南门")
    page.get_by_label("联系电话").fill(phone)
    page.get_by_label("照片").set_input_files(
        {"name": "路灯.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}
    )
    expect(page.locator("#photo-preview")).to_be_visible()
    # one column that fits the phone: nothing wider than the screen
    journey.soft(
        "the form fits the phone",
        lambda: _same(
            page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], True
        ),
    )
    journey.seen(page, "intake-filled")

    page.get_by_role("button", name="提交诉求").click()
    expect(page.get_by_role("heading", name="提交成功")).to_be_visible()
    number = page.locator("#number").inner_text().strip()
    assert re.fullmatch(r"JC\d{15}", number), number
    link = page.get_by_label("查询链接").input_value()
    assert re.search(rf"/status/{number}\?t=", link), link
    journey.seen(page, "intake-done")

    # Back to the form, as people do, and 提交 once more: still one ticket.
    page.go_back()
    journey.seen(page, "intake-back")
    page.get_by_role("button", name="提交诉求").click()
    page.wait_for_load_state("load")
    journey.seen(page, "intake-submitted-again")

    def same_ticket_or_a_message() -> None:
        if page.locator("#number").count():
            again = page.locator("#number").inner_text().strip()
            assert again == number, f"a second ticket {again} after {number}"
        else:  # no number: then the page must say why, in words
            expect(page.locator("[role=alert], .alert, .field-error").first).to_be_visible()

    journey.soft("submitting again shows the same ticket or says why not", same_ticket_or_a_message)
    lead = journey.sign_in("lead1")
    found = journey.get(lead, f"/api/tickets?caller_phone={phone}").json()
    journey.soft(
        "one ticket however often 提交 was pressed",
        lambda: _same([t["number"] for t in found["items"]], [number]),
    )

    page.goto(link)
    expect(page.get_by_role("heading", name="办理进度")).to_be_visible()
    assert phone not in page.content()
    image = page.get_by_role("img", name="诉求照片 1")
    image.scroll_into_view_if_needed()
    journey.soft(
        "the status page shows the photo",
        lambda: _same(image.evaluate("img => img.complete && img.naturalWidth"), 480),
    )
    journey.seen(page, "status")
    src = image.get_attribute("src") or ""
    answer = page.request.get(f"{journey.url}{src}" if src.startswith("/") else src)
    assert answer.status == 200, f"{src} answers {answer.status}"
    assert sha256(answer.body()) == sha256(PHOTO), "the status page's photo is not the one sent"
    journey.soft(
        "the status page fits the phone",
        lambda: _same(
            page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], True
        ),
    )
    journey.assert_clean()


def _same(got: object, wanted: object) -> None:
    assert got == wanted, f"{got} (expected {wanted})"
