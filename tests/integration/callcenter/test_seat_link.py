"""`/seat-link/*`: a desk seat signs in with its own SIP credentials and may act only for itself.

Against real Redis and the app's database: who gets in (the seat's name and password, over
HTTPS or loopback), commands that wait in order for the seat's next poll, notes and
recordings only on its own calls, listening-in tokens only for itself. Each attack a
crafted request could try is here, with what it must leave untouched.
"""

import base64
import io
import json
import wave
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from callcenter.acd import seatlink
from callcenter.edge.credentials import issue_account
from callcenter.seat.prompts import recording_name
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.integration.callcenter.test_cti import in_call

pytestmark = pytest.mark.redis


def _account(container: Container, name: str, kind: str = "seat") -> str:
    realm = container.settings.telephony.sip_realm
    return issue_account(container.uow(), None, name, kind, realm=realm).password


def _auth(name: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Desk:
    """A desk seat's requests: no ACD secret, its own Basic credentials."""

    def __init__(self, app: Flask, name: str, password: str, address: str = "127.0.0.1"):
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = address
        self.headers = _auth(name, password)

    def get(self, path: str) -> Any:
        return self.client.get(f"/seat-link/{path}", headers=self.headers)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(f"/seat-link/{path}", json=body, headers=self.headers)

    def put(self, path: str, data: bytes, kind: str = "audio/wav") -> Any:
        return self.client.put(
            f"/seat-link/{path}", data=data, headers=self.headers, content_type=kind
        )


def _wav(seconds: float = 0.1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * int(8000 * seconds))
    return out.getvalue()


def test_only_the_seats_own_password_over_https_or_loopback_gets_in(
    app: Flask, container: Container, real_redis: Any
) -> None:
    password = _account(container, "s31")
    phone = _account(container, "p31", kind="phone")
    ok = Desk(app, "s31", password).get("hello")
    assert ok.status_code == 200
    hello = ok.get_json()
    assert hello["seat"] == "s31" and hello["sip_port"] == container.settings.telephony.sip_port
    refused = {
        "no credentials": app.test_client().get("/seat-link/hello"),
        "wrong password": Desk(app, "s31", password + "x").get("hello"),
        "another seat's name": Desk(app, "s32", password).get("hello"),
        "a phone's account": Desk(app, "p31", phone).get("hello"),
        "the ACD secret instead": app.test_client().get(
            "/seat-link/hello",
            headers={"X-Hotline-Acd-Secret": "x", **_auth("s31", "")},
        ),
    }
    for why, response in refused.items():
        assert response.status_code == 401, why
        assert response.get_json()["error"] == "unauthorized", why
        assert response.headers["WWW-Authenticate"].startswith("Basic"), why
    # The password in clear over the LAN: refused before it is even checked.
    lan = Desk(app, "s31", password, address="10.1.2.3").get("hello")
    assert lan.status_code == 403 and lan.get_json()["error"] == "https_required"
    # Over HTTPS from the LAN, the edge's address is the one the seat reached the app by.
    secure = app.test_client()
    secure.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    found = secure.get(
        "/seat-link/hello", base_url="https://hotline.lan:8443", headers=_auth("s31", password)
    )
    assert found.status_code == 200 and found.get_json()["sip_host"] == "hotline.lan"


def test_guessing_a_seats_password_is_throttled_and_audited(
    app: Flask, container: Container, real_redis: Any
) -> None:
    from infra.models import AuditEntry

    password = _account(container, "s33")
    rules = container.settings.auth
    limit = min(rules.lock_after_failures, rules.address_failures)
    codes = [Desk(app, "s33", f"guess{i}").get("hello").status_code for i in range(limit + 1)]
    assert codes[:limit] == [401] * limit and codes[-1] == 429
    assert Desk(app, "s33", password).get("hello").status_code == 429  # the address waits
    with container.uow() as uow:
        rows = uow.session.query(AuditEntry).filter_by(action="seat_link.refused").all()
        refused = [row.details["seat"] for row in rows]
    assert refused == ["s33"] * limit


def test_commands_wait_in_order_for_the_seats_next_poll(
    app: Flask, container: Container, real_redis: Any
) -> None:
    password = _account(container, "s34")
    desk = Desk(app, "s34", password)
    r, keys = container.redis, container.acd.keys
    # Never polled: nobody takes its commands, and the sender says so.
    assert not seatlink.send_to_seat(r, keys, "s34", {"action": "answer"})
    assert desk.get("commands?wait=0").get_json() == {"commands": []}
    # Linked now: commands sent between two polls are all there, in order.
    for action in ("answer", "hold", "unhold"):
        assert seatlink.send_to_seat(r, keys, "s34", {"action": action})
    got = desk.get("commands?wait=0").get_json()["commands"]
    assert [json.loads(c)["action"] for c in got] == ["answer", "hold", "unhold"]
    assert desk.get("commands?wait=0").get_json() == {"commands": []}
    # Another seat's credentials never take this seat's commands.
    other = Desk(app, "s35", _account(container, "s35"))
    seatlink.send_to_seat(r, keys, "s34", {"action": "hangup"})
    assert other.get("commands?wait=0").get_json() == {"commands": []}
    assert [json.loads(c)["action"] for c in desk.get("commands").get_json()["commands"]] == [
        "hangup"
    ]
    assert desk.get("commands?wait=x").status_code == 400
    # It says goodbye: refused again, as for a seat that is not running.
    assert desk.post("bye", {}).status_code == 200
    assert not seatlink.send_to_seat(r, keys, "s34", {"action": "answer"})


def test_a_long_poll_returns_as_soon_as_a_command_comes(
    app: Flask, container: Container, real_redis: Any
) -> None:
    import threading
    import time

    desk = Desk(app, "s36", _account(container, "s36"))
    desk.get("commands?wait=0")  # linked
    timer = threading.Timer(
        0.3,
        lambda: seatlink.send_to_seat(
            container.redis, container.acd.keys, "s36", {"action": "answer"}
        ),
    )
    timer.start()
    started = time.monotonic()
    got = desk.get("commands?wait=20").get_json()["commands"]
    timer.join()
    assert [json.loads(c)["action"] for c in got] == ["answer"]
    assert time.monotonic() - started < 15  # the command, not the poll's end, answered it


def test_the_console_reaches_a_desk_seat_through_its_link(
    api: Api, app: Flask, client: Any, container: Container, real_redis: Any
) -> None:
    desk = Desk(app, "s37", _account(container, "s37"))
    desk.get("commands?wait=0")
    in_call(api, client, "s37", "d1")
    assert api.post("/api/cti/call", {"action": "hold"}).status_code == 202
    got = desk.get("commands?wait=0").get_json()["commands"]
    assert [json.loads(c)["action"] for c in got] == ["hold"]


def test_notes_and_recordings_only_on_the_seats_own_calls(
    api: Api,
    app: Flask,
    client: Any,
    container: Container,
    real_redis: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "recordings"
    monkeypatch.setattr("callcenter.edge.seatlink.recordings_root", lambda _settings: folder)
    desk = Desk(app, "s38", _account(container, "s38"))
    in_call(api, client, "s38", "mine@1")
    api.post("/api/cti/seat", {"seat": "s39"}, as_="lead")
    api.post("/api/cti/state", {"state": "ready"}, as_="lead")
    client.get("/acd/route?call_id=theirs@1&from=13900000000")
    client.get("/acd/answered?call_id=theirs@1&seat=s39")
    acd = container.acd
    name = recording_name("mine@1", 1_800_000_000)
    assert (
        desk.post("note", {"call_id": "mine@1", "name": "recording", "value": name}).status_code
        == 200
    )
    assert acd.call("mine@1")["recording"] == name
    theirs = recording_name("theirs@1", 1_800_000_000)
    attempts = [
        ({"call_id": "theirs@1", "name": "recording", "value": theirs}, 403),
        ({"call_id": "mine@1", "name": "recording", "value": theirs}, 400),  # another call's
        ({"call_id": "mine@1", "name": "recording", "value": "../../etc/passwd"}, 400),
        ({"call_id": "mine@1", "name": "state", "value": "ended"}, 400),  # not a note
        ({"call_id": "mine@1", "name": "seat", "value": "s39"}, 400),
        ({"call_id": "nobody", "name": "transfer_target", "value": "110"}, 403),
    ]
    for body, status in attempts:
        answer = desk.post("note", body)
        assert answer.status_code == status, body
        assert set(answer.get_json()) == {"error", "message", "details"}
    assert acd.call("theirs@1").get("recording") is None
    assert acd.call("mine@1")["state"] == "talking" and acd.call("mine@1")["seat"] == "s38"
    # The upload: the noted name once, a WAV file, whole; nothing else is written.
    assert desk.put(f"recordings/{theirs}", _wav()).status_code == 403
    assert desk.put(f"recordings/{name}", b"not a wav file at all, really").status_code == 400
    assert desk.put(f"recordings/{name}", _wav(), kind="text/plain").status_code == 415
    assert not (folder / name).exists()
    assert desk.put(f"recordings/{name}", _wav()).status_code == 200
    assert (folder / name).read_bytes() == _wav()
    assert desk.put(f"recordings/{name}", _wav(0.2)).status_code == 403  # once
    assert (folder / name).read_bytes() == _wav()
    for crafted in ("recordings/..%2F..%2Fx.wav", "recordings/20260101/..wav/x", "recordings/x"):
        assert desk.put(crafted, _wav()).status_code in (400, 404), crafted
    leftovers = [p.name for p in folder.rglob("*") if p.name.startswith(".upload-")]
    assert leftovers == []


def test_listening_in_and_reports_are_the_seats_own(
    api: Api, app: Flask, client: Any, container: Container, real_redis: Any
) -> None:
    from callcenter.acd.spytoken import issue_spy_token

    desk = Desk(app, "s40", _account(container, "s40"))
    in_call(api, client, "s40", "spy@1")
    r, prefix = container.redis, container.acd.prefix
    token = issue_spy_token(
        r, prefix, supervisor_id=1, seat="s40", from_seat="s41", call_id="spy@1", mode="monitor"
    )
    other = Desk(app, "s42", _account(container, "s42"))
    body = {"token": token, "from_seat": "s41", "call_id": "spy@1", "mode": "monitor"}
    assert other.post("spy", body).get_json() == {"ok": False}  # not its call: and used up
    token = issue_spy_token(
        r, prefix, supervisor_id=1, seat="s40", from_seat="s41", call_id="spy@1", mode="monitor"
    )
    assert desk.post("spy", body | {"mode": "barge"}).get_json() == {"ok": False}
    token = issue_spy_token(
        r, prefix, supervisor_id=1, seat="s40", from_seat="s41", call_id="spy@1", mode="monitor"
    )
    assert desk.post("spy", body | {"token": token}).get_json() == {"ok": True}
    assert desk.post("spy", body | {"token": token}).get_json() == {"ok": False}  # once
    # A report names the seat from its credentials, whatever the body claims.
    sync = {"seat": "s40", "as_of": 1.0, "registered": True, "calls": []}
    assert other.post("sync", sync).status_code == 200
    assert container.acd.call("spy@1")["state"] == "talking"
    assert desk.post("event", {"event": "no_such_event"}).status_code == 400
    assert desk.post("event", {"event": "spy_started", "call_id": "spy@1"}).status_code == 200


def test_a_seats_credentials_hold_one_waiting_poll_at_a_time(
    app: Flask, container: Container, real_redis: Any
) -> None:
    # Many polls at once (a stolen password, a runaway client) would each hold a thread of
    # the app for 25 s; the newest takes over and the older ones answer within a second.
    import threading
    import time

    desk = Desk(app, "s43", _account(container, "s43"))
    answers: dict[int, tuple[float, Any]] = {}

    def poll(n: int) -> None:
        started = time.monotonic()
        got = desk.get("commands?wait=20").get_json()
        answers[n] = (time.monotonic() - started, got)

    first = threading.Thread(target=poll, args=(1,))
    first.start()
    time.sleep(1.5)
    second = threading.Thread(target=poll, args=(2,))
    second.start()
    first.join(timeout=10)
    assert not first.is_alive(), "the older poll still waits"
    assert answers[1][1] == {"commands": []} and answers[1][0] < 10
    seatlink.send_to_seat(container.redis, container.acd.keys, "s43", {"action": "answer"})
    second.join(timeout=10)
    assert [json.loads(c)["action"] for c in answers[2][1]["commands"]] == ["answer"]
