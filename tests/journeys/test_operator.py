"""The operator's day: a call comes in, is noticed and answered by key, and becomes a ticket
dispatched at once (受理并派单); a ticket left undispatched is flagged; an operator who signs
out of the web app is not rung any more."""

import re
import time
import wave
from typing import Any
from urllib.parse import quote

import numpy as np
from playwright.sync_api import expect

from callcenter.edge.announcer import position_text
from callcenter.edge.announcer import speak
from infra.settings import TelephonySettings
from tests.audio import found_at
from tests.journeys.conftest import DESKTOP
from tests.journeys.conftest import PHONE
from tests.journeys.conftest import Journey

ANSWER = "button[data-call=answer]"
HANGUP = "button[data-call=hangup]"


def sign_in_to_seat(page: Any, seat: str) -> None:
    """签入坐席 and 就绪 in the console's seat panel."""
    # the console's headset: the seat calls the browser and keeps that call for the shift
    sign_in_not_ready(page, seat)
    state = page.locator("#seat-state")
    page.locator(".seat").get_by_role("button", name="就绪").click()
    expect(state).to_have_attribute("data-state", "ready")


def sign_in_not_ready(page: Any, seat: str) -> None:
    """签入坐席 only: the seat is 示忙 until the operator presses 就绪."""
    page.locator("#seat-name").fill(seat)
    page.locator("#seat-login").get_by_role("button", name="签入坐席").click()
    expect(page.locator("#seat-state")).to_have_attribute("data-state", "not_ready")
    expect(page.locator("#headset-state")).to_have_text("网页耳机已接通", timeout=30_000)


def hears_the_caller(page: Any) -> None:
    """The headset plays the caller (`hotline call` speaks a sentence): the loudest bin of the
    telephone band in what the page receives stands well above silence (-200 dB)."""
    loudest = -200.0
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and loudest < -90:
        spectrum = page.evaluate("window.HotlineHeadset && window.HotlineHeadset.spectrum()")
        if spectrum:
            per_bin = spectrum["binHz"]
            band = spectrum["data"][int(300 / per_bin) : int(3400 / per_bin)]
            loudest = max(loudest, max(band))
        time.sleep(0.2)
    assert loudest > -90, f"the headset is silent (loudest bin {loudest:.0f} dB)"


def sign_out_of_seat(page: Any) -> None:
    page.locator(".seat").get_by_role("button", name="签出").click()
    expect(page.locator("#seat-state")).to_have_attribute("data-state", "offline")
    expect(page.locator("#headset-state")).to_be_hidden()  # the headset hangs up with it


def seat_shows(journey: Journey, page: Any, state: str, words: str) -> None:
    """The console's seat state: `data-state` (noted when missing), else at least its words."""
    box = page.locator("#seat-state")
    data = lambda: expect(box).to_have_attribute("data-state", state, timeout=8000)  # noqa: E731
    if not journey.soft(f"#seat-state data-state follows the call ({state})", data):
        expect(box).to_contain_text(words)


def quiet_hall(journey: Journey, lead: Any) -> None:
    """Wait until no call is queued or at a seat: a call an earlier journey left (its caller
    killed without a BYE) would ring the seats of this one. The ACD and the edge let go of
    such a call within about a minute (ring timeout, stale-call sweep, overflow)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = hall(journey, lead)
        busy = [s["seat"] for s in now["seats"] if s["state"] in ("ringing", "talking")]
        if not now["queue"] and not busy:
            return
        time.sleep(1)
    raise AssertionError(f"calls from before this journey are still going: {now}")


def hall(journey: Journey, lead: Any) -> dict[str, Any]:
    """The ACD's hall as the team lead's API sees it."""
    data: dict[str, Any] = journey.get(lead, "/api/cti/hall").json()
    return data


def seat_state(snapshot: dict[str, Any], seat: str) -> str:
    return next((s["state"] for s in snapshot["seats"] if s["seat"] == seat), "offline")


def test_the_operator_notices_a_call_answers_it_by_key_and_dispatches_the_ticket(
    journey: Journey,
) -> None:
    caller = "13912340001"
    quiet_hall(journey, journey.sign_in("lead1"))
    page = journey.sign_in("operator1")
    expect(page).to_have_url(re.compile(r"/console$"))
    journey.seen(page, "console")
    sign_in_to_seat(page, "s01")
    state = page.locator("#seat-state")
    answer, hangup = page.locator(ANSWER), page.locator(HANGUP)
    journey.soft("no call: 接听 disabled", lambda: expect(answer).to_be_disabled(timeout=3000))
    journey.soft("no call: 挂断 disabled", lambda: expect(hangup).to_be_disabled(timeout=3000))
    journey.seen(page, "console-ready")

    call = journey.call(caller, talk=60)
    incoming = page.locator("#incoming")
    expect(incoming).to_be_visible(timeout=20_000)
    expect(incoming).to_contain_text(caller)
    # noticed: on screen at 1366×768 without scrolling, and Enter answers. Each of these
    # holds by the time the call shows, or never: the seat rings for 15 s only.
    soon = {"timeout": 1000}
    journey.soft(
        "ringing: #incoming in the viewport", lambda: expect(incoming).to_be_in_viewport(**soon)
    )
    journey.soft("ringing: 接听 enabled", lambda: expect(answer).to_be_enabled(**soon))
    journey.soft("ringing: 接听 has the focus", lambda: expect(answer).to_be_focused(**soon))
    journey.soft("ringing: 挂断 disabled", lambda: expect(hangup).to_be_disabled(**soon))
    journey.soft(
        "ringing: 来电号码 filled in",
        lambda: expect(page.locator("#caller_phone")).to_have_value(caller, **soon),
    )
    journey.seen(page, "console-ringing")

    page.keyboard.press("Enter")
    answered = lambda: expect(state).to_contain_text("通话中", timeout=5000)  # noqa: E731
    if not journey.soft("Enter answers the ringing call", answered):
        answer.click()  # as a mouse user would, to see the rest of the day
        answered()
    seat_shows(journey, page, "talking", "通话中")
    journey.soft("in a call: the operator hears the caller", lambda: hears_the_caller(page))
    journey.soft("in a call: 接听 disabled", lambda: expect(answer).to_be_disabled(timeout=3000))
    journey.soft("in a call: 挂断 enabled", lambda: expect(hangup).to_be_enabled(timeout=3000))

    # 受理并派单 while the citizen is on the line
    form = page.locator("#ticket-form")
    form.get_by_label("诉求人").fill("刘先生")
    form.get_by_label("诉求类型").select_option("complaint")
    form.get_by_label("地址").fill("东湖区滨江路阳光花园3号楼")
    form.get_by_label("标题").fill("小区电梯停运三天无人维修")
    form.get_by_label("诉求内容").fill(
        "阳光花园3号楼电梯停运三天，物业说在等配件，老人上下楼困难。"
    )
    form.locator('[name="dispatch.lead_unit_id"]').select_option(label="住房和城乡建设局")
    journey.seen(page, "console-in-call")
    page.keyboard.press("Alt+s")
    created = page.locator("#created")
    expect(created).to_contain_text("已受理并派单")
    link = created.get_by_role("link", name=re.compile(r"^JC\d+$"))
    assert re.fullmatch(r"JC\d{15}", link.inner_text()), link.inner_text()
    ticket_id = int((link.get_attribute("href") or "").rsplit("/", 1)[-1])
    ticket = journey.get(page, f"/api/tickets/{ticket_id}").json()
    assert ticket["status"] == "dispatched"
    assert ticket["lead_unit"]["name"] == "住房和城乡建设局"
    assert ticket["caller_phone"] == caller
    journey.seen(page, "console-created")

    page.keyboard.press("Alt+h")  # the operator ends the call
    ended = lambda: expect(state).not_to_contain_text("通话中", timeout=8000)  # noqa: E731
    if not journey.soft("Alt+H hangs up", ended):
        hangup.click()
        ended()
    seat_shows(journey, page, "wrap_up", "话后整理")
    journey.soft(
        "after the call: 挂断 disabled", lambda: expect(hangup).to_be_disabled(timeout=3000)
    )
    call.wait(timeout=30)
    journey.seen(page, "console-after-call")
    sign_out_of_seat(page)
    journey.assert_clean()


def test_a_call_to_the_mayors_old_line_shows_where_it_came_from(journey: Journey) -> None:
    """合并热线: the demo's 83333333 原市长热线 rings operator1, who takes that line."""
    quiet_hall(journey, journey.sign_in("lead1"))
    page = journey.sign_in("operator1")
    sign_in_to_seat(page, "s02")
    call = journey.call("13912340002", talk=20, to="83333333")
    incoming = page.locator("#incoming")
    expect(incoming).to_be_visible(timeout=20_000)
    expect(incoming).to_contain_text("来电线路：原市长热线")
    journey.seen(page, "console-merged-line")
    page.locator(ANSWER).click()
    seat_shows(journey, page, "talking", "通话中")
    page.keyboard.press("Alt+h")
    seat_shows(journey, page, "wrap_up", "话后整理")
    call.wait(timeout=30)
    sign_out_of_seat(page)
    journey.assert_clean()


def test_a_caller_who_waits_hears_the_queue_until_an_operator_is_ready(journey: Journey) -> None:
    """排队提示: every operator busy or away, the caller hears the greeting and their place in
    line (what their phone is sent is recorded), and is answered once operator2 is ready."""
    lead = journey.sign_in("lead1")
    quiet_hall(journey, lead)
    page = journey.sign_in("operator2")
    sign_in_not_ready(page, "s03")
    heard = journey.tmp / "queue-heard.wav"
    call = journey.call("13912340003", talk=6, record=heard)
    deadline = time.monotonic() + 20
    while not hall(journey, lead)["queue"]:
        assert time.monotonic() < deadline, "the call never waited in the queue"
        time.sleep(0.5)
    time.sleep(20)  # the greeting (10 s) and the place in line are said
    page.locator(".seat").get_by_role("button", name="就绪").click()
    expect(page.locator("#incoming")).to_be_visible(timeout=20_000)
    page.locator(ANSWER).click()
    seat_shows(journey, page, "talking", "通话中")
    hears_the_caller(page)
    assert call.wait(timeout=40) == 0
    seat_shows(journey, page, "wrap_up", "话后整理")
    sign_out_of_seat(page)

    with wave.open(str(heard)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    greeting, at = found_at(audio, speak(TelephonySettings().queue_greeting))
    assert greeting > 0.9 and at < 2 * 8000, (greeting, at)
    # Next in line; with nobody ready no wait is promised (another journey's seat may be).
    said = ["您是下一位，请耐心等待。"] + [position_text(0, m * 60) for m in range(1, 6)]
    place, at_place = max(found_at(audio, speak(text)) for text in said)
    assert place > 0.9 and at_place > at, (place, at_place)
    journey.assert_clean()


def test_the_operator_transfers_a_caller_to_the_team_lead_on_duty(journey: Journey) -> None:
    """转接值班班长: operator1 takes a call and transfers it to 值班班长; lead1, signed in at
    s02, gets the call with who transferred it, and talks with the caller."""
    lead = journey.sign_in("lead1")
    quiet_hall(journey, lead)
    lead.get_by_role("link", name="受理工作台").first.click()  # the lead takes calls too
    sign_in_not_ready(lead, "s02")  # ready only once operator1 has the call
    page = journey.sign_in("operator1")
    sign_in_to_seat(page, "s01")
    journey.call("13912340004", talk=25)
    expect(page.locator("#incoming")).to_be_visible(timeout=20_000)
    page.locator(ANSWER).click()
    seat_shows(journey, page, "talking", "通话中")
    lead.locator(".seat").get_by_role("button", name="就绪").click()
    expect(lead.locator("#seat-state")).to_have_attribute("data-state", "ready")
    targets = page.locator("#transfer-target")
    targets.focus()  # the list asks for the hall as it is now
    expect(targets.locator("option[value=lead]")).to_have_text(re.compile("值班班长（.+）"))
    targets.select_option("lead")
    journey.seen(page, "console-transfer-to-lead")
    page.locator("button[data-call=transfer]").click()
    seat_shows(journey, page, "wrap_up", "话后整理")
    incoming = lead.locator("#incoming")
    expect(incoming).to_be_visible(timeout=30_000)
    expect(incoming).to_contain_text("转接自：坐席 s01")
    journey.seen(lead, "console-transferred-call")
    lead.set_viewport_size(PHONE)  # the same screen pop on a phone
    journey.seen(lead, "console-transferred-call-phone")
    lead.set_viewport_size(DESKTOP)
    lead.locator(ANSWER).click()
    seat_shows(journey, lead, "talking", "通话中")
    hears_the_caller(lead)
    lead.keyboard.press("Alt+h")
    seat_shows(journey, lead, "wrap_up", "话后整理")
    sign_out_of_seat(lead)
    sign_out_of_seat(page)
    journey.assert_clean()


def test_a_ticket_left_undispatched_is_flagged_and_alt_d_dispatches_it(journey: Journey) -> None:
    page = journey.sign_in("operator2")
    form = page.locator("#ticket-form")
    # A new ticket: the draft kept from operator2's last call (its place, its line) goes.
    page.keyboard.press("Alt+n")
    form.get_by_label("来电号码").fill("13912340003")
    form.get_by_label("诉求类型").select_option("enquiry")
    form.get_by_label("标题").fill("咨询一下")
    form.get_by_label("诉求内容").fill("想问问这个事情应该找哪里办理。")
    # 智能派单 (the default): too vague for the router to be sure, so nothing is dispatched
    expect(form.locator('[name="dispatch.lead_unit_id"]')).to_have_value("auto")
    page.keyboard.press("Alt+s")
    number = page.locator("#created").get_by_role("link", name=re.compile(r"^JC\d+$"))
    expect(number).to_be_visible()
    ticket_id = int((number.get_attribute("href") or "").rsplit("/", 1)[-1])
    assert journey.get(page, f"/api/tickets/{ticket_id}").json()["status"] == "accepted"
    warning = page.locator("#not-dispatched")
    expect(warning).to_be_visible()
    expect(warning).to_be_in_viewport()
    expect(warning).to_contain_text("未派单")
    expect(warning).to_contain_text("Alt+D")
    journey.seen(page, "console-not-dispatched")

    page.keyboard.press("Alt+d")
    expect(warning).to_be_hidden()
    ticket = journey.get(page, f"/api/tickets/{ticket_id}").json()
    assert ticket["status"] == "dispatched", ticket["status"]
    assert ticket["lead_unit"], "dispatched without a lead unit"
    journey.seen(page, "console-dispatched-by-key")
    journey.assert_clean()


def test_an_operator_who_signs_out_is_not_rung_by_the_next_call(journey: Journey) -> None:
    caller = "13912340002"
    lead = journey.sign_in("lead1")
    quiet_hall(journey, lead)
    # Decisive only if no other seat could take the call: set any ready seat not ready.
    for s in hall(journey, lead)["seats"]:
        if s["state"] == "ready":
            journey.post(lead, f"/api/cti/seats/{s['seat']}/not_ready", {})

    operator = journey.sign_in("operator2")
    sign_in_to_seat(operator, "s03")
    lead.get_by_role("navigation", name="主导航").get_by_role("link", name="坐席监控").click()
    row = lead.locator("#hall tr", has_text="s03")
    expect(row).to_contain_text("就绪")
    journey.seen(lead, "hall-operator-ready")

    # 退出 in the navigation bar, without 签出 first: leaving the web app leaves the seat
    operator.get_by_role("button", name="退出").click()
    expect(operator).to_have_url(re.compile(r"/login"))
    journey.seen(operator, "signed-out")
    journey.soft(
        "坐席监控 shows s03 signed out",
        lambda: expect(row).to_contain_text(re.compile("未签入|离线")),
    )
    journey.seen(lead, "hall-operator-signed-out")

    journey.soft(
        "after 退出 the ACD has s03 signed out",
        lambda: _same(seat_state(hall(journey, lead), "s03"), "offline"),
    )
    call = journey.call(caller, talk=30)
    deadline = time.monotonic() + 8
    queued = False
    while time.monotonic() < deadline:
        now = hall(journey, lead)
        assert seat_state(now, "s03") not in ("ringing", "talking"), (
            f"the call rang s03 after its operator signed out: {now['seats']}"
        )
        queued = queued or any((q["caller"] or "").endswith(caller[-4:]) for q in now["queue"])
        time.sleep(0.3)
    assert queued, f"the call is not waiting in the queue: {hall(journey, lead)}"
    journey.soft(
        "坐席监控 shows the waiting caller",
        lambda: expect(lead.locator("#hall")).to_contain_text(f"*******{caller[-4:]}"),
    )
    journey.seen(lead, "hall-call-waiting")

    # another operator signs in and takes the waiting call, with the global key Alt+A
    other = journey.sign_in("operator1")
    sign_in_to_seat(other, "s02")
    expect(other.locator("#incoming")).to_contain_text(caller, timeout=20_000)
    state = other.locator("#seat-state")
    other.keyboard.press("Alt+a")
    answered = lambda: expect(state).to_contain_text("通话中", timeout=5000)  # noqa: E731
    if not journey.soft("Alt+A answers", answered):
        other.locator(ANSWER).click()
        answered()
    seat_shows(journey, other, "talking", "通话中")
    assert seat_state(hall(journey, lead), "s03") not in ("ringing", "talking")
    journey.seen(other, "console-answered-by-another")
    other.keyboard.press("Alt+h")
    ended = lambda: expect(state).not_to_contain_text("通话中", timeout=8000)  # noqa: E731
    if not journey.soft("Alt+H hangs up", ended):
        other.locator(HANGUP).click()
        ended()
    call.wait(timeout=30)
    sign_out_of_seat(other)
    journey.assert_clean()


def test_an_operator_at_a_desk_seat_talks_through_its_link_and_the_recording_plays(
    journey: Journey,
) -> None:
    """The demo's s04 runs as a seat on an operator's PC does: no Redis, its own SIP password
    to the web app (`--server`). The headset, 接听, the caller's voice and 挂断 all go through
    that link, and the call's recording, uploaded by the seat afterwards, plays for the
    operator who took it."""
    lead = journey.sign_in("lead1")
    quiet_hall(journey, lead)
    page = journey.sign_in("operator2")
    sign_in_to_seat(page, "s04")  # the headset: the desk seat called the browser
    call = journey.call("13912340004", talk=30)
    expect(page.locator("#incoming")).to_be_visible(timeout=20_000)
    page.locator(ANSWER).click()
    seat_shows(journey, page, "talking", "通话中")
    hears_the_caller(page)
    call_id = page.locator("#ticket-form").get_attribute("data-call-id") or ""
    assert call_id, "the console knows no call id"
    journey.seen(page, "console-desk-seat-in-call")
    page.locator(HANGUP).click()
    seat_shows(journey, page, "wrap_up", "话后整理")
    call.wait(timeout=30)
    url = f"{journey.url}/api/cti/calls/{quote(call_id, safe='')}/recording"
    deadline = time.monotonic() + 30  # the file closes on the bridge's next tick, then uploads
    got = page.request.get(url)
    while got.status != 200 and time.monotonic() < deadline:
        time.sleep(1)
        got = page.request.get(url)
    assert got.status == 200, f"no recording: {got.status} {got.text()[:200]}"
    assert got.body()[:4] == b"RIFF" and len(got.body()) > 16_000  # a WAV, some seconds long
    sign_out_of_seat(page)
    journey.assert_clean()


def test_a_seat_whose_console_is_closed_goes_offline_after_the_grace(journey: Journey) -> None:
    lead = journey.sign_in("lead1")
    operator = journey.sign_in("operator1")
    sign_in_to_seat(operator, "s04")
    assert seat_state(hall(journey, lead), "s04") == "ready"
    # The browser is closed without 签出 or 退出 (a crash, a lost network): no console is
    # alive for the seat any more. config.yaml's telephony.console_grace_seconds is 20.
    operator.context.close()
    deadline = time.monotonic() + 20 + 25  # the grace, then the sweep and a busy machine
    while time.monotonic() < deadline and seat_state(hall(journey, lead), "s04") != "offline":
        time.sleep(1)
    assert seat_state(hall(journey, lead), "s04") == "offline", hall(journey, lead)["seats"]
    lead.get_by_role("navigation", name="主导航").get_by_role("link", name="坐席监控").click()
    expect(lead.locator("#hall tr", has_text="s04")).to_contain_text(re.compile("未签入|离线"))
    journey.seen(lead, "hall-console-closed")
    journey.assert_clean()


def _same(got: object, wanted: object) -> None:
    assert got == wanted, f"{got} (expected {wanted})"
