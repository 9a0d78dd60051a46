"""The survey process's pjsua2 loop: it pops tasks, dials, plays the script and reports calls.

A survey process is one pjsua2 user agent registered at the Kamailio edge as
sip:<name>@host (pjsua2 is built with PJSUA_MAX_CALLS = 4, so it holds at most `max_calls`
calls, 1..4). Its loop polls libHandleEvents() and, while it has room, LPOPs tasks and dials
sip:<phone>@edge. What each call hears and when it ends is `callcenter.survey.script`'s to
decide; this module plays it. Every call gives two events to `report` (a worker thread calls
it, never the pjsua2 loop, `callcenter.survey.events`).

pjsua2 rules as in the seat (`callcenter.seat.softphone`): threadCnt = 0, mainThreadOnly, one
loop, Calls and players referenced until the loop drops them, null sound device.
"""

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pjsua2 as pj
import redis

from callcenter.seat.endpoint import account_config
from callcenter.seat.endpoint import active_audio
from callcenter.seat.endpoint import start_endpoint
from callcenter.survey.config import RTP_PORT_RANGE
from callcenter.survey.config import SurveyConfig
from callcenter.survey.events import Reporter
from callcenter.survey.media import dtmf_as_101
from callcenter.survey.media import prompt_path
from callcenter.survey.media import speak
from callcenter.survey.media import wav_seconds
from callcenter.survey.script import PROMPTS
from callcenter.survey.script import QUESTIONS
from callcenter.survey.script import STOPPED
from callcenter.survey.script import Move
from callcenter.survey.script import Play
from callcenter.survey.script import SurveyState
from callcenter.survey.script import Task
from callcenter.survey.script import attempt_id
from callcenter.survey.script import calling_event
from callcenter.survey.script import dropped_task_events
from callcenter.survey.script import due
from callcenter.survey.script import parse_task
from callcenter.survey.script import result_event
from callcenter.survey.script import stop_outcome
from callcenter.survey.script import utc_now

# One logger for the whole survey package: its processes' logs read as they always did.
log = logging.getLogger("callcenter.survey")
_PJ_ETOOMANY = 70010  # pj_status_t: every call slot in use


@dataclass(slots=True)
class Survey:
    """One survey call: pjsua2's Call and its audio, beside where the script is."""

    state: SurveyState
    call: Any
    audio: Any = None
    player: Any = None
    playing: Any = None  # the player currently transmitting to the call


class SurveyCall(pj.Call):  # type: ignore[misc]
    """One survey call's pjsua2 callbacks, handed to the dialer."""

    def __init__(self, dialer: "Dialer", account: Any) -> None:
        super().__init__(account)
        self.dialer = dialer

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2's names
        self.dialer.call_state(self)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        self.dialer.media_state(self)

    def onCallSdpCreated(self, prm: Any) -> None:  # noqa: N802
        if not prm.remSdp.wholeSdp:  # our offer (an answer keeps the offer's numbers)
            prm.sdp.wholeSdp = dtmf_as_101(prm.sdp.wholeSdp)

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        self.dialer.dtmf(self, prm.digit)


class SurveyAccount(pj.Account):  # type: ignore[misc]
    """The survey line's registration; nobody calls a survey line."""

    def __init__(self, dialer: "Dialer") -> None:
        super().__init__()
        self.dialer = dialer

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        log.info("survey %s registration: %s %s", self.dialer.cfg.name, prm.code, prm.reason)
        self.dialer.registered = int(prm.code) // 100 == 2

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        call = pj.Call(self, prm.callId)  # nobody calls a survey line
        op = pj.CallOpParam()
        op.statusCode = 603
        call.hangup(op)


class Dialer:
    """One survey process: its calls, the prompts they play, the tasks it pops."""

    def __init__(self, cfg: SurveyConfig, report: Callable[[dict[str, Any]], None]) -> None:
        self.cfg = cfg
        self.stop = False
        self.registered = False
        self.surveys: list[Survey] = []
        self.reporter = Reporter(report)
        prompts_dir = Path(cfg.prompts_dir)
        # A question's prompt, then the goodbye (script.PROMPTS' order).
        self.prompts = [speak(prompt_path(prompts_dir, text), text) for text in PROMPTS]
        self.lengths = [wav_seconds(p) for p in self.prompts]
        self.ep: Any = None
        self.account: Any = None
        self.conn: Any = None
        self.pop_after = 0.0  # no task is popped before then (Redis down, no free call slot)

    def on_signal(self, *_: Any) -> None:
        self.stop = True

    # --- pjsua2's callbacks -----------------------------------------------------------------

    def survey_of(self, call: Any) -> Survey | None:
        for s in self.surveys:
            if s.call is call:
                return s
        return None

    def call_state(self, call: Any) -> None:
        info = call.getInfo()
        s = self.survey_of(call)
        log.info("survey %s call %s: %s", self.cfg.name, info.callIdString, info.stateText)
        if s is None:
            return
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            s.state.answered(utc_now())
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            s.state.ended(int(info.lastStatusCode), str(info.lastReason))

    def media_state(self, call: Any) -> None:
        s = self.survey_of(call)
        if s is None:
            return
        s.audio = active_audio(pj, call)

    def dtmf(self, call: Any, digit: Any) -> None:
        s = self.survey_of(call)
        if s is not None:
            log.info("survey %s: key %s", self.cfg.name, digit)
            s.state.digits.append(str(digit))

    # --- One call ---------------------------------------------------------------------------

    def result(self, s: Survey) -> None:
        event = result_event(s.state, self.cfg.name)
        if event is not None:
            self.reporter.put(event)

    def end(self, s: Survey, outcome: str | None, detail: str) -> None:
        """Hang up (or cancel) one of our calls; its result is reported when it is gone."""
        s.state.ending(outcome, detail)
        if s.state.gone:
            return
        try:
            s.call.hangup(pj.CallOpParam(True))
        except pj.Error as exc:
            log.warning("survey %s: hang-up failed: %s", self.cfg.name, exc.info())

    def play(self, s: Survey, index: int) -> None:
        """Play prompt `index` (a question, or the goodbye) to the citizen from its start."""
        self.mute(s)
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(self.prompts[index]), pj.PJMEDIA_FILE_NO_LOOP)
        s.player = player  # the previous one is dropped here, after its transmit stopped
        player.startTransmit(s.audio)
        s.playing = player
        s.state.played(index, time.monotonic(), self.lengths[index])

    def mute(self, s: Survey) -> None:
        if s.playing is not None and s.audio is not None:
            try:
                s.playing.stopTransmit(s.audio)
            except pj.Error:
                pass  # the call's port went with it
        s.playing = None

    def carry_out(self, s: Survey, move: Move) -> None:
        """Do what the script decided for one call."""
        if move.refused is not None:
            question = QUESTIONS[s.state.step].key
            log.info("survey %s: key %s is no answer to %s", self.cfg.name, move.refused, question)
        if isinstance(move, Play):
            self.play(s, move.index)
            return
        if move.silence:
            self.mute(s)
        self.end(s, move.outcome, move.detail)

    def tick(self, now: float) -> None:
        """Ring timeouts, the goodbye's hang-up and each answered call's script."""
        for s in self.surveys:
            move = due(s.state, now, s.audio is not None)
            if move is None:
                continue
            try:
                self.carry_out(s, move)
            except pj.Error as exc:
                log.warning("survey %s: prompt failed: %s", self.cfg.name, exc.info())
                self.end(s, "failed", f"prompt failed: {exc.reason}")

    # --- Tasks ------------------------------------------------------------------------------

    def dial(self, task: Task, raw: bytes) -> None:
        cfg = self.cfg
        call = SurveyCall(self, self.account)
        at = utc_now()
        ring_until = time.monotonic() + task.ring_seconds
        s = Survey(SurveyState(task, ring_until=ring_until), call)
        self.surveys.append(s)
        try:
            call.makeCall(f"sip:{task.phone}@{cfg.edge_host}:{cfg.edge_port}", pj.CallOpParam(True))
        except pj.Error as exc:
            if exc.status == _PJ_ETOOMANY:
                # pjsua frees an ended call's slot a moment after DISCONNECTED: the task goes
                # back to the head of the queue, untouched, and is tried again shortly.
                self.surveys.remove(s)
                self.conn.lpush(cfg.tasks_key, raw)
                self.pop_after = time.monotonic() + 0.2
                return
            log.warning("survey %s: could not dial %s: %s", cfg.name, task.phone, exc.info())
            s.state.gone = True
            s.state.outcome, s.state.detail = "failed", f"could not dial: {exc.reason}"
        self.reporter.put(calling_event(task.attempt_id, cfg.name, at))

    def next_task(self) -> tuple[Task, bytes] | None:
        cfg = self.cfg
        if time.monotonic() < self.pop_after:
            return None
        try:
            popped = self.conn.lpop(cfg.tasks_key)
        except redis.RedisError as exc:
            log.warning("survey %s: redis: %s", cfg.name, exc)
            self.pop_after = time.monotonic() + 2
            return None
        if popped is None:
            return None
        raw = popped if isinstance(popped, bytes) else str(popped).encode()
        try:
            return parse_task(raw), raw
        except ValueError as exc:
            log.error("survey %s: task %r dropped: %s", cfg.name, raw[:200], exc)
            attempt = attempt_id(raw)
            if attempt is not None:
                for event in dropped_task_events(attempt, cfg.name, str(exc)):
                    self.reporter.put(event)
            return None

    # --- The process ------------------------------------------------------------------------

    def start(self) -> None:
        """Start pjsua2 (G.711 only), register at the edge and connect to Redis."""
        cfg = self.cfg
        self.ep = start_endpoint(
            pj,
            cfg.sip_port,
            cfg.log_level,
            cfg.max_calls,
            edge_host=cfg.edge_host,
            transport=cfg.transport,
            tls_ca_file=cfg.tls_ca_file,
        )
        for codec in self.ep.codecEnum2():  # G.711 only: what a telephone network speaks
            keep = codec.codecId.split("/")[0] in ("PCMU", "PCMA")
            self.ep.codecSetPriority(codec.codecId, codec.priority if keep else 0)
        self.account = SurveyAccount(self)
        self.account.create(self._account_config())
        log.info("survey %s up on %s port %s", cfg.name, cfg.transport, cfg.sip_port)
        self.conn = redis.Redis.from_url(cfg.redis_url)

    def _account_config(self) -> Any:
        cfg = self.cfg
        return account_config(
            pj,
            cfg,
            f'"{cfg.caller_name}" <sip:{cfg.name}@{cfg.edge_host}>',
            refresh_seconds=300,
            rtp_port_range=RTP_PORT_RANGE,
        )

    def run(self) -> None:
        """The loop: pjsua2's events, ended calls, new tasks, each call's script."""
        try:
            while not self.stop:
                self.ep.libHandleEvents(20)
                self.drop_ended()
                if self.registered and len(self.surveys) < self.cfg.max_calls:
                    popped = self.next_task()
                    if popped is not None:
                        self.dial(*popped)
                self.tick(time.monotonic())
        finally:
            self.shutdown()

    def drop_ended(self) -> None:
        """Report ended calls and let them go: their prompt's path, then the player and the
        Call, from this loop, never inside a callback; before dialling, so a call is over
        (and reported) before the next one takes its place."""
        for s in [g for g in self.surveys if g.state.gone]:
            self.result(s)
            self.surveys.remove(s)
            self.mute(s)
            s.player = None
            s.audio = None

    def stop_calls(self) -> None:
        """Stopping: hang up every live call and report it (a finished script stays answered)."""
        for s in self.surveys:
            self.end(s, stop_outcome(s.state), STOPPED)
        deadline = time.monotonic() + 3
        while any(not s.state.gone for s in self.surveys) and time.monotonic() < deadline:
            self.ep.libHandleEvents(20)
        for s in self.surveys:
            self.mute(s)
            self.result(s)

    def shutdown(self) -> None:
        # Helpers hold no Call past their return: every Call is gone before libDestroy().
        self.stop_calls()
        self.ep.hangupAllCalls()
        for _ in range(10):
            self.ep.libHandleEvents(20)
        self.surveys.clear()  # the players stopped transmitting in stop_calls()
        self.account.shutdown()
        self.account = None
        self.ep.libDestroy()
        self.conn.close()
        self.reporter.close()


def run_survey(cfg: SurveyConfig, report: Callable[[dict[str, Any]], None]) -> None:
    """Run survey process `cfg.name` until SIGTERM or SIGINT; `report` gets its events."""
    dialer = Dialer(cfg, report)
    signal.signal(signal.SIGTERM, dialer.on_signal)
    signal.signal(signal.SIGINT, dialer.on_signal)
    dialer.start()
    dialer.run()
