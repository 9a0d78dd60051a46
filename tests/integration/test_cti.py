"""CTI for the browser: seat sign-in, agent states, the screen pop of an offered call."""

from typing import Any

import pytest

from hotline.bootstrap import Container
from tests.conftest import Api

pytestmark = pytest.mark.redis


def test_an_operator_signs_in_to_a_seat_and_takes_calls_when_ready(
    api: Api, container: Container, real_redis: Any
) -> None:
    assert api.get("/api/cti/me").get_json() == {"seat": None, "state": "offline"}
    signed = api.post("/api/cti/seat", {"seat": "s07"})
    assert signed.status_code == 200 and signed.get_json()["state"] == "not_ready"
    assert api.post("/api/cti/state", {"state": "ready"}).get_json()["state"] == "ready"
    assert container.acd.route("call-1", "13812345678").seat == "s07"
    busy = api.post("/api/cti/state", {"state": "not_ready", "reason": "meal"})
    assert busy.status_code == 409 and busy.get_json()["error"] == "rule_violation"
    container.acd.ended("call-1")
    meal = api.post("/api/cti/state", {"state": "not_ready", "reason": "meal"}).get_json()
    assert (meal["state"], meal["reason"]) == ("not_ready", "meal")
    assert api.post("/api/cti/state", {"state": "logout"}).get_json()["state"] == "offline"
    assert api.get("/api/cti/me").get_json()["seat"] is None


def test_bad_requests_and_roles(api: Api, real_redis: Any) -> None:
    assert api.post("/api/cti/state", {"state": "ready"}).status_code == 409  # no seat yet
    assert api.post("/api/cti/seat", {"seat": "s 1"}).status_code == 422
    assert api.post("/api/cti/seat", {"seat": "s1", "extra": 1}).status_code == 422
    api.post("/api/cti/seat", {"seat": "s1"})
    assert api.post("/api/cti/state", {"state": "dancing"}).status_code == 422
    assert api.post("/api/cti/state", {"state": "not_ready", "reason": "nap"}).status_code == 422
    assert api.post("/api/cti/seat", {"seat": "s2"}, as_="zjj").status_code == 403
    # Leaders take calls only inside a duty window (test_leader_duty.py).
    assert api.post("/api/cti/seat", {"seat": "s3"}, as_="leader").status_code == 409
    assert api.get("/api/cti/me", as_=None).status_code == 401


def test_the_operator_at_the_seat_hears_who_is_calling(
    api: Api, client: Any, container: Container, real_redis: Any, world: Any
) -> None:
    pushed: list[tuple[str, dict[str, Any], list[str]]] = []
    container.dispatch.publish = lambda event, payload, rooms: pushed.append(
        (event, payload, rooms)
    )
    api.post("/api/cti/seat", {"seat": "s08"})
    api.post("/api/cti/state", {"state": "ready"})
    assert (
        client.get("/acd/route?call_id=c9&from=13812345678")
        .get_data(as_text=True)
        .startswith("ring s08")
    )
    [(event, payload, rooms)] = [p for p in pushed if p[0] == "call.offered"]
    assert rooms == [f"user:{world.users['operator']}"]
    assert payload["number"] == "13812345678" and payload["seat"] == "s08"
    assert payload["location"] == "江苏省连云港市" and payload["carrier"] == "中国移动"


def test_a_ticket_accepted_during_a_call_is_linked_to_its_record(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    from callcenter.models import CallRecord

    api.post("/api/cti/seat", {"seat": "s09"})
    api.post("/api/cti/state", {"state": "ready"})
    client.get("/acd/route?call_id=c10&from=13812345678")
    client.get("/acd/answered?call_id=c10&seat=s09")
    ticket = api.create(caller_phone="13812345678")
    assert (
        api.post("/api/cti/link", {"call_id": "c10", "ticket_id": ticket["id"]}).status_code == 200
    )
    with container.uow() as uow:
        record = uow.session.query(CallRecord).filter_by(call_id="c10").one()
        assert record.ticket_id == ticket["id"]
    assert (
        api.post(
            "/api/cti/link", {"call_id": "c10", "ticket_id": ticket["id"]}, as_="lead"
        ).status_code
        == 403
    )
    assert (
        api.post("/api/cti/link", {"call_id": "nope", "ticket_id": ticket["id"]}).status_code == 404
    )
    assert api.post("/api/cti/link", {"call_id": "c10", "ticket_id": 999_999}).status_code == 404
    assert api.post("/api/cti/link", {"call_id": "c10", "ticket_id": 0}).status_code == 422
