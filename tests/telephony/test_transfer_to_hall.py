"""转接值班班长 through the real SIP stack: the operator's seat refers the caller (a pjsua2
phone) to the hotline with a single-use token, and the team lead's seat takes the call."""

import json
import os
import subprocess
import sys
import uuid
from typing import Any

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.telephony.conftest import ROOT
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for

CITIZEN = "13912340011"


def hall(stack: Stack, container: Container, real_redis: Any, api: Api, *phones: str) -> Acd:
    """The edge, softphones for `phones` and seats s01 (the operator, ready) and s02 (the team
    lead, not ready yet), both answering by themselves, their consoles open."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=60, wrap_up_seconds=1), prefix=prefix)
    container._acd = acd
    stack.start_edge()
    for phone in phones:
        stack.phone(phone, acd_prefix=prefix)
    stack.phone("s01", auto_answer=0.3, acd_prefix=prefix)
    stack.phone("s02", auto_answer=0.3, acd_prefix=prefix)
    assert api.post("/api/cti/seat", {"seat": "s01"}).status_code == 200
    assert api.post("/api/cti/seat", {"seat": "s02"}, as_="lead").status_code == 200
    assert api.post("/api/cti/state", {"state": "ready"}).status_code == 200
    for seat in ("s01", "s02"):
        acd.r.set(acd.keys.alive(seat), "1", ex=300)  # their consoles are open
    return acd


def test_the_operator_transfers_the_caller_to_the_team_lead_on_duty(
    stack: Stack, container: Container, real_redis: Any, api: Api
) -> None:
    acd = hall(stack, container, real_redis, api, CITIZEN)
    dial = json.dumps({"action": "dial", "target": "12345"})
    assert real_redis.publish(f"{acd.prefix}seatcmd:{CITIZEN}", dial) == 1
    wait_for(lambda: acd.seat("s01").get("state") == "talking", 15, "the operator's answer")
    first = acd.seat("s01")["call"]
    assert api.post("/api/cti/state", {"state": "ready"}, as_="lead").status_code == 200
    sent = api.post("/api/cti/call", {"action": "transfer", "target": "lead"})
    assert sent.status_code == 202, sent.get_json()

    wait_for(lambda: acd.seat("s02").get("state") == "talking", 20, "the lead's answer")
    second = acd.seat("s02")["call"]
    assert second != first
    call = acd.call(second)
    assert (call["skill"], call["caller"]) == ("lead", CITIZEN)
    assert call["transferred_from"].startswith("坐席 s01")
    wait_for(lambda: acd.call(first).get("state") == "ended", 10, "the operator's leg to end")
    assert call_record(container, first).transfer_target == "lead"
    assert real_redis.publish(f"{acd.prefix}seatcmd:{CITIZEN}", json.dumps({"action": "hangup"}))
    wait_for(lambda: acd.call(second).get("state") == "ended", 10, "the end of the call")
    assert call_record(container, second).outcome == "answered"


def test_the_demo_citizen_follows_a_transfer_and_dials_back_in_with_the_token(
    stack: Stack, container: Container, real_redis: Any, api: Api
) -> None:
    # `hotline call` (sipp) as `make demo` uses it: it takes the REFER, reports success and
    # starts a new call to the hotline carrying the token, as a desk phone would.
    acd = hall(stack, container, real_redis, api)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_TELEPHONY__SIP_PORT": str(stack.port),
        "HOTLINE_INSTANCE_PATH": str(stack.tmp),
    }
    out = stack.tmp / "citizen.out"
    with out.open("w") as sink:
        citizen = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "call", "--from", "13912340012", "--talk", "8",
             "--silent"],
            env=env, cwd=stack.tmp, stdout=sink, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    stack.callers.append(citizen)
    wait_for(lambda: acd.seat("s01").get("state") == "talking", 15, "the operator's answer")
    first = acd.seat("s01")["call"]
    assert api.post("/api/cti/state", {"state": "ready"}, as_="lead").status_code == 200
    sent = api.post("/api/cti/call", {"action": "transfer", "target": "seat:s02"})
    assert sent.status_code == 202, sent.get_json()
    # the first call ends at once; its phone dials the hotline again in the background
    assert citizen.wait(timeout=30) == 0, out.read_text()[-3000:]
    assert "市民已按转接重新呼入" in out.read_text()
    wait_for(lambda: acd.seat("s02").get("state") == "talking", 20, "the transferred call")
    second = acd.seat("s02")["call"]
    assert (acd.call(second)["skill"], acd.call(second)["caller"]) == ("seat:s02", "13912340012")
    wait_for(lambda: acd.call(first).get("state") == "ended", 10, "the operator's leg to end")
    assert call_record(container, first).transfer_target == "seat:s02"
    # the new call talks its 8 s and hangs up by itself
    wait_for(lambda: acd.call(second).get("state") == "ended", 20, "the transferred call's end")
