"""The Lua scripts that move a job between states atomically.

Every state change of a job and every take or release of a slot lease happens inside one
script, so no crash between two Redis calls can leave a slot taken with no job holding it,
or a job in two places. A slot is a member of the priority's ``slots`` sorted set (the job
id, scored by the lease's expiry); the cap is the most members that set may hold.

Internal states: ``blocked`` (waiting for dependencies), ``waiting`` (in the coordinator's
queue), ``dispatched`` (admitted to RQ, slot reserved), ``running``, ``delayed`` (a retry
waiting out its interval) and the terminal ``finished``, ``failed``, ``cancelled``,
``dependency_failed``. The per-priority ``counts`` hash counts jobs by public status:
blocked and dispatched count as ``waiting``; terminal counts are totals since the start.

All keys come from KeyBuilder and are passed in KEYS; scripts never build a key.
Numbers go back to Python as strings (Lua would truncate floats to integers).
"""

_HELPERS = """
local function bucket(status)
	if status == 'blocked' or status == 'dispatched' then return 'waiting' end
	return status
end
local function move(counts, old, new)
	if old then redis.call('HINCRBY', counts, bucket(old), -1) end
	redis.call('HINCRBY', counts, bucket(new), 1)
end
-- A running attempt failed: schedule a retry if the policy allows one, else fail for good.
local function fail_attempt(job, counts, delayed, id, now, err, tb, failed_ttl)
	local attempts = tonumber(redis.call('HGET', job, 'attempts') or '0')
	local max_retries = tonumber(redis.call('HGET', job, 'max_retries') or '0')
	if attempts <= max_retries then
		local first = tonumber(redis.call('HGET', job, 'first_interval') or '0')
		local backoff = tonumber(redis.call('HGET', job, 'backoff') or '1')
		local interval = first * backoff ^ (attempts - 1)
		local due = now + interval
		redis.call('HSET', job, 'status', 'delayed', 'due', tostring(due), 'error', err, 'traceback', tb,
			'worker', '')
		redis.call('ZADD', delayed, tostring(due), id)
		move(counts, 'running', 'delayed')
		return {'delayed', tostring(interval)}
	end
	redis.call('HSET', job, 'status', 'failed', 'ended', tostring(now), 'error', err, 'traceback', tb)
	redis.call('EXPIRE', job, failed_ttl)
	move(counts, 'running', 'failed')
	return {'failed', ''}
end
"""

# KEYS: job, waiting, seq, counts, blocked, config, reduced, slots, admitted,
#       then (dependency job, dependency's dependents set) pairs
# ARGV: id, now, accept_failed ('1'/'0'), failed_ttl, n, n dependency ids, priority, default cap,
#       reservation expiry, field, value, field, value, ...
# Returns {outcome, detail, timeout}. A ready job that heads its queue while a slot is free is
# admitted at once: {'admitted', token, timeout}. For 'waiting' the detail is '1' when a slot is free
# (other jobs of the priority wait before it).
SUBMIT = (
	_HELPERS
	+ """
local job, waiting, seq, counts, blocked = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local config, reduced, slots, admitted = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local id, now, accept, failed_ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local old = redis.call('HGET', job, 'status')
if old and old ~= 'finished' and old ~= 'failed' and old ~= 'cancelled' and old ~= 'dependency_failed' then
	return {'exists', old, ''}
end
local ndeps = tonumber(ARGV[5])
local pending = {}
local failed_dep = nil
for i = 0, ndeps - 1 do
	local dstatus = redis.call('HGET', KEYS[10 + 2 * i], 'status')
	if not dstatus then return {'unknown', tostring(i), ''} end
	if dstatus == 'finished' then
	elseif dstatus == 'failed' or dstatus == 'cancelled' or dstatus == 'dependency_failed' then
		if accept ~= '1' and not failed_dep then failed_dep = {i, dstatus} end
	else
		table.insert(pending, i)
	end
end
-- a finished job submitted again keeps counting its admissions, so every admission's token (and RQ
-- job id) stays unique and a stale delivery of an earlier run can never claim the new one
local prev = tonumber(redis.call('HGET', job, 'dispatches') or '0')
if old then redis.call('DEL', job) end
local fields = {}
local p, default_cap, reservation = ARGV[6 + ndeps], ARGV[7 + ndeps], ARGV[8 + ndeps]
for i = 9 + ndeps, #ARGV do table.insert(fields, ARGV[i]) end
redis.call('HSET', job, unpack(fields))
local n = redis.call('INCR', seq)
redis.call('HSET', job, 'seq', n, 'attempts', 0, 'dispatches', prev)
if failed_dep then
	redis.call('HSET', job, 'status', 'dependency_failed', 'ended', now,
		'error', 'dependency ' .. ARGV[6 + failed_dep[1]] .. ' ended as ' .. failed_dep[2])
	redis.call('EXPIRE', job, failed_ttl)
	move(counts, nil, 'dependency_failed')
	return {'dependency_failed', tostring(failed_dep[1]), ''}
end
if #pending > 0 then
	for _, i in ipairs(pending) do redis.call('SADD', KEYS[11 + 2 * i], id) end
	redis.call('HSET', job, 'status', 'blocked', 'pending_deps', #pending)
	redis.call('SADD', blocked, id)
	move(counts, nil, 'blocked')
	return {'blocked', tostring(#pending), ''}
end
move(counts, nil, 'waiting')
local cap = tonumber(redis.call('HGET', config, 'cap:' .. p) or default_cap)
local lowered = redis.call('HGET', reduced, p)
if lowered and tonumber(lowered) < cap then cap = tonumber(lowered) end
local free = redis.call('ZCARD', slots) < cap
if free and redis.call('ZCARD', waiting) == 0 then
	redis.call('ZADD', slots, reservation, id)
	redis.call('SADD', admitted, id)
	local token = prev + 1
	redis.call('HSET', job, 'status', 'dispatched', 'token', token, 'dispatches', token, 'ready_at', now,
		'dispatched_at', now)
	return {'admitted', tostring(token), redis.call('HGET', job, 'timeout')}
end
redis.call('HSET', job, 'status', 'waiting', 'ready_at', now)
redis.call('ZADD', waiting, n, id)
if free then return {'waiting', '1', ''} end
return {'waiting', '0', ''}
"""
)

# Take a slot for the job at the head of a priority's queue, if the cap allows.
# KEYS: waiting, slots, config, reduced, job, admitted   ARGV: id, priority, now, reservation expiry, default cap
# (``admitted`` holds the jobs of the priority that are in RQ but not started yet)
# Returns {attempt token, timeout}, 0 when every slot is taken, -1 when the job is no longer the head.
ADMIT = """
local waiting, slots, config, reduced, job = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, p = ARGV[1], ARGV[2]
local cap = tonumber(redis.call('HGET', config, 'cap:' .. p) or ARGV[5])
local lowered = redis.call('HGET', reduced, p)
if lowered and tonumber(lowered) < cap then cap = tonumber(lowered) end
if redis.call('ZCARD', slots) >= cap then return 0 end
local head = redis.call('ZRANGE', waiting, 0, 0)[1]
if head ~= id then return -1 end
redis.call('ZREM', waiting, id)
if redis.call('HGET', job, 'status') ~= 'waiting' then return -1 end
redis.call('ZADD', slots, ARGV[4], id)
redis.call('SADD', KEYS[6], id)
local token = redis.call('HINCRBY', job, 'dispatches', 1)
redis.call('HSET', job, 'status', 'dispatched', 'token', token, 'dispatched_at', ARGV[3])
return {token, redis.call('HGET', job, 'timeout')}
"""

# Undo an admission whose enqueue into RQ failed: the slot is free and the job heads its queue again.
# KEYS: waiting, slots, job, admitted   ARGV: id, token
UNADMIT = """
local waiting, slots, job = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', job, 'token') ~= ARGV[2] or redis.call('HGET', job, 'status') ~= 'dispatched' then
	return 0
end
redis.call('ZREM', slots, ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('HSET', job, 'status', 'waiting')
redis.call('ZADD', waiting, redis.call('HGET', job, 'seq'), ARGV[1])
return 1
"""

# A worker starts an admitted attempt: the reservation becomes a lease kept alive by heartbeats.
# KEYS: job, slots, counts, admitted   ARGV: id, token, now, lease expiry, worker
# Returns {attempts, ready_at, method, kwargs, timeout, user or '', dispatched_at} or {} when the attempt is
# stale (re-dispatched, cancelled, reaped).
CLAIM = (
	_HELPERS
	+ """
local job, slots, counts = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', job, 'token') ~= ARGV[2] or redis.call('HGET', job, 'status') ~= 'dispatched' then
	return {}
end
if not redis.call('ZSCORE', slots, ARGV[1]) then return {} end
redis.call('ZADD', slots, 'XX', ARGV[4], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
local attempts = redis.call('HINCRBY', job, 'attempts', 1)
redis.call('HSET', job, 'status', 'running', 'started', ARGV[3], 'worker', ARGV[5])
redis.call('HSETNX', job, 'first_started', ARGV[3])
move(counts, 'dispatched', 'running')
local rec = redis.call('HMGET', job, 'ready_at', 'method', 'kwargs', 'timeout', 'user', 'dispatched_at')
return {tostring(attempts), rec[1] or ARGV[3], rec[2], rec[3], rec[4], rec[5] or '', rec[6] or ARGV[3]}
"""
)

# Heartbeat. KEYS: job, slots   ARGV: id, token, lease expiry
# Returns 1 (renewed), 2 (renewed, cancel requested) or 0 (the lease is gone: stop).
RENEW = """
local job, slots = KEYS[1], KEYS[2]
if redis.call('HGET', job, 'token') ~= ARGV[2] or redis.call('HGET', job, 'status') ~= 'running' then
	return 0
end
if redis.call('ZADD', slots, 'XX', 'CH', ARGV[3], ARGV[1]) == 0 and not redis.call('ZSCORE', slots, ARGV[1]) then
	return 0
end
if redis.call('HGET', job, 'cancel_requested') == '1' then return 2 end
return 1
"""

# An attempt ended. KEYS: job, slots, counts, delayed, wait samples, run samples, dependents
# ARGV: id, token, now, outcome (finished|failed|cancelled), error, traceback, run_time, finished_ttl,
#       failed_ttl, samples kept, queue wait
# Returns {new status, retry interval or '', '1' if other jobs depend on this one} or {'stale', '', ''}.
# The attempt's queue wait is sampled, and its run time when it finished.
FINISH = (
	_HELPERS
	+ """
local job, slots, counts, delayed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, now, outcome = ARGV[1], tonumber(ARGV[3]), ARGV[4]
if redis.call('HGET', job, 'token') ~= ARGV[2] or redis.call('HGET', job, 'status') ~= 'running' then
	return {'stale', '', ''}
end
redis.call('ZREM', slots, id)
redis.call('HSET', job, 'run_time', ARGV[7], 'last_ended', ARGV[3])
local kept = tonumber(ARGV[10])
redis.call('LPUSH', KEYS[5], ARGV[3] .. ' ' .. ARGV[11])
redis.call('LTRIM', KEYS[5], 0, kept - 1)
local has_dependents = tostring(redis.call('EXISTS', KEYS[7]))
if outcome == 'failed' then
	local result = fail_attempt(job, counts, delayed, id, now, ARGV[5], ARGV[6], tonumber(ARGV[9]))
	table.insert(result, has_dependents)
	return result
end
if outcome == 'finished' then
	redis.call('LPUSH', KEYS[6], ARGV[3] .. ' ' .. ARGV[7])
	redis.call('LTRIM', KEYS[6], 0, kept - 1)
end
redis.call('HSET', job, 'status', outcome, 'ended', ARGV[3], 'worker', redis.call('HGET', job, 'worker'))
if outcome == 'finished' then
	redis.call('HDEL', job, 'traceback')
	redis.call('EXPIRE', job, tonumber(ARGV[8]))
else
	redis.call('HSET', job, 'error', ARGV[5])
	redis.call('EXPIRE', job, tonumber(ARGV[9]))
end
move(counts, 'running', outcome)
return {outcome, '', has_dependents}
"""
)

# Reap one expired lease. KEYS: job, slots, waiting, delayed, counts, admitted   ARGV: id, now, failed_ttl
# Returns {'alive'|'readmitted'|'delayed'|'failed'|'cancelled'|'released', detail}.
EXPIRE = (
	_HELPERS
	+ """
local job, slots, waiting, delayed, counts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, now = ARGV[1], tonumber(ARGV[2])
local score = redis.call('ZSCORE', slots, id)
if not score or tonumber(score) > now then return {'alive', ''} end
redis.call('ZREM', slots, id)
local status = redis.call('HGET', job, 'status')
if status == 'dispatched' then
	redis.call('SREM', KEYS[6], id)
	redis.call('HSET', job, 'status', 'waiting')
	redis.call('ZADD', waiting, redis.call('HGET', job, 'seq'), id)
	return {'readmitted', ''}
end
if status == 'running' then
	if redis.call('HGET', job, 'cancel_requested') == '1' then
		redis.call('HSET', job, 'status', 'cancelled', 'ended', ARGV[2])
		redis.call('EXPIRE', job, tonumber(ARGV[3]))
		move(counts, 'running', 'cancelled')
		return {'cancelled', ''}
	end
	local worker = redis.call('HGET', job, 'worker') or '?'
	local err = 'worker lost: the lease of worker ' .. worker .. ' expired without a heartbeat'
	return fail_attempt(job, counts, delayed, id, now, err, '', tonumber(ARGV[3]))
end
return {'released', status or ''}
"""
)

# A retry is due: back into its priority's queue. KEYS: delayed, job, waiting, counts   ARGV: id, now
PROMOTE = (
	_HELPERS
	+ """
local delayed, job, waiting, counts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local score = redis.call('ZSCORE', delayed, ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', delayed, ARGV[1])
if redis.call('HGET', job, 'status') ~= 'delayed' then return 0 end
redis.call('HSET', job, 'status', 'waiting', 'ready_at', ARGV[2])
redis.call('ZADD', waiting, redis.call('HGET', job, 'seq'), ARGV[1])
move(counts, 'delayed', 'waiting')
return 1
"""
)

# KEYS: job, waiting, delayed, slots, counts, blocked, admitted   ARGV: id, now, ttl
# Returns {status after the call}: 'cancelled', 'stopping' (running: its worker was asked to stop) or the
# terminal status the job already had; {'unknown'} for no such job.
CANCEL = (
	_HELPERS
	+ """
local job, waiting, delayed, slots, counts, blocked = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id = ARGV[1]
local status = redis.call('HGET', job, 'status')
if not status then return {'unknown'} end
if status == 'running' then
	redis.call('HSET', job, 'cancel_requested', '1')
	return {'stopping'}
end
if status == 'waiting' then redis.call('ZREM', waiting, id)
elseif status == 'blocked' then redis.call('SREM', blocked, id)
elseif status == 'dispatched' then redis.call('ZREM', slots, id); redis.call('SREM', KEYS[7], id)
elseif status == 'delayed' then redis.call('ZREM', delayed, id)
else return {status} end
redis.call('HSET', job, 'status', 'cancelled', 'ended', ARGV[2], 'cancel_requested', '1')
redis.call('EXPIRE', job, tonumber(ARGV[3]))
move(counts, status, 'cancelled')
return {'cancelled'}
"""
)

# A dependency of a blocked job ended. KEYS: job, waiting, counts, blocked
# ARGV: id, dependency id, dependency status, now, failed_ttl
# Returns 'ready', 'blocked', 'dependency_failed' or 'skip'.
RESOLVE = (
	_HELPERS
	+ """
local job, waiting, counts, blocked = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, dep, dstatus = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', job, 'status') ~= 'blocked' then return 'skip' end
if redis.call('HSETNX', job, 'dep_done:' .. dep, dstatus) == 0 then return 'skip' end
if dstatus == 'finished' or redis.call('HGET', job, 'accept_dependency_failure') == '1' then
	if redis.call('HINCRBY', job, 'pending_deps', -1) > 0 then return 'blocked' end
	redis.call('SREM', blocked, id)
	redis.call('HSET', job, 'status', 'waiting', 'ready_at', ARGV[4])
	redis.call('ZADD', waiting, redis.call('HGET', job, 'seq'), id)
	return 'ready'
end
redis.call('SREM', blocked, id)
redis.call('HSET', job, 'status', 'dependency_failed', 'ended', ARGV[4],
	'error', 'dependency ' .. dep .. ' ended as ' .. dstatus)
redis.call('EXPIRE', job, tonumber(ARGV[5]))
move(counts, 'blocked', 'dependency_failed')
return 'dependency_failed'
"""
)

# Lower or restore effective caps and record the change. KEYS: reduced, changes
# ARGV: change record (JSON), changes kept, then priority, cap ('' restores the base cap) pairs
SET_REDUCED = """
for i = 3, #ARGV, 2 do
	if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
	else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
return 1
"""
