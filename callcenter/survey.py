"""`hotline survey N`: the automated follow-up survey calls (自动回访外呼).

Tickets waiting for follow-up (待回访) get a survey call. `dispatch/followup.py` schedules the
tries and RPUSHes one JSON task per try onto the Redis list `survey:tasks`:

    {"attempt_id": 7, "ticket_id": 3, "phone": "13800138000", "ring_seconds": 30,
     "answer_seconds": 10}

A survey process is one pjsua2 user agent registered at the Kamailio edge as
sip:<name>@host (pjsua2 is built with PJSUA_MAX_CALLS = 4, so it holds at most `max_calls`
calls, 1..4). Its loop polls libHandleEvents() and, while it has room, LPOPs tasks and dials
sip:<phone>@edge. On answer the citizen hears two questions (solved? satisfied?), each
answered with one key (RFC 2833 DTMF, barge-in allowed); a wrong key or silence gets the
question once more, then the call ends. Every call gives two events to `report` (a worker
thread calls it, never the pjsua2 loop):

    {"type": "calling", "attempt_id", "worker", "at"}
    {"type": "result", "attempt_id", "worker", "outcome", "answers", "sip_status",
     "answered_at", "ended_at", "detail"}

outcome: answered (both questions), hung_up (answered, then hung up or no valid key: partial
answers kept), no_answer (not answered within ring_seconds, 408, 480), busy (486, 600, 603),
failed (anything else, also "survey process stopped").

pjsua2 rules as in the seat (callcenter/seat.py): threadCnt = 0, mainThreadOnly, one loop,
Calls and players referenced until the loop drops them, null sound device.
"""

import datetime as dt
import hashlib
import json
import logging
import queue
import re
import signal
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from callcenter.seat import active_audio
from callcenter.seat import check_transport
from callcenter.seat import digest_credentials
from callcenter.seat import reach_edge
from callcenter.seat import speak_wav
from callcenter.seat import start_endpoint
from dispatch.followup import TASKS_KEY  # the list the follow-up sweep fills

log = logging.getLogger(__name__)

# Survey processes' RTP ports: RTP_PORT_BASE + 100 * N (N as in `hotline survey N`), a range
# of RTP_PORT_RANGE. Seats leave pjsua2's default (4000 upwards), so the two never meet.
RTP_PORT_BASE = 31000
RTP_PORT_RANGE = 40
OUTCOMES = ("answered", "no_answer", "busy", "failed", "hung_up")
STOPPED = "survey process stopped"
_PJ_ETOOMANY = 70010  # pj_status_t: every call slot in use


@dataclass(frozen=True, slots=True)
class Question:
    key: str  # the answer's name in the result's "answers"
    text: str  # spoken to the citizen
    valid: tuple[str, ...]  # the keys that answer it


QUESTIONS: tuple[Question, ...] = (
    Question(
        "solved",
        "您好，这里是12345政务服务便民热线回访。您反映的问题是否已经解决？"
        "已解决请按1，未解决请按2。",
        ("1", "2"),
    ),
    Question(
        "satisfaction",
        "请您对办理结果进行评价：非常满意请按1，满意请按2，基本满意请按3，"
        "不满意请按4，非常不满意请按5。",
        ("1", "2", "3", "4", "5"),
    ),
)
GOODBYE = "感谢您的评价，再见。"


def outcome_for_status(code: int) -> str:
    """The outcome of a call that ended before it was answered, from its SIP status."""
    if code in (408, 480):
        return "no_answer"
    if code in (486, 600, 603):
        return "busy"
    return "failed"


@dataclass(frozen=True, slots=True)
class Task:
    attempt_id: int
    ticket_id: int
    phone: str
    ring_seconds: float = 30.0
    answer_seconds: float = 10.0


def parse_task(raw: bytes | str) -> Task:
    """A task from the queue; ValueError for anything that is not one."""
    try:
        data = json.loads(raw)
        phone = str(data["phone"]).strip()
        task = Task(
            attempt_id=int(data["attempt_id"]),
            ticket_id=int(data.get("ticket_id") or 0),
            phone=phone,
            ring_seconds=float(data.get("ring_seconds") or 30),
            answer_seconds=float(data.get("answer_seconds") or 10),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a survey task: {exc}") from exc
    if not (phone.lstrip("+").isdigit() and 3 <= len(phone) <= 20):
        raise ValueError(f"not a phone number: {phone!r}")
    if task.ring_seconds <= 0 or task.answer_seconds <= 0:
        raise ValueError("ring_seconds and answer_seconds must be positive")
    return task


_EVENT_8K = re.compile(r"^a=rtpmap:(\d+) telephone-event/8000\s*$", re.MULTILINE)


def dtmf_as_101(sdp: str) -> str:
    """Our offer with telephone-event/8000 as payload type 101, the number most phones and
    gateways (and sipp's DTMF pcaps) use; pjmedia numbers it from 120 upwards. Unchanged
    when there is no such event or 101 is taken."""
    found = _EVENT_8K.search(sdp)
    if found is None or found.group(1) == "101":
        return sdp
    old = found.group(1)
    lines = sdp.splitlines(keepends=True)
    out: list[str] = []
    for line in lines:
        if line.startswith("m=audio "):
            head, *fmts = line.rstrip("\r\n").split(" ")
            if "101" in fmts[2:]:
                return sdp
            fmts = [("101" if i >= 2 and f == old else f) for i, f in enumerate(fmts)]
            line = " ".join([head, *fmts]) + line[len(line.rstrip("\r\n")) :]
        elif line.startswith((f"a=rtpmap:{old} ", f"a=fmtp:{old} ")):
            line = line.replace(f":{old} ", ":101 ", 1)
        out.append(line)
    return "".join(out)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def prompt_path(prompts_dir: Path, text: str) -> Path:
    """Prompts are cached by their text: a changed text is spoken again."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]  # noqa: S324 - a file name
    return prompts_dir / f"survey-{digest}.wav"


def speak(path: Path, text: str) -> Path:
    """Speak a prompt into a WAV with espeak-ng (Mandarin); a chime when it is missing."""
    if path.exists():
        return path
    return speak_wav(path, text)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


@dataclass(frozen=True, slots=True)
class SurveyConfig:
    name: str  # "survey1": registered as sip:survey1@edge_host
    sip_port: int
    rtp_port: int = 0  # 0: pjsua2's default
    edge_host: str = "127.0.0.1"
    edge_port: int = 5060
    redis_url: str = "redis://127.0.0.1:6379/0"
    max_calls: int = 4  # 1..4: pjsua2 is built with PJSUA_MAX_CALLS = 4
    prompts_dir: str = "instance/prompts"
    log_level: int = 1
    caller_name: str = "12345"  # the From display name the citizen's phone shows
    tasks_key: str = TASKS_KEY
    password: str | None = None  # its SIP password (系统管理 → 话机账号); None: refused
    # As a seat's (SeatConfig): "tls" reaches the edge's tls_port, checked with tls_ca_file.
    transport: str = "udp"
    tls_port: int = 0
    tls_ca_file: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.max_calls <= 4:
            raise ValueError("max_calls must be 1..4 (pjsua2 holds at most 4 calls)")
        check_transport(self.transport, self.tls_port, self.tls_ca_file)


@dataclass(slots=True)
class _Survey:
    """One survey call: the task, pjsua2's Call and where the script is."""

    task: Task
    call: Any
    ring_until: float
    audio: Any = None
    player: Any = None
    playing: Any = None  # the player currently transmitting to the call
    confirmed: bool = False
    gone: bool = False
    status: int | None = None
    reason: str = ""
    answered_at: str | None = None
    step: int = -1  # index into QUESTIONS; len(QUESTIONS): goodbye; -1: not started
    tries: int = 0  # how often the current question was played
    prompt_end: float = 0.0
    hangup_at: float | None = None
    digits: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    outcome: str | None = None  # decided by us (hang-up reasons); else from the ending
    detail: str = ""
    reported: bool = False


class _Reporter:
    """Hands events to `report` on a worker thread: a slow database never stalls the loop."""

    def __init__(self, report: Callable[[dict[str, Any]], None]) -> None:
        self._report = report
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="survey-report", daemon=True)
        self._thread.start()

    def put(self, event: dict[str, Any]) -> None:
        log.info("survey event %s", event)
        self._queue.put(event)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self._report(event)
            except Exception:  # noqa: BLE001 - one lost event must not end the survey
                log.exception("could not report survey event %s", event)

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)


def run_survey(  # noqa: C901, PLR0915 - one loop owns pjsua2
    cfg: SurveyConfig, report: Callable[[dict[str, Any]], None]
) -> None:
    import pjsua2 as pj
    import redis

    stop = False
    registered = [False]
    surveys: list[_Survey] = []
    reporter = _Reporter(report)

    prompts_dir = Path(cfg.prompts_dir)
    prompts = [speak(prompt_path(prompts_dir, q.text), q.text) for q in QUESTIONS]
    prompts.append(speak(prompt_path(prompts_dir, GOODBYE), GOODBYE))
    lengths = [wav_seconds(p) for p in prompts]

    def survey_of(call: Any) -> _Survey | None:
        for s in surveys:
            if s.call is call:
                return s
        return None

    class SurveyCall(pj.Call):  # type: ignore[misc]
        def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2's names
            info = self.getInfo()
            s = survey_of(self)
            log.info("survey %s call %s: %s", cfg.name, info.callIdString, info.stateText)
            if s is None:
                return
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not s.confirmed:
                s.confirmed = True
                s.answered_at = utc_now()
                s.status = 200
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                s.gone = True
                if not s.confirmed:
                    s.status = int(info.lastStatusCode)
                    s.reason = str(info.lastReason)

        def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
            s = survey_of(self)
            if s is None:
                return
            s.audio = active_audio(pj, self)

        def onCallSdpCreated(self, prm: Any) -> None:  # noqa: N802
            if not prm.remSdp.wholeSdp:  # our offer (an answer keeps the offer's numbers)
                prm.sdp.wholeSdp = dtmf_as_101(prm.sdp.wholeSdp)

        def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
            s = survey_of(self)
            if s is not None:
                log.info("survey %s: key %s", cfg.name, prm.digit)
                s.digits.append(str(prm.digit))

    class SurveyAccount(pj.Account):  # type: ignore[misc]
        def onRegState(self, prm: Any) -> None:  # noqa: N802
            log.info("survey %s registration: %s %s", cfg.name, prm.code, prm.reason)
            registered[0] = int(prm.code) // 100 == 2

        def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
            call = pj.Call(self, prm.callId)  # nobody calls a survey line
            op = pj.CallOpParam()
            op.statusCode = 603
            call.hangup(op)

    def on_signal(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ep = start_endpoint(
        pj,
        cfg.sip_port,
        cfg.log_level,
        cfg.max_calls,
        edge_host=cfg.edge_host,
        transport=cfg.transport,
        tls_ca_file=cfg.tls_ca_file,
    )
    for codec in ep.codecEnum2():  # G.711 only: what a telephone network speaks
        keep = codec.codecId.split("/")[0] in ("PCMU", "PCMA")
        ep.codecSetPriority(codec.codecId, codec.priority if keep else 0)

    acc_cfg = pj.AccountConfig()
    acc_cfg.idUri = f'"{cfg.caller_name}" <sip:{cfg.name}@{cfg.edge_host}>'
    reach_edge(
        acc_cfg, cfg.edge_host, cfg.edge_port, cfg.tls_port if cfg.transport == "tls" else None
    )
    acc_cfg.regConfig.timeoutSec = 300
    # A failed registration (edge or app not up yet, 503) is tried again within seconds.
    acc_cfg.regConfig.firstRetryIntervalSec = 2
    acc_cfg.regConfig.retryIntervalSec = 10
    if cfg.password is not None:
        acc_cfg.sipConfig.authCreds.append(digest_credentials(pj, cfg.name, cfg.password))
    if cfg.rtp_port:
        acc_cfg.mediaConfig.transportConfig.port = cfg.rtp_port
        acc_cfg.mediaConfig.transportConfig.portRange = RTP_PORT_RANGE
    account: Any = SurveyAccount()
    account.create(acc_cfg)
    log.info("survey %s up on %s port %s", cfg.name, cfg.transport, cfg.sip_port)

    conn = redis.Redis.from_url(cfg.redis_url)
    pop_after = 0.0  # no task is popped before then (Redis down, no free call slot)

    def result(s: _Survey) -> None:
        if s.reported:
            return
        s.reported = True
        if s.outcome is not None:
            outcome = s.outcome
        elif s.confirmed:
            done = all(q.key in s.answers for q in QUESTIONS)
            outcome = "answered" if done else "hung_up"
            s.detail = s.detail or ("" if done else "citizen hung up")
        else:
            outcome = outcome_for_status(s.status or 0)
            s.detail = s.detail or f"{s.status} {s.reason}".strip()
        reporter.put(
            {
                "type": "result",
                "attempt_id": s.task.attempt_id,
                "worker": cfg.name,
                "outcome": outcome,
                "answers": dict(s.answers),
                "sip_status": s.status,
                "answered_at": s.answered_at,
                "ended_at": utc_now(),
                "detail": s.detail,
            }
        )

    def end(s: _Survey, outcome: str | None, detail: str) -> None:
        """Hang up (or cancel) one of our calls; its result is reported when it is gone."""
        if outcome is not None and s.outcome is None:
            s.outcome, s.detail = outcome, detail
        s.hangup_at = None
        if s.gone:
            return
        try:
            s.call.hangup(pj.CallOpParam(True))
        except pj.Error as exc:
            log.warning("survey %s: hang-up failed: %s", cfg.name, exc.info())

    def play(s: _Survey, index: int) -> None:
        """Play prompt `index` (a question, or the goodbye) to the citizen from its start."""
        mute(s)
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(prompts[index]), pj.PJMEDIA_FILE_NO_LOOP)
        s.player = player  # the previous one is dropped here, after its transmit stopped
        player.startTransmit(s.audio)
        s.playing = player
        s.prompt_end = time.monotonic() + lengths[index]

    def mute(s: _Survey) -> None:
        if s.playing is not None and s.audio is not None:
            try:
                s.playing.stopTransmit(s.audio)
            except pj.Error:
                pass  # the call's port went with it
        s.playing = None

    def ask(s: _Survey, step: int) -> None:
        if step != s.step:
            s.step, s.tries = step, 0
        s.tries += 1
        s.digits.clear()
        if step < len(QUESTIONS):
            play(s, step)
        else:
            play(s, len(QUESTIONS))  # goodbye, then hang up
            s.hangup_at = s.prompt_end + 0.5

    def script(s: _Survey, now: float) -> None:
        """Move one answered call's script along: keys, timeouts, the next prompt."""
        if s.audio is None or s.hangup_at is not None:
            return
        if s.step < 0:
            ask(s, 0)
            return
        question = QUESTIONS[s.step]
        while s.digits:
            key = s.digits.pop(0)
            if key in question.valid:
                s.answers[question.key] = key
                ask(s, s.step + 1)
                return
            log.info("survey %s: key %s is no answer to %s", cfg.name, key, question.key)
            retry(s, f"no valid key for {question.key}")
            return
        if now >= s.prompt_end + s.task.answer_seconds:
            retry(s, f"no key for {question.key}")

    def retry(s: _Survey, why: str) -> None:
        if s.tries < 2:
            ask(s, s.step)
        else:
            mute(s)
            end(s, "hung_up", why)

    def dial(task: Task, raw: bytes) -> None:
        nonlocal pop_after
        call = SurveyCall(account)
        at = utc_now()
        s = _Survey(task, call, ring_until=time.monotonic() + task.ring_seconds)
        surveys.append(s)
        try:
            call.makeCall(f"sip:{task.phone}@{cfg.edge_host}:{cfg.edge_port}", pj.CallOpParam(True))
        except pj.Error as exc:
            if exc.status == _PJ_ETOOMANY:
                # pjsua frees an ended call's slot a moment after DISCONNECTED: the task goes
                # back to the head of the queue, untouched, and is tried again shortly.
                surveys.remove(s)
                conn.lpush(cfg.tasks_key, raw)
                pop_after = time.monotonic() + 0.2
                return
            log.warning("survey %s: could not dial %s: %s", cfg.name, task.phone, exc.info())
            s.gone = True
            s.outcome, s.detail = "failed", f"could not dial: {exc.reason}"
        reporter.put(
            {"type": "calling", "attempt_id": task.attempt_id, "worker": cfg.name, "at": at}
        )

    def next_task() -> tuple[Task, bytes] | None:
        nonlocal pop_after
        if time.monotonic() < pop_after:
            return None
        try:
            popped = conn.lpop(cfg.tasks_key)
        except redis.RedisError as exc:
            log.warning("survey %s: redis: %s", cfg.name, exc)
            pop_after = time.monotonic() + 2
            return None
        if popped is None:
            return None
        raw = popped if isinstance(popped, bytes) else str(popped).encode()
        try:
            return parse_task(raw), raw
        except ValueError as exc:
            log.error("survey %s: task %r dropped: %s", cfg.name, raw[:200], exc)
            attempt = _attempt_id(raw)
            if attempt is not None:
                reporter.put(
                    {"type": "calling", "attempt_id": attempt, "worker": cfg.name, "at": utc_now()}
                )
                reporter.put(
                    {
                        "type": "result", "attempt_id": attempt, "worker": cfg.name,
                        "outcome": "failed", "answers": {}, "sip_status": None,
                        "answered_at": None, "ended_at": utc_now(), "detail": str(exc),
                    }
                )  # fmt: skip
            return None

    def drop_ended() -> None:
        """Report ended calls and let them go: their prompt's path, then the player and the
        Call, from this loop, never inside a callback; before dialling, so a call is over
        (and reported) before the next one takes its place."""
        for s in [g for g in surveys if g.gone]:
            result(s)
            surveys.remove(s)
            mute(s)
            s.player = None
            s.audio = None

    def tick(now: float) -> None:
        """Ring timeouts, the goodbye's hang-up and each answered call's script."""
        for s in surveys:
            if s.gone:
                continue
            if not s.confirmed:
                if now >= s.ring_until and s.outcome is None:
                    end(s, "no_answer", f"not answered within {s.task.ring_seconds:g} s")
                continue
            if s.hangup_at is not None and now >= s.hangup_at:
                end(s, None, "")
                continue
            try:
                script(s, now)
            except pj.Error as exc:
                log.warning("survey %s: prompt failed: %s", cfg.name, exc.info())
                end(s, "failed", f"prompt failed: {exc.reason}")

    def stop_calls() -> None:
        """Stopping: hang up every live call and report it (a finished script stays answered)."""
        for s in surveys:
            complete = all(q.key in s.answers for q in QUESTIONS)
            end(s, None if complete else "failed", STOPPED)
        deadline = time.monotonic() + 3
        while any(not s.gone for s in surveys) and time.monotonic() < deadline:
            ep.libHandleEvents(20)
        for s in surveys:
            mute(s)
            result(s)

    try:
        while not stop:
            ep.libHandleEvents(20)
            drop_ended()
            if registered[0] and len(surveys) < cfg.max_calls:
                popped = next_task()
                if popped is not None:
                    dial(*popped)
            tick(time.monotonic())
    finally:
        # Helpers hold no Call past their return: every Call is gone before libDestroy().
        stop_calls()
        ep.hangupAllCalls()
        for _ in range(10):
            ep.libHandleEvents(20)
        surveys.clear()  # the players stopped transmitting in stop_calls()
        account.shutdown()
        account = None
        ep.libDestroy()
        conn.close()
        reporter.close()


def _attempt_id(raw: bytes | str) -> int | None:
    try:
        return int(json.loads(raw)["attempt_id"])
    except (ValueError, TypeError, KeyError):
        return None


def jsonl_report(path: str) -> Callable[[dict[str, Any]], None]:
    """A report that appends each event as a JSON line (tests, and running without a DB)."""
    lock = threading.Lock()

    def report(event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False)
        with lock, open(path, "a", encoding="utf-8") as out:  # noqa: PTH123
            out.write(line + "\n")

    return report
