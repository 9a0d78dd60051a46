"""`hotline seat SEAT`: one pjsua2 softphone process per operator seat.

pjsua2 (PyPI pjsua2-python) holds at most four calls per process, so each seat is its own
process, registered to the Kamailio edge as sip:SEAT@host. pjsua2's threading rules: no
worker threads (threadCnt = 0, mainThreadOnly), one loop polls libHandleEvents(), every Call
is referenced until it is gone and deleted from that loop, never from a callback; on a server
there is no sound card (setNullDev).
"""

import logging
import signal
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SeatConfig:
    name: str
    sip_port: int
    edge_host: str = "127.0.0.1"
    edge_port: int = 5060
    rtp_port: int = 0  # 0: let pjsua2 choose
    auto_answer_seconds: float | None = None  # benches and tests answer by themselves
    log_level: int = 1


def run_seat(cfg: SeatConfig) -> None:  # noqa: C901 - one loop owns pjsua2
    import pjsua2 as pj

    stop = False
    calls: dict[int, Any] = {}
    answer_at: dict[int, float] = {}
    gone: list[int] = []

    class SeatCall(pj.Call):  # type: ignore[misc]
        def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2's names
            info = self.getInfo()
            log.info("seat %s call %s: %s", cfg.name, info.callIdString, info.stateText)
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                gone.append(info.id)

    class SeatAccount(pj.Account):  # type: ignore[misc]
        def onRegState(self, prm: Any) -> None:  # noqa: N802
            log.info("seat %s registration: %s %s", cfg.name, prm.code, prm.reason)

        def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
            call = SeatCall(self, prm.callId)
            calls[prm.callId] = call
            op = pj.CallOpParam()
            op.statusCode = 180
            call.answer(op)
            if cfg.auto_answer_seconds is not None:
                answer_at[prm.callId] = time.monotonic() + cfg.auto_answer_seconds

    def on_signal(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ep = pj.Endpoint()
    ep.libCreate()
    ep_cfg = pj.EpConfig()
    ep_cfg.uaConfig.threadCnt = 0
    ep_cfg.uaConfig.mainThreadOnly = True
    ep_cfg.logConfig.level = cfg.log_level
    ep_cfg.logConfig.consoleLevel = cfg.log_level
    ep.libInit(ep_cfg)
    transport = pj.TransportConfig()
    transport.port = cfg.sip_port
    transport.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    ep.libStart()
    ep.audDevManager().setNullDev()

    acc_cfg = pj.AccountConfig()
    acc_cfg.idUri = f"sip:{cfg.name}@{cfg.edge_host}"
    acc_cfg.regConfig.registrarUri = f"sip:{cfg.edge_host}:{cfg.edge_port}"
    acc_cfg.regConfig.timeoutSec = 300
    if cfg.rtp_port:
        acc_cfg.mediaConfig.transportConfig.port = cfg.rtp_port
        acc_cfg.mediaConfig.transportConfig.portRange = 20
    account = SeatAccount()
    account.create(acc_cfg)
    log.info("seat %s up on udp 127.0.0.1:%s", cfg.name, cfg.sip_port)
    try:
        while not stop:
            ep.libHandleEvents(20)
            now = time.monotonic()
            for call_id, due in list(answer_at.items()):
                if now >= due and call_id in calls:
                    del answer_at[call_id]
                    op = pj.CallOpParam()
                    op.statusCode = 200
                    calls[call_id].answer(op)
            while gone:
                call_id = gone.pop()
                answer_at.pop(call_id, None)
                call = calls.pop(call_id, None)
                del call
    finally:
        ep.hangupAllCalls()
        for _ in range(10):
            ep.libHandleEvents(20)
        calls.clear()
        account.shutdown()
        del account
        ep.libDestroy()
