"""Open311 publishes only what the citizen agreed to publish (issue 17, finding 6).

The attack: anyone, without a key, reads `GET /open311/v2/requests.json` and walks the
sequential ticket numbers through `requests/<number>.json`. Before the fix every web-form
ticket came back with its description, full address and exact pin. Now a ticket is
published only when the citizen ticked 「同意公开我的诉求」 (or an Open311 client sent
`publish=true`), an unpublished number is the same 404 as one that does not exist, and what
is published has the names and numbers in the text masked, the address cut at the street
and the pin rounded to about a kilometre.
"""

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from dispatch.open311 import apikeys
from dispatch.routing.models import Matter
from dispatch.tickets.models import Ticket
from hotline.bootstrap import Container
from tests.conftest import World

pytestmark = pytest.mark.redis

NAME = "张建国"
PHONE = "13912345678"
TEXT = f"我是{NAME}，电话{PHONE}，小区三号楼电梯停运一个月，物业不管不问"
ADDRESS = "东湖区滨江路88号阳光花园3号楼2单元501"
LAT, LONG = "30.274125", "120.155137"


def _submit(client: FlaskClient, *, publish: bool) -> str:
    """The public form, as a citizen fills it; returns the ticket number."""
    html = client.get("/intake").get_data(as_text=True)
    assert "同意公开我的诉求（不含姓名和电话）" in html
    assert re.search(r'<input id="publish" name="publish" type="checkbox" value="1"[^>]*>', html)
    assert not re.search(r'id="publish"[^>]*checked', html)  # not public unless ticked
    hidden = dict(
        re.findall(r'<input type="hidden" name="(csrf|form_token)" value="([^"]*)"', html)
    )
    form = {
        **hidden,
        "description": TEXT,
        "title": "电梯停运",
        "address": ADDRESS,
        "latitude": LAT,
        "longitude": LONG,
        "name": NAME,
        "phone": PHONE,
    }
    if publish:
        form["publish"] = "1"
    done = client.post("/intake", data=form)
    assert done.status_code == 302, done.get_data(as_text=True)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    match = re.search(r'<p class="number" id="number">([^<]+)</p>', page)
    assert match is not None, page
    return match.group(1)


def _anonymous(container: Container) -> FlaskClient:
    from hotline.app import create_app

    app = create_app(container=container)
    app.config["TESTING"] = True
    return app.test_client()


def _numbers(container: Container) -> list[str]:
    with container.uow() as uow:
        tickets = uow.session.scalars(sa.select(Ticket).order_by(Ticket.id)).all()
        return [container.dispatch.ticket_number(t) for t in tickets]


def test_an_unagreed_web_ticket_is_not_published_and_reads_as_unknown(
    client: FlaskClient, world: World, container: Container, real_redis: Any
) -> None:
    number = _submit(client, publish=False)
    outsider = _anonymous(container)
    listed = outsider.get("/open311/v2/requests.json")
    assert listed.status_code == 200 and listed.get_json() == []
    # Walking the sequential numbers: the real one answers as one that never existed.
    real = outsider.get(f"/open311/v2/requests/{number}.json")
    fake_number = number[:-1] + str((int(number[-1]) + 1) % 10)
    fake = outsider.get(f"/open311/v2/requests/{fake_number}.json")
    assert real.status_code == fake.status_code == 404
    assert real.get_json()[0]["code"] == fake.get_json()[0]["code"]
    assert real.get_json()[0]["description"].replace(number, "#") == fake.get_json()[0][
        "description"
    ].replace(fake_number, "#")
    by_id = outsider.get("/open311/v2/requests.json", query_string={"service_request_id": number})
    assert by_id.get_json() == []
    for n in _numbers(container):
        assert outsider.get(f"/open311/v2/requests/{n}.json").status_code == 404
    body = real.get_data(as_text=True) + listed.get_data(as_text=True)
    assert "电梯" not in body and PHONE not in body


def test_an_agreed_web_ticket_is_published_without_personal_data_or_precise_place(
    client: FlaskClient, world: World, container: Container, real_redis: Any
) -> None:
    number = _submit(client, publish=True)
    outsider = _anonymous(container)
    for resp in (
        outsider.get(f"/open311/v2/requests/{number}.json"),
        outsider.get("/open311/v2/requests.json"),
    ):
        assert resp.status_code == 200
        (item,) = resp.get_json()
        assert item["service_request_id"] == number
        text = resp.get_data(as_text=True)
        assert NAME not in text and PHONE not in text and "5678" not in text
        assert "电梯停运一个月" in item["description"]
        assert item["address"] == "东湖区滨江路"
        assert (item["lat"], item["long"]) == (30.27, 120.16)
    xml = outsider.get(f"/open311/v2/requests/{number}.xml").get_data(as_text=True)
    assert NAME not in xml and PHONE not in xml and "阳光花园" not in xml


def test_an_open311_post_is_published_only_with_publish_true(
    client: FlaskClient, world: World, container: Container, real_redis: Any
) -> None:
    with container.uow() as uow:
        uow.session.add(Matter(path="城乡建设/物业管理/电梯", unit_id=None, keywords=["电梯"]))
        uow.commit()
    with container.uow() as uow:
        code = str(uow.session.scalar(sa.select(Matter.id)))
    key = apikeys.create_key(
        container.uow(), world.users["admin"], "市民通APP", "", 60, default_rate=60
    ).key
    numbers = {}
    for publish in (None, "false", "true"):
        form = {"api_key": key, "service_code": code, "description": TEXT, "lat": LAT,
                "long": LONG, "address_string": ADDRESS}  # fmt: skip
        if publish is not None:
            form["publish"] = publish
        resp = client.post("/open311/v2/requests.json", data=form)
        assert resp.status_code == 201, resp.get_json()
        numbers[publish] = resp.get_json()[0]["service_request_id"]
    bad = client.post(
        "/open311/v2/requests.json",
        data={"api_key": key, "service_code": code, "description": TEXT, "lat": LAT,
              "long": LONG, "publish": "maybe"},
    )  # fmt: skip
    assert bad.status_code == 400 and "publish" in bad.get_json()[0]["description"]
    outsider = _anonymous(container)
    listed = [i["service_request_id"] for i in outsider.get("/open311/v2/requests.json").json]
    assert listed == [numbers["true"]]
    assert outsider.get(f"/open311/v2/requests/{numbers[None]}.json").status_code == 404
    assert outsider.get(f"/open311/v2/requests/{numbers['false']}.json").status_code == 404
