"""转接值班班长 through the real SIP stack: the operator's seat refers the caller (a pjsua2
phone) to the hotline with a single-use token, and the team lead's seat takes the call."""

import json
import uuid
from typing import Any

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for

CITIZEN = "13912340011"


def test_the_operator_transfers_the_caller_to_the_team_lead_on_duty(
    stack: Stack, container: Container, real_redis: Any, api: Api
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=60, wrap_up_seconds=1), prefix=prefix)
    container._acd = acd
    stack.start_edge()
    stack.phone(CITIZEN, acd_prefix=prefix)
    stack.phone("s01", auto_answer=0.3, acd_prefix=prefix)
    stack.phone("s02", auto_answer=0.3, acd_prefix=prefix)
    assert api.post("/api/cti/seat", {"seat": "s01"}).status_code == 200
    assert api.post("/api/cti/seat", {"seat": "s02"}, as_="lead").status_code == 200
    assert api.post("/api/cti/state", {"state": "ready"}).status_code == 200
    for seat in ("s01", "s02"):
        acd.r.set(acd.keys.alive(seat), "1", ex=300)  # their consoles are open

    dial = json.dumps({"action": "dial", "target": "12345"})
    assert real_redis.publish(f"{prefix}seatcmd:{CITIZEN}", dial) == 1
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
    assert real_redis.publish(f"{prefix}seatcmd:{CITIZEN}", json.dumps({"action": "hangup"}))
    wait_for(lambda: acd.call(second).get("state") == "ended", 10, "the end of the call")
    assert call_record(container, second).outcome == "answered"
