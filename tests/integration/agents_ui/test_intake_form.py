"""网上诉求: the public form, the done page and the citizen's status page, through HTTP."""

import dataclasses
import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse
from werkzeug.test import encode_multipart

from dispatch.tickets.models import Attachment
from dispatch.tickets.models import Ticket
from hotline.app import create_app
from hotline.bootstrap import Container
from hotline.bootstrap import bootstrap
from infra.settings import IntakeSettings
from tests.conftest import HOUSING
from tests.conftest import Api
from tests.conftest import World

PHONE = "13912345678"


@pytest.fixture(autouse=True)
def fake_redis(container: Container) -> Iterator[None]:
    """An in-memory Redis for the guards; the tests that need the server use `real_redis`."""
    import fakeredis

    container._redis = fakeredis.FakeRedis()
    yield
    container._redis = None


def png(size: tuple[int, int] = (16, 12)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def open_form(client: FlaskClient) -> dict[str, str]:
    """GET the form and return its hidden fields (csrf, form_token)."""
    resp = client.get("/intake")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    return dict(re.findall(r'<input type="hidden" name="(csrf|form_token)" value="([^"]*)"', html))


def post(
    client: FlaskClient,
    fields: dict[str, str],
    photo: bytes | None = None,
    filename: str = "现场.png",
) -> TestResponse:
    data: dict[str, Any] = dict(fields)
    if photo is not None:
        data["photo"] = FileStorage(io.BytesIO(photo), filename=filename, content_type="image/png")
    # Encoded here: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(data)
    return client.post(
        "/intake", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def valid(hidden: dict[str, str], **fields: str) -> dict[str, str]:
    form = {
        **hidden,
        "description": HOUSING["content"],
        "title": HOUSING["title"],
        "address": "东湖区滨江路阳光花园3号楼",
        "latitude": "",
        "longitude": "",
        "name": "",
        "phone": PHONE,
    }
    form.update(fields)
    return form


def ticket_count(container: Container) -> int:
    with container.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) or 0)


def submit_ok(client: FlaskClient, **fields: str) -> tuple[str, str]:
    """Submit a valid request and follow to the done page; return (number, status path)."""
    resp = post(client, valid(open_form(client), **fields), png())
    assert resp.status_code == 302, resp.get_data(as_text=True)
    done = client.get(resp.headers["Location"])
    html = done.get_data(as_text=True)
    number = re.search(r'<p class="number" id="number">(\w+)</p>', html)
    link = re.search(r'id="status-link" value="http://localhost(/status/[^"]+)"', html)
    assert number and link, html
    return number.group(1), link.group(1).replace("&amp;", "&")


def test_the_form_is_public_mobile_and_carries_a_csrf_token(client: FlaskClient) -> None:
    resp = client.get("/intake")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'name="viewport"' in html and 'lang="zh-CN"' in html
    # 拍照或选择照片: no `capture`, which would open the camera only, never the album
    assert 'name="photo" type="file" accept="image/*"' in html and "capture=" not in html
    hidden = open_form(client)
    assert len(hidden["csrf"]) >= 32 and len(hidden["form_token"]) >= 16
    with client.session_transaction() as s:
        assert s["csrf"] == hidden["csrf"] and "user_id" not in s
    # Staff pages are untouched: the home page still asks staff to sign in.
    assert client.get("/").headers["Location"].startswith("/login")
    assert "/intake" not in client.get("/login").get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused_and_makes_no_ticket(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    form = valid(open_form(client))
    del form["csrf"]
    resp = post(client, form, png())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "页面已过期，请核对内容后重新提交" in html
    assert HOUSING["content"] in html  # what was typed is kept for the second try
    assert ticket_count(container) == 0


def test_a_request_with_a_photo_becomes_a_routed_web_ticket(
    client: FlaskClient, container: Container, api: Api, catalogue: World
) -> None:
    number, status_path = submit_ok(client)
    with container.uow() as uow:
        ticket = uow.session.scalars(sa.select(Ticket)).one()
        photos = [
            (p.content_type, p.filename)
            for p in uow.session.scalars(
                sa.select(Attachment).where(Attachment.ticket_id == ticket.id)
            )
        ]
        tid, token = ticket.id, ticket.public_token
    assert status_path == f"/status/{number}?t={token}"
    seen = api.get(f"/api/tickets/{tid}").get_json()
    assert seen["number"] == number and seen["channel"] == "web"
    assert seen["status"] in ("accepted", "dispatched")
    assert seen["caller_phone"] == PHONE and seen["anonymous"] is True
    assert seen["status"] == "dispatched"  # the housing text is routed to 住建 on its own
    assert seen["lead_unit"]["name"] == "住房和城乡建设局"
    assert photos == [("image/png", "现场.png")]
    # The staff ticket page names the channel and lists the citizen's photo.
    page = api.get(f"/tickets/{tid}").get_data(as_text=True)
    assert "· 网站" in page and "现场.png</a>" in page and "· 诉求人 ·" in page


def test_the_status_page_shows_the_status_and_never_the_phone(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    number, path = submit_ok(client, name="李四")
    fresh = client.application.test_client()  # a fresh browser: the link alone is enough
    resp = fresh.get(path)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert number in html and "办理中" in html and "住房和城乡建设局" in html
    assert "2026-11-16 10:00" in html  # submitted, in local time
    assert 'aria-current="step">办理中' in html
    assert PHONE not in html and "李四" not in html
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in resp.headers["Cache-Control"]


@pytest.mark.parametrize("wrong", ["token", "number", "both"])
def test_a_wrong_number_or_token_reads_the_same_404(
    client: FlaskClient, catalogue: World, wrong: str
) -> None:
    number, path = submit_ok(client)
    token = path.split("t=", 1)[1]
    bad_number = number[:-1] + ("1" if number[-1] != "1" else "2")
    bad_token = "x" * len(token)
    target = {
        "token": f"/status/{number}?t={bad_token}",
        "number": f"/status/{bad_number}?t={token}",
        "both": f"/status/{bad_number}",
    }[wrong]
    resp = client.get(target)
    assert resp.status_code == 404
    assert "未找到该工单，请核对查询链接" in resp.get_data(as_text=True)


def test_a_photo_is_served_only_with_the_ticket_token(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    number, path = submit_ok(client)
    token = path.split("t=", 1)[1]
    html = client.get(path).get_data(as_text=True)
    src = re.search(r'<img src="(/status/[^"]+/photos/\d+\?t=[^"]+)"', html)
    assert src is not None
    resp = client.get(src.group(1))
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.get_data() == png()
    resp.close()
    photo_id = int(src.group(1).split("/photos/")[1].split("?")[0])
    assert client.get(f"/status/{number}/photos/{photo_id}?t={'y' * len(token)}").status_code == 404
    assert client.get(f"/status/{number}/photos/{photo_id}").status_code == 404
    # Another citizen's token does not open this ticket's photo.
    _, other_path = submit_ok(client.application.test_client())
    other_token = other_path.split("t=", 1)[1]
    other_number = other_path.split("/")[2].split("?")[0]
    stranger = client.get(f"/status/{other_number}/photos/{photo_id}?t={other_token}")
    assert stranger.status_code == 404


def test_a_20_mb_photo_gets_a_readable_chinese_error_and_no_ticket(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    big = png() + b"\0" * (20 * 1024 * 1024)
    resp = post(client, valid(open_form(client)), big)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 413
    assert "照片不能超过 10 MB" in html and "照片太大，未能提交" in html
    assert '<form class="panel" id="intake-form"' in html  # the form again, ready to retry
    assert "Request Entity Too Large" not in html
    assert ticket_count(container) == 0


def test_a_photo_just_over_the_limit_keeps_the_typed_text(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    # Small enough to be read, too large to keep: the message is next to the field.
    big = png() + b"\0" * (container.attachments.max_bytes + 10)
    resp = post(client, valid(open_form(client)), big)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'data-error-for="photo">文件不能超过 10 MB' in html
    assert HOUSING["content"] in html
    assert ticket_count(container) == 0


def test_a_broken_image_is_named_and_the_text_kept(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    resp = post(client, valid(open_form(client)), png()[:60])
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'data-error-for="photo">图片已损坏或不完整' in html
    assert HOUSING["content"] in html and PHONE in html
    assert ticket_count(container) == 0
    resp = post(client, valid(open_form(client)), b"%PDF-1.4 not a photo", "a.pdf")
    assert 'data-error-for="photo">只接受 JPG、PNG 图片' in resp.get_data(as_text=True)
    assert ticket_count(container) == 0


def test_each_wrong_field_is_named_next_to_it(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    form = valid(
        open_form(client),
        description="太吵",
        title="噪音" * 60,
        phone="call me",
        latitude="30.1",
    )
    resp = post(client, form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    errors = dict(re.findall(r'data-error-for="(\w+)">([^<]+)<', html))
    assert errors == {
        "description": "请至少写 5 个字，说明发生了什么、在哪里",
        "title": "不能超过100个字符",
        "phone": "电话号码只能包含数字，国际号码以 + 开头",
        "location": "位置信息不完整（经纬度须同时填写），请重新获取或清除位置",
    }
    assert 'id="phone" name="phone"' in html and 'value="call me"' in html
    assert 'aria-invalid="true" aria-describedby="e-phone"' in html
    assert ticket_count(container) == 0
    resp = post(client, valid(open_form(client), latitude="north", longitude="east"))
    assert resp.status_code == 422
    assert "位置信息无效" in resp.get_data(as_text=True)
    assert ticket_count(container) == 0


def test_pressing_submit_twice_makes_one_ticket(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    form = valid(open_form(client))
    first = post(client, form, png())
    second = post(client, form, png())
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert ticket_count(container) == 1
    # A new form is a new request.
    post(client, valid(open_form(client)), png())
    assert ticket_count(container) == 2


def test_a_second_press_while_the_first_is_slow_waits_on_the_done_page(
    client: FlaskClient, container: Container, catalogue: World, monkeypatch: Any
) -> None:
    from agents_ui import intake as pages

    monkeypatch.setattr(pages, "CLAIM_WAIT_SECONDS", 0.0)
    hidden = open_form(client)
    first = pages._Claim(container, hidden["csrf"], hidden["form_token"])
    assert first.acquire() is None  # the first press is still being worked on
    resp = post(client, valid(hidden), png())
    assert resp.status_code == 302
    wait = client.get(resp.headers["Location"])
    assert wait.status_code == 202
    assert "您的诉求正在提交" in wait.get_data(as_text=True)
    first.finish("JC202611160000042", "t" * 32)
    done = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert '<p class="number" id="number">JC202611160000042</p>' in done
    assert ticket_count(container) == 0  # the second press made nothing of its own


@pytest.mark.redis
def test_two_presses_arriving_together_make_one_ticket(
    app: Flask, container: Container, catalogue: World, real_redis: Any
) -> None:
    first = app.test_client()
    form = valid(open_form(first))
    cookie = first.get_cookie("session")
    assert cookie is not None
    second = app.test_client()
    second.set_cookie("session", cookie.value)
    answers: list[TestResponse] = []

    def press(c: FlaskClient) -> None:
        answers.append(post(c, form, png()))

    threads = [threading.Thread(target=press, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert ticket_count(container) == 1
    # Both browsers (the same person's session) land on the same done page.
    for c in (first, second):
        assert "提交成功" in c.get(answers[0].headers["Location"]).get_data(as_text=True)


@pytest.mark.redis
def test_too_many_requests_from_one_address_get_a_429_page(
    container: Container, catalogue: World, real_redis: Any
) -> None:
    settings = dataclasses.replace(container.settings, intake=IntakeSettings(per_ip_per_hour=2))
    limited = bootstrap(settings, engine=container.engine, now=container.dispatch.now)
    limited._redis = real_redis
    client = create_app(container=limited).test_client()
    submit_ok(client)
    submit_ok(client)
    resp = post(client, valid(open_form(client)), png())
    assert resp.status_code == 429
    assert "提交过于频繁" in resp.get_data(as_text=True)
    assert ticket_count(container) == 2
    assert [k.decode().rsplit(":", 1)[0] for k in real_redis.keys("intake:ip:*")] == [
        "intake:ip:127.0.0.1"
    ]


def test_the_form_is_gone_when_switched_off(container: Container) -> None:
    settings = dataclasses.replace(container.settings, intake=IntakeSettings(enabled=False))
    off = bootstrap(settings, engine=container.engine, now=container.dispatch.now)
    client = create_app(container=off).test_client()
    assert client.get("/intake").status_code == 404
    assert client.post("/intake", data={"description": "路灯坏了很久了"}).status_code == 404
    assert ticket_count(container) == 0


def test_closing_the_ticket_shows_the_units_answer(
    client: FlaskClient, container: Container, api: Api, catalogue: World
) -> None:
    number, path = submit_ok(client)
    with container.uow() as uow:
        tid = uow.session.scalars(sa.select(Ticket.id)).one()
    api.act(tid, "sign", as_="zjj")
    api.act(tid, "reply", {"text": "已督促物业更换电梯主板，电梯恢复运行。"}, as_="zjj")
    html = client.get(path).get_data(as_text=True)
    assert "办理中" in html and "已督促物业" not in html  # not shown before the hotline approves
    api.act(tid, "review", {"approve": True}, as_="lead")
    assert 'aria-current="step">已答复' in client.get(path).get_data(as_text=True)
    api.act(tid, "close", {"note": "市民未接电话"}, as_="lead")
    html = client.get(path).get_data(as_text=True)
    assert 'id="status-label">已办结' in html
    assert 'aria-current="step">已办结' in html
    assert '<p class="notes" id="status-notes">已督促物业更换电梯主板，电梯恢复运行。</p>' in html
    assert "预计答复" not in html


def test_the_phone_is_checked_and_kept_in_one_spelling(
    client: FlaskClient, container: Container, catalogue: World
) -> None:
    resp = post(client, valid(open_form(client), phone="1391234567"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'data-error-for="phone">手机号码应为11位数字（现为10位）' in html
    assert ticket_count(container) == 0

    post(client, valid(open_form(client), phone="139-1234-5679"))

    with container.uow() as uow:
        phones = uow.session.execute(sa.select(Ticket.caller_phone, Ticket.contact_phone)).all()
    assert phones == [("13912345679", "13912345679")]
