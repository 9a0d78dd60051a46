"""The ACD (automatic call distribution): seats, agent states, the queue, routing decisions.

All state lives in Redis so that every web process (and Kamailio asking any of them) sees the
same hall. Each operation is one Lua script (`callcenter.acd.scripts`), so a seat is never
given two calls and a call never two seats, whichever process asks. Every change is appended to
the stream `<prefix>events`, from which call records and call KPIs are computed. The keys are
spelled, and each documented, in `callcenter.acd.keys` (`Acd.keys`).

Routing is first-come, first-served with reservation: whenever anyone asks, the waiting calls
are matched oldest first to the best free seat for each (the seat must have the call's skill
and must not have missed it already; lower penalty first, then longest idle). A call that asks
again finds the seat reserved for it. A call waiting longer than `max_wait_seconds` overflows
(busy, and a missed-call record for call-back). A seat that does not answer goes back to the
pool, or to not-ready after `max_misses` misses in a row, and the call is matched again. A
seat the edge could not reach (its softphone not registered, or silent) is no miss: it is set
aside (not ready, reason `unreachable`) until its softphone reports that it is registered.

Presence: a seat signed in from an operator's console (`login(console=True)`) is only given
calls while that console is alive: the console renews `<prefix>alive:<seat>` (a key that
expires after `console_grace_seconds`) over its live connection. A seat whose key has
expired, because the browser was closed or the network lost, is set offline (reason
`console_lost`) before any call is matched, and by `sweep_absent`. Signing out of the web app
signs the seat out (at the end of its call, if it is in one).

Kamailio asks through the web app (`/acd/...`, next step); seats report through it too.
Kamailio reports each answer and end once; the seats' softphones report the same facts about
their own calls again until the web app has them (`seat_sync`), so calls answered or ended
while the web app was away still get their answer and end. Every report may come twice: a
repeat changes nothing.
"""

import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis

from callcenter.acd import scripts
from callcenter.acd.keys import DEFAULT_PREFIX
from callcenter.acd.keys import AcdKeys


class AgentState(StrEnum):
    OFFLINE = "offline"
    READY = "ready"  # 就绪: free, in the pool
    NOT_READY = "not_ready"  # 示忙: with a reason
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"  # 话后整理: back to ready after wrap_up_seconds, or by hand


class NotReadyReason(StrEnum):
    BREAK = "break"  # 小休
    MEAL = "meal"  # 就餐
    TRAINING = "training"  # 培训
    AFTER_CALL_WORK = "after_call_work"  # 话后处理
    MISSED = "missed"  # set by the ACD after missed calls
    # set by the ACD: the edge could not reach the seat's softphone (not registered, no
    # reply). Not a miss; the seat takes calls again when its softphone reports (`reachable`).
    UNREACHABLE = "unreachable"
    SUPERVISOR = "supervisor"  # forced by a supervisor
    # set by the ACD: the operator's browser headset (the agent leg) was lost
    HEADSET = "headset"


class CallState(StrEnum):
    QUEUED = "queued"
    RINGING = "ringing"
    TALKING = "talking"
    ENDED = "ended"
    ABANDONED = "abandoned"  # the caller hung up before an answer
    OVERFLOW = "overflow"  # waited too long: busy, call-back task


@dataclass(frozen=True, slots=True)
class AcdConfig:
    max_wait_seconds: float = 60.0
    max_misses: int = 2
    stale_ring_seconds: float = 60.0  # a reservation nobody came for is released after this
    wrap_up_seconds: float = 15.0
    retry_ms: int = 1000  # how soon a waiting call should ask again
    # a console seat whose console has not been heard from for this long takes no calls
    console_grace_seconds: float = 20.0
    # how often seat softphones report their calls (`seat_sync`): a talking call a seat does
    # not hold is ended as unreported only once it is older than this
    seat_sync_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a call now: ring `seat`, wait and ask again, or give up (overflow)."""

    action: str  # "ring", "wait", "overflow", "gone"
    call_id: str
    seat: str | None = None
    agent: str | None = None
    retry_ms: int | None = None


class AcdError(Exception):
    """An operation the hall's state does not allow (unknown seat, wrong state)."""


class Acd:
    """The hall's state in Redis and the operations on it (one Lua script each)."""

    def __init__(
        self,
        conn: "redis.Redis",
        config: AcdConfig | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.r = conn
        self.config = config or AcdConfig()
        self.prefix = prefix
        self.keys = AcdKeys(prefix)
        self.clock = clock
        self._route = conn.register_script(scripts.ROUTE)
        self._no_answer = conn.register_script(scripts.NO_ANSWER)
        self._answered = conn.register_script(scripts.ANSWERED)
        self._ended = conn.register_script(scripts.ENDED)
        self._set_state = conn.register_script(scripts.SET_STATE)
        self._sweep_absent = conn.register_script(scripts.SWEEP_ABSENT)
        self._reachable = conn.register_script(scripts.REACHABLE)
        self._seat_sync = conn.register_script(scripts.SEAT_SYNC)
        self._reset = conn.register_script(scripts.RESET)

    # ------------------------------------------------------------------ agents

    def login(
        self,
        seat: str,
        agent: str,
        skills: tuple[str, ...] = (),
        penalty: int = 0,
        user_id: int | None = None,
        *,
        console: bool = False,
    ) -> None:
        """An agent logs in to a seat; not ready until they say ready.

        `console`: signed in from an operator's console, which must keep the seat alive
        (`alive`) for it to take calls.

        :raises AcdError: the seat is in a call.
        """
        key = self.keys.seat(seat)
        now = self.clock()
        if _s(self.r.hget(key, "state") or "") in (AgentState.RINGING, AgentState.TALKING):
            raise AcdError("seat is busy with a call")
        self.r.hset(
            key,
            mapping={
                "agent": agent,
                "state": AgentState.NOT_READY.value,
                "reason": "",
                "since": now,
                "skills": ",".join(skills),
                "penalty": penalty,
                "misses": 0,
                "user_id": "" if user_id is None else user_id,
                "console": "1" if console else "",
            },
        )
        # A new sign-in: no order waiting, and the last sign-in's headset password is void.
        self.r.hdel(key, "pending", "headset_ha1", "headset_user")
        self.r.zrem(self.keys.idle, seat)  # signed in anew: not ready until they say so
        if console:
            self.alive(seat)
        self.r.sadd(self.keys.seats, seat)
        self._event("login", seat=seat, agent=agent)

    def alive(self, seat: str) -> bool:
        """The seat's console is there: keep the seat taking calls for another grace period.

        Returns whether the seat is signed in (an offline seat is not revived: its operator
        signs in again).
        """
        state = _s(self.r.hget(self.keys.seat(seat), "state") or "")
        if state in ("", AgentState.OFFLINE):
            return False
        grace_ms = max(1, int(self.config.console_grace_seconds * 1000))
        self.r.set(self.keys.alive(seat), "1", px=grace_ms)
        return True

    def sweep_absent(self) -> list[str]:
        """Set offline every console seat, not in a call, whose console has gone quiet."""
        gone = self._run(self._sweep_absent)
        return list(gone) if isinstance(gone, list) else []

    def ready(self, seat: str) -> None:
        self._change(seat, AgentState.READY, "")

    def not_ready(self, seat: str, reason: NotReadyReason) -> str:
        """Set not ready; a supervisor's order on a busy seat waits for the call's end."""
        return self._change(seat, AgentState.NOT_READY, reason.value)

    def logout(self, seat: str, *, signed_out: bool = False) -> str:
        """签出. `signed_out`: the operator left the web app; a seat in a call goes offline
        when the call ends (returns "pending")."""
        outcome = self._change(seat, AgentState.OFFLINE, "signed_out" if signed_out else "")
        self.r.delete(self.keys.alive(seat))
        return outcome

    def _change(self, seat: str, state: AgentState, reason: str) -> str:
        outcome = str(self._run(self._set_state, seat, state.value, reason))
        if outcome not in ("ok", "pending"):
            raise AcdError(outcome)
        return outcome

    # ------------------------------------------------------------------ calls

    def route(self, call_id: str, caller: str = "", skill: str = "") -> Decision:
        """A new call, or a waiting one asking again: ring a seat, wait, or overflow."""
        c = self.config
        out = self._run(self._route, call_id, caller, skill, c.max_wait_seconds, c.retry_ms)
        decision = _decision(out)
        self._watch(call_id, open_=decision.action in ("wait", "ring"))
        return decision

    def no_answer(self, call_id: str, seat: str, *, unreachable: bool = False) -> Decision:
        """The seat did not take the call: a miss (it rang out), or `unreachable` (the edge
        could not reach its softphone: no miss; the seat is set not ready with reason
        "unreachable" until `reachable`). Either way the call is matched again."""
        out = self._run(
            self._no_answer,
            call_id,
            seat,
            self.config.max_misses,
            self.config.retry_ms,
            "1" if unreachable else "",
        )
        if out[0] == "error":
            raise AcdError(out[1])
        self._watch(call_id, open_=True)
        return _decision(out)

    def heard_from(self, seat: str, *, registered: bool) -> None:
        """The seat's softphone reported (`/acd/seat_sync`): it runs, and is or is not
        registered at the edge. Remembered for three sync intervals (`softphones`)."""
        ttl_ms = max(1, int(self.config.seat_sync_seconds * 3 * 1000))
        self.r.set(self.keys.softphone(seat), "1" if registered else "0", px=ttl_ms)

    def softphones(self) -> dict[str, bool]:
        """The seats whose softphone was heard from lately, and whether it is registered."""
        cut = len(self.keys.softphone(""))
        keys = [_s(k) for k in self.r.scan_iter(match=self.keys.softphone("*"), count=500)]
        values = self.r.mget(keys) if keys else []
        return {k[cut:]: _s(v) == "1" for k, v in zip(keys, values, strict=True) if v is not None}

    def reachable(self, seat: str) -> bool:
        """The seat's softphone is registered again: a seat set aside as unreachable takes
        calls again (no other state changes). Returns whether it did."""
        return str(self._run(self._reachable, seat)) == "1"

    def answered(self, call_id: str, seat: str, at: float | None = None) -> None:
        """The seat answered the call ringing at it, `at` (epoch seconds; None: now).

        A time reported late is kept between the start of the ringing and now. Told again
        (the edge and the seat both report an answer) it changes nothing.

        :raises AcdError: the call is not ringing (nor talking) at this seat.
        """
        outcome = self._run(self._answered, call_id, seat, _when(at))
        if outcome != "ok":
            raise AcdError(outcome)
        self._watch(call_id, open_=False)  # a talking call ends by BYE or the keepalive

    def ended(self, call_id: str, by: str = "", at: float | None = None) -> str:
        """The call ended (hang-up, or CANCEL while waiting or ringing: abandoned); its final
        state. A call that had ended already stays as it was (one end, however many reports).

        `by` is who ended it: "caller", "seat" (a seat that had handed the call on with a
        blind transfer: "transfer"), "lost" (the seat's softphone stopped answering; the
        seat goes offline), or "edge" (the SIP edge forgot a waiting call: `forgotten`).
        `at` is when (epoch seconds; None: now), kept between the answer (or the ringing, or
        the offer) and now.

        :raises AcdError: the call is unknown.
        """
        wrap = self.config.wrap_up_seconds
        by = by if by in _BY else ""
        outcome = str(self._run(self._ended, call_id, wrap, by, _when(at)))
        self._watch(call_id, open_=False)
        if outcome not in ("ok", "repeat"):
            raise AcdError(outcome)
        return str(self.call(call_id)["state"])

    def seat_sync(
        self, seat: str, calls: Sequence["ReportedCall"], as_of: float | None = None
    ) -> list[str]:
        """Apply what the seat's softphone says of its calls (`callcenter.acd.seatsync`); the
        calls changed. Only calls of this seat are touched:

        - ringing here, and the seat answered it: answered at the seat's time;
        - talking here, and the seat says it ended: ended at that time, by whom it says;
        - closed by the ACD itself for want of reports (released as stale, or `forgotten`)
          while the seat answered it: answered after all (talking again, or ended);
        - talking here, and the seat does not hold it at all (its softphone restarted, or the
          end was never reported): ended now, by "unreported", if it was answered before the
          seat's report was taken (`as_of`) and more than `seat_sync_seconds` ago.

        Repeating a report changes nothing.
        """
        quiet = self.clock() - self.config.seat_sync_seconds
        if as_of is not None:
            quiet = min(quiet, as_of)
        args: list[Any] = []
        for c in calls:
            args += [c.call_id, _when(c.answered_at), _when(c.ended_at), c.by]
        wrap = self.config.wrap_up_seconds
        changed = self._run(self._seat_sync, seat, wrap, quiet, *args)
        for call_id in changed:
            self._watch(call_id, open_=False)
        return list(changed)

    def reset(self, seat: str) -> str:
        """复位: free a seat stuck ringing or talking. Its call (returned; "" when the seat held
        none) is ended, by "supervisor_reset", and the seat set not ready (reason supervisor),
        or offline if its operator had signed out during the call.

        :raises AcdError: the seat is not in a call.
        """
        status, call_id = self._run(self._reset, seat)
        if status != "ok":
            raise AcdError("seat is not in a call")
        if call_id:
            self._watch(call_id, open_=False)
        return str(call_id)

    def forgotten(self) -> list[str]:
        """Calls waiting or ringing that the edge has not spoken of for `stale_ring_seconds`.

        A waiting call asks again every few seconds and a ringing one is reported within the
        ring time; one that went quiet was dropped by the edge (its transaction lost under
        overload, say). Each call is handed to one caller of this method only; close it with
        `ended(call, by="edge")` so that it still gets a final record.
        """
        key = self.keys.open
        stale: list[Any] = list(
            self.r.zrangebyscore(key, "-inf", self.clock() - self.config.stale_ring_seconds)
        )
        return [_s(c) for c in stale if self.r.zrem(key, c)]

    def _watch(self, call_id: str, *, open_: bool) -> None:
        key = self.keys.open
        if open_:
            self.r.zadd(key, {call_id: self.clock()})
        else:
            self.r.zrem(key, call_id)

    # ------------------------------------------------------------------ reading

    def seat(self, seat: str) -> dict[str, str]:
        return _text(self.r.hgetall(self.keys.seat(seat)))

    def call(self, call_id: str) -> dict[str, str]:
        return _text(self.r.hgetall(self.keys.call(call_id)))

    def seats(self) -> list[str]:
        """Every seat ever signed in (in any state), by name."""
        return sorted(_s(x) for x in self.r.smembers(self.keys.seats))

    def queue(self) -> list[str]:
        return [_s(x) for x in self.r.zrange(self.keys.queue, 0, -1)]

    def events(self) -> list[dict[str, str]]:
        entries: Any = self.r.xrange(self.keys.events)
        return [_text(fields) for _, fields in entries]

    # ------------------------------------------------------------------ plumbing

    def _run(self, script: Any, *args: Any) -> Any:
        result = script(args=[self.prefix, self.clock(), self.config.stale_ring_seconds, *args])
        if isinstance(result, list):
            return [_s(x) for x in result]
        return _s(result)

    def _event(self, kind: str, **fields: str) -> None:
        entry: dict[Any, Any] = {"type": kind, "at": str(self.clock()), **fields}
        self.r.xadd(self.keys.events, entry, maxlen=100_000, approximate=True)


_BY = ("caller", "seat", "lost", "edge")


@dataclass(frozen=True, slots=True)
class ReportedCall:
    """One call as a seat's softphone reports it: when it was answered and ended (epoch
    seconds, None: not yet) and who ended it ("seat", "caller", or "")."""

    call_id: str
    answered_at: float | None = None
    ended_at: float | None = None
    by: str = ""


def _when(at: float | None) -> str:
    return "" if at is None else repr(float(at))


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _text(mapping: Any) -> dict[str, str]:
    return {_s(k): _s(v) for k, v in mapping.items()}


def _decision(out: list[str]) -> Decision:
    action, call, seat, agent, retry = out
    return Decision(action, call, seat or None, agent or None, int(retry) if retry else None)
