"""`hotline seat SEAT`: one pjsua2 softphone process per operator seat.

pjsua2 (PyPI pjsua2-python) holds at most four calls per process, so each seat is its own
process, registered to the Kamailio edge as sip:SEAT@host. pjsua2's threading rules: no
worker threads (threadCnt = 0, mainThreadOnly), one loop polls libHandleEvents(), every Call
is referenced until it is gone and deleted from that loop, never from a callback; on a server
there is no sound card (setNullDev).

A seat has at most four calls, each with a role:

- ``inbound``: the citizen's call the ACD gave the seat (or, for a softphone that dials, the
  call it placed: ``outbound``). It is recorded (one WAV, both directions mixed) and on answer
  the caller hears the operator-ID prompt (工号播报).
- ``party``: the third party of a three-way call (三方通话), dialled by the seat and mixed with
  the citizen and the operator in the seat's conference bridge.
- ``spy_in``: a supervisor's seat listening in (header ``X-Hotline-Spy: monitor|whisper|barge``):
  monitor hears citizen and operator; whisper also speaks to the operator alone; barge speaks to
  everyone. Only with the single-use token `/api/cti/spy` issued for that supervisor's seat,
  this seat, its current call and that mode (``X-Hotline-Spy-Token``, `callcenter.spytoken`);
  any other listening in is refused with 403 and never touches the call's audio.
- ``spy_out``: this seat is the supervisor's, listening in on another seat.

The audio paths are recomputed from those roles whenever a call's media changes, so a mute,
a hold or a party leaving never leaves a stale connection behind.
"""

import json
import logging
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import wave
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from callcenter.seatsync import SYNC_SECONDS
from callcenter.seatsync import CallJournal
from callcenter.seatsync import SeatSync
from callcenter.seatsync import post_json
from callcenter.sip import ACD_SECRET_HEADER
from callcenter.spytoken import TOKEN_HEADER
from callcenter.spytoken import take_spy_token

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
    # Where the seat tells the web app what it did (transfer, three-way call, listening in).
    acd_url: str | None = None
    recordings_dir: str | None = None  # None: no recordings (benches)
    prompts_dir: str | None = None  # the 工号播报 WAVs, spoken once per operator
    announce: bool = True
    # The seat's SIP password (digest, issued in 系统管理 → 话机账号); None: no credentials,
    # which the edge refuses.
    password: str | None = None
    acd_secret: str = ""  # proves the seat's reports to the ACD (X-Hotline-Acd-Secret)
    # How often the seat reports its calls to the ACD (`/acd/seat_sync`), besides at once on
    # each answer and end (`callcenter.seatsync`).
    sync_seconds: float = SYNC_SECONDS
    # "tls": SIP to the edge's tls_port over TLS, its certificate checked against
    # tls_ca_file (telephony.tls_*); "udp": to edge_port in clear (loopback, the demo).
    transport: str = "udp"
    tls_port: int = 0
    tls_ca_file: str = ""

    def __post_init__(self) -> None:
        check_transport(self.transport, self.tls_port, self.tls_ca_file)


COMMANDS = (
    "answer", "hangup", "hold", "unhold", "mute", "unmute", "dtmf",
    "transfer", "conference", "conference_end", "spy", "spy_end", "dial", "reregister",
)  # fmt: skip
SPY_MODES = ("monitor", "whisper", "barge")
_SPY_HEADER = re.compile(r"^X-Hotline-Spy:\s*(\w+)\s*$", re.MULTILINE | re.IGNORECASE)
_SPY_TOKEN = re.compile(r"^X-Hotline-Spy-Token:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)
_FROM_USER = re.compile(r"^(?:From|f)\s*:[^\r\n]*?sips?:([^@;>\s]+)@", re.MULTILINE | re.IGNORECASE)
_DIGITS = "零一二三四五六七八九"


def command_channel(prefix: str, seat: str) -> str:
    return f"{prefix}seatcmd:{seat}"


def recording_name(call_id: str, when: float) -> str:
    """The recording's path under the recordings directory: day folder, safe file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:120]
    return f"{time.strftime('%Y%m%d', time.localtime(when))}/{safe}.wav"


def staff_number(agent: str) -> str:
    """工号: the digits of the agent's id, four at least (agent "u7" speaks as 0007)."""
    digits = "".join(ch for ch in agent if ch.isdigit())
    return digits.zfill(4) if digits else ""


def prompt_text(staff_no: str) -> str:
    spoken = "".join(_DIGITS[int(d)] for d in staff_no)
    return f"您好，{spoken}号话务员为您服务。"


def make_prompt(path: Path, staff_no: str) -> Path:
    """Speak the operator-ID prompt into a WAV with espeak-ng; a chime when it is missing."""
    return speak_wav(path, prompt_text(staff_no))


def speak_wav(path: Path, text: str) -> Path:
    """Speak Mandarin text into a WAV with espeak-ng; a chime when it is missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    try:
        subprocess.run(
            ["espeak-ng", "-v", "cmn", "-s", "150", "-w", str(tmp), text],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng could not speak the prompt (%s): a chime instead", exc)
        write_tone(tmp, [660.0, 880.0], 0.4)
    tmp.replace(path)
    return path


def write_tone(path: Path, freqs: list[float], seconds_each: float, rate: int = 8000) -> Path:
    """A WAV of pure tones one after another (16-bit mono): chimes, and test signals."""
    import math

    frames = bytearray()
    for freq in freqs:
        for i in range(int(rate * seconds_each)):
            sample = int(12000 * math.sin(2 * math.pi * freq * i / rate))
            frames += sample.to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


TRANSPORTS = ("udp", "tls")


def check_transport(transport: str, tls_port: int, tls_ca_file: str) -> None:
    """Refuse a softphone configuration that could not reach the edge as asked."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be udp or tls, got {transport!r}")
    if transport == "tls" and not (tls_port and tls_ca_file):
        raise ValueError("transport tls needs the edge's tls_port and the tls_ca_file to check it")


def local_address(edge_host: str) -> str:
    """The address of this machine on the way to the edge: loopback for an edge on loopback,
    the LAN address for an edge on another PC (the softphone's Contact must be reachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((edge_host, 9))  # UDP: nothing is sent, the kernel picks the route
        return str(probe.getsockname()[0])


def start_endpoint(
    pj: Any,
    sip_port: int,
    log_level: int,
    max_calls: int | None = None,
    *,
    edge_host: str = "127.0.0.1",
    transport: str = "udp",
    tls_ca_file: str = "",
) -> Any:
    """Create and start pjsua2's endpoint as every softphone here needs it: no threads of its
    own (one loop polls `libHandleEvents`), SIP on `sip_port` (UDP, or TLS that checks the
    edge's certificate), no sound card."""
    ep = pj.Endpoint()
    ep.libCreate()
    ep_cfg = pj.EpConfig()
    ep_cfg.uaConfig.threadCnt = 0
    ep_cfg.uaConfig.mainThreadOnly = True
    if max_calls is not None:
        ep_cfg.uaConfig.maxCalls = max_calls
    ep_cfg.logConfig.level = log_level
    ep_cfg.logConfig.consoleLevel = log_level
    ep.libInit(ep_cfg)
    tp_cfg = pj.TransportConfig()
    tp_cfg.port = sip_port
    tp_cfg.boundAddress = local_address(edge_host)
    if transport == "tls":
        tls = tp_cfg.tlsConfig
        tls.CaListFile = tls_ca_file
        # Only an edge whose certificate our CA issued, for the name or address we dial
        # (pjsip matches it against the next hop's host); never older than TLS 1.2.
        tls.verifyServer = True
        tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2 | pj.PJ_SSL_SOCK_PROTO_TLS1_3
        ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tp_cfg)
    else:
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tp_cfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    return ep


def reach_edge(acc_cfg: Any, edge_host: str, edge_port: int, tls_port: int | None) -> None:
    """Register at the edge, over UDP to `edge_port` or, with `tls_port`, over TLS.

    Over TLS the edge is also the account's outbound proxy: every request goes to it over
    TLS while request URIs stay what they are over UDP (sip:NUMBER@edge), so the edge routes
    them alike.
    """
    if tls_port is None:
        acc_cfg.regConfig.registrarUri = f"sip:{edge_host}:{edge_port}"
        return
    edge = f"sip:{edge_host}:{tls_port};transport=tls"
    acc_cfg.regConfig.registrarUri = edge
    acc_cfg.sipConfig.proxies.append(f"{edge};lr")


def digest_credentials(pj: Any, name: str, password: str) -> Any:
    """pjsua2's credentials for our account at the edge (any realm it challenges with)."""
    return pj.AuthCredInfo("digest", "*", name, 0, password)


def active_audio(pj: Any, call: Any) -> Any:
    """The call's audio media once it flows (an active audio stream), else None."""
    audio = None
    info = call.getInfo()  # keep it: its media vector dies with it (SWIG)
    for mi in info.media:
        if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            audio = call.getAudioMedia(mi.index)
    return audio


@dataclass(slots=True)
class _Leg:
    """What the seat knows about one of its calls, beside pjsua2's Call object."""

    call: Any
    role: str  # inbound, outbound, party, spy_in, spy_out
    mode: str = ""  # spy mode
    sip_call_id: str = ""
    audio: Any = None  # the call's AudioMedia while its media is active
    recorder: Any = None
    player: Any = None
    confirmed: bool = False
    gone: bool = False
    hung_up_here: bool = False  # this side ended the call (the journal says "seat")
    answer_at: float | None = None
    prompt: Path | None = None
    extras: dict[str, str] = field(default_factory=dict)


def run_seat(cfg: SeatConfig) -> None:  # noqa: C901, PLR0915 - one loop owns pjsua2
    import pjsua2 as pj

    stop = False
    legs: list[_Leg] = []
    dirty = [False]  # audio paths to recompute
    muted = [False]
    links: dict[tuple[int, int], tuple[Any, Any]] = {}
    conn: Any = None
    account: Any = None
    speaking: set[str] = set()  # 工号 whose prompt is being spoken
    # What the seat tells the ACD of its calls, until the web app has heard it: the edge's
    # own reports are lost while the app is away.
    journal = CallJournal(cfg.name)
    sync: SeatSync | None = None
    if cfg.acd_url:
        url = f"{cfg.acd_url.rstrip('/')}/seat_sync"
        sync = SeatSync(post_json(url, ACD_SECRET_HEADER, cfg.acd_secret), cfg.sync_seconds)

    def journal_changed() -> None:
        """Report the journal at once (from the sending thread, never this loop)."""
        if sync is not None:
            sync.offer(journal.snapshot(time.time()), urgent=True)

    def leg_of(call: Any) -> _Leg | None:
        for leg in legs:
            if leg.call is call:
                return leg
        return None

    def main_leg() -> _Leg | None:
        live = [g for g in legs if g.role in ("inbound", "outbound") and not g.gone]
        return live[-1] if live else None

    def role_leg(role: str) -> _Leg | None:
        live = [g for g in legs if g.role == role and not g.gone]
        return live[-1] if live else None

    def report(event: str, call_id: str = "", detail: str = "") -> None:
        """Tell the web app (and so the operator's page); never holds up the softphone."""
        log.info("seat %s: event %s %s %s", cfg.name, event, call_id, detail)
        if not cfg.acd_url:
            return
        query = urllib.parse.urlencode(
            {"seat": cfg.name, "event": event, "call_id": call_id, "detail": detail}
        )
        url = f"{cfg.acd_url.rstrip('/')}/seat_event?{query}"

        def send() -> None:
            req = urllib.request.Request(url, headers={ACD_SECRET_HEADER: cfg.acd_secret})
            try:
                urllib.request.urlopen(req, timeout=3).read()  # noqa: S310 - our own loopback URL
            except OSError as exc:
                log.warning("seat %s: could not report %s: %s", cfg.name, event, exc)

        threading.Thread(target=send, daemon=True).start()

    def note_on_call(call_id: str, **fields: str) -> None:
        """Write onto the ACD's hash of the call; its record (CDR) takes it from there."""
        if conn is None or not call_id:
            return
        try:
            key = f"{cfg.acd_prefix}call:{call_id}"
            if fields:
                conn.hset(key, mapping=fields)
        except Exception:  # noqa: BLE001 - the call goes on without the note
            log.exception("seat %s: could not note %s on %s", cfg.name, fields, call_id)

    def forget_on_call(call_id: str, name: str) -> None:
        if conn is not None and call_id:
            try:
                conn.hdel(f"{cfg.acd_prefix}call:{call_id}", name)
            except Exception:  # noqa: BLE001 - Redis away: the call goes on
                log.warning("seat %s: could not clear %s on %s", cfg.name, name, call_id)

    def target_uri(number: str) -> str:
        return f"sip:{number}@{cfg.edge_host}:{cfg.edge_port}"

    class SeatCall(pj.Call):  # type: ignore[misc]
        def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2's names
            info = self.getInfo()
            leg = leg_of(self)
            log.info("seat %s call %s: %s", cfg.name, info.callIdString, info.stateText)
            if leg is None:
                return
            leg.sip_call_id = info.callIdString
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not leg.confirmed:
                leg.confirmed = True
                dirty[0] = True
                if leg.role == "inbound":
                    journal.answered(leg.sip_call_id, time.time())
                    journal_changed()
                if leg.role == "party":
                    main = main_leg()
                    if main is not None:
                        note_on_call(main.sip_call_id, conference_target=leg.extras["target"])
                    report("conference_up", main.sip_call_id if main else "", leg.extras["target"])
                elif leg.role == "spy_out":
                    report("spy_started", "", f"{leg.extras['target']} {leg.mode}")
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                leg.gone = True
                dirty[0] = True
                if leg.role == "inbound":
                    by_seat = leg.hung_up_here or stop
                    journal.ended(leg.sip_call_id, time.time(), by_seat=by_seat)
                    journal_changed()
                code = str(info.lastStatusCode)
                if leg.role == "party":
                    main = main_leg()
                    event = "conference_down" if leg.confirmed else "conference_failed"
                    report(event, main.sip_call_id if main else "", code)
                elif leg.role == "spy_out":
                    report("spy_ended" if leg.confirmed else "spy_failed", "", code)

        def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
            leg = leg_of(self)
            if leg is None:
                return
            leg.audio = active_audio(pj, self)
            log.info("seat %s %s media %s", cfg.name, leg.role, "up" if leg.audio else "down")
            dirty[0] = True

        def onCallTransferRequest(self, prm: Any) -> None:  # noqa: N802
            # We are the one being transferred (a softphone calling the hotline): follow it.
            new = SeatCall(account)
            old = leg_of(self)
            legs.append(_Leg(new, "outbound", extras=dict(old.extras) if old else {}))
            prm.newCall = new
            log.info("seat %s: transferred to %s", cfg.name, prm.dstUri)

        def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802
            leg = leg_of(self)
            if leg is None:
                return
            code = int(prm.statusCode)
            if code < 200 and not prm.finalNotify:
                return
            prm.cont = False
            target = leg.extras.get("transfer", "")
            if 200 <= code < 300:
                report("transferred", leg.sip_call_id, target)
                leg.hung_up_here = True
                self.hangup(pj.CallOpParam(True))
            else:
                forget_on_call(leg.sip_call_id, "transfer_target")
                report("transfer_failed", leg.sip_call_id, f"{target} {code}")

    class SeatAccount(pj.Account):  # type: ignore[misc]
        def onRegState(self, prm: Any) -> None:  # noqa: N802
            log.info("seat %s registration: %s %s", cfg.name, prm.code, prm.reason)
            # Registered: the ACD may give the seat calls again if the edge had set it aside.
            journal.registered = int(prm.code) == 200 and int(prm.expiration) > 0
            journal_changed()

        def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
            call = SeatCall(self, prm.callId)
            spy = _SPY_HEADER.search(prm.rdata.wholeMsg or "")
            op = pj.CallOpParam()
            if spy is not None:
                mode = spy.group(1).lower()
                # Listening in needs a call to listen to and the app's token for it; one
                # supervisor at a time, the latest (a supervisor changing mode calls again).
                main = main_leg()
                ok = main is not None and mode in SPY_MODES
                allowed = ok and main is not None and spy_allowed(prm.rdata.wholeMsg, mode, main)
                old = role_leg("spy_in")
                if allowed and old is not None:
                    old.call.hangup(pj.CallOpParam(True))
                    old.role = "rejected"
                legs.append(_Leg(call, "spy_in" if allowed else "rejected", mode=mode))
                op.statusCode = 200 if allowed else (403 if ok else 480)
                call.answer(op)
                return
            if main_leg() is not None:
                legs.append(_Leg(call, "rejected"))
                op.statusCode = 486  # one citizen at a time; the ACD knows
                call.answer(op)
                return
            leg = _Leg(call, "inbound", sip_call_id=call.getInfo().callIdString)
            legs.append(leg)
            journal.ringing(leg.sip_call_id, time.time())
            op.statusCode = 180
            call.answer(op)
            if cfg.auto_answer_seconds is not None:
                leg.answer_at = time.monotonic() + cfg.auto_answer_seconds
            prepare_prompt(leg)

    def spy_allowed(message: str, mode: str, main: _Leg) -> bool:
        """Whether the INVITE carries a token the app issued for exactly this listening in."""
        token = _SPY_TOKEN.search(message or "")
        sender = _FROM_USER.search(message or "")
        if conn is None or token is None or sender is None:
            log.warning("seat %s: listening in without a token refused", cfg.name)
            return False
        try:
            grant = take_spy_token(
                conn,
                cfg.acd_prefix,
                token.group(1),
                seat=cfg.name,
                from_seat=sender.group(1),
                call_id=main.sip_call_id,
                mode=mode,
            )
        except Exception:  # noqa: BLE001 - no Redis, no listening in
            log.exception("seat %s: could not check a listening-in token", cfg.name)
            return False
        if grant is None:
            log.warning(
                "seat %s: listening in by %s refused (token unknown, used or not for this call)",
                cfg.name,
                sender.group(1),
            )
            return False
        log.info("seat %s: %s listens in (%s)", cfg.name, sender.group(1), mode)
        return True

    def prepare_prompt(leg: _Leg) -> None:
        """Speak the signed-in operator's prompt while the seat rings (cached per 工号)."""
        if not (cfg.announce and cfg.prompts_dir and conn is not None):
            return
        try:
            agent = conn.hget(f"{cfg.acd_prefix}seat:{cfg.name}", "agent")
        except Exception:  # noqa: BLE001 - Redis away: the call rings without the prompt
            log.warning("seat %s: no operator prompt (redis unreachable)", cfg.name)
            return
        staff_no = staff_number(agent.decode() if isinstance(agent, bytes) else str(agent or ""))
        if not staff_no:
            return
        leg.prompt = path = Path(cfg.prompts_dir) / f"staff-{staff_no}.wav"
        if path.exists() or staff_no in speaking:
            return
        speaking.add(staff_no)
        threading.Thread(target=make_prompt, args=(path, staff_no), daemon=True).start()

    def start_media(leg: _Leg) -> None:
        """First audio of a call: start its recording and, for a citizen, the prompt."""
        if leg.recorder is None and cfg.recordings_dir and leg.role != "spy_in":
            name = recording_name(leg.sip_call_id, time.time())
            path = Path(cfg.recordings_dir) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(path))
            leg.recorder = recorder
            if leg.role == "inbound":
                note_on_call(leg.sip_call_id, recording=name)
            log.info("seat %s: recording %s", cfg.name, path)
        if (
            leg.player is None
            and leg.role == "inbound"
            and leg.prompt is not None
            and leg.prompt.exists()
        ):
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(leg.prompt), pj.PJMEDIA_FILE_NO_LOOP)
            leg.player = player
        if leg.player is None and "play" in leg.extras:  # a test signal, looped
            player = pj.AudioMediaPlayer()
            player.createPlayer(leg.extras["play"], 0)
            leg.player = player

    def wanted() -> list[tuple[Any, Any]]:
        """Every audio path the seat's calls need now (source → sink)."""
        adm = ep.audDevManager()
        mic, speaker = adm.getCaptureDevMedia(), adm.getPlaybackDevMedia()
        # Early media (the 180 carries SDP) is not a conversation: nothing flows, nothing is
        # recorded and no prompt plays until the call is answered.
        active = {g.role: g for g in legs if not g.gone and g.audio is not None and g.confirmed}
        main = active.get("inbound") or active.get("outbound")
        party, spy, spying = active.get("party"), active.get("spy_in"), active.get("spy_out")
        talkers = [g for g in (main, party) if g is not None]
        paths: list[tuple[Any, Any]] = []
        for leg in talkers:  # the operator hears and (unless muted) speaks to each
            paths.append((leg.audio, speaker))
            if not muted[0]:
                paths.append((mic, leg.audio))
        if main is not None:
            start_media(main)
            rec = main.recorder
            if main.player is not None:  # the prompt, to the caller and into the recording
                paths += [(main.player, main.audio)] + ([(main.player, rec)] if rec else [])
            if party is not None:  # 三方通话: citizen and party hear each other
                paths += [(party.audio, main.audio), (main.audio, party.audio)]
            if rec is not None:
                paths += [(leg.audio, rec) for leg in talkers]
                if not muted[0]:
                    paths.append((mic, rec))
        if spy is not None and main is not None:
            # The supervisor hears everyone; whisper reaches the operator; barge everyone.
            paths += [(leg.audio, spy.audio) for leg in talkers] + [(mic, spy.audio)]
            if spy.mode in ("whisper", "barge"):
                paths.append((spy.audio, speaker))
            if spy.mode == "barge":
                sinks = [leg.audio for leg in talkers] + [main.recorder]
                paths += [(spy.audio, sink) for sink in sinks if sink is not None]
        if spying is not None:
            start_media(spying)
            paths += [(spying.audio, speaker), (mic, spying.audio)]
            if spying.player is not None:
                paths.append((spying.player, spying.audio))
            if spying.recorder is not None:
                paths.append((spying.audio, spying.recorder))
        return paths

    def rewire() -> None:
        want: dict[tuple[int, int], tuple[Any, Any]] = {}
        for src, dst in wanted():
            want[(src.getPortId(), dst.getPortId())] = (src, dst)
        for key, (src, dst) in list(links.items()):
            if key not in want:
                try:
                    src.stopTransmit(dst)
                except pj.Error:
                    pass  # a port that went with its call
                del links[key]
        for key, (src, dst) in want.items():
            if key not in links:
                try:
                    src.startTransmit(dst)
                    links[key] = (src, dst)
                except pj.Error as exc:
                    log.warning("seat %s: audio path %s failed: %s", cfg.name, key, exc.info())

    def on_signal(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ep = start_endpoint(
        pj,
        cfg.sip_port,
        cfg.log_level,
        edge_host=cfg.edge_host,
        transport=cfg.transport,
        tls_ca_file=cfg.tls_ca_file,
    )

    acc_cfg = pj.AccountConfig()
    acc_cfg.idUri = f"sip:{cfg.name}@{cfg.edge_host}"
    tls_port = cfg.tls_port if cfg.transport == "tls" else None
    reach_edge(acc_cfg, cfg.edge_host, cfg.edge_port, tls_port)
    # Registrations live in the edge's memory: one that restarted knows no seat until each
    # registers again. The edge asks at once (`reregister`); this refresh is the backstop.
    acc_cfg.regConfig.timeoutSec = 60
    # A failed registration (edge or app not up yet, 503) is tried again within seconds.
    acc_cfg.regConfig.firstRetryIntervalSec = 2
    acc_cfg.regConfig.retryIntervalSec = 10
    if cfg.password is not None:
        acc_cfg.sipConfig.authCreds.append(digest_credentials(pj, cfg.name, cfg.password))
    if cfg.rtp_port:
        acc_cfg.mediaConfig.transportConfig.port = cfg.rtp_port
        acc_cfg.mediaConfig.transportConfig.portRange = 20
    account = SeatAccount()
    account.create(acc_cfg)
    log.info("seat %s up on %s port %s", cfg.name, cfg.transport, cfg.sip_port)

    commands = None
    if cfg.redis_url:
        import redis

        from callcenter.channel import CommandChannel

        conn = redis.Redis.from_url(cfg.redis_url)
        # Survives Redis outages: the seat keeps its calls and subscribes again.
        commands = CommandChannel(cfg.redis_url, command_channel(cfg.acd_prefix, cfg.name))

    def place(role: str, uri: str, token: str = "", **extras: str) -> _Leg:
        call = SeatCall(account)
        leg = _Leg(call, role, mode=extras.pop("mode", ""), extras=dict(extras))
        legs.append(leg)
        op = pj.CallOpParam(True)
        if role == "spy_out":
            for name, value in (("X-Hotline-Spy", leg.mode), (TOKEN_HEADER, token)):
                header = pj.SipHeader()
                header.hName = name
                header.hValue = value
                op.txOption.headers.append(header)
        try:
            call.makeCall(uri, op)
        except pj.Error:
            leg.gone = True
            raise
        return leg

    def obey(raw: bytes) -> None:  # noqa: C901, PLR0912 - one branch per button
        try:
            cmd = json.loads(raw)
            action = cmd["action"]
        except (ValueError, KeyError, TypeError):
            log.warning("seat %s: unreadable command %r", cfg.name, raw[:100])
            return
        if action not in COMMANDS:
            log.info("seat %s: unknown command %s ignored", cfg.name, action)
            return
        main = main_leg()
        op = pj.CallOpParam(True)
        target = str(cmd.get("target", ""))
        try:
            if action == "dial":  # a softphone calling out (tests, call-backs)
                extras = {"play": str(cmd["play"])} if cmd.get("play") else {}
                place("outbound", target_uri(target), **extras)
            elif action == "spy":
                old = role_leg("spy_out")
                if old is not None:
                    old.call.hangup(op)
                extras = {"target": str(cmd.get("seat", ""))}
                if cmd.get("play"):
                    extras["play"] = str(cmd["play"])
                mode = str(cmd.get("mode", "monitor"))
                token = str(cmd.get("token", ""))
                place("spy_out", target_uri(extras["target"]), token, mode=mode, **extras)
            elif action == "spy_end":
                spying = role_leg("spy_out")
                if spying is not None:
                    spying.call.hangup(op)
            elif action == "reregister":  # the edge restarted and forgot its registrations
                account.setRegistration(True)
            elif main is None:
                log.info("seat %s: %s ignored (no call)", cfg.name, action)
                return
            elif action == "answer":
                op.statusCode = 200
                main.call.answer(op)
            elif action == "hangup":
                for leg in (role_leg("party"), main):
                    if leg is not None:
                        leg.hung_up_here = True
                        leg.call.hangup(pj.CallOpParam(True))
            elif action == "hold":
                main.call.setHold(op)
            elif action == "unhold":
                op.opt.flag = pj.PJSUA_CALL_UNHOLD
                main.call.reinvite(op)
            elif action in ("mute", "unmute"):
                muted[0] = action == "mute"
                rewire()
            elif action == "dtmf":
                main.call.dialDtmf(str(cmd.get("digits", "")))
            elif action == "transfer":
                main.extras["transfer"] = target
                note_on_call(main.sip_call_id, transfer_target=target)
                main.call.xfer(target_uri(target), op)
            elif action == "conference":
                if role_leg("party") is not None:
                    report("conference_failed", main.sip_call_id, "busy")
                    return
                place("party", target_uri(target), target=target)
            elif action == "conference_end":
                party = role_leg("party")
                if party is not None:
                    party.call.hangup(op)
            log.info("seat %s: %s done", cfg.name, action)
        except pj.Error as exc:
            log.warning("seat %s: %s failed: %s", cfg.name, action, exc.info())
            if action == "transfer" and main is not None:
                forget_on_call(main.sip_call_id, "transfer_target")
                report("transfer_failed", main.sip_call_id, target)
            elif action == "conference":
                report("conference_failed", main.sip_call_id if main else "", target)
            elif action == "spy":
                report("spy_failed", "", str(cmd.get("seat", "")))

    if sync is not None:
        sync.offer(journal.snapshot(time.time()), urgent=True)  # on start: nothing held
        sync.start()
    offered = time.monotonic()
    try:
        while not stop:
            ep.libHandleEvents(20)
            if commands is not None:
                data = commands.poll()
                if data is not None:
                    obey(data)
            now = time.monotonic()
            if sync is not None and now - offered >= 1.0:
                offered = now  # a fresh snapshot for the periodic report (its as_of, pruning)
                sync.offer(journal.snapshot(time.time()))
            for leg in legs:
                if leg.answer_at is not None and now >= leg.answer_at and not leg.gone:
                    leg.answer_at = None
                    op = pj.CallOpParam()
                    op.statusCode = 200
                    leg.call.answer(op)
            if dirty[0]:
                dirty[0] = False
                rewire()
            for leg in [g for g in legs if g.gone]:
                # Drop its audio paths first, then the recorder (which closes the WAV file),
                # then the Call: all from this loop, never inside a callback.
                legs.remove(leg)
                rewire()
                leg.player = None
                leg.recorder = None
                leg.audio = None
                del leg  # the last reference to the Call: it is deleted here, in the loop
    finally:
        if commands is not None:
            commands.close()
        ep.hangupAllCalls()
        for _ in range(10):
            ep.libHandleEvents(20)
        if sync is not None:
            sync.stop()
            sync.send_once()  # the ends of the calls just hung up, if the app is there
        links.clear()
        legs.clear()
        account.shutdown()
        account = None
        ep.libDestroy()
