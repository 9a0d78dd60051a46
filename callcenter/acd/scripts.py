"""The ACD's Lua scripts: each operation on the hall's state runs as one script in Redis.

Redis runs a script alone, so a seat is never given two calls and a call never two seats,
whichever web process asks. `callcenter.acd.engine.Acd` registers each script and calls it
with no KEYS: ARGV[1] is the key prefix, ARGV[2] the time now (epoch seconds) and ARGV[3]
`stale_ring_seconds`; the operation's own arguments follow (the comment above each script
lists them). The scripts build the keys they touch from the prefix themselves
(`P .. 'seat:' .. seat`); `callcenter.acd.keys` documents each of them.

`_MATCH` (routing) and `_STEPS` (answer and end) are shared pieces the scripts start with.
"""

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
  -- a transfer to one seat (callcenter.acd.transfers): that seat alone
  if string.sub(skill, 1, 5) == 'seat:' then return skill == 'seat:' .. seat end
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
ROUTE = (
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

# ARGV: prefix, now, stale, call, seat, max_misses, retry_ms, unreachable ('1' or '')
NO_ANSWER = (
    """
local P, NOW, STALE = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
"""
    + _MATCH
    + """
local call, seat, max_misses, retry = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local unreachable = ARGV[8] == '1'
local key = call_key(call)
if redis.call('HGET', key, 'state') ~= 'ringing' or redis.call('HGET', key, 'seat') ~= seat then
  return {'error', 'call is not ringing at this seat'}
end
redis.call('ZREM', P .. 'ringing', seat)
redis.call('HDEL', seat_key(seat), 'call')
local misses = tonumber(redis.call('HGET', seat_key(seat), 'misses') or '0')
if unreachable then
  -- the edge could not reach the softphone: no miss for the operator
  emit('unreachable', {call = call, seat = seat})
  redis.call('HSET', key, 'unreached', (redis.call('HGET', key, 'unreached') or '') .. seat .. ',')
else
  misses = redis.call('HINCRBY', seat_key(seat), 'misses', 1)
  emit('no_answer', {call = call, seat = seat, misses = misses})
end
local pending = redis.call('HGET', seat_key(seat), 'pending')
redis.call('HDEL', seat_key(seat), 'pending')
if pending == 'offline' then
  -- the operator signed out while the seat rang
  redis.call('HSET', seat_key(seat), 'state', 'offline', 'reason', 'signed_out', 'since', NOW)
  emit('agent_state', {seat = seat, state = 'offline', reason = 'signed_out'})
elseif pending == 'not_ready' then
  -- a supervisor's not-ready (or a lost headset), ordered while the seat rang
  local why = redis.call('HGET', seat_key(seat), 'pending_reason') or 'supervisor'
  redis.call('HSET', seat_key(seat), 'state', 'not_ready', 'reason', why, 'since', NOW)
  emit('agent_state', {seat = seat, state = 'not_ready', reason = why})
elseif unreachable then
  redis.call('HSET', seat_key(seat), 'state', 'not_ready', 'reason', 'unreachable', 'since', NOW)
  emit('agent_state', {seat = seat, state = 'not_ready', reason = 'unreachable'})
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

# The steps of a call that Kamailio and the seats report (answered, ended), shared by the
# scripts that apply their reports. Each step may be reported more than once (the edge and the
# seat's own journal both report an end; a report is sent again until it is accepted), so a
# repeat changes nothing. Needs P and NOW.
_STEPS = """
local function event(kind, fields)
  local args = {P .. 'events', 'MAXLEN', '~', 100000, '*', 'type', kind, 'at', NOW}
  for i = 1, #fields, 2 do
    if fields[i + 1] ~= '' then table.insert(args, fields[i]); table.insert(args, fields[i + 1]) end
  end
  redis.call('XADD', unpack(args))
end
-- A reported time, kept between what the ACD knows came before it and now.
local function clamp(at, low, high)
  if not at then return high end
  if low and at < low then at = low end
  if at > high then at = high end
  return at
end
-- The seat answered the call ringing at it, at `at` (nil: now). 'ok' for a repeat too.
local function answer(call, seat, at, via)
  local key = P .. 'call:' .. call
  local h = redis.call('HMGET', key, 'state', 'seat', 'rang_at', 'answered_at')
  if h[2] == seat and h[4] and (h[1] == 'talking' or h[1] == 'ended') then return 'ok' end
  if h[1] ~= 'ringing' or h[2] ~= seat then return 'call is not ringing at this seat' end
  local t = clamp(at, tonumber(h[3]), NOW)
  redis.call('HSET', key, 'state', 'talking', 'answered_at', t)
  redis.call('ZREM', P .. 'ringing', seat)
  redis.call('HSET', P .. 'seat:' .. seat, 'state', 'talking', 'since', t, 'misses', 0)
  event('answered', {'call', call, 'seat', seat, 'via', via})
  return 'ok'
end
-- The call ended at `at` (nil: now); `by` says who ended it (caller, seat, lost, edge,
-- unreported, supervisor_reset, or ''). 'ok', 'repeat' when it had ended already, or an error.
-- The seat follows only while it is still in this call.
local function finish(call, by, at, wrap, via)
  local key = P .. 'call:' .. call
  local state = redis.call('HGET', key, 'state')
  if not state then return 'unknown call' end
  if state == 'ended' or state == 'abandoned' or state == 'overflow' then return 'repeat' end
  local h = redis.call('HMGET', key, 'seat', 'answered_at', 'rang_at', 'arrived')
  local seat = h[1]
  local t = clamp(at, tonumber(h[2] or h[3] or h[4]), NOW)
  local skey = P .. 'seat:' .. (seat or '')
  local ours = seat and seat ~= '' and redis.call('HGET', skey, 'call') == call
  local final = 'ended'
  if state == 'queued' then
    redis.call('ZREM', P .. 'queue', call)
    final = 'abandoned'
  elseif state == 'ringing' then
    final = 'abandoned'
    if ours then
      redis.call('ZREM', P .. 'ringing', seat)
      redis.call('HDEL', skey, 'call')
      local pending = redis.call('HGET', skey, 'pending')
      redis.call('HDEL', skey, 'pending')
      if pending == 'offline' then
        -- the operator signed out while the seat rang
        redis.call('HSET', skey, 'state', 'offline', 'reason', 'signed_out', 'since', NOW)
      elseif pending == 'not_ready' then
        -- a supervisor's not-ready (or a lost headset), ordered while the seat rang
        local why = redis.call('HGET', skey, 'pending_reason') or 'supervisor'
        redis.call('HSET', skey, 'state', 'not_ready', 'reason', why, 'since', NOW)
      else
        redis.call('HSET', skey, 'state', 'ready', 'since', NOW)
        redis.call('ZADD', P .. 'idle', NOW, seat)
      end
    end
  elseif state == 'talking' then
    if ours then
      redis.call('HDEL', skey, 'call')
      redis.call('HSET', skey, 'last_call', call)
      local pending = redis.call('HGET', skey, 'pending')
      if by == 'lost' then
        -- the seat's softphone is gone: nobody is there to wrap up or take the next call
        redis.call('HDEL', skey, 'pending')
        redis.call('HSET', skey, 'state', 'offline', 'reason', 'seat_lost', 'since', t)
        redis.call('HSET', key, 'wrapped_at', t)
        event('agent_state', {'seat', seat, 'state', 'offline', 'reason', 'seat_lost'})
      elseif pending == 'offline' then
        -- the operator signed out during the call: no wrap-up, no next call
        redis.call('HDEL', skey, 'pending')
        redis.call('HSET', skey, 'state', 'offline', 'reason', 'signed_out', 'since', t)
        redis.call('HSET', key, 'wrapped_at', t)
      elseif pending == 'not_ready' then
        -- a supervisor set this seat not ready during the call (or its headset was lost)
        redis.call('HDEL', skey, 'pending')
        local why = redis.call('HGET', skey, 'pending_reason') or 'supervisor'
        redis.call('HSET', skey, 'state', 'not_ready', 'reason', why, 'since', t)
        redis.call('HSET', key, 'wrapped_at', t)
      else
        -- wrap-up from the call's end: one reported late may have none left
        redis.call('HSET', skey, 'state', 'wrap_up', 'since', t)
        redis.call('ZADD', P .. 'wrapup', t + wrap, seat)
        redis.call('HSET', key, 'wrap_until', t + wrap)
      end
    end
  else
    return 'already ' .. state
  end
  local reason = by
  if by == 'seat' and redis.call('HEXISTS', key, 'transfer_target') == 1 then
    reason = 'transfer'
  end
  redis.call('HSET', key, 'state', final, 'ended_at', t, 'end_reason', reason)
  event(final, {'call', call, 'seat', seat or '', 'by', reason, 'via', via})
  return 'ok'
end
"""

# ARGV: prefix, now, stale, call, seat, at ('' for now)
ANSWERED = (
    """
local P, NOW = ARGV[1], tonumber(ARGV[2])
"""
    + _STEPS
    + """
return answer(ARGV[4], ARGV[5], tonumber(ARGV[6]), '')
"""
)

# ARGV: prefix, now, stale, call, wrap_up_seconds, by (caller, seat, lost, edge or ''), at
ENDED = (
    """
local P, NOW = ARGV[1], tonumber(ARGV[2])
"""
    + _STEPS
    + """
return finish(ARGV[4], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[5]), '')
"""
)

# ARGV: prefix, now, stale, seat, wrap_up_seconds, quiet_before, then for each call the seat
# reports: call, answered_at, ended_at, by ('' for none). What the seat's softphone says of its
# calls (its journal, `callcenter.acd.seatsync`) is applied to the calls of this seat only: the
# answer and the end the edge could not report (the web app was away), and the end of a call
# the seat does not hold at all (its softphone restarted, or the end was never reported).
# Returns the calls it changed.
SEAT_SYNC = (
    """
local P, NOW = ARGV[1], tonumber(ARGV[2])
"""
    + _STEPS
    + """
local seat, wrap, quiet = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local skey = P .. 'seat:' .. seat
-- A call the ACD closed by itself while nobody reported on it (a reservation released as
-- stale, or the edge's silence: `forgotten`), which the seat says it answered: answered.
local function revive(call, ans, fin, by)
  local key = P .. 'call:' .. call
  local t = clamp(ans, tonumber(redis.call('HGET', key, 'rang_at')), NOW)
  redis.call('HDEL', key, 'ended_at', 'end_reason', 'wrap_until', 'wrapped_at')
  redis.call('HSET', key, 'state', 'talking', 'answered_at', t, 'revived', '1')
  event('answered', {'call', call, 'seat', seat, 'via', 'seat'})
  if fin then return finish(call, by, fin, wrap, 'seat') end
  -- still talking: the seat is back in the call if the ACD had only set it free
  local s = redis.call('HMGET', skey, 'state', 'reason', 'call')
  local freed = s[1] == 'ready' or (s[1] == 'not_ready'
    and (s[2] == 'missed' or s[2] == 'unreachable'))
  if freed and not s[3] then
    redis.call('ZREM', P .. 'idle', seat)
    redis.call('HSET', skey, 'state', 'talking', 'since', t, 'call', call, 'misses', 0,
               'reason', '')
    event('agent_state', {'seat', seat, 'state', 'talking', 'call', call})
  end
end
local held, changed = {}, {}
for i = 7, #ARGV, 4 do
  local call, ans, fin, by = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3]
  held[call] = true
  local h = redis.call('HMGET', P .. 'call:' .. call, 'state', 'seat', 'answered_at', 'end_reason')
  if h[2] == seat then  -- only this seat's own calls: a seat cannot end another seat's call
    local state, touched = h[1], false
    if state == 'abandoned' and ans and not h[3] and (not h[4] or h[4] == '' or h[4] == 'edge') then
      revive(call, ans, fin, by)
      touched = true
    else
      if state == 'ringing' and ans then
        answer(call, seat, ans, 'seat')
        state, touched = 'talking', true
      end
      -- a call that rang here and ended unanswered is left to the edge: the seat cannot tell
      -- the caller's hang-up from the edge taking the call on to the next seat
      if state == 'talking' and fin then
        finish(call, by, fin, wrap, 'seat')
        touched = true
      end
    end
    if touched then table.insert(changed, call) end
  end
end
local current = redis.call('HGET', skey, 'call')
if current and not held[current] then
  local h = redis.call('HMGET', P .. 'call:' .. current, 'state', 'seat', 'answered_at')
  local answered = tonumber(h[3])
  if h[1] == 'talking' and h[2] == seat and answered and answered < quiet then
    finish(current, 'unreported', nil, wrap, 'seat')
    table.insert(changed, current)
  end
end
return changed
"""
)

# ARGV: prefix, now, stale, seat. A supervisor frees a seat stuck in a call: the call is
# ended (a final record) and the seat set apart, not ready (offline if its operator signed out).
RESET = (
    """
local P, NOW = ARGV[1], tonumber(ARGV[2])
"""
    + _STEPS
    + """
local seat = ARGV[4]
local skey = P .. 'seat:' .. seat
local s = redis.call('HMGET', skey, 'state', 'call', 'pending')
if s[1] ~= 'ringing' and s[1] ~= 'talking' then return {'idle', ''} end
local call = s[2] or ''
local apart = s[3] == 'offline' and 'offline' or 'not_ready'
if call ~= '' then
  redis.call('HSET', skey, 'pending', apart)  -- no wrap-up, no next call: set apart below
  finish(call, 'supervisor_reset', nil, 0, 'supervisor')
end
-- what ending the call did not free (no call, its hash gone, or it had ended already)
local now_state = redis.call('HGET', skey, 'state')
if now_state == 'ringing' or now_state == 'talking' then
  redis.call('ZREM', P .. 'ringing', seat)
  redis.call('HDEL', skey, 'call', 'pending')
  if apart == 'offline' then
    redis.call('HSET', skey, 'state', 'offline', 'reason', 'signed_out', 'since', NOW)
  else
    redis.call('HSET', skey, 'state', 'not_ready', 'reason', 'supervisor', 'since', NOW)
  end
end
local state = redis.call('HGET', skey, 'state')
event('agent_state', {'seat', seat, 'state', state, 'reason', 'supervisor_reset', 'call', call})
return {'ok', call}
"""
)

# ARGV: prefix, now, stale, seat, state, reason
SET_STATE = """
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
  if want ~= 'not_ready' or (reason ~= 'supervisor' and reason ~= 'headset') then
    return 'seat is busy with a call'
  end
  if redis.call('HGET', key, 'pending') == 'offline' then return 'pending' end
  -- a supervisor's not-ready (or a lost headset) takes effect when the call ends
  redis.call('HSET', key, 'pending', 'not_ready', 'pending_reason', reason)
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


# ARGV: prefix, now, stale, seat. A seat the edge could not reach takes calls again.
REACHABLE = """
local P, NOW, seat = ARGV[1], tonumber(ARGV[2]), ARGV[4]
local key = P .. 'seat:' .. seat
local h = redis.call('HMGET', key, 'state', 'reason')
if h[1] ~= 'not_ready' or h[2] ~= 'unreachable' then return 0 end
redis.call('HSET', key, 'state', 'ready', 'since', NOW, 'reason', '')
redis.call('ZADD', P .. 'idle', NOW, seat)
redis.call('XADD', P .. 'events', 'MAXLEN', '~', 100000, '*', 'type', 'agent_state', 'at', NOW,
           'seat', seat, 'state', 'ready', 'reason', 'reachable')
return 1
"""


# ARGV: prefix, now, stale. Every console seat not in a call whose console went quiet.
SWEEP_ABSENT = (
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
