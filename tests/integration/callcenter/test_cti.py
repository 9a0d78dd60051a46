"""CTI for the browser: seat sign-in, agent states, the screen pop of an offered call."""

from typing import Any

import pytest

from callcenter.acd.spytoken import take_spy_token
from hotline.bootstrap import Container
from tests.conftest import Api

pytestmark = pytest.mark.redis


def test_an_operator_signs_in_to_a_seat_and_takes_calls_when_ready(
    api: Api, container: Container, real_redis: Any
) -> None:
    me = api.get("/api/cti/me").get_json()
    assert (me["seat"], me["state"]) == (None, "offline")
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
    # The reasons the ACD and a supervisor set cannot be claimed by an operator: not-ready
    # time by reason would be forged (a break booked as 班长设置 or 话机未连通).
    for forged in ("supervisor", "missed", "unreachable"):
        refused = api.post("/api/cti/state", {"state": "not_ready", "reason": forged})
        assert refused.status_code == 422, forged
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


def in_call(api: Api, client: Any, seat: str, call_id: str) -> None:
    """The operator signs in at the seat and is ready; a call rings there and is answered."""
    api.post("/api/cti/seat", {"seat": seat})
    api.post("/api/cti/state", {"state": "ready"})
    client.get(f"/acd/route?call_id={call_id}&from=13812345678")
    client.get(f"/acd/answered?call_id={call_id}&seat={seat}")


def test_a_ticket_accepted_during_a_call_is_linked_to_its_record(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    from callcenter.models import CallRecord

    in_call(api, client, "s09", "c10")
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


def _published(container: Container, seat: str) -> Any:
    """Listen on a seat's command channel as its softphone would."""
    pubsub = container.redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"{container.acd.prefix}seatcmd:{seat}")
    return pubsub


def _next(pubsub: Any) -> dict[str, Any]:
    import json
    import time

    for _ in range(50):
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            return dict(json.loads(message["data"]))
        time.sleep(0.01)
    raise AssertionError("nothing was published")


def _unit_phone(container: Container, code: str, phone: str | None, active: bool = True) -> None:
    from infra.models import Unit

    with container.uow() as uow:
        unit = uow.session.query(Unit).filter_by(code=code).one()
        unit.phone, unit.active = phone, active
        uow.commit()


def test_transfer_and_three_way_go_to_listed_numbers_and_unit_phones_only(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    _unit_phone(container, "zjj", "0710-8888 1201")  # dialled as digits
    _unit_phone(container, "cgj", "请拨总机")  # no number: not a target
    _unit_phone(container, "gdgs", "95598", active=False)  # a unit no longer active
    listed = api.get("/api/cti/targets").get_json()["targets"]
    numbers = {t["number"]: (t["name"], t["group"]) for t in listed}
    assert [t["number"] for t in listed][:4] == ["110", "119", "120", "122"]
    assert numbers["071088881201"][1] == "成员单位" and "95598" not in numbers
    assert all(t["number"].isdigit() for t in listed)
    assert api.get("/api/cti/targets", as_="zjj").status_code == 403  # units have no seat

    api.post("/api/cti/seat", {"seat": "s11"})
    phone = _published(container, "s11")
    sent = api.post("/api/cti/call", {"action": "transfer", "target": "110"})
    assert sent.status_code == 202
    assert _next(phone) == {"action": "transfer", "target": "110"}
    unit = api.post("/api/cti/call", {"action": "conference", "target": "071088881201"})
    assert unit.status_code == 202
    assert _next(phone) == {"action": "conference", "target": "071088881201"}
    for bad_target in ("12306", "95598"):
        bad = api.post("/api/cti/call", {"action": "conference", "target": bad_target})
        assert bad.status_code == 422
        assert "转接号码" in bad.get_json()["details"]["fields"]["target"]
    assert api.post("/api/cti/call", {"action": "transfer"}).status_code == 422
    assert api.post("/api/cti/call", {"action": "dial", "target": "110"}).status_code == 422
    phone.close()
    # the edge asks the same list for callers coming back from the PSTN gateway
    answer = lambda n: client.get(f"/acd/transfer_target?number={n}").get_data(as_text=True).strip()  # noqa: E731
    assert (answer("071088881201"), answer("110"), answer("12306"), answer("95598")) == (
        "ok", "ok", "no", "no",
    )  # fmt: skip


def test_listening_in_needs_a_supervisor_at_a_seat_and_a_call_and_is_audited(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    from infra.models import AuditEntry

    api.post("/api/cti/seat", {"seat": "s12"})
    api.post("/api/cti/state", {"state": "ready"})
    body = {"seat": "s12", "mode": "monitor"}
    assert api.post("/api/cti/spy", body).status_code == 403  # an operator
    refused = api.post("/api/cti/spy", body, as_="supervisor")
    assert refused.status_code == 409 and refused.get_json()["message"] == "请先签入坐席"
    api.post("/api/cti/seat", {"seat": "sup1"}, as_="supervisor")
    idle = api.post("/api/cti/spy", body, as_="supervisor")
    assert idle.status_code == 409 and idle.get_json()["message"] == "该坐席当前没有通话"
    unknown = api.post("/api/cti/spy", {"seat": "zz9", "mode": "monitor"}, as_="supervisor")
    assert unknown.status_code == 404
    sing = api.post("/api/cti/spy", {"seat": "s12", "mode": "sing"}, as_="supervisor")
    assert sing.status_code == 422
    client.get("/acd/route?call_id=c12&from=13812345678")
    client.get("/acd/answered?call_id=c12&seat=s12")
    phone = _published(container, "sup1")
    for mode in ("monitor", "barge"):
        ok = api.post("/api/cti/spy", {"seat": "s12", "mode": mode}, as_="supervisor")
        assert ok.status_code == 202
        assert ok.get_json() == {"seat": "sup1", "target": "s12", "mode": mode}
        sent = _next(phone)
        token = sent.pop("token")
        assert sent == {"action": "spy", "seat": "s12", "mode": mode}
        # the token the seat s12 will ask for: this supervisor's seat, this call, this mode
        grant = take_spy_token(
            container.redis, container.acd.prefix, token,
            seat="s12", from_seat="sup1", call_id="c12", mode=mode,
        )  # fmt: skip
        assert grant is not None
        assert container.redis.keys(f"{container.acd.prefix}spytoken:*") == []  # used once
    api.post("/api/cti/spy", {"seat": "s12", "mode": "end"}, as_="supervisor")
    assert _next(phone) == {"action": "spy_end"}
    phone.close()
    with container.uow() as uow:
        actions = [a.action for a in uow.session.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions.count("spy_monitor") == 1 and actions.count("spy_barge") == 1


def test_a_recording_is_heard_by_its_agent_and_supervisors_only(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    from callcenter.records.sync import recordings_root
    from callcenter.seat import write_tone
    from infra.models import AuditEntry

    in_call(api, client, "s13", "c13")
    container.redis.hset(f"{container.acd.prefix}call:c13", "recording", "20261121/c13.wav")
    path = recordings_root(container.settings) / "20261121" / "c13.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_tone(path, [440.0], 0.2)
    client.get("/acd/ended?call_id=c13&by=caller")
    mine = api.get("/api/cti/calls/c13/recording")
    assert mine.status_code == 200 and mine.mimetype == "audio/wav"
    assert mine.data[:4] == b"RIFF"
    mine.close()
    for who in ("supervisor", "lead"):
        heard = api.get("/api/cti/calls/c13/recording", as_=who)
        assert heard.status_code == 200
        heard.close()
    assert api.get("/api/cti/calls/c13/recording", as_="zjj").status_code == 403
    assert api.get("/api/cti/calls/nope/recording").status_code == 404
    with container.uow() as uow:
        heard = uow.session.query(AuditEntry).filter_by(action="listen_recording").count()
    assert heard == 3
    # a record pointing outside the recordings folder is refused, not served
    container.redis.hset(f"{container.acd.prefix}call:c13", "recording", "../../etc/passwd")
    client.get("/acd/ended?call_id=c13")
    path.unlink()
    assert api.get("/api/cti/calls/c13/recording").status_code == 404


def test_the_record_keeps_the_wrap_up_the_agent_actually_took(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    from callcenter.models import CallRecord

    in_call(api, client, "s14", "c14")
    client.get("/acd/ended?call_id=c14&by=seat")
    with container.uow() as uow:
        planned = uow.session.query(CallRecord).filter_by(call_id="c14").one().wrap_up_seconds
    assert planned == container.settings.telephony.wrap_up_seconds
    assert api.post("/api/cti/state", {"state": "ready"}).status_code == 200
    with container.uow() as uow:
        row = uow.session.query(CallRecord).filter_by(call_id="c14").one()
        assert row.end_reason == "seat"
        assert row.wrap_up_seconds is not None and row.wrap_up_seconds < 5
