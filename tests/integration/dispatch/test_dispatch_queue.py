"""待派单: every ticket accepted without a unit reaches the team leads' queue, one click away.

In the demo, smart dispatch rarely reached its threshold, and web and Open311 tickets then sat
at 「正在分派」 with nobody's name on them: no page listed 已受理 tickets waiting for a unit.
"""

from typing import Any

from dispatch.tickets.domain import Channel
from dispatch.webform import intake
from hotline.bootstrap import Container
from tests.conftest import HOUSING
from tests.conftest import Api
from tests.conftest import World


def _public(container: Container, channel: Channel, text: str) -> intake.Submitted:
    return intake.submit(
        container.uow(),
        container.dispatch,
        container.assistant,
        container.attachments,
        intake.PublicRequest(description=text, phone="13912345678"),
        channel=channel,
        actor_name="网上诉求",
    )


def test_tickets_from_every_channel_below_the_threshold_wait_in_one_queue(
    api: Api, catalogue: World, container: Container
) -> None:
    container.assistant.router.threshold = 0.999  # nothing is sure enough
    console = api.create(auto_dispatch=True, **HOUSING)
    chosen = api.create(title="咨询养老保险", content="退休人员养老金怎么认证")  # 仅受理
    web = _public(container, Channel.WEB, "小区电梯坏了一个月没人修，物业不管")
    o311 = _public(container, Channel.OPEN311, "小区电梯停运，物业不修")
    sent = api.dispatched("zjj")  # given to a unit: not waiting

    queue = api.get("/api/dispatch-queue", as_="lead").get_json()

    numbers = [t["number"] for t in queue["items"]]
    assert numbers == [console["number"], chosen["number"], web.number, o311.number]
    assert sent["number"] not in numbers
    assert queue["total"] == 4
    assert [t["channel_label"] for t in queue["items"]] == ["电话", "电话", "网站", "开放接口"]
    first = queue["items"][0]
    assert first["suggestion"]["unit_id"] == catalogue.units["zjj"]
    assert first["suggestion"]["name"] == "住房和城乡建设局"
    assert api.get("/api/dispatch-queue/count", as_="operator").get_json() == {"total": 4}


def test_dispatching_from_the_queue_takes_the_ticket_out(
    api: Api, catalogue: World, container: Container
) -> None:
    t = api.create(**HOUSING)
    queue = api.get("/api/dispatch-queue", as_="lead").get_json()
    unit = queue["items"][0]["suggestion"]["unit_id"]

    api.act(t["id"], "dispatch", {"lead_unit_id": unit}, as_="lead")

    assert api.get("/api/dispatch-queue/count", as_="lead").get_json() == {"total": 0}


def test_the_queue_shows_no_caller_identity_and_writes_no_audit(
    api: Api, catalogue: World, container: Container
) -> None:
    api.create(**HOUSING)
    body = api.get("/api/dispatch-queue", as_="lead").get_data(as_text=True)
    assert "13812345678" not in body and "张三" not in body
    from infra.models import AuditEntry

    with container.uow() as uow:
        actions = {a.action for a in uow.session.query(AuditEntry)}
    assert "list_personal_data" not in actions


def test_units_and_leaders_do_not_see_the_queue(api: Api, catalogue: World) -> None:
    for who in ("zjj", "leader"):
        assert api.get("/api/dispatch-queue", as_=who).status_code == 403
        assert api.get("/api/dispatch-queue/count", as_=who).status_code == 403


def test_a_ticket_accepted_without_a_unit_comes_back_with_the_units_routing_suggests(
    api: Api, catalogue: World, container: Container
) -> None:
    t = api.create(**HOUSING)  # 仅受理, no auto-dispatch asked

    assert t["status"] == "accepted"
    assert t["routing"]["dispatch"] is False
    assert (t["routing"]["unit_id"], t["routing"]["unit_name"]) == (
        catalogue.units["zjj"],
        "住房和城乡建设局",
    )


def test_the_queue_page_preselects_the_suggestion(
    client: Any, api: Api, catalogue: World, world: World
) -> None:
    t = api.create(**HOUSING)
    client.post("/api/auth/login", json={"username": "lead", "password": world.password})

    html = client.get("/dispatch-queue").get_data(as_text=True)

    assert t["number"] in html
    assert f'<option value="{catalogue.units["zjj"]}" selected>住房和城乡建设局</option>' in html
    assert "建议：住房和城乡建设局" in html
