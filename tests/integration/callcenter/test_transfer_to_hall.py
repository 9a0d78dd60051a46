"""转接坐席 and 转接值班班长: a transfer to another seat or to the team lead on duty.

The operator's API issues a single-use token for the caller; the caller's phone dials the
hotline with it (`/acd/route?xfer=`), and the ACD queues that call for the one seat or for
the team leads at a seat. What a crafted or reused token gets is tested here too.
"""

from typing import Any

import pytest

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.integration.callcenter.test_cti import _next
from tests.integration.callcenter.test_cti import _published
from tests.integration.callcenter.test_cti import in_call

pytestmark = pytest.mark.redis

CALLER = "13812345678"


def route(client: Any, call_id: str, caller: str = CALLER, xfer: str = "") -> str:
    url = f"/acd/route?call_id={call_id}&from={caller}&to=12345&xfer={xfer}"
    return str(client.get(url).get_data(as_text=True).strip())


def test_the_hall_lists_seats_signed_in_and_the_team_lead_on_duty(
    api: Api, container: Container, real_redis: Any
) -> None:
    # An operator cannot make themselves the lead on duty; a team lead at a seat is one.
    api.post("/api/cti/seat", {"seat": "s21", "skills": ["lead"]})
    api.post("/api/cti/seat", {"seat": "s22"}, as_="lead")
    api.post("/api/cti/seat", {"seat": "s23"}, as_="supervisor")
    assert "lead" not in container.acd.seat("s21").get("skills", "").split(",")
    assert "lead" in container.acd.seat("s22")["skills"].split(",")
    listed = api.get("/api/cti/targets").get_json()["targets"]
    hall = [t for t in listed if t["group"] == "坐席与值班班长"]
    assert [t["number"] for t in hall] == ["lead", "seat:s22", "seat:s23"]  # not its own
    assert hall[0]["name"].startswith("值班班长（") and "示忙" in hall[1]["name"]
    assert [t["number"] for t in listed][3:7] == ["110", "119", "120", "122"]
    # The lead sees the operator's seat, and no lead on duty but themselves: none listed.
    theirs = [t["number"] for t in api.get("/api/cti/targets", as_="lead").get_json()["targets"]]
    assert "seat:s21" in theirs and "lead" not in theirs and "seat:s22" not in theirs


def test_a_caller_transferred_to_the_lead_on_duty_rings_the_leads_seat_once(
    api: Api, client: Any, container: Container, real_redis: Any, world: Any
) -> None:
    pushed: list[tuple[str, dict[str, Any]]] = []
    container.dispatch.publish = lambda event, payload, rooms: pushed.append((event, payload))
    api.post("/api/cti/seat", {"seat": "s22"}, as_="lead")
    in_call(api, client, "s21", "t1")  # the operator is talking with the caller
    api.post("/api/cti/state", {"state": "ready"}, as_="lead")
    phone = _published(container, "s21")
    sent = api.post("/api/cti/call", {"action": "transfer", "target": "lead"})
    assert sent.status_code == 202, sent.get_json()
    command = _next(phone)
    phone.close()
    token = command.pop("xfer")
    assert command == {
        "action": "transfer",
        "target": "lead",
        "dial": "12345",
        "label": command["label"],
    }
    assert command["label"].startswith("值班班长")
    # The caller's phone dials back in with the token: the lead's seat rings.
    assert route(client, "t1-back", xfer=token).startswith("ring s22 ")
    offered = [p for e, p in pushed if e == "call.offered" and p["call_id"] == "t1-back"]
    assert offered[0]["transferred_from"].startswith("坐席 s21")
    assert container.acd.call("t1-back")["skill"] == "lead"
    # Used once: the same token again is an ordinary call (the operator is still talking,
    # the lead's seat is ringing: it waits).
    assert route(client, "t1-again", xfer=token).startswith("wait")
    assert container.acd.call("t1-again")["skill"] == ""


def test_a_token_brought_by_another_number_or_made_up_is_an_ordinary_call(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    api.post("/api/cti/seat", {"seat": "s22"}, as_="lead")
    in_call(api, client, "s21", "t2")
    phone = _published(container, "s21")
    api.post("/api/cti/call", {"action": "transfer", "target": "seat:s22"})
    token = _next(phone)["xfer"]
    phone.close()
    assert route(client, "t2-other", caller="13900000000", xfer=token).startswith("wait")
    assert container.acd.call("t2-other")["skill"] == ""
    assert "transferred_from" not in container.acd.call("t2-other")
    # taken by that attempt: the real caller now gets an ordinary call too
    assert route(client, "t2-back", xfer=token).startswith("wait")
    assert container.acd.call("t2-back")["skill"] == ""
    for forged in ("x" * 24, "../../acd:seat:s22", "%0d%0aX: y", ""):
        call_id = f"t2-forged-{len(forged)}"
        assert route(client, call_id, xfer=forged).startswith("wait")
        assert container.acd.call(call_id)["skill"] == ""


def test_transfers_to_the_hall_are_refused_when_they_cannot_be_carried_out(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    api.post("/api/cti/seat", {"seat": "s21"})
    phone = _published(container, "s21")
    # no call yet
    api.post("/api/cti/seat", {"seat": "s22"}, as_="lead")
    assert api.post("/api/cti/call", {"action": "transfer", "target": "seat:s22"}).status_code == (
        409
    )
    in_call(api, client, "s21", "t3")
    for target, status in (
        ("seat:s99", 422),  # not signed in
        ("seat:s21", 422),  # their own seat
        ("seat:s2 2", 422),  # not a seat's name
        ("seat:", 422),
        ("leads", 422),
    ):
        refused = api.post("/api/cti/call", {"action": "transfer", "target": target})
        assert refused.status_code == status, (target, refused.get_json())
    three_way = api.post("/api/cti/call", {"action": "conference", "target": "seat:s22"})
    assert three_way.status_code == 422
    assert "三方通话" in three_way.get_json()["details"]["fields"]["target"]
    api.post("/api/cti/state", {"state": "logout"}, as_="lead")
    gone = api.post("/api/cti/call", {"action": "transfer", "target": "lead"})
    assert gone.status_code == 422 and "值班班长" in gone.get_json()["details"]["fields"]["target"]
    assert container.redis.keys(f"{container.acd.prefix}xfer:*") == []  # nothing issued
    assert phone.get_message(timeout=0.2) is None  # nothing sent to the seat
    phone.close()


def test_a_call_for_one_seat_rings_that_seat_only_and_waits_for_it(real_redis: Any) -> None:
    acd = Acd(real_redis, AcdConfig(), prefix="xfer-acd:")
    for seat in ("s1", "s2", "s3"):
        acd.login(seat, f"a-{seat}")
    acd.ready("s1")
    acd.ready("s3")
    # s2 is not ready: the call for it waits, though s1 and s3 are free
    assert acd.route("for-s2", "139", skill="seat:s2").action == "wait"
    assert acd.route("plain", "139").seat in ("s1", "s3")
    acd.ready("s2")
    assert acd.route("for-s2", "139").seat == "s2"
