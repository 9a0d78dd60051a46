"""The operator's console at the seat screen's size: what was not dispatched is unmistakable
and one key away, and nothing typed is cut off without a word."""

from collections.abc import Callable
from typing import Any

import pytest

from hotline.bootstrap import Container
from tests.conftest import HOUSING
from tests.conftest import Api
from tests.conftest import World
from tests.e2e.conftest import kamailio
from tests.e2e.conftest import shot

Open = Callable[[str], Any]


def test_a_ticket_left_undispatched_says_so_and_alt_d_sends_the_suggestion(
    signed_in: Open, api: Api, catalogue: World, container: Container
) -> None:
    container.assistant.router.threshold = 0.999  # smart dispatch is not sure
    page = signed_in("operator")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.get_by_label("来电号码").fill("13812345678")
    page.get_by_label("标题").fill(HOUSING["title"])
    page.get_by_label("诉求内容").fill(HOUSING["content"])
    page.locator("#suggested-units li").first.get_by_text("住房和城乡建设局").wait_for()

    page.keyboard.press("Alt+S")

    warning = page.locator("#not-dispatched")
    warning.get_by_text("未派单").wait_for()
    assert warning.is_visible() and warning.bounding_box()["y"] < 768  # above the fold
    button = page.locator("#dispatch-suggested")
    assert button.inner_text() == "派给 住房和城乡建设局（Alt+D）"
    assert page.evaluate("document.activeElement.id") == "dispatch-suggested"
    shot(page, "console-not-dispatched")
    page.keyboard.press("Alt+D")
    page.locator("#dispatched-now").get_by_text("住房和城乡建设局").wait_for()
    ticket = api.get("/api/tickets").get_json()["items"][0]
    assert (ticket["status"], ticket["lead_unit"]["name"]) == ("dispatched", "住房和城乡建设局")


def test_an_over_long_title_is_flagged_and_kept_whole(
    signed_in: Open, api: Api, catalogue: World
) -> None:
    page = signed_in("operator")
    long_title = "小区电梯" * 55  # 220 characters, pasted from a message
    page.get_by_label("标题").fill(long_title)

    counter = page.locator("#title-count")
    assert counter.inner_text() == "220 / 200，超出 20 字，请删减"
    assert page.get_by_label("标题").input_value() == long_title  # nothing was cut off
    page.get_by_label("诉求类型").select_option("complaint")
    page.get_by_label("诉求内容").fill("电梯停运")
    page.keyboard.press("Alt+S")
    page.locator('[data-error-for="title"]').get_by_text("不能超过200个字符").wait_for()
    assert api.get("/api/tickets").get_json()["total"] == 0


@pytest.mark.redis
def test_an_incoming_call_is_seen_focused_and_the_buttons_follow_it(
    signed_in: Open, live_server: str, real_redis: Any, world: World
) -> None:
    page = signed_in("operator")
    page.set_viewport_size({"width": 1366, "height": 768})
    calls = ("挂断（Alt+H）", "保持", "恢复", "静音", "取消静音", "发送按键", "转接", "三方通话")
    enabled = lambda name: page.get_by_role("button", name=name, exact=True).is_enabled()  # noqa: E731
    assert not any(enabled(name) for name in calls)  # no seat
    page.get_by_label("坐席号").fill("s01")
    page.get_by_role("button", name="签入坐席").click()
    page.get_by_role("button", name="就绪").click()
    page.locator("#seat-state").get_by_text("坐席 s01：就绪").wait_for()
    assert not any(enabled(name) for name in calls)  # signed in, but no call

    assert kamailio(live_server, "route?call_id=c1&from=13912345678").startswith("ring s01")

    banner = page.locator("#incoming")
    banner.get_by_text("来电 13912345678").wait_for()
    assert banner.bounding_box()["y"] < 200  # at the top of the seat's screen
    assert page.evaluate("document.activeElement.dataset.call") == "answer"  # Enter answers
    titles = page.evaluate(SAMPLE_TITLES)
    assert any(t.startswith("【来电】") for t in titles)  # the tab says so from afar
    assert not any(enabled(name) for name in calls)  # ringing: only 接听
    assert not enabled("就绪") and not enabled("签出")
    kamailio(live_server, "answered?call_id=c1&seat=s01")
    page.locator("#seat-state").get_by_text("通话中").wait_for()
    assert [enabled(name) for name in calls] == [True, True, False, True, False, True, True, True]
    assert page.locator("#incoming button[data-call=answer]").is_hidden()
    kamailio(live_server, "ended?call_id=c1&by=caller")
    page.locator("#seat-state").get_by_text("话后整理").wait_for()
    assert not any(enabled(name) for name in calls)
    assert banner.is_hidden()


# The tab's title, every 100 ms for 1.5 s (it blinks while a call rings).
SAMPLE_TITLES = """new Promise((done) => {
  const seen = [];
  const timer = setInterval(() => seen.push(document.title), 100);
  setTimeout(() => { clearInterval(timer); done(seen); }, 1500);
})"""


def test_the_operator_sees_what_the_unit_will_read_before_dispatch(
    signed_in: Open, api: Api
) -> None:
    page = signed_in("operator")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.get_by_label("来电号码").fill("17212349251")
    page.get_by_label("诉求人").fill("张建国")
    page.get_by_label("标题").fill("张建国反映电梯停运")
    page.get_by_label("诉求内容").fill(
        "来电人张建国反映电梯停运三天，回电13912345678，身份证11010119900307123X"
    )
    panel = page.locator("aside #unit-preview")
    content = panel.locator("#unit-preview-content")
    content.get_by_text("来电人某某反映电梯停运三天").wait_for()
    text = panel.inner_text()
    assert "张建国" not in text and "13912345678" not in text and "123X" not in text
    assert "172****9251" in text and "张**" in text
    panel.scroll_into_view_if_needed()
    shot(page, "console-unit-preview")
    page.get_by_label("保密").check()
    # 保密: no digit of the number and no surname, once the panel follows the box
    page.wait_for_function(
        "() => !document.querySelector('aside #unit-preview').innerText.includes('172')"
    )
    assert "张" not in panel.inner_text()
    page.get_by_label("保密").uncheck()
    page.get_by_label("同意向承办单位公开身份").check()
    content.get_by_text("来电人张建国反映").wait_for()

    # the ticket page shows the same panel, from the server, beside the text as written
    t = api.create(content="来电人张建国反映电梯停运，回电13912345678", citizen_name="张建国")
    page.goto(page.url.split("/console")[0] + f"/tickets/{t['id']}")
    preview = page.locator("#unit-preview")
    preview.get_by_text("来电人某某反映电梯停运，回电***********").wait_for()
    assert "张建国" not in preview.inner_text()
    shot(page, "ticket-unit-preview")
