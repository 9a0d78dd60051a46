"""The seat's pjsua2 softphone: its calls, their audio paths, reports and the commands.

pjsua2 (PyPI pjsua2-python) holds at most four calls per process, so each seat is its own
process, registered to the Kamailio edge as sip:SEAT@host. pjsua2's threading rules: no
worker threads (threadCnt = 0, mainThreadOnly), one loop polls libHandleEvents(), every Call
is referenced until it is gone and deleted from that loop, never from a callback; on a server
pjsua2's own sound device is the null one (it clocks the bridge, only while it carries audio);
the operator is their browser headset (the agent leg) or, at a desk seat, the PC's sound card
joined to the bridge as a media port (`callcenter.seat.soundcard`).

The calls' roles and who hears whom are decided in `callcenter.seat.mixing`; this module
applies them. Listening in needs the single-use token `/api/cti/spy` issued for that
supervisor's seat, this seat, its current call and that mode (``X-Hotline-Spy-Token``,
`callcenter.acd.spytoken`); any other listening in is refused with 403 and never touches the
call's audio.
"""

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pjsua2 as pj

from callcenter.acd.headset import headset_name
from callcenter.acd.seatsync import CallJournal
from callcenter.acd.seatsync import SeatSync
from callcenter.acd.spytoken import TOKEN_HEADER
from callcenter.acd.transfers import valid_token
from callcenter.seat import mixing
from callcenter.seat.config import COMMANDS
from callcenter.seat.config import SeatConfig
from callcenter.seat.endpoint import account_config
from callcenter.seat.endpoint import active_audio
from callcenter.seat.endpoint import clock_bridge
from callcenter.seat.endpoint import start_endpoint
from callcenter.seat.link import LocalLink
from callcenter.seat.link import RemoteLink
from callcenter.seat.link import make_link
from callcenter.seat.prompts import make_prompt
from callcenter.seat.prompts import recording_name
from callcenter.seat.prompts import staff_number

if TYPE_CHECKING:
    pass

# One logger for the whole seat package: its processes' logs read as they always did.
log = logging.getLogger("callcenter.seat")

# The loop's wait for pjsua2's SIP events. While the seat has anything but its agent leg, the
# loop turns every 20 ms (the operator's commands within 20 ms); with no call, or only the
# agent leg, every 100 ms.
BUSY_WAIT_MS = 20
IDLE_WAIT_MS = 100
# How long the bridge stays clocked after the last connection, recording and player went: its
# queued removals run on the clock (a recording's WAV file is closed then).
CLOCK_GRACE_SECONDS = 1.0


@dataclass(slots=True)
class Leg:
    """What the seat knows about one of its calls, beside pjsua2's Call object."""

    call: Any
    role: str  # inbound, outbound, party, spy_in, spy_out, rejected (callcenter.seat.mixing)
    mode: str = ""  # spy mode
    sip_call_id: str = ""
    audio: Any = None  # the call's AudioMedia while its media is active
    recorder: Any = None
    recording: str = ""  # its name under the recordings folder (or a desk seat's spool)
    player: Any = None
    confirmed: bool = False
    gone: bool = False
    hung_up_here: bool = False  # this side ended the call (the journal says "seat")
    answer_at: float | None = None
    prompt: Path | None = None
    extras: dict[str, str] = field(default_factory=dict)

    def view(self, key: int) -> mixing.LegView:
        """The call as the mixing rules see it."""
        return mixing.LegView(
            key=key,
            role=self.role,
            mode=self.mode,
            confirmed=self.confirmed,
            gone=self.gone,
            media=self.audio is not None,
            recorder=self.recorder is not None,
            player=self.player is not None,
        )


class SeatCall(pj.Call):  # type: ignore[misc]
    """One of the seat's calls: pjsua2's callbacks, handed to the softphone."""

    def __init__(
        self, phone: "Softphone", account: Any, call_id: int = pj.PJSUA_INVALID_ID
    ) -> None:
        super().__init__(account, call_id)
        self.phone = phone

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2's names
        self.phone.call_state(self)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        self.phone.media_state(self)

    def onCallTransferRequest(self, prm: Any) -> None:  # noqa: N802
        self.phone.transfer_request(self, prm)

    def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802
        self.phone.transfer_status(self, prm)


class SeatAccount(pj.Account):  # type: ignore[misc]
    """The seat's registration at the edge: pjsua2's callbacks, handed to the softphone."""

    def __init__(self, phone: "Softphone") -> None:
        super().__init__()
        self.phone = phone

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        self.phone.reg_state(prm)

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        self.phone.incoming_call(self, prm)


class Softphone:
    """One seat's user agent. Everything runs on the one loop (`run`) or in the pjsua2
    callbacks its libHandleEvents() calls; only reports leave on threads of their own."""

    def __init__(self, cfg: SeatConfig) -> None:
        self.cfg = cfg
        self.stop = False
        self.legs: list[Leg] = []
        self.dirty = False  # audio paths to recompute
        self.muted = False
        self.links: dict[tuple[int, int], tuple[Any, Any]] = {}
        self.link: LocalLink | RemoteLink | None = None  # the way to the app (`start`)
        self.card: Any = None  # the PC's sound card (`callcenter.seat.soundcard`), if any
        self.card_port: Any = None  # and its port on the conference bridge
        self.ep: Any = None
        self.clocked = False  # the conference bridge's clock (null sound device) runs
        self.unneeded_since: float | None = None  # since when the clock has had nothing to do
        self.account: Any = None
        self.speaking: set[str] = set()  # 工号 whose prompt is being spoken
        # What the seat tells the ACD of its calls, until the web app has heard it: the edge's
        # own reports are lost while the app is away.
        self.journal = CallJournal(cfg.name)
        self.sync: SeatSync | None = None

    # --- The calls --------------------------------------------------------------------------

    def leg_of(self, call: Any) -> Leg | None:
        for leg in self.legs:
            if leg.call is call:
                return leg
        return None

    def main_leg(self) -> Leg | None:
        return mixing.latest(self.legs, mixing.MAIN_ROLES)

    def role_leg(self, role: str) -> Leg | None:
        return mixing.latest(self.legs, (role,))

    def target_uri(self, number: str) -> str:
        return f"sip:{number}@{self.cfg.edge_host}:{self.cfg.edge_port}"

    # --- What the seat tells the app --------------------------------------------------------

    def journal_changed(self) -> None:
        """Report the journal at once (from the sending thread, never this loop)."""
        if self.sync is not None:
            self.sync.offer(self.journal.snapshot(time.time()), urgent=True)

    def report(self, event: str, call_id: str = "", detail: str = "") -> None:
        """Tell the web app (and so the operator's page); never holds up the softphone."""
        log.info("seat %s: event %s %s %s", self.cfg.name, event, call_id, detail)
        if self.link is not None:
            self.link.report(event, call_id, detail)

    def note_on_call(self, call_id: str, **fields: str) -> None:
        """Write onto the ACD's record of the call; its record (CDR) takes it from there."""
        if self.link is not None:
            for name, value in fields.items():
                self.link.note(call_id, name, value)

    def forget_on_call(self, call_id: str, name: str) -> None:
        if self.link is not None:
            self.link.note(call_id, name, "")

    # --- pjsua2's callbacks -----------------------------------------------------------------

    def call_state(self, call: Any) -> None:
        info = call.getInfo()
        leg = self.leg_of(call)
        log.info("seat %s call %s: %s", self.cfg.name, info.callIdString, info.stateText)
        if leg is None:
            return
        leg.sip_call_id = info.callIdString
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not leg.confirmed:
            self._confirmed(leg)
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._disconnected(leg, str(info.lastStatusCode))

    def _confirmed(self, leg: Leg) -> None:
        leg.confirmed = True
        self.dirty = True
        if leg.role == mixing.INBOUND:
            self.journal.answered(leg.sip_call_id, time.time())
            self.journal_changed()
        if leg.role == mixing.PARTY:
            main = self.main_leg()
            if main is not None:
                self.note_on_call(main.sip_call_id, conference_target=leg.extras["target"])
            self.report("conference_up", main.sip_call_id if main else "", leg.extras["target"])
        elif leg.role == mixing.SPY_OUT:
            self.report("spy_started", "", f"{leg.extras['target']} {leg.mode}")
        elif leg.role == mixing.AGENT:
            self.report("headset_up")

    def _disconnected(self, leg: Leg, code: str) -> None:
        leg.gone = True
        self.dirty = True
        if leg.role == mixing.INBOUND:
            by_seat = leg.hung_up_here or self.stop
            self.journal.ended(leg.sip_call_id, time.time(), by_seat=by_seat)
            self.journal_changed()
        if leg.role == mixing.PARTY:
            main = self.main_leg()
            event = "conference_down" if leg.confirmed else "conference_failed"
            self.report(event, main.sip_call_id if main else "", code)
        elif leg.role == mixing.SPY_OUT:
            self.report("spy_ended" if leg.confirmed else "spy_failed", "", code)
        elif leg.role == mixing.AGENT and not (leg.hung_up_here or self.stop):
            # The operator's ears are gone (browser closed, network lost, never answered).
            self.report("headset_lost", "", code)

    def media_state(self, call: Any) -> None:
        leg = self.leg_of(call)
        if leg is None:
            return
        leg.audio = active_audio(pj, call)
        log.info("seat %s %s media %s", self.cfg.name, leg.role, "up" if leg.audio else "down")
        self.dirty = True

    def transfer_request(self, call: Any, prm: Any) -> None:
        # We are the one being transferred (a softphone calling the hotline): follow it.
        new = SeatCall(self, self.account)
        old = self.leg_of(call)
        self.legs.append(Leg(new, mixing.OUTBOUND, extras=dict(old.extras) if old else {}))
        prm.newCall = new
        log.info("seat %s: transferred to %s", self.cfg.name, prm.dstUri)

    def transfer_status(self, call: Any, prm: Any) -> None:
        leg = self.leg_of(call)
        if leg is None:
            return
        code = int(prm.statusCode)
        if code < 200 and not prm.finalNotify:
            return
        prm.cont = False
        target = leg.extras.get("transfer", "")
        if 200 <= code < 300:
            self.report("transferred", leg.sip_call_id, target)
            leg.hung_up_here = True
            call.hangup(pj.CallOpParam(True))
        else:
            self.forget_on_call(leg.sip_call_id, "transfer_target")
            self.report("transfer_failed", leg.sip_call_id, f"{target} {code}")

    def reg_state(self, prm: Any) -> None:
        log.info("seat %s registration: %s %s", self.cfg.name, prm.code, prm.reason)
        # Registered: the ACD may give the seat calls again if the edge had set it aside.
        self.journal.registered = int(prm.code) == 200 and int(prm.expiration) > 0
        self.journal_changed()

    def incoming_call(self, account: Any, prm: Any) -> None:
        call = SeatCall(self, account, prm.callId)
        message = prm.rdata.wholeMsg
        mode = mixing.spy_mode(message or "")
        op = pj.CallOpParam()
        if mode is not None:
            self._listener(call, op, mode, message)
            return
        admission = mixing.admit_call(self.main_leg() is not None)
        if admission.role == mixing.REJECTED:
            self.legs.append(Leg(call, mixing.REJECTED))
            op.statusCode = admission.status
            call.answer(op)
            return
        leg = Leg(call, mixing.INBOUND, sip_call_id=call.getInfo().callIdString)
        self.legs.append(leg)
        self.journal.ringing(leg.sip_call_id, time.time())
        op.statusCode = admission.status
        call.answer(op)
        if self.cfg.auto_answer_seconds is not None:
            leg.answer_at = time.monotonic() + self.cfg.auto_answer_seconds
        self.prepare_prompt(leg)

    def _listener(self, call: Any, op: Any, mode: str, message: str) -> None:
        # Listening in needs a call to listen to and the app's token for it; one supervisor
        # at a time, the latest (a supervisor changing mode calls again).
        main = self.main_leg()

        def token_ok() -> bool:
            return main is not None and self.spy_allowed(message, mode, main)

        admission = mixing.admit_spy(mode, main is not None, token_ok)
        old = self.role_leg(mixing.SPY_IN)
        if admission.role == mixing.SPY_IN and old is not None:
            old.call.hangup(pj.CallOpParam(True))
            old.role = mixing.REJECTED
        self.legs.append(Leg(call, admission.role, mode=mode))
        op.statusCode = admission.status
        call.answer(op)

    def spy_allowed(self, message: str, mode: str, main: Leg) -> bool:
        """Whether the INVITE carries a token the app issued for exactly this listening in."""
        cfg = self.cfg
        token = mixing.spy_token(message or "")
        sender = mixing.sender(message or "")
        if self.link is None or token is None or sender is None:
            log.warning("seat %s: listening in without a token refused", cfg.name)
            return False
        if not self.link.spy_ok(token, sender, main.sip_call_id, mode):
            log.warning(
                "seat %s: listening in by %s refused (token unknown, used or not for this call)",
                cfg.name,
                sender,
            )
            return False
        log.info("seat %s: %s listens in (%s)", cfg.name, sender, mode)
        return True

    # --- Prompts, recordings and the audio paths ----------------------------------------------

    def prepare_prompt(self, leg: Leg) -> None:
        """Speak the signed-in operator's prompt while the seat rings (cached per 工号)."""
        cfg = self.cfg
        if not (cfg.announce and cfg.prompts_dir and self.link is not None):
            return
        agent = self.link.agent()
        if agent is None:  # the app or Redis away: the call rings without the prompt
            log.warning("seat %s: no operator prompt (the app unreachable)", cfg.name)
            return
        staff_no = staff_number(agent)
        if not staff_no:
            return
        leg.prompt = path = Path(cfg.prompts_dir) / f"staff-{staff_no}.wav"
        if path.exists() or staff_no in self.speaking:
            return
        self.speaking.add(staff_no)
        threading.Thread(target=make_prompt, args=(path, staff_no), daemon=True).start()

    def start_media(self, leg: Leg) -> None:
        """First audio of a call: start its recording and, for a citizen, the prompt."""
        cfg = self.cfg
        path = None
        if leg.recorder is None and self.link is not None and leg.role != mixing.SPY_IN:
            name = recording_name(leg.sip_call_id, time.time())
            path = self.link.recording_path(name, noted=leg.role == mixing.INBOUND)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(path))
            leg.recorder = recorder
            leg.recording = name
            if leg.role == mixing.INBOUND:
                self.note_on_call(leg.sip_call_id, recording=name)
            log.info("seat %s: recording %s", cfg.name, path)
        if (
            leg.player is None
            and leg.role == mixing.INBOUND
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

    def views(self) -> list[mixing.LegView]:
        return [leg.view(key) for key, leg in enumerate(self.legs)]

    def wanted(self) -> list[tuple[Any, Any]]:
        """Every audio path the seat's calls need now (source → sink), as pjsua2 media."""
        views = self.views()
        agent = mixing.headset(views)
        if agent is not None:  # the operator is at their browser headset: the agent leg
            mic = speaker = self.legs[agent.key].audio
        elif self.card_port is not None:  # the desk seat's sound card
            mic = speaker = self.card_port
        else:
            adm = self.ep.audDevManager()
            mic, speaker = adm.getCaptureDevMedia(), adm.getPlaybackDevMedia()
        for key in mixing.media_to_start(self.views()):
            self.start_media(self.legs[key])

        def media(port: mixing.Port, device: Any) -> Any:
            if port == mixing.OPERATOR:
                return device
            leg = self.legs[port.leg]
            return {"call": leg.audio, "recorder": leg.recorder, "player": leg.player}[port.kind]

        paths = [
            (media(src, mic), media(dst, speaker))
            for src, dst in mixing.links(self.views(), self.muted)
        ]
        if agent is not None and not any(src.getPortId() == mic.getPortId() for src, _ in paths):
            # pjmedia reads a port only for its listeners: unheard between calls (or muted),
            # the agent leg's jitter buffer would fill with the operator's microphone, up to
            # 0.5 s, and the next caller would hear the operator that late for many seconds.
            # The seat's own (null) sound device listens meanwhile and keeps it drained.
            paths.append((mic, self.ep.audDevManager().getPlaybackDevMedia()))
        return paths

    def rewire(self) -> None:
        want: dict[tuple[int, int], tuple[Any, Any]] = {}
        for src, dst in self.wanted():
            want[(src.getPortId(), dst.getPortId())] = (src, dst)
        if (want or self.media_ports()) and not self.clocked:
            # The connections below are made on the bridge's next tick: start its clock.
            clock_bridge(self.ep, True)
            self.clocked = True
            self.unneeded_since = None
        for key, (src, dst) in list(self.links.items()):
            if key not in want:
                try:
                    src.stopTransmit(dst)
                except pj.Error:
                    pass  # a port that went with its call
                del self.links[key]
        for key, (src, dst) in want.items():
            if key not in self.links:
                try:
                    src.startTransmit(dst)
                    self.links[key] = (src, dst)
                except pj.Error as exc:
                    log.warning("seat %s: audio path %s failed: %s", self.cfg.name, key, exc.info())

    # --- The operator's commands ------------------------------------------------------------

    def place(self, role: str, uri: str, token: str = "", **extras: str) -> Leg:
        call = SeatCall(self, self.account)
        leg = Leg(call, role, mode=extras.pop("mode", ""), extras=dict(extras))
        self.legs.append(leg)
        op = pj.CallOpParam(True)
        if role == mixing.SPY_OUT:
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

    def obey(self, raw: bytes | str) -> None:
        try:
            cmd = json.loads(raw)
            action = cmd["action"]
        except (ValueError, KeyError, TypeError):
            log.warning("seat %s: unreadable command %r", self.cfg.name, raw[:100])
            return
        if action not in COMMANDS:
            log.info("seat %s: unknown command %s ignored", self.cfg.name, action)
            return
        main = self.main_leg()
        op = pj.CallOpParam(True)
        target = str(cmd.get("target", ""))
        try:
            if self._command(action, cmd, main, op, target):
                log.info("seat %s: %s done", self.cfg.name, action)
        except pj.Error as exc:
            log.warning("seat %s: %s failed: %s", self.cfg.name, action, exc.info())
            if action == "transfer" and main is not None:
                self.forget_on_call(main.sip_call_id, "transfer_target")
                self.report("transfer_failed", main.sip_call_id, str(cmd.get("label") or target))
            elif action == "conference":
                self.report("conference_failed", main.sip_call_id if main else "", target)
            elif action == "spy":
                self.report("spy_failed", "", str(cmd.get("seat", "")))

    def _command(
        self, action: str, cmd: dict[str, Any], main: Leg | None, op: Any, target: str
    ) -> bool:
        """Carry out one command; False when it was ignored."""
        if action == "dial":  # a softphone calling out (tests, call-backs)
            extras = {"play": str(cmd["play"])} if cmd.get("play") else {}
            self.place(mixing.OUTBOUND, self.target_uri(target), **extras)
        elif action == "spy":
            old = self.role_leg(mixing.SPY_OUT)
            if old is not None:
                old.call.hangup(op)
            extras = {"target": str(cmd.get("seat", ""))}
            if cmd.get("play"):
                extras["play"] = str(cmd["play"])
            mode = str(cmd.get("mode", "monitor"))
            token = str(cmd.get("token", ""))
            uri = self.target_uri(extras["target"])
            self.place(mixing.SPY_OUT, uri, token, mode=mode, **extras)
        elif action == "spy_end":
            spying = self.role_leg(mixing.SPY_OUT)
            if spying is not None:
                spying.call.hangup(op)
        elif action == "reregister":  # the edge restarted and forgot its registrations
            self.account.setRegistration(True)
        elif action in ("headset", "headset_end"):
            # The operator's browser headset registered (call it, once for the shift), or
            # they signed out: either way, the agent leg held so far goes.
            old = self.role_leg(mixing.AGENT)
            if old is not None:
                old.hung_up_here = True
                old.call.hangup(op)
            if action == "headset":
                self.place(mixing.AGENT, self.target_uri(headset_name(self.cfg.name)))
        elif main is None:
            log.info("seat %s: %s ignored (no call)", self.cfg.name, action)
            return False
        else:
            return self._call_command(action, cmd, main, op, target)
        return True

    def _transfer(self, main: Leg, cmd: dict[str, Any], op: Any, target: str) -> bool:
        """Blind transfer (REFER) to a number; or to another seat or the team lead on duty:
        the hotline's own number (`dial`) with the app's single-use token
        (callcenter.acd.transfers), which the caller's phone dials back in with."""
        uri = self.target_uri(str(cmd.get("dial") or target))
        token = str(cmd.get("xfer", ""))
        if token:
            if not valid_token(token):
                return False
            uri += f";xfer={token}"
        main.extras["transfer"] = str(cmd.get("label") or target)
        self.note_on_call(main.sip_call_id, transfer_target=target)
        main.call.xfer(uri, op)
        return True

    def _call_command(
        self, action: str, cmd: dict[str, Any], main: Leg, op: Any, target: str
    ) -> bool:
        """Carry out one command on the seat's citizen call; False when it was ignored."""
        if action == "answer":
            op.statusCode = 200
            main.call.answer(op)
        elif action == "hangup":
            for leg in (self.role_leg(mixing.PARTY), main):
                if leg is not None:
                    leg.hung_up_here = True
                    leg.call.hangup(pj.CallOpParam(True))
        elif action == "hold":
            main.call.setHold(op)
        elif action == "unhold":
            op.opt.flag = pj.PJSUA_CALL_UNHOLD
            main.call.reinvite(op)
        elif action in ("mute", "unmute"):
            self.muted = action == "mute"
            self.rewire()
        elif action == "dtmf":
            main.call.dialDtmf(str(cmd.get("digits", "")))
        elif action == "transfer":
            return self._transfer(main, cmd, op, target)
        elif action == "conference":
            if self.role_leg(mixing.PARTY) is not None:
                self.report("conference_failed", main.sip_call_id, "busy")
                return False
            self.place(mixing.PARTY, self.target_uri(target), target=target)
        elif action == "conference_end":
            party = self.role_leg(mixing.PARTY)
            if party is not None:
                party.call.hangup(op)
        return True

    # --- The process ------------------------------------------------------------------------

    def on_signal(self, *_: Any) -> None:
        self.stop = True

    def start(self) -> None:
        """Start pjsua2, register at the edge and listen for the operator's commands.

        An idle seat costs little: its loop turns every 100 ms rather than 20, and the
        conference bridge is clocked only while it has something to carry (`rewire`,
        `_clock_when_idle`): a registered seat with no call has no clock running.
        """
        cfg = self.cfg
        self.ep = start_endpoint(
            pj,
            cfg.sip_port,
            cfg.log_level,
            edge_host=cfg.edge_host,
            transport=cfg.transport,
            tls_ca_file=cfg.tls_ca_file,
            clocked=False,
        )
        if cfg.audio_device:
            from callcenter.seat import soundcard

            self.card = soundcard.Card(soundcard.find_device(cfg.audio_device))
            self.card.start()
            self.card_port = soundcard.card_port(pj, self.card)
            log.info("seat %s: sound card %s", cfg.name, self.card.device.name)
        self.account = SeatAccount(self)
        self.account.create(self._account_config())
        log.info("seat %s up on %s port %s", cfg.name, cfg.transport, cfg.sip_port)
        self.link = make_link(cfg)
        post = self.link.sync_poster()
        if post is not None:
            self.sync = SeatSync(post, cfg.sync_seconds)
        # redis-py sends the SUBSCRIBE with the first read (a desk seat's first poll is on
        # its way): read once now, so that the seat listens before its registration (handled
        # in the loop) tells anyone it is there.
        early = self.link.poll()
        if early is not None:
            self.obey(early)

    def _account_config(self) -> Any:
        cfg = self.cfg
        # Registrations live in the edge's memory: one that restarted knows no seat until each
        # registers again. The edge asks at once (`reregister`); the 60 s refresh is the backstop.
        return account_config(
            pj, cfg, f"sip:{cfg.name}@{cfg.edge_host}", refresh_seconds=60, rtp_port_range=20
        )

    def run(self) -> None:
        """The loop: pjsua2's events, commands, reports, auto-answers, audio paths, clean-up."""
        if self.sync is not None:
            # On start: nothing held.
            self.sync.offer(self.journal.snapshot(time.time()), urgent=True)
            self.sync.start()
        offered = time.monotonic()
        try:
            while not self.stop:
                self.ep.libHandleEvents(self._wait_ms())
                data = self.link.poll() if self.link is not None else None
                if data is not None:
                    self.obey(data)
                now = time.monotonic()
                if self.sync is not None and now - offered >= 1.0:
                    # A fresh snapshot for the periodic report (its as_of, pruning).
                    offered = now
                    self.sync.offer(self.journal.snapshot(time.time()))
                self._answer_due(now)
                if self.dirty:
                    self.dirty = False
                    self.rewire()
                self._drop_gone()
                self._clock_when_idle(time.monotonic())
        finally:
            self.shutdown()

    def _wait_ms(self) -> int:
        """How long the loop may wait for pjsua2's events before its own work comes round."""
        busy = self.dirty or any(
            leg.role != mixing.AGENT or leg.gone or not leg.confirmed for leg in self.legs
        )
        return BUSY_WAIT_MS if busy else IDLE_WAIT_MS

    def media_ports(self) -> bool:
        """Whether a call has a recording or a player: the bridge must be clocked for them."""
        return any(leg.recorder is not None or leg.player is not None for leg in self.legs)

    def _clock_when_idle(self, now: float) -> None:
        """Stop the bridge's clock once nothing has been connected for CLOCK_GRACE_SECONDS.

        Nothing connected means no sound moves. An agent leg is always connected (`wanted`
        drains it between calls), so a seat with its operator's headset up stays clocked.
        """
        if not self.clocked or self.links or self.media_ports():
            self.unneeded_since = None
            return
        if self.unneeded_since is None:
            self.unneeded_since = now
        elif now - self.unneeded_since >= CLOCK_GRACE_SECONDS:
            clock_bridge(self.ep, False)
            self.clocked = False
            self.unneeded_since = None

    def _answer_due(self, now: float) -> None:
        for leg in self.legs:
            if leg.answer_at is not None and now >= leg.answer_at and not leg.gone:
                leg.answer_at = None
                op = pj.CallOpParam()
                op.statusCode = 200
                leg.call.answer(op)

    def _drop_gone(self) -> None:
        for leg in [g for g in self.legs if g.gone]:
            # Drop its audio paths first, then the recorder (which closes the WAV file),
            # then the Call: all from this loop, never inside a callback.
            self.legs.remove(leg)
            self.rewire()
            leg.player = None
            if leg.recorder is not None and self.link is not None:
                leg.recorder = None  # the WAV file is closed: the app may have it now
                self.link.recording_done(leg.recording)
            leg.recorder = None
            leg.audio = None
            del leg  # the last reference to the Call: it is deleted here, in the loop

    def shutdown(self) -> None:
        self.ep.hangupAllCalls()
        for _ in range(10):
            self.ep.libHandleEvents(20)
        if self.sync is not None:
            self.sync.stop()
            self.sync.send_once()  # the ends of the calls just hung up, if the app is there
        self.links.clear()
        for leg in self.legs:
            leg.recorder = None
            if leg.recording and self.link is not None:
                self.link.recording_done(leg.recording)
        self.legs.clear()
        if self.link is not None:
            if isinstance(self.link, RemoteLink):
                self.link.flush_uploads(10.0)  # whatever is left, the next start uploads
            self.link.close()
        self.account.shutdown()
        self.account = None
        self.card_port = None
        if self.card is not None:
            self.card.close()
        self.ep.libDestroy()


def run_seat(cfg: SeatConfig) -> None:
    """Run seat `cfg.name`'s softphone until SIGTERM or SIGINT."""
    phone = Softphone(cfg)
    signal.signal(signal.SIGTERM, phone.on_signal)
    signal.signal(signal.SIGINT, phone.on_signal)
    phone.start()
    phone.run()
