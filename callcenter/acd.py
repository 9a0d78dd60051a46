"""The ACD (automatic call distribution): seats, agent states, the queue, routing decisions.

All state lives in Redis so that every web process (and Kamailio asking any of them) sees the
same hall. Each operation is one Lua script, so a seat is never given two calls and a call
never two seats, whichever process asks. Every change is appended to the stream `<prefix>events`,
from which call records and call KPIs are computed.

Routing is first-come, first-served with reservation: whenever anyone asks, the waiting calls
are matched oldest first to the best free seat for each (the seat must have the call's skill
and must not have missed it already; lower penalty first, then longest idle). A call that asks
again finds the seat reserved for it. A call waiting longer than `max_wait_seconds` overflows
(busy, and a missed-call record for call-back). A seat that does not answer goes back to the
pool, or to not-ready after `max_misses` misses in a row, and the call is matched again.

Presence: a seat signed in from an operator's console (`login(console=True)`) is only given
calls while that console is alive: the console renews `<prefix>alive:<seat>` (a key that
expires after `console_grace_seconds`) over its live connection. A seat whose key has
expired, because the browser was closed or the network lost, is set offline (reason
`console_lost`) before any call is matched, and by `sweep_absent`. Signing out of the web app
signs the seat out (at the end of its call, if it is in one).

Kamailio asks through the web app (`/acd/...`, next step); seats report through it too.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis


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
    SUPERVISOR = "supervisor"  # forced by a supervisor


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


# Shared Lua: move wrap-up seats whose time is over back to the pool, then match waiting
# calls oldest first to the best free seat each.
_MATCH = """
local function seat_key(seat) return P .. 'seat:' .. seat end
local function call_key(id) return P .. 'call:' .. id end
local function emit(kind, fields)
  local args = {P .. 'events', 'MAXLEN', '~', 100000, '*', 'type', kind, 'at', NOW}
  for k, v in pairs(fields) do table.insert(args, k); table.insert(args, tostring(v)) end
  redis.call('XADD', unpack(args))
end
local function has_skill(seat, skill)
  if not skill or skill == '' then return true end
  local skills = redis.call('HGET', seat_key(seat), 'skills') or ''
  for s in string.gmatch(skills, '[^,]+') do if s == skill then return true end end
  return false
end
local function tried(call, seat)
  local list = redis.call('HGET', call_key(call), 'tried') or ''
  for s in string.gmatch(list, '[^,]+') do if s == seat then return true end end
  return false
end
local function wake_wrapped()
  local done = redis.call('ZRANGEBYSCORE', P .. 'wrapup', '-inf', NOW)
  for _, seat in ipairs(done) do
    redis.call('ZREM', P .. 'wrapup', seat)
    redis.call('HSET', seat_key(seat), 'state', 'ready', 'since', NOW)
    redis.call('ZADD', P .. 'idle', NOW, seat)
    emit('agent_state', {seat = seat, state = 'ready', reason = 'wrap_up_over'})
  end
end
-- A seat given to a call that never came for it (the caller's side failed) is not kept
-- ringing forever: after STALE seconds it goes back to the pool and the call is closed.
local function release_stale()
  local stale = redis.call('ZRANGEBYSCORE', P .. 'ringing', '-inf', NOW - STALE)
  for _, seat in ipairs(stale) do
    redis.call('ZREM', P .. 'ringing', seat)
    local call = redis.call('HGET', seat_key(seat), 'call')
    if call and redis.call('HGET', call_key(call), 'state') == 'ringing' then
      redis.call('HSET', call_key(call), 'state', 'abandoned', 'ended_at', NOW)
      emit('stale', {call = call, seat = seat})
    end
    redis.call('HDEL', seat_key(seat), 'call')
    redis.call('HSET', seat_key(seat), 'state', 'ready', 'since', NOW)
    redis.call('ZADD', P .. 'idle', NOW, seat)
    emit('agent_state', {seat = seat, state = 'ready', reason = 'stale'})
  end
end
-- A seat signed in from a console whose console has gone quiet (browser closed, network
-- lost): offline, so that no call rings an empty seat.
local function absent(seat)
  return redis.call('HGET', seat_key(seat), 'console') == '1'
     and redis.call('EXISTS', P .. 'alive:' .. seat) == 0
end
local function go_offline(seat, reason)
  redis.call('ZREM', P .. 'idle', seat)
  redis.call('ZREM', P .. 'wrapup', seat)
  local skey = seat_key(seat)
  if redis.call('HGET', skey, 'state') == 'wrap_up' then
    local last = redis.call('HGET', skey, 'last_call')
    if last then redis.call('HSET', call_key(last), 'wrapped_at', NOW) end
  end
  redis.call('HDEL', skey, 'pending')
  redis.call('HSET', skey, 'state', 'offline', 'reason', reason, 'since', NOW)
  emit('agent_state', {seat = seat, state = 'offline', reason = reason})
end
local function release_absent()
  local idle = redis.call('ZRANGE', P .. 'idle', 0, -1)
  for _, seat in ipairs(idle) do
    if absent(seat) then go_offline(seat, 'console_lost') end
  end
end
local function match()
  release_stale()
  wake_wrapped()
  release_absent()
  local calls = redis.call('ZRANGE', P .. 'queue', 0, -1)
  for _, call in ipairs(calls) do
    local idle = redis.call('ZRANGE', P .. 'idle', 0, -1, 'WITHSCORES')
    if #idle == 0 then return end
    local skill = redis.call('HGET', call_key(call), 'skill')
    local best, best_penalty, best_idle = nil, nil, nil
    for i = 1, #idle, 2 do
      local seat, since = idle[i], tonumber(idle[i + 1])
      if has_skill(seat, skill) and not tried(call, seat) then
        local penalty = tonumber(redis.call('HGET', seat_key(seat), 'penalty') or '0')
        if best == nil or penalty < best_penalty
           or (penalty == best_penalty and since < best_idle) then
          best, best_penalty, best_idle = seat, penalty, since
        end
      end
    end
    if best ~= nil then
      local agent = redis.call('HGET', seat_key(best), 'agent')
      redis.call('ZREM', P .. 'idle', best)
      redis.call('ZREM', P .. 'queue', call)
      redis.call('HSET', seat_key(best), 'state', 'ringing', 'since', NOW, 'call', call)
      redis.call('ZADD', P .. 'ringing', NOW, best)
      redis.call('HSET', call_key(call), 'state', 'ringing', 'seat', best, 'agent', agent,
                 'rang_at', NOW)
      emit('route', {call = call, seat = best, agent = agent})
      emit('agent_state', {seat = best, state = 'ringing', call = call})
    end
  end
end
"""

# KEYS: none (prefix in ARGV[1]). ARGV: prefix, now, stale, call, caller, skill, max_wait, retry
_ROUTE = (
    """
local P, NOW, STALE = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
"""
    + _MATCH
    + """
local call, caller, skill = ARGV[4], ARGV[5], ARGV[6]
local max_wait, retry = tonumber(ARGV[7]), ARGV[8]
local key = call_key(call)
local state = redis.call('HGET', key, 'state')
if not state then
  redis.call('HSET', key, 'state', 'queued', 'caller', caller, 'skill', skill, 'arrived', NOW,
             'tried', '')
  redis.call('EXPIRE', key, 86400)
  redis.call('ZADD', P .. 'queue', NOW, call)
  emit('offered', {call = call, caller = caller, skill = skill})
  state = 'queued'
end
if state == 'queued' then
  local arrived = tonumber(redis.call('HGET', key, 'arrived'))
  if NOW - arrived >= max_wait then
    redis.call('ZREM', P .. 'queue', call)
    redis.call('HSET', key, 'state', 'overflow', 'ended_at', NOW)
    local who = redis.call('HGET', key, 'caller')
    emit('overflow', {call = call, caller = who, waited = NOW - arrived})
    return {'overflow', call, '', '', ''}
  end
  match()
  state = redis.call('HGET', key, 'state')
end
if state == 'ringing' or state == 'talking' then
  local h = redis.call('HMGET', key, 'seat', 'agent')
  return {'ring', call, h[1], h[2], ''}
end
if state == 'queued' then return {'wait', call, '', '', retry} end
return {'gone', call, '', '', ''}
"""
)

# ARGV: prefix, now, stale, call, seat, max_misses, retry_ms
_NO_ANSWER = (
    """
local P, NOW, STALE = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
"""
    + _MATCH
    + """
local call, seat, max_misses, retry = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local key = call_key(call)
if redis.call('HGET', key, 'state') ~= 'ringing' or redis.call('HGET', key, 'seat') ~= seat then
  return {'error', 'call is not ringing at this seat'}
end
redis.call('ZREM', P .. 'ringing', seat)
local misses = redis.call('HINCRBY', seat_key(seat), 'misses', 1)
redis.call('HDEL', seat_key(seat), 'call')
emit('no_answer', {call = call, seat = seat, misses = misses})
local pending = redis.call('HGET', seat_key(seat), 'pending')
redis.call('HDEL', seat_key(seat), 'pending')
if pending == 'offline' then
  -- the operator signed out while the seat rang
  redis.call('HSET', seat_key(seat), 'state', 'offline', 'reason', 'signed_out', 'since', NOW)
  emit('agent_state', {seat = seat, state = 'offline', reason = 'signed_out'})
elseif pending == 'not_ready' then
  -- a supervisor's not-ready, ordered while the seat rang
  redis.call('HSET', seat_key(seat), 'state', 'not_ready', 'reason', 'supervisor', 'since', NOW)
  emit('agent_state', {seat = seat, state = 'not_ready', reason = 'supervisor'})
elseif misses >= max_misses then
  redis.call('HSET', seat_key(seat), 'state', 'not_ready', 'reason', 'missed', 'since', NOW)
  emit('agent_state', {seat = seat, state = 'not_ready', reason = 'missed'})
else
  redis.call('HSET', seat_key(seat), 'state', 'ready', 'since', NOW)
  redis.call('ZADD', P .. 'idle', NOW, seat)
  emit('agent_state', {seat = seat, state = 'ready', reason = 'no_answer'})
end
local list = redis.call('HGET', key, 'tried') or ''
redis.call('HSET', key, 'state', 'queued', 'tried', list .. seat .. ',', 'seat', '', 'agent', '')
redis.call('ZADD', P .. 'queue', tonumber(redis.call('HGET', key, 'arrived')), call)
match()
local h = redis.call('HMGET', key, 'state', 'seat', 'agent')
if h[1] == 'ringing' then return {'ring', call, h[2], h[3], ''} end
return {'wait', call, '', '', retry}
"""
)

# ARGV: prefix, now, stale, call, seat
_ANSWERED = """
local P, NOW, call, seat = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5]
local key = P .. 'call:' .. call
if redis.call('HGET', key, 'state') ~= 'ringing' or redis.call('HGET', key, 'seat') ~= seat then
  return 'call is not ringing at this seat'
end
redis.call('HSET', key, 'state', 'talking', 'answered_at', NOW)
redis.call('ZREM', P .. 'ringing', seat)
redis.call('HSET', P .. 'seat:' .. seat, 'state', 'talking', 'since', NOW, 'misses', 0)
redis.call('XADD', P .. 'events', 'MAXLEN', '~', 100000, '*', 'type', 'answered', 'at', NOW,
           'call', call, 'seat', seat)
return 'ok'
"""

# ARGV: prefix, now, stale, call, wrap_up_seconds, by (caller, seat, lost or '')
_ENDED = """
local P, NOW, call, wrap, by = ARGV[1], tonumber(ARGV[2]), ARGV[4], tonumber(ARGV[5]), ARGV[6]
local key = P .. 'call:' .. call
local state = redis.call('HGET', key, 'state')
if not state then return 'unknown call' end
local seat = redis.call('HGET', key, 'seat')
local final = 'ended'
if state == 'queued' then
  redis.call('ZREM', P .. 'queue', call)
  final = 'abandoned'
elseif state == 'ringing' then
  final = 'abandoned'
  local skey = P .. 'seat:' .. seat
  redis.call('ZREM', P .. 'ringing', seat)
  redis.call('HDEL', skey, 'call')
  local pending = redis.call('HGET', skey, 'pending')
  redis.call('HDEL', skey, 'pending')
  if pending == 'offline' then
    -- the operator signed out while the seat rang
    redis.call('HSET', skey, 'state', 'offline', 'reason', 'signed_out', 'since', NOW)
  elseif pending == 'not_ready' then
    -- a supervisor's not-ready, ordered while the seat rang
    redis.call('HSET', skey, 'state', 'not_ready', 'reason', 'supervisor', 'since', NOW)
  else
    redis.call('HSET', skey, 'state', 'ready', 'since', NOW)
    redis.call('ZADD', P .. 'idle', NOW, seat)
  end
elseif state == 'talking' then
  local skey = P .. 'seat:' .. seat
  redis.call('HDEL', skey, 'call')
  redis.call('HSET', skey, 'last_call', call)
  if by == 'lost' then
    -- the seat's softphone is gone: nobody is there to wrap up or take the next call
    redis.call('HDEL', skey, 'pending')
    redis.call('HSET', skey, 'state', 'offline', 'reason', 'seat_lost', 'since', NOW)
    redis.call('HSET', key, 'wrapped_at', NOW)
    redis.call('XADD', P .. 'events', 'MAXLEN', '~', 100000, '*', 'type', 'agent_state',
               'at', NOW, 'seat', seat, 'state', 'offline', 'reason', 'seat_lost')
  elseif redis.call('HGET', skey, 'pending') == 'offline' then
    -- the operator signed out during the call: no wrap-up, no next call
    redis.call('HDEL', skey, 'pending')
    redis.call('HSET', skey, 'state', 'offline', 'reason', 'signed_out', 'since', NOW)
    redis.call('HSET', key, 'wrapped_at', NOW)
  elseif redis.call('HGET', skey, 'pending') == 'not_ready' then
    -- a supervisor set this seat not ready during the call
    redis.call('HDEL', skey, 'pending')
    redis.call('HSET', skey, 'state', 'not_ready', 'reason', 'supervisor', 'since', NOW)
    redis.call('HSET', key, 'wrapped_at', NOW)
  else
    redis.call('HSET', skey, 'state', 'wrap_up', 'since', NOW)
    redis.call('ZADD', P .. 'wrapup', NOW + wrap, seat)
    redis.call('HSET', key, 'wrap_until', NOW + wrap)
  end
else
  return 'already ' .. state
end
local reason = by
if redis.call('HEXISTS', key, 'transfer_target') == 1 and by == 'seat' then reason = 'transfer' end
redis.call('HSET', key, 'state', final, 'ended_at', NOW, 'end_reason', reason)
redis.call('XADD', P .. 'events', 'MAXLEN', '~', 100000, '*', 'type', final, 'at', NOW,
           'call', call, 'seat', seat or '', 'by', reason)
return 'ok'
"""

# ARGV: prefix, now, stale, seat, state, reason
_SET_STATE = """
local P, NOW, seat, want, reason = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5], ARGV[6]
local key = P .. 'seat:' .. seat
local state = redis.call('HGET', key, 'state')
if not state or state == 'offline' then return 'seat is not logged in' end
if state == 'ringing' or state == 'talking' then
  if want == 'offline' and reason == 'signed_out' then
    -- signing out of the web app during a call: the seat goes offline when the call ends
    redis.call('HSET', key, 'pending', 'offline')
    return 'pending'
  end
  if want ~= 'not_ready' or reason ~= 'supervisor' then return 'seat is busy with a call' end
  if redis.call('HGET', key, 'pending') == 'offline' then return 'pending' end
  -- a supervisor's not-ready takes effect when the call ends: remember it
  redis.call('HSET', key, 'pending', 'not_ready')
  return 'pending'
end
redis.call('ZREM', P .. 'idle', seat)
if state == 'wrap_up' then
  -- 话后整理 ends now rather than when its time runs out: the call's record says so
  redis.call('ZREM', P .. 'wrapup', seat)
  local last = redis.call('HGET', key, 'last_call')
  if last then redis.call('HSET', P .. 'call:' .. last, 'wrapped_at', NOW) end
end
if want == 'ready' then
  redis.call('HSET', key, 'state', 'ready', 'since', NOW, 'reason', '', 'misses', 0)
  redis.call('ZADD', P .. 'idle', NOW, seat)
elseif want == 'offline' then
  redis.call('HSET', key, 'state', 'offline', 'since', NOW, 'reason', reason)
else
  redis.call('HSET', key, 'state', want, 'since', NOW, 'reason', reason)
end
redis.call('XADD', P .. 'events', 'MAXLEN', '~', 100000, '*', 'type', 'agent_state', 'at', NOW,
           'seat', seat, 'state', want, 'reason', reason)
return 'ok'
"""


# ARGV: prefix, now, stale. Every console seat not in a call whose console went quiet.
_SWEEP_ABSENT = (
    """
local P, NOW, STALE = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
"""
    + _MATCH
    + """
local gone = {}
for _, seat in ipairs(redis.call('SMEMBERS', P .. 'seats')) do
  local state = redis.call('HGET', seat_key(seat), 'state')
  if (state == 'ready' or state == 'not_ready' or state == 'wrap_up') and absent(seat) then
    go_offline(seat, 'console_lost')
    table.insert(gone, seat)
  end
end
return gone
"""
)


class Acd:
    """The hall's state in Redis and the operations on it (one Lua script each)."""

    def __init__(
        self,
        conn: "redis.Redis",
        config: AcdConfig | None = None,
        *,
        prefix: str = "acd:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.r = conn
        self.config = config or AcdConfig()
        self.prefix = prefix
        self.clock = clock
        self._route = conn.register_script(_ROUTE)
        self._no_answer = conn.register_script(_NO_ANSWER)
        self._answered = conn.register_script(_ANSWERED)
        self._ended = conn.register_script(_ENDED)
        self._set_state = conn.register_script(_SET_STATE)
        self._sweep_absent = conn.register_script(_SWEEP_ABSENT)

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
        key = f"{self.prefix}seat:{seat}"
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
        self.r.hdel(key, "pending")
        if console:
            self.alive(seat)
        self.r.sadd(f"{self.prefix}seats", seat)
        self._event("login", seat=seat, agent=agent)

    def alive(self, seat: str) -> bool:
        """The seat's console is there: keep the seat taking calls for another grace period.

        Returns whether the seat is signed in (an offline seat is not revived: its operator
        signs in again).
        """
        state = _s(self.r.hget(f"{self.prefix}seat:{seat}", "state") or "")
        if state in ("", AgentState.OFFLINE):
            return False
        grace_ms = max(1, int(self.config.console_grace_seconds * 1000))
        self.r.set(f"{self.prefix}alive:{seat}", "1", px=grace_ms)
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
        self.r.delete(f"{self.prefix}alive:{seat}")
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

    def no_answer(self, call_id: str, seat: str) -> Decision:
        out = self._run(
            self._no_answer, call_id, seat, self.config.max_misses, self.config.retry_ms
        )
        if out[0] == "error":
            raise AcdError(out[1])
        self._watch(call_id, open_=True)
        return _decision(out)

    def answered(self, call_id: str, seat: str) -> None:
        outcome = self._run(self._answered, call_id, seat)
        if outcome != "ok":
            raise AcdError(outcome)
        self._watch(call_id, open_=False)  # a talking call ends by BYE or the keepalive

    def ended(self, call_id: str, by: str = "") -> str:
        """The call ended (hang-up, or CANCEL while waiting or ringing: abandoned).

        `by` is who ended it: "caller", "seat" (a seat that had handed the call on with a
        blind transfer: "transfer"), "lost" (the seat's softphone stopped answering; the
        seat goes offline), or "edge" (the SIP edge forgot a waiting call: `forgotten`).
        """
        wrap = self.config.wrap_up_seconds
        outcome = str(self._run(self._ended, call_id, wrap, by if by in _BY else ""))
        self._watch(call_id, open_=False)
        if outcome != "ok":
            raise AcdError(outcome)
        return str(self.call(call_id)["state"])

    def forgotten(self) -> list[str]:
        """Calls waiting or ringing that the edge has not spoken of for `stale_ring_seconds`.

        A waiting call asks again every few seconds and a ringing one is reported within the
        ring time; one that went quiet was dropped by the edge (its transaction lost under
        overload, say). Each call is handed to one caller of this method only; close it with
        `ended(call, by="edge")` so that it still gets a final record.
        """
        key = f"{self.prefix}open"
        stale: list[Any] = list(
            self.r.zrangebyscore(key, "-inf", self.clock() - self.config.stale_ring_seconds)
        )
        return [_s(c) for c in stale if self.r.zrem(key, c)]

    def _watch(self, call_id: str, *, open_: bool) -> None:
        key = f"{self.prefix}open"
        if open_:
            self.r.zadd(key, {call_id: self.clock()})
        else:
            self.r.zrem(key, call_id)

    # ------------------------------------------------------------------ reading

    def seat(self, seat: str) -> dict[str, str]:
        return _text(self.r.hgetall(f"{self.prefix}seat:{seat}"))

    def call(self, call_id: str) -> dict[str, str]:
        return _text(self.r.hgetall(f"{self.prefix}call:{call_id}"))

    def queue(self) -> list[str]:
        return [_s(x) for x in self.r.zrange(f"{self.prefix}queue", 0, -1)]

    def events(self) -> list[dict[str, str]]:
        entries: Any = self.r.xrange(f"{self.prefix}events")
        return [_text(fields) for _, fields in entries]

    # ------------------------------------------------------------------ plumbing

    def _run(self, script: Any, *args: Any) -> Any:
        result = script(args=[self.prefix, self.clock(), self.config.stale_ring_seconds, *args])
        if isinstance(result, list):
            return [_s(x) for x in result]
        return _s(result)

    def _event(self, kind: str, **fields: str) -> None:
        entry: dict[Any, Any] = {"type": kind, "at": str(self.clock()), **fields}
        self.r.xadd(f"{self.prefix}events", entry, maxlen=100_000, approximate=True)


_BY = ("caller", "seat", "lost", "edge")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _text(mapping: Any) -> dict[str, str]:
    return {_s(k): _s(v) for k, v in mapping.items()}


def _decision(out: list[str]) -> Decision:
    action, call, seat, agent, retry = out
    return Decision(action, call, seat or None, agent or None, int(retry) if retry else None)
