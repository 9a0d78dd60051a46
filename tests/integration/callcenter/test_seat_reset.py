"""复位: a supervisor frees a seat the ACD believes in a call when it is not (issue 18, item 5).

The call's end was never reported and the seat's softphone is not there to report it: the
seat stays 通话中, takes no call, and its operator cannot sign in again. 复位 ends the call in
the ACD, finishes its record, sets the seat apart and is audited.
"""

from typing import Any

import pytest
from flask.testing import FlaskClient

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdError
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.conftest import World
from tests.integration.callcenter.test_hall import audit_rows
from tests.integration.callcenter.test_seat_sync import NUMBER
from tests.integration.callcenter.test_seat_sync import Clock
from tests.integration.callcenter.test_seat_sync import ask
from tests.integration.callcenter.test_seat_sync import make_hall
from tests.integration.callcenter.test_seat_sync import ready
from tests.integration.callcenter.test_seat_sync import record

pytestmark = pytest.mark.redis


@pytest.fixture
def hall(container: Container, real_redis: Any) -> tuple[Acd, Clock]:
    return make_hall(container, real_redis)


def test_reset_ends_the_call_and_sets_the_seat_apart(hall: tuple[Acd, Clock]) -> None:
    acd, clock = hall
    ready(acd, "s1", "s2", "s3")
    for call in ("c1", "c2"):
        seat = acd.route(call).seat
        assert seat is not None
        acd.answered(call, seat)
    assert acd.route("c3").seat == "s3"  # ringing only
    talking = acd.call("c1")["seat"]
    acd.logout(acd.call("c2")["seat"], signed_out=True)  # its operator left during the call
    clock.now += 3600

    assert acd.reset(talking) == "c1"
    assert acd.reset(acd.call("c2")["seat"]) == "c2"
    assert acd.reset("s3") == "c3"

    assert [acd.call(c)["state"] for c in ("c1", "c2", "c3")] == ["ended", "ended", "abandoned"]
    assert {acd.call(c)["end_reason"] for c in ("c1", "c2", "c3")} == {"supervisor_reset"}
    seat = acd.seat(talking)
    assert (seat["state"], seat["reason"]) == ("not_ready", "supervisor")
    assert acd.seat(acd.call("c2")["seat"])["state"] == "offline"
    assert acd.seat("s3")["state"] == "not_ready"
    with pytest.raises(AcdError):
        acd.reset(talking)  # not in a call any more
    assert acd.route("c4").action == "wait"  # nobody is given calls until ready again


def test_reset_frees_a_seat_whose_call_is_long_gone(hall: tuple[Acd, Clock]) -> None:
    acd, clock = hall
    ready(acd, "s1")
    acd.route("c1")
    acd.answered("c1", "s1")
    acd.r.delete(f"{acd.prefix}call:c1")  # its hash expired a day later
    assert acd.reset("s1") == "c1"
    assert acd.seat("s1")["state"] == "not_ready" and "call" not in acd.seat("s1")


def sign_in(api: Api, who: str, seat: str) -> None:
    assert api.post("/api/cti/seat", {"seat": seat}, as_=who).status_code == 200
    assert api.post("/api/cti/state", {"state": "ready"}, as_=who).status_code == 200


def test_a_supervisor_resets_a_stuck_seat_and_it_is_audited(
    api: Api, client: FlaskClient, container: Container, hall: tuple[Acd, Clock], world: World
) -> None:
    acd, clock = hall
    sign_in(api, "operator", "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    ask(client, "answered", call_id="c1", seat="s01")
    clock.now += 3600  # the end was never reported: the seat is stuck talking
    assert api.post("/api/cti/seat", {"seat": "s01"}, as_="operator").status_code == 409

    resp = api.post("/api/cti/seats/s01/reset", as_="supervisor")

    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {
        "seat": "s01",
        "call_id": "c1",
        "call_state": "ended",
        "state": "not_ready",
    }
    row = record(container, "c1")
    assert (row.outcome, row.end_reason, row.talk_seconds) == ("answered", "supervisor_reset", 3600)
    seat = acd.seat("s01")
    assert (seat["state"], seat["reason"]) == ("not_ready", "supervisor")
    [(user_id, details)] = audit_rows(container, "reset_seat")
    assert user_id == world.users["supervisor"]
    assert details == {
        "seat": "s01",
        "agent": f"u{world.users['operator']}",
        "was": "talking",
        "call_id": "c1",
        "call_state": "ended",
        "state": "not_ready",
    }
    # The operator takes calls again.
    assert api.post("/api/cti/state", {"state": "ready"}, as_="operator").status_code == 200


def test_a_reset_ringing_seat_leaves_an_abandoned_record(
    api: Api, client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    acd, clock = hall
    sign_in(api, "operator", "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    resp = api.post("/api/cti/seats/s01/reset", as_="lead")
    assert resp.get_json()["call_state"] == "abandoned"
    row = record(container, "c1")
    assert (row.outcome, row.end_reason) == ("abandoned", "supervisor_reset")


def test_a_reset_seat_whose_call_expired_still_gets_a_final_record(
    api: Api, client: FlaskClient, container: Container, hall: tuple[Acd, Clock]
) -> None:
    acd, clock = hall
    sign_in(api, "operator", "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    ask(client, "answered", call_id="c1", seat="s01")
    acd.r.delete(f"{acd.prefix}call:c1")  # a day later
    resp = api.post("/api/cti/seats/s01/reset", as_="admin")
    assert resp.status_code == 200 and resp.get_json()["call_state"] is None
    row = record(container, "c1")
    assert (row.outcome, row.end_reason) == ("answered", "supervisor_reset")


@pytest.mark.parametrize("who", ["operator", "zjj", "leader"])
def test_only_team_leads_supervisors_and_admins_reset_seats(
    api: Api, client: FlaskClient, container: Container, hall: tuple[Acd, Clock], who: str
) -> None:
    acd, clock = hall
    sign_in(api, "operator", "s01")
    ask(client, "route", call_id="c1", **{"from": NUMBER})
    resp = api.post("/api/cti/seats/s01/reset", as_=who)
    assert resp.status_code == 403
    assert acd.seat("s01")["state"] == "ringing" and audit_rows(container, "reset_seat") == []


def test_a_seat_not_in_a_call_is_not_reset(
    api: Api, container: Container, hall: tuple[Acd, Clock]
) -> None:
    sign_in(api, "operator", "s01")
    resp = api.post("/api/cti/seats/s01/reset", as_="supervisor")
    assert resp.status_code == 409
    assert resp.get_json()["message"] == "该坐席不在通话中，无需复位"
    assert api.post("/api/cti/seats/nope/reset", as_="supervisor").status_code == 404
    assert audit_rows(container, "reset_seat") == []
