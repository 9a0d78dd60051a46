"""The operator's and the supervisor's buttons, in the browser, driving real softphones.

Kamailio, pjsua2 seats (the operator's, the supervisor's, a citizen's and the numbers they
are handed to) and the web app under test; chromium clicks the buttons.
"""

import json
import time
from pathlib import Path
from typing import Any

from callcenter.seat import write_tone
from hotline.bootstrap import Container
from tests.e2e.conftest import shot
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for

CITIZEN = "13912345678"  # the citizen's softphone registers under their number


def _dial(redis_conn: Any, tone: Path) -> None:
    message = {"action": "dial", "target": "12345", "play": str(tone)}
    assert redis_conn.publish(f"acd:seatcmd:{CITIZEN}", json.dumps(message)) == 1


def _sign_in(page: Any, seat: str) -> None:
    page.get_by_label("坐席号").fill(seat)
    page.get_by_role("button", name="签入坐席").click()
    page.locator("#seat-state").get_by_text(f"坐席 {seat}：示忙").wait_for()


def test_the_operator_answers_brings_in_a_unit_and_transfers_from_the_browser(
    stack: Stack,
    signed_in: Any,
    live_server: str,
    container: Container,
    real_redis: Any,
    tmp_path: Path,
) -> None:
    stack.start_edge(transfer_targets=("110", "120"))
    for name, auto in (("s01", None), (CITIZEN, None), ("110", 0.2), ("120", 0.2)):
        stack.phone(name, auto)
    tone = write_tone(tmp_path / "tone.wav", [440.0], 1.0)
    page = signed_in("operator")
    page.goto(f"{live_server}/console")
    _sign_in(page, "s01")
    page.get_by_role("button", name="就绪").click()
    page.locator("#seat-state").get_by_text("坐席 s01：就绪").wait_for()

    _dial(real_redis, tone)
    page.locator("#incoming").get_by_text(f"来电 {CITIZEN}").wait_for()
    assert "江苏省常州市" in page.locator("#incoming").inner_text()  # phonenumbers
    page.get_by_role("button", name="接听").click()
    page.locator("#seat-state").get_by_text("通话中").wait_for()

    # 三方通话 with 120, then 结束三方: the citizen stays with the operator
    page.get_by_label("转接号码").select_option("120")
    page.get_by_role("button", name="三方通话").click()
    page.locator("#call-event").get_by_text("三方通话已接通").wait_for(timeout=15_000)
    shot(page, "operator-three-way")
    page.get_by_role("button", name="结束三方").click()
    page.locator("#call-event").get_by_text("第三方已挂断").wait_for(timeout=15_000)

    # 转接 110: the seat leaves the call and goes to wrap-up
    page.get_by_label("转接号码").select_option("110")
    page.get_by_role("button", name="转接").click()
    page.locator("#call-event").get_by_text("已转接").wait_for(timeout=15_000)
    page.locator("#seat-state").get_by_text("话后整理").wait_for(timeout=15_000)
    calls = [e for e in container.acd.events() if e["type"] == "ended"]
    assert calls and calls[-1]["by"] == "transfer"
    record = call_record(container, calls[-1]["call"])
    assert (record.transfer_target, record.conference_target) == ("110", "120")
    assert record.recording and (tmp_path / "rec-s01" / record.recording).exists()


def test_the_supervisor_listens_in_from_the_hall_page(
    stack: Stack,
    signed_in: Any,
    live_server: str,
    container: Container,
    real_redis: Any,
    tmp_path: Path,
    world: Any,
) -> None:
    stack.start_edge()
    for name, auto in (("s01", 0.2), ("sup", None), (CITIZEN, None)):
        stack.phone(name, auto)
    operator = world.users["operator"]
    container.acd.login("s01", f"u{operator}", user_id=operator)
    container.acd.ready("s01")
    tone = write_tone(tmp_path / "tone.wav", [440.0], 1.0)
    _dial(real_redis, tone)
    wait_for(lambda: container.acd.seat("s01").get("state") == "talking", 15, "the answer")

    page = signed_in("supervisor")
    page.goto(f"{live_server}/console")
    _sign_in(page, "sup")
    page.goto(f"{live_server}/supervise/hall")
    row = page.locator("tr", has_text="s01")
    row.get_by_text("通话中").wait_for()
    row.get_by_text("*******5678").wait_for()  # the caller, masked
    row.get_by_role("button", name="监听").click()
    wait_for(lambda: "event spy_started" in stack.log("sup"), 15, "the supervisor's phone")
    shot(page, "hall-monitor")
    time.sleep(1.5)
    row.get_by_role("button", name="强插").click()
    wait_for(lambda: "spy_barge" in _audits(container), 10, "the barge-in to be asked for")
    # the operator's phone took a second listening call, the barging one
    wait_for(lambda: stack.log("s01").count("spy_in media up") == 2, 15, "the barge-in")
    assert "spy_monitor" in _audits(container)


def _audits(container: Container) -> set[str]:
    from infra.models import AuditEntry

    with container.uow() as uow:
        return {a.action for a in uow.session.query(AuditEntry)}


def test_the_operator_brings_in_a_unit_from_the_directory(
    stack: Stack,
    signed_in: Any,
    live_server: str,
    container: Container,
    real_redis: Any,
    tmp_path: Path,
) -> None:
    """A unit's phone in 系统管理 → 单位 is a three-way target though config.yaml lists only
    110/119/120/122; the unit (a phone registered under that number) hears the citizen."""
    from infra.models import Unit

    with container.uow() as uow:
        unit = uow.session.query(Unit).filter_by(code="zjj").one()
        unit.phone, name = "0710-88881201", unit.name
        uow.commit()
    stack.start_edge()
    citizen = "13912340077"  # a number of this test's own (seat channels are server-wide)
    for number, auto in (("s01", None), (citizen, None), ("071088881201", 0.2)):
        stack.phone(number, auto)
    page = signed_in("operator")
    page.goto(f"{live_server}/console")
    _sign_in(page, "s01")
    page.get_by_role("button", name="就绪").click()
    tone = write_tone(tmp_path / "tone.wav", [440.0], 1.0)
    dial = {"action": "dial", "target": "12345", "play": str(tone)}
    assert real_redis.publish(f"acd:seatcmd:{citizen}", json.dumps(dial)) == 1
    page.get_by_role("button", name="接听").click()
    page.locator("#seat-state").get_by_text("通话中").wait_for()
    page.get_by_label("转接号码").select_option(label=f"{name} 071088881201")
    page.get_by_role("button", name="三方通话").click()
    page.locator("#call-event").get_by_text("三方通话已接通").wait_for(timeout=15_000)
    call_id = container.acd.seat("s01")["call"]
    page.get_by_role("button", name="挂断（Alt+H）").click()
    page.locator("#seat-state").get_by_text("话后整理").wait_for(timeout=15_000)
    assert call_record(container, call_id).conference_target == "071088881201"


def _mayors_line(container: Container, world: Any) -> None:
    """83333333 原市长热线, merged into the hotline; the operator takes its calls."""
    from callcenter.lines import save_line

    save_line(
        container.uow(),
        None,
        line_id=None,
        number="83333333",
        name="原市长热线",
        user_ids=[world.users["operator"]],
        hotline_number="12345",
    )


def test_a_call_to_a_merged_line_pops_up_its_origin_at_a_seat_that_takes_the_line(
    stack: Stack,
    signed_in: Any,
    live_server: str,
    container: Container,
    world: Any,
    real_redis: Any,
) -> None:
    """原市长热线 83333333 rings the hotline: through Kamailio to the seat of an operator who
    takes the line, never to the ready seat whose operator does not."""
    _mayors_line(container, world)
    stack.start_edge()
    for name, auto in (("s01", None), ("s02", 0.2)):
        stack.phone(name, auto)
    lead = world.users["lead"]
    container.acd.login("s02", f"u{lead}", user_id=lead)  # ready, without the line's skill
    container.acd.ready("s02")
    page = signed_in("operator")
    page.goto(f"{live_server}/console")
    _sign_in(page, "s01")
    page.get_by_role("button", name="就绪").click()
    page.locator("#seat-state").get_by_text("坐席 s01：就绪").wait_for()
    stack.call_in_background(talk_ms=3000, number="83333333")
    page.locator("#incoming").get_by_text("来电线路：原市长热线").wait_for(timeout=15_000)
    shot(page, "console-merged-line")
    call_id = container.acd.seat("s01")["call"]
    assert container.acd.call(call_id)["line"] == "原市长热线"
    assert container.acd.seat("s02")["state"] == "ready"  # never offered to the other seat
    assert call_record(container, call_id).line == "原市长热线"


def test_a_call_forwarded_from_a_merged_line_is_known_by_its_diversion_header(
    stack: Stack, container: Container, world: Any, real_redis: Any, tmp_path: Path
) -> None:
    """双号并行: the old number forwards to 12345, saying so in a Diversion header."""
    from tests.telephony.conftest import CALLER

    _mayors_line(container, world)
    stack.start_edge()
    stack.phone("s01", 0.2)
    operator = world.users["operator"]
    container.acd.login("s01", f"u{operator}", ("line83333333",), user_id=operator)
    container.acd.ready("s01")
    forwarded = tmp_path / "forwarded.xml"
    forwarded.write_text(
        CALLER.read_text(encoding="utf-8").replace(
            "      Subject: hotline call\n",
            "      Subject: hotline call\n"
            "      Diversion: <sip:83333333@[remote_ip]>;reason=unconditional\n",
            1,
        ),
        encoding="utf-8",
    )
    done = stack.sipp(forwarded)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [ended] = [e for e in container.acd.events() if e["type"] == "ended"]
    assert call_record(container, ended["call"]).line == "原市长热线"
