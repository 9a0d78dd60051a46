"""A ticket's way through a unit and back: the liaison signs for it and replies with a photo
and a PDF (after one refused attempt), the team lead opens both files and approves, the
citizen is followed up, and the lead closes it."""

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.journeys.conftest import Journey
from tests.journeys.conftest import sha256
from tests.journeys.files import jpeg
from tests.journeys.files import pdf

PHOTO = {"name": "现场照片.jpg", "mimeType": "image/jpeg", "buffer": jpeg(seed=7)}
REPORT = {"name": "整改报告.pdf", "mimeType": "application/pdf", "buffer": pdf("Report 7")}


def status(page: Any) -> Any:
    return page.locator("#live-region .meta .status")


def state(name: str) -> "re.Pattern[str]":
    """The status badge's class for a ticket status (s-signed ...)."""
    return re.compile(rf"\bs-{name}\b")


def attachments(journey: Journey, page: Any, ticket_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = journey.get(page, f"/api/tickets/{ticket_id}").json()[
        "attachments"
    ]
    return found


def act(page: Any, action: str) -> Any:
    """Open the action's panel on the ticket page and return its form."""
    panel = page.locator(f'details[data-panel="{action}"]')
    expect(panel).to_be_attached()
    panel.evaluate("d => { d.open = true; }")
    return page.locator(f'form[data-action="{action}"]')


def test_the_liaison_replies_with_a_photo_and_a_pdf_and_the_ticket_is_closed(
    journey: Journey,
) -> None:
    # The hotline dispatches a ticket to 住建局 (the demo's own tickets may all be signed).
    lead = journey.sign_in("lead1")
    ticket_id = dispatched_to(journey, lead, "住房和城乡建设局")
    liaison = journey.sign_in("liaison-zjj")
    journey.seen(liaison, "unit-inbox")
    waiting = liaison.locator("#live-region tr", has=liaison.locator(".status.s-dispatched"))
    expect(waiting.first).to_be_visible()
    liaison.goto(f"{journey.url}/tickets/{ticket_id}")
    expect(status(liaison)).to_have_class(state("dispatched"))
    journey.seen(liaison, "ticket-to-sign")
    act(liaison, "sign").get_by_role("button", name="签收").click()
    expect(status(liaison)).to_have_class(state("signed"))
    before = attachments(journey, liaison, ticket_id)
    journey.seen(liaison, "ticket-signed")

    # 回复, first without the result written: refused, in Chinese, and nothing is attached
    liaison.wait_for_load_state("networkidle")  # the sign's own refresh of the page is done
    reply = fill_reply(journey, liaison)
    files = reply.locator("input[type=file]")
    journey.watcher(liaison).expect(f"/api/tickets/{ticket_id}/actions/reply", 422)
    reply.get_by_role("button", name="回复").click()
    message = reply.locator(".form-error:visible, .field-error:visible, [data-error-for]:visible")
    journey.soft(
        "the refused reply says why, in Chinese",
        lambda: expect(message.first).to_have_text(re.compile(r"[\u4e00-\u9fff]")),
    )
    journey.soft(
        "the refused reply marks 办理结果",
        lambda: expect(reply.get_by_label("办理结果")).to_have_attribute("aria-invalid", "true"),
    )
    expect(status(liaison)).to_have_class(state("signed"))
    refused = attachments(journey, liaison, ticket_id)
    journey.soft(
        "a refused reply adds no attachment",
        lambda: _same(refused, before, "attachments after the refused reply"),
    )
    journey.seen(liaison, "reply-refused")

    reply.get_by_label("办理结果").fill(
        "已联系物业公司更换电梯主板，电梯已恢复运行，现场照片和整改报告见附件。"
    )
    if files.evaluate("input => input.files.length") == 0:  # the form let go of the files
        files.set_input_files([PHOTO, REPORT])
    reply.get_by_role("button", name="回复").click()
    expect(status(liaison)).to_have_class(state("replied"))
    new = [a for a in attachments(journey, liaison, ticket_id) if a not in before]
    journey.soft(
        "the reply leaves exactly its 2 attachments",
        lambda: _same(sorted(a["filename"] for a in new), ["整改报告.pdf", "现场照片.jpg"], "new"),
    )
    journey.seen(liaison, "replied")

    # The team lead opens both files (the same bytes) and approves the reply.
    lead.goto(f"{journey.url}/tickets/{ticket_id}")
    journey.seen(lead, "ticket-to-review")
    listed = lead.locator("ul.attachments a")
    photo_link = listed.filter(has_text="现场照片.jpg").last
    report_link = listed.filter(has_text="整改报告.pdf").last
    expect(photo_link).to_be_visible()
    expect(report_link).to_be_visible()

    def open_photo() -> None:
        href = photo_link.get_attribute("href")
        answer = lead.request.get(f"{journey.url}{href}")
        assert answer.status == 200, f"{href} answers {answer.status}"
        assert sha256(answer.body()) == sha256(PHOTO["buffer"]), "the photo's bytes differ"

    def open_report() -> None:
        href = report_link.get_attribute("href")
        answer = lead.request.get(f"{journey.url}{href}")
        assert answer.status == 200, f"{href} answers {answer.status}"  # before leaving the page
        with lead.expect_download() as download:
            report_link.click()
        failure = download.value.failure()
        assert failure is None, f"the PDF's download failed: {failure}"
        data = Path(download.value.path()).read_bytes()
        assert sha256(data) == sha256(REPORT["buffer"]), f"the PDF's bytes differ: {data[:80]!r}"

    journey.soft("the lead opens the photo", open_photo)
    journey.soft("the lead opens the PDF", open_report)
    review = act(lead, "review")
    review.get_by_label("通过").check()
    review.get_by_label("审核意见").fill("回复属实，同意。")
    review.get_by_role("button", name="审核").click()
    expect(status(lead)).to_have_class(state("reviewed"))
    journey.seen(lead, "reviewed")

    # 回访: the citizen says it is solved and is satisfied; then 办结.
    follow = act(lead, "follow_up")
    follow.get_by_label("已解决").check()
    follow.get_by_label("满意度").select_option(label="满意")
    follow.get_by_label("回访记录").fill("市民表示电梯已正常运行，对处理结果满意。")
    follow.get_by_role("button", name="回访").click()
    expect(status(lead)).to_have_class(state("followed_up"))
    journey.seen(lead, "followed-up")
    act(lead, "close").get_by_role("button", name="办结").click()
    expect(status(lead)).to_have_class(state("closed"))
    journey.seen(lead, "closed")
    assert journey.get(lead, f"/api/tickets/{ticket_id}").json()["status"] == "closed"
    journey.assert_clean()


def dispatched_to(journey: Journey, lead: Any, unit: str) -> int:
    """A phone ticket accepted and dispatched to `unit` through the JSON API; its id."""
    units = journey.get(lead, "/api/units").json()
    listed = units["items"] if isinstance(units, dict) else units
    unit_id = next(u["id"] for u in listed if u["name"] == unit)
    created = journey.post(
        lead,
        "/api/tickets",
        {
            "channel": "phone",
            "request_type": "complaint",
            "citizen_name": "刘先生",
            "caller_phone": "13912340077",
            "address": "东湖区滨江路阳光花园3号楼",
            "title": "小区电梯停运三天无人维修",
            "content": "阳光花园3号楼电梯停运三天，物业说在等配件，老人上下楼困难。",
            "dispatch": {"lead_unit_id": unit_id},
        },
    )
    assert created.status == 201, created.text()
    return int(created.json()["id"])


def fill_reply(journey: Journey, page: Any) -> Any:
    """Open 回复 and choose the photo, the PDF and the contact time (no text yet).

    A live update of the ticket re-renders the action forms: what the person had chosen is
    gone and the panel closed. Noted when it happens, and then done again, as a person would.
    """
    for _ in range(3):
        reply = act(page, "reply")
        reply.locator("input[type=file]").set_input_files([PHOTO, REPORT])
        reply.locator('[name="contacted_at"]').fill(_contacted_at())
        page.wait_for_timeout(500)
        if reply.is_visible() and reply.locator("input[type=file]").evaluate("i => i.files.length"):
            return reply
        journey.misses.append("a live update emptied the reply form while it was being filled")
    raise AssertionError("the reply form keeps being emptied by live updates")


def _same(got: object, wanted: object, what: str) -> None:
    assert got == wanted, f"{what}: {got} (expected {wanted})"


def _contacted_at() -> str:
    """This minute, Shanghai wall time, as a datetime-local field takes it."""
    import datetime as dt

    # The ticket was dispatched moments ago: the liaison reached the citizen this minute.
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    return now.strftime("%Y-%m-%dT%H:%M")
