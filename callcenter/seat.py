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
    # Commands from the operator's browser arrive on the Redis channel <prefix>seatcmd:<name>.
    redis_url: str | None = None
    acd_prefix: str = "acd:"


COMMANDS = ("answer", "hangup", "hold", "unhold", "mute", "unmute", "dtmf")


def command_channel(prefix: str, seat: str) -> str:
    return f"{prefix}seatcmd:{seat}"


def run_seat(cfg: SeatConfig) -> None:  # noqa: C901 - one loop owns pjsua2
    import json

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

    commands = None
    if cfg.redis_url:
        import redis

        conn = redis.Redis.from_url(cfg.redis_url)
        commands = conn.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        commands.subscribe(command_channel(cfg.acd_prefix, cfg.name))

    def current() -> Any:
        live = [c for cid, c in calls.items() if cid not in gone]
        return live[-1] if live else None

    def obey(raw: bytes) -> None:
        try:
            cmd = json.loads(raw)
            action = cmd["action"]
        except (ValueError, KeyError, TypeError):
            log.warning("seat %s: unreadable command %r", cfg.name, raw[:100])
            return
        call = current()
        if call is None or action not in COMMANDS:
            log.info("seat %s: %s ignored (no call or unknown)", cfg.name, action)
            return
        op = pj.CallOpParam(True)
        try:
            if action == "answer":
                op.statusCode = 200
                call.answer(op)
            elif action == "hangup":
                call.hangup(op)
            elif action == "hold":
                call.setHold(op)
            elif action == "unhold":
                op.opt.flag = pj.PJSUA_CALL_UNHOLD
                call.reinvite(op)
            elif action in ("mute", "unmute"):
                media = call.getAudioMedia(-1)
                capture = ep.audDevManager().getCaptureDevMedia()
                if action == "mute":
                    capture.stopTransmit(media)
                else:
                    capture.startTransmit(media)
            elif action == "dtmf":
                call.dialDtmf(str(cmd.get("digits", "")))
            log.info("seat %s: %s done", cfg.name, action)
        except pj.Error as exc:
            log.warning("seat %s: %s failed: %s", cfg.name, action, exc.info())

    try:
        while not stop:
            ep.libHandleEvents(20)
            if commands is not None:
                message = commands.get_message(timeout=0)
                if message is not None and message.get("type") == "message":
                    obey(message["data"])
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
        if commands is not None:
            commands.close()
        ep.hangupAllCalls()
        for _ in range(10):
            ep.libHandleEvents(20)
        calls.clear()
        account.shutdown()
        del account
        ep.libDestroy()
