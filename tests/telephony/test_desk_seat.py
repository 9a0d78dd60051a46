"""A desk seat (`hotline seat NAME --server URL`) through the real SIP stack and the web app.

The seat process has no Redis and no ACD secret: it registers at Kamailio with its digest
password and reaches the app only through `/seat-link/*` with the same credentials. The
operator's console answers a citizen's call at it; the call's record holds the recording the
seat uploaded once the call was over, and nothing is left in its spool.
"""

import uuid
from typing import Any

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.records.sync import recordings_root
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for


def test_a_desk_seat_takes_a_call_answered_from_the_console_and_uploads_its_recording(
    stack: Stack, container: Container, real_redis: Any, api: Api
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=60, wrap_up_seconds=1), prefix=prefix)
    container._acd = acd
    stack.start_edge()
    spool = stack.tmp / "spool-s05"
    stack.start_seat(
        "s05",
        auto_answer=None,
        acd_prefix=prefix,
        acd_secret="",  # not given to a desk seat
        server_url=stack.acd_url.removesuffix("/acd"),
        recordings_dir=str(spool),
        prompts_dir=str(stack.tmp / "prompts"),
    )
    assert api.post("/api/cti/seat", {"seat": "s05"}).status_code == 200
    assert api.post("/api/cti/state", {"state": "ready"}).status_code == 200
    acd.r.set(acd.keys.alive("s05"), "1", ex=300)  # the console is open
    wait_for(lambda: acd.r.exists(acd.keys.seat_link("s05")), 10, "the seat's first poll")

    caller = stack.call_in_background(talk_ms=3000)
    wait_for(lambda: acd.seat("s05").get("state") == "ringing", 15, "the seat to ring")
    call_id = acd.seat("s05")["call"]
    # The operator answers in the console: the command reaches the seat through its link.
    answered = api.post("/api/cti/call", {"action": "answer"})
    assert answered.status_code == 202, answered.get_json()
    wait_for(lambda: acd.call(call_id).get("state") == "talking", 10, "the answer")
    assert acd.call(call_id)["recording"].endswith(".wav")  # noted through the link
    caller.wait(timeout=30)
    assert caller.returncode == 0
    wait_for(lambda: acd.call(call_id).get("state") == "ended", 10, "the end of the call")
    record = call_record(container, call_id)
    assert record.outcome == "answered" and record.recording
    stored = recordings_root(container.settings) / record.recording
    wait_for(stored.exists, 20, "the recording's upload")
    data = stored.read_bytes()
    assert data[:4] == b"RIFF" and len(data) > 16_000 * 2  # more than a second of the call
    assert not list(spool.rglob("*.wav"))  # uploaded: nothing left on the PC
    log = stack.log("s05")
    assert "uploaded" in log and "refused" not in log
