"""The operator's seat in the console: sign in, be ready, see who is calling before answering."""

from collections.abc import Callable
from typing import Any

import pytest

from hotline.bootstrap import Container
from tests.conftest import Api
from tests.e2e.conftest import kamailio
from tests.e2e.conftest import shot

Open = Callable[[str], Any]


def wait_for_link(container: Container, call_id: str) -> None:
    import time

    from callcenter.models import CallRecord

    for _ in range(50):
        with container.uow() as uow:
            row = uow.session.query(CallRecord).filter_by(call_id=call_id).one()
            if row.ticket_id is not None:
                return
        time.sleep(0.1)
    raise AssertionError("the ticket was not linked to the call")


pytestmark = pytest.mark.redis


def test_operator_signs_in_to_a_seat_and_a_call_pops_up_with_the_callers_history(
    signed_in: Open, live_server: str, api: Api, container: Container, real_redis: Any
) -> None:
    api.create(caller_phone="13812345678", title="上次反映的噪音问题", content="楼下商铺音响扰民")
    page = signed_in("operator")
    page.get_by_label("坐席号").fill("s07")
    page.get_by_role("button", name="签入坐席").click()
    page.locator("#seat-state").get_by_text("坐席 s07：示忙").wait_for()
    page.get_by_role("button", name="就绪").click()
    page.locator("#seat-state").get_by_text("坐席 s07：就绪").wait_for()
    assert container.acd.seat("s07")["state"] == "ready"

    # Kamailio asks the ACD for a seat (as it does for a real call): the seat rings.
    assert kamailio(live_server, "route?call_id=e2e-1&from=13812345678").startswith("ring s07")
    incoming = page.locator("#incoming")
    incoming.get_by_text("来电 13812345678").wait_for()
    assert "江苏省连云港市" in incoming.inner_text()
    assert page.get_by_label("来电号码").input_value() == "13812345678"
    page.locator("#screen-pop").get_by_text("上次反映的噪音问题").wait_for()
    shot(page, "operator-incoming-call")

    # No softphone process runs for s07 here: the button says so instead of failing silently.
    page.get_by_role("button", name="接听").click()
    page.locator("#toast").get_by_text("坐席话机未连接").wait_for()
    # The seat's phone answers (Kamailio reports it): the console follows.
    for step in ("answered?call_id=e2e-1&seat=s07", "ended?call_id=e2e-1"):
        kamailio(live_server, step)  # raises unless 200
        if step.startswith("answered"):
            page.locator("#seat-state").get_by_text("坐席 s07：通话中").wait_for()
            # The operator accepts the request while talking: the ticket goes on the call's record.
            page.get_by_label("诉求类型").select_option("complaint")
            page.get_by_label("标题").fill("噪音问题又出现了")
            page.get_by_label("诉求内容").fill("楼下商铺音响又开到很晚")
            page.get_by_label("派单至", exact=True).select_option("")
            page.keyboard.press("Alt+S")
            page.locator("#created").get_by_text("已受理").wait_for()
            wait_for_link(container, "e2e-1")
    page.locator("#seat-state").get_by_text("话后整理").wait_for()
    page.get_by_role("button", name="小休").click()
    page.locator("#seat-state").get_by_text("示忙（小休）").wait_for()
    page.get_by_role("button", name="签出").click()
    page.locator("#seat-state").get_by_text("未签入坐席").wait_for()
