"""The ticket page opens what the person most likely does next, with the suggestion chosen,
and lists the calls behind the ticket with recordings for those allowed to hear them."""

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from callcenter.models import CallRecord
from hotline.bootstrap import Container
from tests.conftest import HOUSING
from tests.conftest import Api
from tests.conftest import World


def browser(app: Flask, world: World, username: str) -> FlaskClient:
    client = app.test_client()
    resp = client.post("/api/auth/login", json={"username": username, "password": world.password})
    assert resp.status_code == 200
    return client


def page(app: Flask, world: World, username: str, ticket_id: int) -> str:
    resp = browser(app, world, username).get(f"/tickets/{ticket_id}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def open_panel(html: str) -> str:
    match = re.search(r'<details class="action" data-panel="(\w+)" open>', html)
    assert match, "no panel is open"
    return match.group(1)


def test_a_new_ticket_opens_dispatch_with_the_suggested_unit_chosen(
    app: Flask, api: Api, catalogue: World
) -> None:
    t = api.create(**HOUSING)

    html = page(app, catalogue, "lead", t["id"])

    assert open_panel(html) == "dispatch"
    assert f'<option value="{catalogue.units["zjj"]}" selected>住房和城乡建设局</option>' in html
    assert "已选中智能派单建议的单位" in html
    # units are grouped as people look for them
    assert '<optgroup label="委办局">' in html and '<optgroup label="东湖区 · 街道">' in html


@pytest.mark.parametrize(
    ("steps", "who", "panel"),
    [
        ((), "zjj", "sign"),
        (("sign",), "zjj", "reply"),
        (("sign", "reply"), "lead", "review"),
        (("sign", "reply", "review"), "lead", "follow_up"),
    ],
)
def test_each_status_opens_the_likely_next_action(
    app: Flask, api: Api, world: World, steps: tuple[str, ...], who: str, panel: str
) -> None:
    t = api.dispatched("zjj")
    bodies: dict[str, tuple[dict[str, Any], str]] = {
        "sign": ({}, "zjj"),
        "reply": ({"text": "已修复"}, "zjj"),
        "review": ({"approve": True}, "lead"),
    }
    for step in steps:
        body, actor = bodies[step]
        api.act(t["id"], step, body, as_=actor)

    assert open_panel(page(app, world, who, t["id"])) == panel


def test_an_extension_waiting_opens_its_decision(app: Flask, api: Api, world: World) -> None:
    t = api.signed("zjj")
    api.act(t["id"], "extend", {"days": 3, "reason": "需协调施工队"}, as_="zjj")

    assert open_panel(page(app, world, "lead", t["id"])) == "decide_extension"


def test_merge_takes_the_ticket_number_people_see(app: Flask, api: Api, world: World) -> None:
    master = api.create(title="小区电梯故障", content="三号楼电梯停运")
    dup = api.create(title="电梯又坏了", content="三号楼电梯还是不动")
    assert 'id="master_number"' in page(app, world, "operator", dup["id"])

    wrong = api.act(dup["id"], "merge", {"master_number": "JC20000101" + "9" * 7}, expect=422)
    assert wrong["details"]["fields"]["master_number"] == "没有这个工单号"
    # the id inside a number of another day is not enough
    forged = master["number"][:2] + "19990101" + master["number"][10:]
    assert api.act(dup["id"], "merge", {"master_number": forged}, expect=422)
    merged = api.act(dup["id"], "merge", {"master_number": master["number"].lower()})
    assert merged["status"] == "merged" and merged["merged_into_id"] == master["id"]


def _call(container: Container, ticket_id: int, agent: str, recording: str | None) -> None:
    at = dt.datetime(2026, 11, 16, 2, 0, tzinfo=dt.UTC)
    with container.uow() as uow:
        uow.session.add(
            CallRecord(
                call_id=f"call-{agent}@127.0.0.1",
                caller="13812345678",
                outcome="answered",
                seat="s01",
                agent=agent,
                offered_at=at,
                answered_at=at + dt.timedelta(seconds=8),
                ended_at=at + dt.timedelta(seconds=133),
                wait_seconds=8.0,
                talk_seconds=125.0,
                recording=recording,
                ticket_id=ticket_id,
            )
        )
        uow.commit()


def test_the_ticket_lists_its_calls_and_plays_them_to_those_allowed(
    app: Flask, api: Api, container: Container, world: World
) -> None:
    t = api.dispatched("zjj")
    _call(container, t["id"], f"u{world.users['operator']}", "s01/call.wav")

    lead = page(app, world, "lead", t["id"])
    operator = page(app, world, "operator", t["id"])
    leader = page(app, world, "leader", t["id"])
    unit = page(app, world, "zjj", t["id"])

    assert "来电记录" in lead and "operator用户" in lead and "2 分 05 秒" in lead and "8 秒" in lead
    assert "<audio controls" in lead and "<audio controls" in operator  # the lead; who took it
    assert "来电记录" in leader and "<audio controls" not in leader
    assert "来电记录" not in unit  # units see no calls
    assert "@127.0.0.1" not in re.sub(r"<[^>]+>", "", lead)  # no SIP call id as text
    assert "13812345678" not in unit
