"""The console's headset account: who gets it, how long it works, what it can claim."""

import dataclasses
from typing import Any

import pytest

from callcenter.acd.headset import digest_ha1
from callcenter.edge.credentials import issue_account
from hotline.bootstrap import Container
from infra.settings import Settings
from kernel.errors import ValidationError
from tests.conftest import Api

pytestmark = pytest.mark.redis


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, telephony=dataclasses.replace(settings.telephony, ws_port=5066)
    )


def _ha1(client: Any, user: str) -> str:
    return str(client.get(f"/acd/sip_ha1?user={user}").get_data(as_text=True))


def test_the_headset_password_is_the_signed_in_operators_and_dies_with_the_sign_in(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    realm = container.settings.telephony.sip_realm
    assert api.post("/api/cti/headset").status_code == 409  # no seat yet
    api.post("/api/cti/seat", {"seat": "s11"})
    me = api.get("/api/cti/me").get_json()
    assert me["headsets"] is True
    got = api.post("/api/cti/headset")
    assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
    account = got.get_json()
    assert (account["name"], account["ws_url"]) == ("hs-s11", "ws://127.0.0.1:5066")
    assert account["uri"] == "sip:hs-s11@127.0.0.1"
    # The edge checks the headset against exactly that password, only while it is current.
    assert _ha1(client, "hs-s11") == digest_ha1("hs-s11", realm, account["password"])
    again = api.post("/api/cti/headset").get_json()  # another browser asks: the last one wins
    assert _ha1(client, "hs-s11") == digest_ha1("hs-s11", realm, again["password"])
    assert again["password"] != account["password"]
    assert _ha1(client, "HS-s11") == "-" and _ha1(client, "hs-s12") == "-"
    api.post("/api/cti/state", {"state": "logout"})
    assert _ha1(client, "hs-s11") == "-"  # signed out: void
    api.post("/api/cti/seat", {"seat": "s11"})
    assert _ha1(client, "hs-s11") == "-"  # signed in anew: the old password stays void


def test_another_operator_signing_in_voids_the_headset_and_units_get_none(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    api.post("/api/cti/seat", {"seat": "s13"})
    api.post("/api/cti/headset")
    assert _ha1(client, "hs-s13") != "-"
    api.post("/api/cti/state", {"state": "logout"})
    assert api.post("/api/cti/seat", {"seat": "s13"}, as_="lead").status_code == 200
    assert _ha1(client, "hs-s13") == "-"
    # a headset is only ever for the seat one is signed in at; units have no seat at all
    assert api.post("/api/cti/headset", as_="zjj").status_code == 403
    assert api.post("/api/cti/headset", as_=None).status_code == 401
    assert api.post("/api/cti/headset/ring", as_="zjj").status_code == 403


def test_no_sip_account_may_take_a_headsets_name(container: Container) -> None:
    realm = container.settings.telephony.sip_realm
    for name in ("hs-s01", "HS-s01"):
        with pytest.raises(ValidationError) as refused:
            issue_account(container.uow(), None, name, "seat", realm=realm)
        assert "网页耳机" in refused.value.field_errors["name"]


def test_a_lost_headset_sets_the_seat_not_ready_now_or_when_its_call_ends(
    api: Api, client: Any, container: Container, real_redis: Any
) -> None:
    acd = container.acd
    api.post("/api/cti/seat", {"seat": "s14"})
    api.post("/api/cti/state", {"state": "ready"})
    me = api.post("/api/cti/headset/lost").get_json()
    assert (me["state"], me["reason"]) == ("not_ready", "headset")
    assert container.acd.route("c-h1", "13812345678").action == "wait"  # out of the queue
    # in a call, it waits for the call's end (the caller is not cut off)
    api.post("/api/cti/state", {"state": "ready"})
    assert acd.route("c-h1", "13812345678").seat == "s14"
    client.get("/acd/answered?call_id=c-h1&seat=s14")
    assert client.get("/acd/seat_event?seat=s14&event=headset_lost").status_code == 200
    assert acd.seat("s14")["state"] == "talking"
    client.get("/acd/ended?call_id=c-h1&by=caller")
    assert (acd.seat("s14")["state"], acd.seat("s14")["reason"]) == ("not_ready", "headset")
    # the operator cannot book a break as a lost headset
    forged = api.post("/api/cti/state", {"state": "not_ready", "reason": "headset"})
    assert forged.status_code == 422
    # signed out (the seat hangs the headset up): a late report changes nothing
    api.post("/api/cti/state", {"state": "logout"})
    late = api.post("/api/cti/headset/lost")
    assert late.status_code == 200 and late.get_json()["seat"] is None
    assert acd.seat("s14")["state"] == "offline"


def test_a_centre_without_headsets_says_so(api: Api, container: Container, real_redis: Any) -> None:
    object.__setattr__(
        container.settings,
        "telephony",
        dataclasses.replace(container.settings.telephony, ws_port=0),
    )
    api.post("/api/cti/seat", {"seat": "s15"})
    assert api.get("/api/cti/me").get_json()["headsets"] is False
    refused = api.post("/api/cti/headset")
    assert refused.status_code == 409 and "网页耳机" in refused.get_json()["message"]
