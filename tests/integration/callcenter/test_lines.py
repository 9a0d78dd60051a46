"""合并热线: numbers merged into the hotline, their calls' origin, and who takes them."""

from typing import Any

import pytest
from flask.testing import FlaskClient

from callcenter.lines import list_lines
from callcenter.models import CallRecord
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.conftest import World
from tests.integration.agents_ui.test_admin_pages import audit
from tests.integration.agents_ui.test_admin_pages import sign_in

pytestmark = pytest.mark.redis
PAGE = "/admin/lines/"


def _make_line(client: FlaskClient, world: World, csrf: str, **fields: Any) -> Any:
    form = {"csrf": csrf, "number": "83333333", "name": "原市长热线"} | fields
    form["user_ids"] = [str(world.users["operator"])]
    return client.post(PAGE, data=form)


def test_admins_set_lines_in_system_admin_and_bad_input_keeps_nothing(
    client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    for bad, field_text in (
        ({"number": "8333-3333"}, "3 到 20 位数字"),
        ({"number": "12345"}, "热线本身的号码"),
        ({"name": ""}, "线路名称"),
    ):
        refused = _make_line(client, world, csrf, **bad)
        assert refused.status_code == 422 and field_text in refused.data.decode()
    liaison = client.post(
        PAGE,
        data={"csrf": csrf, "number": "83333333", "name": "x",
              "user_ids": [str(world.users["zjj"])]},
    )  # fmt: skip
    assert liaison.status_code == 422 and "坐席人员" in liaison.data.decode()
    assert list_lines(container.uow()) == []  # nothing half-kept
    made = _make_line(client, world, csrf)
    assert made.status_code == 302
    [line] = list_lines(container.uow())
    assert (line.number, line.name, line.skill) == ("83333333", "原市长热线", "line83333333")
    assert line.user_ids == (world.users["operator"],)
    twice = _make_line(client, world, csrf, name="另一条")
    assert twice.status_code == 422 and "已登记为另一条线路" in twice.data.decode()
    page = client.get(PAGE).data.decode()
    assert "原市长热线" in page and "83333333" in page
    [(who, details)] = audit(container, "line_created")
    assert who == world.users["admin"] and details["number"] == "83333333"


def test_only_admins_see_the_lines_page(client: FlaskClient, world: World, real_redis: Any) -> None:
    sign_in(client, world, "operator")
    assert client.get(PAGE).status_code == 403


def test_a_call_on_a_line_carries_its_name_and_reaches_only_its_operators(
    api: Api, client: FlaskClient, container: Container, world: World, real_redis: Any
) -> None:
    csrf = sign_in(client, world)
    assert _make_line(client, world, csrf).status_code == 302
    pushed: list[tuple[str, dict[str, Any]]] = []
    container.dispatch.publish = lambda event, payload, rooms: pushed.append((event, payload))
    # the lead does not take the line and cannot claim its skill; the operator does
    claim = api.post("/api/cti/seat", {"seat": "s31", "skills": ["line83333333"]}, as_="lead")
    assert claim.status_code == 422
    api.post("/api/cti/seat", {"seat": "s31"}, as_="lead")
    api.post("/api/cti/state", {"state": "ready"}, as_="lead")
    assert container.acd.seat("s31")["skills"] == "lead"  # 值班班长, not the line
    assert client.get("/acd/line?number=83333333").data.decode().strip() == "line"
    assert client.get("/acd/line?number=83333334").data.decode().strip() == "no"
    on_line = client.get("/acd/route?call_id=L1&from=13812345678&to=83333333&div=")
    assert on_line.data.decode().startswith("wait")  # s31 is ready but not for this line
    api.post("/api/cti/seat", {"seat": "s32"})
    assert container.acd.seat("s32")["skills"] == "line83333333"
    api.post("/api/cti/state", {"state": "ready"})
    again = client.get("/acd/route?call_id=L1&from=13812345678&to=83333333&div=")
    assert again.data.decode().startswith("ring s32")
    [offered] = [p for e, p in pushed if e == "call.offered"]
    assert offered["line"] == "原市长热线" and offered["seat"] == "s32"
    # a call forwarded from the old number (Diversion) belongs to the line too
    forwarded = client.get("/acd/route?call_id=L2&from=13812345679&to=12345&div=83333333")
    assert forwarded.data.decode().startswith("wait")
    assert container.acd.call("L2")["line"] == "原市长热线"
    # the hotline's own calls go to any seat, and carry no line
    own = client.get("/acd/route?call_id=L3&from=13812345670&to=12345&div=")
    assert own.data.decode().startswith("ring s31")
    with container.uow() as uow:
        lines = dict(uow.session.query(CallRecord.call_id, CallRecord.line))
    assert lines == {"L1": "原市长热线", "L2": "原市长热线", "L3": None}
