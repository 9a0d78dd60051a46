"""Caller identity and units (issue 17, findings 1 and 3), each test written as the attack.

Finding 1: a liaison recovered a confidential caller's full number from the masked
``172****9251`` by guessing the missing digits with ``GET /api/tickets?caller_phone=``
(4,700 guesses in 30 s, no audit); the Excel export took the same filter.
Finding 3: masking covered the fields, not the text: 「来电人张建国反映…」 reached the unit.
"""

import io
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from flask import Flask

from hotline.bootstrap import Container
from infra.models import AuditEntry
from tests.conftest import Api

PHONE = "17212349251"
NAME = "张建国"
ID_NUMBER = "11010119900307123X"
CARD = "6222 0200 1234 5678 901"
CONTENT = (
    f"来电人{NAME}反映小区电梯停运三天，张先生要求尽快修复。"
    f"回电{PHONE}，身份证{ID_NUMBER}，退款请打到卡号{CARD}。"
)


def _audit(container: Container, action: str) -> list[tuple[int | None, dict[str, Any]]]:
    """(user, details) of the audit rows for `action`, oldest first."""
    with container.uow() as uow:
        rows = uow.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [(r.user_id, r.details) for r in rows]


def _confidential(api: Api) -> dict[str, Any]:
    return api.dispatched(
        "zjj",
        caller_phone=PHONE,
        citizen_name=NAME,
        confidential=True,
        request_type="report",
    )


def _guesses(n: int) -> list[str]:
    """What the attacker sends: the masked number's hidden digits, one guess at a time."""
    return [f"172{i:04d}9251" for i in range(1234 - n + 1, 1235)]


def test_a_liaison_guessing_the_confidential_callers_phone_is_refused_and_audited(
    api: Api, container: Container
) -> None:
    _confidential(api)
    guesses = _guesses(8)
    assert guesses[-1] == PHONE
    for guess in guesses:
        resp = api.get(f"/api/tickets?caller_phone={guess}", as_="zjj")
        body = resp.get_json()
        # every guess, right or wrong, gets the same answer: nothing to tell them apart
        assert resp.status_code == 403, body
        assert set(body) == {"error", "message", "details"}
        assert body["error"] == "forbidden"
        assert body["details"] == {"fields": ["caller_phone"]}
        assert "工单号" in body["message"]
        assert "total" not in body
    rows = _audit(container, "identity_search_refused")
    assert len(rows) == len(guesses)
    assert {user for user, _ in rows} == {api.world.users["zjj"]}
    assert all(details["fields"] == ["caller_phone"] for _, details in rows)


def test_a_liaison_cannot_export_the_ticket_list_filtered_by_caller_phone(
    api: Api, container: Container
) -> None:
    _confidential(api)
    resp = api.get(f"/api/reports/tickets.xlsx?caller_phone={PHONE}", as_="zjj")
    assert resp.status_code == 403
    assert resp.mimetype == "application/json"
    assert resp.get_json()["details"] == {"fields": ["caller_phone"]}
    resp = api.get(f"/api/reports/tickets.xlsx?q={NAME}", as_="zjj")
    assert resp.status_code == 403
    assert len(_audit(container, "identity_search_refused")) == 2
    assert _audit(container, "tickets.export") == []


@pytest.mark.parametrize("q", [NAME, PHONE, "9251", "张"])
def test_a_liaison_cannot_search_the_text_for_a_name_or_number(api: Api, q: str) -> None:
    _confidential(api)
    resp = api.get("/api/tickets", query_string={"q": q}, as_="zjj")
    assert resp.status_code == 403
    assert resp.get_json()["details"] == {"fields": ["q"]}


def test_a_liaison_still_finds_a_ticket_by_its_number(api: Api) -> None:
    t = _confidential(api)
    resp = api.get("/api/tickets", query_string={"q": t["number"]}, as_="zjj")
    assert resp.status_code == 200
    assert [i["id"] for i in resp.get_json()["items"]] == [t["id"]]


def test_the_hotline_searches_by_phone_and_each_search_is_audited(
    api: Api, container: Container
) -> None:
    t = _confidential(api)
    resp = api.get(f"/api/tickets?caller_phone={PHONE}", as_="operator")
    assert [i["id"] for i in resp.get_json()["items"]] == [t["id"]]
    rows = _audit(container, "search_personal_data")
    assert rows == [(api.world.users["operator"], {"caller_phone": "172****9251"})]


def test_a_confidential_ticket_shows_a_unit_no_digit_and_no_surname(api: Api) -> None:
    t = _confidential(api)
    view = api.get(f"/api/tickets/{t['id']}", as_="zjj").get_json()
    listed = api.get("/api/tickets", as_="zjj").get_json()["items"][0]
    for shown in (view, listed):
        assert shown["caller_phone"] == "***********"
        assert shown["citizen_name"] == "**"
        assert "张" not in shown["title"]
    xlsx = api.get("/api/reports/tickets.xlsx", as_="zjj")
    assert xlsx.status_code == 200
    cells = _cells(xlsx.data)
    assert "***********" in cells
    assert not any(isinstance(c, str) and ("9251" in c or "张" in c) for c in cells)


def _cells(xlsx: bytes) -> list[Any]:
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    return [c.value for s in book.worksheets for row in s.iter_rows() for c in row]


def _leaks(text: str) -> list[str]:
    secrets = (NAME, "张先生", PHONE, "9251", ID_NUMBER, "123X", "6222", "901")
    return [s for s in secrets if s in text]


def test_the_callers_name_and_numbers_inside_the_text_do_not_reach_the_unit(
    api: Api, container: Container
) -> None:
    ticket = api.create(
        title=f"{NAME}反映电梯停运", content=CONTENT, caller_phone=PHONE, citizen_name=NAME
    )
    note = f"请联系{NAME}，电话{PHONE}"
    api.act(ticket["id"], "dispatch", {"lead_unit_id": api.world.units["zjj"], "note": note})
    api.act(ticket["id"], "sign", as_="zjj")
    api.act(ticket["id"], "remind", {"note": f"{NAME}再次来电催促"}, as_="lead")
    view = api.get(f"/api/tickets/{ticket['id']}", as_="zjj").get_json()
    assert view["title"] == "某某反映电梯停运"
    assert view["content"].startswith("来电人某某反映小区电梯停运三天，某先生要求尽快修复。")
    assert _leaks(view["content"]) == []
    assert [_leaks(e["reason"] or "") for e in view["events"]] == [[]] * len(view["events"])
    assert any("某某" in (e["reason"] or "") for e in view["events"])
    listed = api.get("/api/tickets", as_="zjj").get_json()["items"][0]
    assert _leaks(listed["title"]) == []
    cells = _cells(api.get("/api/reports/tickets.xlsx", as_="zjj").data)
    # the phone column keeps its usual mask (the ticket is not confidential); nothing else
    assert [c for c in cells if isinstance(c, str) and _leaks(c)] == ["172****9251"]
    # the hotline reads the text as written, and sees what the unit reads beside it
    hotline = api.get(f"/api/tickets/{ticket['id']}", as_="operator").get_json()
    assert hotline["content"] == CONTENT
    assert hotline["unit_sees"]["content"] == view["content"]
    assert hotline["unit_sees"]["title"] == view["title"]
    assert hotline["unit_sees"]["caller_phone"] == view["caller_phone"] == "172****9251"


def test_a_ticket_that_allows_disclosure_reaches_the_unit_as_written(api: Api) -> None:
    t = api.dispatched("zjj", content=CONTENT, citizen_name=NAME, disclosure_allowed=True)
    view = api.get(f"/api/tickets/{t['id']}", as_="zjj").get_json()
    assert view["content"] == CONTENT
    assert view["identity_masked"] is False


def test_the_unit_preview_masks_a_draft_and_is_for_the_hotline_only(api: Api) -> None:
    draft = {"title": f"{NAME}反映", "content": CONTENT, "citizen_name": NAME}
    draft |= {"caller_phone": PHONE, "confidential": True}
    seen = api.post("/api/tickets/unit-preview", draft).get_json()
    assert (seen["citizen_name"], seen["caller_phone"]) == ("**", "***********")
    assert seen["title"] == "某某反映" and _leaks(seen["content"]) == []
    refused = api.post("/api/tickets/unit-preview", draft, as_="zjj")
    assert refused.status_code == 403


def test_the_unit_list_page_offers_a_number_search_only_and_says_why_it_refuses(
    app: Flask, api: Api, container: Container
) -> None:
    from tests.integration.agents_ui.test_ticket_page import browser

    _confidential(api)
    client = browser(app, api.world, "zjj")
    html = client.get("/tickets").get_data(as_text=True)
    assert "工单号 <input" in html and "关键词" not in html
    refused = client.get("/tickets", query_string={"q": NAME}).get_data(as_text=True)
    assert "不能按来电人、电话号码或内容检索工单" in refused
    assert NAME not in refused.replace(f'value="{NAME}"', "")
    assert len(_audit(container, "identity_search_refused")) == 1
    operator = browser(app, api.world, "operator").get("/tickets").get_data(as_text=True)
    assert "关键词" in operator
