"""漏接回拨 through the real SIP stack: a caller gives up in the queue, an operator calls back.

The citizen is a pjsua2 softphone registered as their own number, so that the hotline's
call-back reaches it through Kamailio like any call to a registered phone.
"""

import json
import uuid
from typing import Any

import sqlalchemy as sa

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.models import CallbackTask
from hotline.bootstrap import Container
from tests.conftest import Api
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import wait_for

CITIZEN = "13912340000"


def open_tasks(container: Container) -> list[CallbackTask]:
    with container.uow() as uow:
        rows = list(uow.session.scalars(sa.select(CallbackTask).order_by(CallbackTask.id)))
        uow.session.expunge_all()
        return rows


def test_a_caller_who_hangs_up_in_the_queue_is_called_back_from_the_operators_seat(
    stack: Stack, container: Container, real_redis: Any, api: Api
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=60), prefix=prefix)
    container._acd = acd
    stack.start_edge(max_wait_seconds=60)
    stack.phone(CITIZEN, auto_answer=0.3, acd_prefix=prefix)  # answers the call-back itself
    stack.phone("s01", acd_prefix=prefix)

    def command(phone: str, **cmd: str) -> None:
        assert real_redis.publish(f"{prefix}seatcmd:{phone}", json.dumps(cmd)) == 1

    # Nobody is ready: the citizen waits in the queue, hears ringing, and hangs up (CANCEL).
    command(CITIZEN, action="dial", target="12345")
    wait_for(lambda: acd.queue() != [], 10, "the call to wait in the queue")
    [call_id] = acd.queue()
    command(CITIZEN, action="hangup")
    wait_for(lambda: acd.call(call_id).get("state") == "abandoned", 10, "the abandoned call")
    wait_for(lambda: open_tasks(container) != [], 10, "the call-back task")
    record = call_record(container, call_id)
    assert (record.outcome, record.caller, record.end_reason) == ("abandoned", CITIZEN, "caller")
    [task] = open_tasks(container)
    assert (task.caller, task.reason, task.status, task.missed_calls) == (
        CITIZEN,
        "abandoned",
        "open",
        1,
    )
    assert task.first_call_id == record.id

    # The operator signs in at s01 (not ready: no queue call comes) and calls back.
    assert api.post("/api/cti/seat", {"seat": "s01"}).status_code == 200
    dialled = api.post(f"/api/callbacks/{task.id}/dial")
    assert dialled.status_code == 202, dialled.get_json()
    wait_for(lambda: "CONFIRMED" in stack.log(CITIZEN), 15, "the citizen to answer the call-back")
    wait_for(lambda: "CONFIRMED" in stack.log("s01"), 5, "the seat's side of the call-back")
    assert api.post("/api/cti/call", {"action": "hangup"}).status_code == 202
    # Two calls ended at the citizen's phone: the one given up in the queue, the call-back.
    wait_for(
        lambda: stack.log(CITIZEN).count(": DISCONNECTED") == 2, 10, "the end of the call-back"
    )

    done = api.post(f"/api/callbacks/{task.id}/done", {"result": "reached", "note": "已回电"})
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    # The call-back went to the citizen's phone, not into the hotline's queue.
    assert [e["call"] for e in acd.events() if e["type"] == "offered"] == [call_id]
