"""排队提示: what a waiting caller hears, through real Kamailio, `hotline announce` and sipp.

The citizens are sipp (callcenter/sipp/caller.xml) whose audio is offered at a socket of the
test's own: it records every RTP packet the caller's phone is sent. What they heard is
compared with the sentences spoken by espeak-ng here, independently of the announcer, by
normalised cross-correlation (G.711 keeps a waveform to within a few per cent).
"""

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from callcenter.acd.engine import Acd
from callcenter.acd.engine import AcdConfig
from callcenter.edge.announcer import speak
from callcenter.edge.ear import Ear
from callcenter.models import CallbackTask
from hotline.bootstrap import Container
from tests.audio import found_at
from tests.telephony.conftest import SIPP
from tests.telephony.conftest import Stack
from tests.telephony.conftest import call_record
from tests.telephony.conftest import free_udp_port
from tests.telephony.conftest import wait_for

QUEUE_CALLER = Path(__file__).with_name("queue_caller.xml")
GREETING = "您好，请稍候。"
GOODBYE = "我们会给您回电，再见。"
MAX_WAIT = 16
CITIZEN = "13912340000"


def waiting_caller(stack: Stack, ear: Ear) -> "subprocess.Popen[str]":
    argv = [
        SIPP, "-sf", str(QUEUE_CALLER), f"127.0.0.1:{stack.port}", "-s", "12345",
        "-key", "rec_port", str(ear.port), "-m", "1", "-d", "1000",
        "-i", "127.0.0.1", "-p", str(free_udp_port()),
        "-nostdin", "-timeout", "60s", "-timeout_error", "-trace_msg",
        "-message_file", str(stack.tmp / f"queue-caller-{ear.port}.log"),
    ]  # fmt: skip
    caller = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack.callers.append(caller)
    return caller


def test_waiting_callers_hear_the_greeting_their_place_and_the_goodbye_then_a_call_back(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=MAX_WAIT), prefix=prefix)
    container._acd = acd
    control = stack.start_announcer(
        prefix, greeting=GREETING, goodbye=GOODBYE, default_handle_seconds=180.0
    )
    stack.start_edge(max_wait_seconds=MAX_WAIT, announcer=control)
    stack.start_seat("s01")
    acd.login("s01", "agent-1")
    acd.ready("s01")
    # The one seat talks with a first citizen for the whole test.
    stack.call_in_background(talk_ms=60_000)
    wait_for(lambda: acd.seat("s01").get("state") == "talking", 10, "the first call's answer")

    # Two more callers wait: the first is next in line, the second has one caller ahead.
    ears = [Ear(), Ear()]
    second = waiting_caller(stack, ears[0])
    wait_for(lambda: len(acd.queue()) == 1, 10, "the second caller to wait")
    third = waiting_caller(stack, ears[1])
    wait_for(lambda: len(acd.queue()) == 2, 10, "the third caller to wait")
    waiting = acd.queue()
    for caller in (second, third):
        out, _ = caller.communicate(timeout=MAX_WAIT + 30)
        assert caller.returncode == 0, out[-3000:]  # each took 183, then 480, and ACKed
    time.sleep(1.0)
    for ear in ears:
        ear.close()

    # Nobody ahead: "next"; one seat staffed and no calls ended yet, so the expected wait is
    # (0 + 1) x 180 s / 1 seat = 3 minutes. One ahead: (1 + 1) x 180 / 1 = 6 minutes.
    expected = [
        "您是下一位，预计等待约三分钟，请不要挂机。",
        "您前面还有一位，预计等待约六分钟，请不要挂机。",
    ]
    for ear, place in zip(ears, expected, strict=True):
        heard = ear.audio().astype(np.float64)
        greeting, at_greeting = found_at(heard, speak(GREETING))
        told, at_place = found_at(heard, speak(place))
        goodbye, at_goodbye = found_at(heard, speak(GOODBYE))
        assert min(greeting, told, goodbye) > 0.9, (greeting, told, goodbye)
        assert at_greeting < at_place < at_goodbye
        # The greeting comes at once; the goodbye after the longest wait.
        assert at_greeting < 8000 and at_goodbye > (MAX_WAIT - 2) * 8000
        # Between the sentences: music, not silence.
        between = heard[at_place + len(speak(place)) + 4000 : at_goodbye - 2000]
        offsets = (at_greeting, at_place, len(speak(place)), at_goodbye, len(heard))
        assert len(between) > 8000 and np.sqrt(np.mean(between**2)) > 300, offsets
        # Nothing is sent once the call has ended (the session is closed).
        assert ear.packets[-1][0] - ear.packets[0][0] < (len(heard) / 8000) + 1

    # Each overflowed in the ACD and on its call record, and the caller gets a call-back task.
    for call_id in waiting:
        assert acd.call(call_id)["state"] == "overflow"
        wait_for(lambda c=call_id: _outcome(container, c) == "overflow", 10, "the call record")
    with container.uow() as uow:
        tasks = list(uow.session.scalars(sa.select(CallbackTask)))
        assert [(t.reason, t.status) for t in tasks] == [("overflow", "open")]
        assert tasks[0].missed_calls == 2  # both calls came from the same number
    assert (
        "SIP/2.0 183 Session Progress"
        in (stack.tmp / f"queue-caller-{ears[1].port}.log").read_text()
    )


def _outcome(container: Container, call_id: str) -> str | None:
    try:
        return call_record(container, call_id).outcome
    except Exception:  # noqa: BLE001 - not written yet
        return None


def test_without_the_announcer_a_waiting_caller_hears_ringing_and_then_busy(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    # An announcer that is configured but down must not cost the caller their call.
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=2), prefix=prefix)
    container._acd = acd
    stack.start_edge(max_wait_seconds=2, announcer=f"127.0.0.1:{free_udp_port()}")
    ear = Ear()
    caller = waiting_caller(stack, ear)
    out, _ = caller.communicate(timeout=40)
    ear.close()
    assert caller.returncode == 0, out[-3000:]
    log = (stack.tmp / f"queue-caller-{ear.port}.log").read_text()
    assert "SIP/2.0 180 Ringing" in log and "SIP/2.0 486 Busy Here" in log
    assert "SIP/2.0 183" not in log
    assert ear.packets == []
    [call_id] = [e["call"] for e in acd.events() if e["type"] == "overflow"]
    assert acd.call(call_id)["state"] == "overflow"


def test_a_caller_who_heard_the_queue_is_answered_by_the_seat_that_frees_up(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    # The citizen is a pjsua2 softphone, as strict about dialogs as a desk phone: early media
    # from the announcer (183, one To tag), then the seat's 200 (another To tag, its own SDP).
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=60, wrap_up_seconds=0.5), prefix=prefix)
    container._acd = acd
    control = stack.start_announcer(prefix, greeting=GREETING)
    stack.start_edge(announcer=control)
    stack.start_seat("s01")
    acd.login("s01", "agent-1")
    acd.ready("s01")
    first = stack.call_in_background(talk_ms=8000)
    wait_for(lambda: acd.seat("s01").get("state") == "talking", 10, "the first call's answer")
    stack.phone(CITIZEN, acd_prefix=prefix)
    assert real_redis.publish(
        f"{prefix}seatcmd:{CITIZEN}", json.dumps({"action": "dial", "target": "12345"})
    )
    wait_for(lambda: len(acd.queue()) == 1, 10, "the citizen to wait")
    [call_id] = acd.queue()
    wait_for(lambda: "announcements to" in stack.log("announcer"), 10, "the announcements")
    assert first.wait(timeout=30) == 0
    wait_for(lambda: acd.call(call_id).get("state") == "talking", 20, "the seat to answer")
    wait_for(lambda: "CONFIRMED" in stack.log(CITIZEN), 10, "the citizen's side of the answer")
    wait_for(
        lambda: f"call {call_id}: announcements over (talking)" in stack.log("announcer"),
        5,
        "the announcements to stop at the answer",
    )
    time.sleep(2.0)  # the call holds: the phone took the seat's answer after the early media
    assert acd.call(call_id)["state"] == "talking"
    assert "DISCONNECTED" not in stack.log(CITIZEN)
    assert real_redis.publish(f"{prefix}seatcmd:{CITIZEN}", json.dumps({"action": "hangup"}))
    wait_for(lambda: acd.call(call_id).get("state") == "ended", 10, "the end of the call")
    assert call_record(container, call_id).outcome == "answered"


def test_an_announcer_killed_mid_queue_costs_the_caller_only_the_words(
    stack: Stack, container: Container, real_redis: Any
) -> None:
    # kill -9 of `hotline announce` while a caller waits: the call stays in the queue and
    # still ends as an overflow with a call-back task (busy, no goodbye to say); started
    # again on its port, the next caller hears it.
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    acd = Acd(real_redis, AcdConfig(max_wait_seconds=8), prefix=prefix)
    container._acd = acd
    control = stack.start_announcer(prefix, greeting=GREETING, goodbye=GOODBYE)
    stack.start_edge(max_wait_seconds=8, announcer=control)
    ear = Ear()
    caller = waiting_caller(stack, ear)
    wait_for(lambda: len(ear.packets) > 25, 10, "the announcements")
    [call_id] = acd.queue()
    stack.kill("announcer")
    out, _ = caller.communicate(timeout=40)
    assert caller.returncode == 0, out[-3000:]
    log = (stack.tmp / f"queue-caller-{ear.port}.log").read_text()
    assert "SIP/2.0 183 Session Progress" in log and "SIP/2.0 486 Busy Here" in log
    assert acd.call(call_id)["state"] == "overflow"
    wait_for(lambda: _outcome(container, call_id) == "overflow", 10, "the call record")
    with container.uow() as uow:
        assert [t.reason for t in uow.session.scalars(sa.select(CallbackTask))] == ["overflow"]
    ear.close()

    stack.start_announcer(prefix, control=control, name="announcer-again", greeting=GREETING)
    again = Ear()
    second = waiting_caller(stack, again)
    frames = len(speak(GREETING)) // 160 + 10
    wait_for(lambda: len(again.packets) > frames, 15, "the greeting after the restart")
    heard = again.audio().astype(np.float64)
    assert found_at(heard, speak(GREETING))[0] > 0.9
    second.kill()
    second.communicate(timeout=10)  # its output pipe closed, not left to the collector
    again.close()
