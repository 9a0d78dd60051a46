"""Idempotency-Key on ticket actions, and client_token scoped to the creating user (issue 18)."""

import io
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from dispatch.tickets.idempotency import KEY_TTL
from dispatch.tickets.models import ActionRequest
from dispatch.tickets.models import Attachment
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.conftest import Clock


def _act(api: Api, ticket_id: int, action: str, body: Any, key: str, as_: str = "operator") -> Any:
    return api.client.post(
        f"/api/tickets/{ticket_id}/actions/{action}",
        json=body,
        headers={**api._headers(as_), "Idempotency-Key": key},
    )


def _events(api: Api, ticket_id: int, event: str) -> int:
    view = api.get(f"/api/tickets/{ticket_id}").get_json()
    return [e["event"] for e in view["events"]].count(event)


def test_a_dispatch_retried_after_a_lost_response_answers_the_first_200(api: Api) -> None:
    t = api.create()
    body = {"lead_unit_id": api.world.units["zjj"]}

    first = _act(api, t["id"], "dispatch", body, "dispatch-7f3a9c2e")  # the answer is "lost"
    retry = _act(api, t["id"], "dispatch", body, "dispatch-7f3a9c2e")

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _events(api, t["id"], "dispatch") == 1
    # Without the key the same retry is judged afresh, and refused as before.
    assert api.act(t["id"], "dispatch", body, expect=409)["error"] == "illegal_transition"


def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    t = api.create()
    _act(api, t["id"], "dispatch", {"lead_unit_id": api.world.units["zjj"]}, "key-00000001")

    other_body = _act(
        api, t["id"], "dispatch", {"lead_unit_id": api.world.units["cgj"]}, "key-00000001"
    )
    other_ticket = _act(
        api,
        api.create()["id"],
        "dispatch",
        {"lead_unit_id": api.world.units["zjj"]},
        "key-00000001",
    )

    for resp in (other_body, other_ticket):
        assert resp.status_code == 422
        assert resp.get_json()["error"] == "idempotency_key_reused"
        assert "Idempotency-Key" in resp.get_json()["details"]["fields"]
    assert _events(api, t["id"], "dispatch") == 1


def test_another_users_same_key_is_unrelated(api: Api) -> None:
    t = api.signed("zjj")

    by_operator = _act(api, t["id"], "remind", {"note": "热线催办"}, "shared-key-1", as_="lead")
    by_supervisor = _act(
        api, t["id"], "remind", {"note": "督查催办"}, "shared-key-1", as_="supervisor"
    )

    assert (by_operator.status_code, by_supervisor.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in by_supervisor.headers
    assert by_supervisor.get_json()["remind_count"] == 2


def test_a_bad_key_is_a_422(api: Api) -> None:
    t = api.create()
    resp = _act(api, t["id"], "dispatch", {"lead_unit_id": api.world.units["zjj"]}, "短")
    assert resp.status_code == 422
    assert "Idempotency-Key" in resp.get_json()["details"]["fields"]
    assert _events(api, t["id"], "dispatch") == 0


def test_a_refused_action_is_not_kept_so_its_retry_is_judged_again(api: Api) -> None:
    t = api.dispatched("zjj")
    body = {"text": "已修复"}
    early = _act(api, t["id"], "reply", body, "reply-key-0001", as_="zjj")
    assert early.status_code == 409  # not signed yet: refused, and nothing stored
    api.act(t["id"], "sign", as_="zjj")

    retry = _act(api, t["id"], "reply", body, "reply-key-0001", as_="zjj")

    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry.headers
    assert retry.get_json()["status"] == "replied"


def test_a_key_expires(api: Api, clock: Clock) -> None:
    t = api.signed("zjj")
    assert (
        _act(api, t["id"], "remind", {"note": "一"}, "remind-key-1", as_="supervisor").status_code
        == 200
    )
    clock.advance(seconds=KEY_TTL.total_seconds() + 60)
    again = _act(api, t["id"], "remind", {"note": "一"}, "remind-key-1", as_="supervisor")
    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["remind_count"] == 2


def test_the_supervision_sweep_removes_expired_keys(
    api: Api, container: Container, clock: Clock
) -> None:
    from dispatch.supervision.sweep import sweep
    from kernel.worktime import Duration

    t = api.signed("zjj")
    assert (
        _act(api, t["id"], "remind", {"note": "一"}, "sweep-key-01", as_="lead").status_code == 200
    )
    clock.advance(hours=23)
    _act(api, t["id"], "remind", {"note": "二"}, "sweep-key-02", as_="lead")
    clock.advance(hours=2)

    sweep(container.uow(), container.dispatch, notice_after=Duration.parse("5wd"))

    with container.uow() as uow:
        assert list(uow.session.scalars(sa.select(ActionRequest.key))) == ["sweep-key-02"]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def _reply_with_file(api: Api, ticket_id: int, key: str) -> Any:
    # A fresh multipart body each time, as a browser's retry would send (a new boundary).
    boundary, body = encode_multipart(
        {
            "text": "已维修，见现场照片",
            "files": FileStorage(io.BytesIO(_png()), filename="现场.png", content_type="image/png"),
        }
    )
    return api.client.post(
        f"/api/tickets/{ticket_id}/actions/reply",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={**api._headers("zjj"), "Idempotency-Key": key},
    )


def test_a_reply_with_files_retried_adds_no_file_twice(api: Api, container: Container) -> None:
    t = api.signed("zjj")

    first = _reply_with_file(api, t["id"], "reply-with-files-1")
    retry = _reply_with_file(api, t["id"], "reply-with-files-1")

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == first.get_json()
    assert [a["filename"] for a in first.get_json()["attachments"]] == ["现场.png"]
    with container.uow() as uow:
        count = uow.session.scalar(
            sa.select(sa.func.count()).where(Attachment.ticket_id == t["id"])
        )
    assert count == 1
    assert _events(api, t["id"], "reply") == 1


@pytest.mark.postgres
def test_the_same_key_sent_twice_at_once_makes_one_action(
    app: Flask, api: Api, container: Container, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a real race needs PostgreSQL's row locks")
    t = api.create()
    body = {"lead_unit_id": api.world.units["zjj"]}
    barrier = threading.Barrier(2)
    answers: list[tuple[int, Any, str | None]] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(
            f"/api/tickets/{t['id']}/actions/dispatch",
            json=body,
            headers={**api._headers("operator"), "Idempotency-Key": "race-key-0001"},
        )
        answers.append((resp.status_code, resp.get_json(), resp.headers.get("Idempotent-Replayed")))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(answers) == 2
    codes = sorted(code for code, _, _ in answers)
    assert codes in ([200, 200], [200, 409]), answers
    if codes == [200, 200]:
        assert answers[0][1] == answers[1][1]
        assert sorted(str(replayed) for _, _, replayed in answers) == ["None", "true"]
    assert _events(api, t["id"], "dispatch") == 1
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(ActionRequest)) == 1


def test_a_client_token_reused_by_another_user_makes_their_own_ticket(api: Api) -> None:
    token = "draft-5b1e0c7a"
    mine = api.create(
        as_="operator", client_token=token, citizen_name="李四", caller_phone="13900001111"
    )

    theirs = api.post(
        "/api/tickets",
        {"request_type": "help", "title": "路灯不亮", "content": "路灯坏了", "client_token": token},
        as_="lead",
    )

    assert theirs.status_code == 201
    body = theirs.get_json()
    assert body["id"] != mine["id"]
    assert "李四" not in str(body) and "13900001111" not in str(body)
    # The first user's retry still gets the first ticket.
    again = api.post(
        "/api/tickets",
        {"request_type": "help", "title": "x", "content": "y", "client_token": token},
    )
    assert (again.status_code, again.get_json()["id"]) == (200, mine["id"])
