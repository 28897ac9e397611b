"""The security-aware cache: who is asking is part of every key, invalidation is O(1).

``SecurityAwareCache(redis, namespace).get_or_compute(name, args, compute, ctx=...,
level=..., scope=..., depends_on=...)`` returns the cached value, or calls ``compute()``
(no arguments: ``args`` only identify the entry) and caches what it returns.

* **Isolation.** An entry's key holds the site namespace, the level, the function name, the
  SHA-256 of a canonical encoding of ``args`` and the scope: the user and the digest of
  their sorted roles (``Scope.USER``), the roles digest (``Scope.ROLES``) or nothing
  (``Scope.PUBLIC``, opt-in). A change of roles changes the key.
* **Invalidation.** See :mod:`.invalidation`: the entry stores the generation tokens it was
  computed under and a hit is one ``MGET`` of the entry and those tokens.
* **Stampedes.** On a miss one caller takes a short lock and computes; the others poll for
  its result for at most ``lock_wait`` seconds, then compute themselves. Hits close to expiry
  are refreshed early with probability growing as expiry nears (XFetch, Vattani et al.,
  VLDB 2015); a caller that loses the refresh lock keeps the still-valid value.
* **Snapshots.** A value is stored under the generation tokens read before ``compute`` ran, so
  ``compute`` must not read data older than those tokens. A database that reads one snapshot
  per transaction (MariaDB's REPEATABLE READ) breaks that when the snapshot began before a
  concurrent commit whose invalidation the tokens already show. ``fresh_snapshot`` (a callable
  the caller passes) is called after the tokens were read and right before ``compute``: it
  starts a new snapshot and returns True, or returns False when it cannot (the transaction
  holds uncommitted writes); the value is then returned but not stored (``bypasses``).
* **Failure.** Any Redis error makes the call compute and return the value uncached; a
  circuit breaker then skips Redis for a pause. Every call that goes to Redis (the breaker's
  trial calls too) gives up after ``call_timeout`` (50 ms by default) and is never retried,
  whatever the timeouts and retry policy of the client passed in (:mod:`.bounded`).
  Invalidations that could not reach Redis are kept in the process and applied, ahead of the
  lookup, on the next call that reaches it (what must outlive the process goes through
  :mod:`.outbox`). Exceptions from ``compute`` propagate and are never cached.
* **Statistics** are buffered in the process and ride along with the next Redis call that
  is made anyway, so they never cost a round trip of their own; they add up in one Redis
  hash across every worker. See :meth:`SecurityAwareCache.stats`.
* **In-process tier** (optional, ``local=LocalTier(...)``, :mod:`.local_tier`): hot entries are
  served from the process's memory without a network call, and Redis reports every change of a
  generation counter so the tier drops what it outdates.
"""

import math
import os
import random
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from enum import Enum

from redis.exceptions import NoScriptError as _NoScriptError  # redis-py 4.5 to 7.x have both
from redis.exceptions import RedisError as _RedisError

from . import batches
from .bounded import bounded_client
from .breaker import CircuitBreaker
from .context import SecurityContext
from .defaults import (
	BATCH_MEMORY_SECONDS,
	CACHE_EARLY_BETA,
	CACHE_LOCK_TTL,
	CACHE_LOCK_WAIT,
	CACHE_MEMORY_SAMPLE,
	CACHE_OUTBOX_MARKER_TTL,
	CACHE_STATS_FLUSH_EVENTS,
	CACHE_STATS_FLUSH_SECONDS,
	CACHE_TTLS,
	REDIS_CALL_TIMEOUT,
)
from .exceptions import InvalidCacheArgumentError, UncacheableValueWarning, UnencodableValueError
from .invalidation import (
	COMPONENT,
	DependencyGraph,
	Generations,
	InvalidationBatch,
	new_token,
	parse_dependencies,
)
from .keys import KeyBuilder
from .local_tier import MISS as _LOCAL_MISS
from .local_tier import LocalTier
from .serialization import canonical_digest, decode, encode

# The key part of cache entries; bump it when the stored entry layout changes, so entries written
# by an older release are never read (they expire by their TTL).
ENTRY_FORMAT = "e2"


class _Named(Enum):
	"""An enum a caller may also name by its member name or value (``"MEMBER_DATA"``, ``"member_data"``)."""

	@classmethod
	def _label(cls) -> str:
		return cls.__name__

	@classmethod
	def coerce(cls, value):
		if isinstance(value, cls):
			return value
		if isinstance(value, str):
			for member in cls:
				if value in (member.name, member.value):
					return member
		raise InvalidCacheArgumentError(
			f"unknown {cls._label()} {value!r}; use one of {', '.join(m.name for m in cls)}"
		)


class SecurityLevel(_Named):
	"""How sensitive cached data is; each level has its own default TTL (seconds)."""

	ADMIN = "admin"
	FINANCIAL = "financial"
	MEMBER_DATA = "member_data"
	REPORTING = "reporting"
	UTILITY = "utility"
	PUBLIC = "public"

	@classmethod
	def _label(cls) -> str:
		return "security level"

	@property
	def default_ttl(self) -> int:
		return CACHE_TTLS[self.name]


class Scope(_Named):
	"""Who shares an entry: one user, users with exactly the same roles, or everyone."""

	USER = "user"
	ROLES = "roles"
	PUBLIC = "public"

	@classmethod
	def _label(cls) -> str:
		return "scope"


METRICS = (
	"hits",
	"misses",
	"invalidation_misses",
	"errors",
	"uncacheable",
	"early_refreshes",
	"bypasses",
	"compute_ms",
)


# KEYS[1] is the entry, KEYS[2..] its generation counters. An entry is
# "<token>,<token>,...\n<compute seconds> <expires at>\n<payload>". A hit returns the entry; anything
# else returns {outdated (1 if an entry was there), token or false per counter}.
LOOKUP_SCRIPT = """
local entry = redis.call('GET', KEYS[1])
local gens = redis.call('MGET', unpack(KEYS, 2))
if entry then
	local parts = {}
	for i = 1, #gens do
		if not gens[i] then return {1, unpack(gens)} end
		parts[i] = gens[i]
	end
	local head = table.concat(parts, ',') .. '\\n'
	if string.sub(entry, 1, #head) == head then return entry end
	return {1, unpack(gens)}
end
return {0, unpack(gens)}
"""
_PLAN_MEMO_SIZE = 10_000


class _Plan:
	__slots__ = ("level", "entry_prefix", "lock_prefix", "gen_keys")

	def __init__(self, level, entry_prefix, lock_prefix, gen_keys):
		self.level = level
		self.entry_prefix = entry_prefix
		self.lock_prefix = lock_prefix
		self.gen_keys = gen_keys


def _text(value) -> str | None:
	if value is None:
		return None
	return value.decode() if isinstance(value, bytes) else value


class SecurityAwareCache:
	"""One site's cache. Thread-safe; holds no per-user state (who asks is passed per call)."""

	def __init__(
		self,
		redis,
		namespace: str,
		*,
		ttls: Mapping | None = None,
		derived_dependencies: Mapping[str, Iterable[str]] | None = None,
		local: LocalTier | None = None,
		clock: Callable[[], float] = time.time,
		lock_ttl: float = CACHE_LOCK_TTL,
		lock_wait: float = CACHE_LOCK_WAIT,
		early_beta: float = CACHE_EARLY_BETA,
		breaker: CircuitBreaker | None = None,
		stats_flush_events: int = CACHE_STATS_FLUSH_EVENTS,
		stats_flush_seconds: float = CACHE_STATS_FLUSH_SECONDS,
		rng: Callable[[], float] = random.random,
		fresh_snapshot: Callable[[], bool] | None = None,
		call_timeout: float | None = REDIS_CALL_TIMEOUT,
	):
		if fresh_snapshot is not None and not callable(fresh_snapshot):
			raise InvalidCacheArgumentError(f"fresh_snapshot must be callable, got {fresh_snapshot!r}")
		# The cache's own client on the connection settings of ``redis``: each call bounded, no retries.
		# ``call_timeout=None`` uses ``redis`` as it is (its owner then bounds its calls).
		self.redis = redis if call_timeout is None else bounded_client(redis, call_timeout)
		self.fresh_snapshot = fresh_snapshot
		self.keys = KeyBuilder(namespace)
		self.namespace = self.keys.namespace
		self.generations = Generations(self.keys, DependencyGraph(derived_dependencies))
		self.ttls = {level: level.default_ttl for level in SecurityLevel}
		for level, ttl in (ttls or {}).items():
			if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
				raise InvalidCacheArgumentError(
					f"TTL of level {level!r} must be a positive number, got {ttl!r}"
				)
			self.ttls[SecurityLevel.coerce(level)] = ttl
		if lock_ttl <= 0 or lock_wait < 0 or early_beta < 0:
			raise InvalidCacheArgumentError("lock_ttl must be > 0, lock_wait and early_beta >= 0")
		self.clock = clock
		self.lock_ttl = lock_ttl
		self.lock_wait = lock_wait
		self.early_beta = early_beta
		self.breaker = breaker or CircuitBreaker()
		self._rng = rng
		self._flush_events = stats_flush_events
		self._flush_seconds = stats_flush_seconds
		self._mutex = threading.Lock()
		self._stats_buffer: dict[str, float] = {}
		self._stats_unsure: list[
			tuple[str, dict]
		] = []  # (token, counts) sent, maybe not applied: resent as is
		self._buffered_events = 0
		self._last_flush = time.monotonic()
		self._pending_invalidations: list[str] = []
		self._invalidation_errors = 0  # invalidations of this process that could not reach Redis at once
		self._stats_key = self.keys.key(COMPONENT, "stats")
		self._plans: dict = {}
		self._script = self.redis.register_script(LOOKUP_SCRIPT)
		self._stats_script = self.redis.register_script(batches.HINCR_ONCE_LUA)
		# ---- in-process tier: bound to this site's generation counters (see .local_tier); its tracking
		# connection is made from the caller's client settings (it blocks on reads by design)
		if local is not None and not isinstance(local, LocalTier):
			raise InvalidCacheArgumentError(f"local must be a LocalTier or None, got {local!r}")
		self.local = (
			None
			if local is None
			else local.bind(
				redis, self.generations.prefix(), self.keys, clock=clock, on_tick=self._flush_due_stats
			)
		)
		_CACHES.add(self)

	# ================================================================ public API
	def get_or_compute(
		self,
		name: str,
		args,
		compute: Callable[[], object],
		*,
		ctx: SecurityContext,
		level,
		scope=Scope.USER,
		depends_on=(),
	):
		"""The value cached for (``name``, ``args``) in the asker's scope, else ``compute()``'s."""
		if not isinstance(name, str) or not name.strip():
			raise InvalidCacheArgumentError(f"name must be a non-empty string, got {name!r}")
		if not callable(compute):
			raise InvalidCacheArgumentError(f"compute must be callable, got {compute!r}")
		plan = self._plan(name, level, scope, ctx, depends_on)
		try:
			digest = canonical_digest(args)
		except UnencodableValueError as exc:
			raise InvalidCacheArgumentError(f"arguments of {name!r} cannot key a cache entry: {exc}") from exc
		level = plan.level
		entry_key = f"{plan.entry_prefix}:{digest}"  # the digest is hex: KeyBuilder would not escape it
		local = self.local  # ---- in-process tier: a hit there makes no network call
		if local is not None:
			value = local.get(entry_key, plan.gen_keys)
			if value is not _LOCAL_MISS:
				self._count(name, level, "local_hits")
				return value
			mark = local.mark()  # ---- end of the tier's lookup

		def call() -> _Call:  # built only when the call goes past a plain hit
			return _Call(self, name, level, entry_key, f"{plan.lock_prefix}:{digest}", plan.gen_keys, compute)

		if not self.breaker.allow():
			return call().compute_uncached(count_error=True)
		try:
			hit, gens = self._lookup(entry_key, plan.gen_keys)
		except _RedisError:
			self._redis_failed()
			return call().compute_uncached(count_error=True)
		if self.breaker.tripped:
			self.breaker.success()

		if hit is not None:
			delta, expires_at, payload = hit
			if not self._refresh_early(self.clock(), delta, expires_at):
				if local is not None:  # ---- in-process tier: hold what Redis vouched for
					local.put(
						mark, entry_key, plan.gen_keys, gens, payload, self._tier_until(delta, expires_at)
					)
				self._count(name, level, "hits")
				return decode(payload)
			self._count(name, level, "early_refreshes")
			return call().refresh_early(gens, lambda: decode(payload))
		if gens[0]:  # an entry was there, computed under generations that have moved since
			self._count(name, level, "invalidation_misses")
		self._count(name, level, "misses")
		return call().fill(gens[1:])

	def _plan(self, name, level, scope, ctx, depends_on) -> "_Plan":
		"""Keys of an entry apart from its argument digest, memoised per (function, level, scope,
		asker, dependencies): building and escaping them is most of a hit's own work."""
		try:
			memo_key = (name, level, scope, ctx, depends_on)
			plan = self._plans.get(memo_key)
		except TypeError:  # unhashable depends_on (a list): build the plan each time
			memo_key, plan = None, None
		if plan is not None:
			return plan
		level = SecurityLevel.coerce(level)
		scope = Scope.coerce(scope)
		if scope is not Scope.PUBLIC and not isinstance(ctx, SecurityContext):
			raise InvalidCacheArgumentError(
				f"ctx must be a SecurityContext for scope {scope.name}, got {ctx!r}"
			)
		deps = parse_dependencies(depends_on)
		if scope is Scope.USER:
			parts = (level.value, name, "u", ctx.user, ctx.roles_digest)
		elif scope is Scope.ROLES:
			parts = (level.value, name, "r", ctx.roles_digest)
		else:
			parts = (level.value, name, "p")
		gen_keys = self.generations.keys_for(
			name, ctx, deps, user=scope is Scope.USER, roles=scope is not Scope.PUBLIC
		)
		plan = _Plan(
			level,
			self.keys.key(COMPONENT, ENTRY_FORMAT, *parts),
			self.keys.key(COMPONENT, "lock", *parts),
			gen_keys,
		)
		if memo_key is not None:
			if len(self._plans) >= _PLAN_MEMO_SIZE:
				self._plans.clear()
			self._plans[memo_key] = plan
		return plan

	def invalidate_doctype(self, doctype: str, changed_fields: Iterable[str] | None = None) -> bool:
		"""A document of ``doctype`` changed (``changed_fields``: what an update changed, if known).

		Moves that DocType's counters and those of DocTypes derived from it. Returns True when
		Redis took it now, False when it is kept to be applied on the next call that reaches Redis.
		"""
		return self._bump(self.generations.doctype_change(doctype, changed_fields))

	def invalidate_user(self, user: str) -> bool:
		"""Everything cached for ``user`` (their user-scoped entries)."""
		if not isinstance(user, str) or not user:
			raise InvalidCacheArgumentError(f"user must be a non-empty string, got {user!r}")
		return self._bump([self.generations.user_key(user)])

	def invalidate_role(self, role: str) -> bool:
		"""Everything cached for anyone holding ``role`` (user- and role-scoped entries)."""
		if not isinstance(role, str) or not role:
			raise InvalidCacheArgumentError(f"role must be a non-empty string, got {role!r}")
		return self._bump([self.generations.role_key(role)])

	def invalidate_function(self, name: str) -> bool:
		"""Every entry of the cached function ``name``."""
		if not isinstance(name, str) or not name:
			raise InvalidCacheArgumentError(f"name must be a non-empty string, got {name!r}")
		return self._bump([self.generations.function_key(name)])

	def invalidate_all(self) -> bool:
		"""Every entry of this site."""
		return self._bump([self.generations.global_key()])

	def apply(
		self,
		batch: InvalidationBatch,
		*,
		marker: str | None = None,
		marker_ttl: int = CACHE_OUTBOX_MARKER_TTL,
	) -> bool:
		"""Move every counter ``batch`` names in one round trip; with ``marker`` (a key), also set
		it (for ``marker_ttl`` seconds) after them on the same connection, so whoever finds the
		marker knows the batch reached Redis (Redis runs a pipeline's commands in order: no MULTI
		is needed for "marker implies counters"). Returns True when Redis took it now, False when
		the counters are kept to be applied on the next call that reaches Redis (no marker then)."""
		if not isinstance(batch, InvalidationBatch):
			raise InvalidCacheArgumentError(f"batch must be an InvalidationBatch, got {batch!r}")
		if marker is not None and (not isinstance(marker, str) or not marker.startswith(self.keys.prefix)):
			raise InvalidCacheArgumentError(f"marker must be a key of this site, got {marker!r}")
		if isinstance(marker_ttl, bool) or not isinstance(marker_ttl, int) or marker_ttl <= 0:
			raise InvalidCacheArgumentError(
				f"marker_ttl must be a positive number of seconds, got {marker_ttl!r}"
			)
		return self._bump(batch.gen_keys(self.generations), marker=(marker, marker_ttl) if marker else None)

	def stats(self, *, function: str | None = None) -> dict:
		"""Statistics of this site's cache, summed over every process, as plain data::

		    {
		      "namespace": str,
		      "available": bool,            # Redis answered this call
		      "breaker": "closed" | "open" | "half-open",
		      "pending_invalidations": n,   # this process's counters waiting for Redis to come back
		      "invalidation_errors": n,     # this process's invalidations that missed Redis at first
		      "totals": {metrics},
		      "levels": {level name: {metrics, "ttl": s, "entries": n, "memory_bytes": n}},
		      "functions": {function name: {metrics, "level": level name}},
		      "local": None | LocalTier.stats(),  # the in-process tier, when the cache has one
		    }

		where metrics are ``hits``, ``misses`` (every lookup that was not a hit),
		``invalidation_misses`` (the misses that found an entry whose generations had moved),
		``errors`` (Redis failures), ``uncacheable`` (values the codec refused), ``early_refreshes``,
		``bypasses`` (values computed but not stored because ``fresh_snapshot`` could not start a
		snapshot newer than the tokens), ``compute_ms`` (time spent in ``compute``) and
		``hit_ratio`` (hits / (hits + misses), None before the first lookup). ``entries`` and
		``memory_bytes`` are approximations read from Redis: live entries in a per-level index
		and the mean ``MEMORY USAGE`` of a sample of them. With ``function`` only that
		function's row is returned (``{metrics, "level"}``, zeros if never called).
		"""
		available = True
		raw: dict = {}
		levels_info: dict = {}
		try:
			self._flush_stats()
			raw = self.redis.hgetall(self._stats_key)
			if function is None:
				levels_info = self._level_sizes()
		except _RedisError:
			self._redis_failed()
			available = False
		totals = _zero()
		levels = {lvl.name: {**_zero(), "ttl": self.ttls[lvl]} for lvl in SecurityLevel}
		functions: dict[str, dict] = {}
		for field, value in raw.items():
			metric, level_value, fn = _text(field).split("|", 2)
			number = float(value)
			level = SecurityLevel.coerce(level_value).name
			row = functions.setdefault(fn, {**_zero(), "level": level})
			for target in (totals, levels[level], row):
				target[metric] = target.get(metric, 0) + number
		for row in (totals, *levels.values(), *functions.values()):
			_finish(row)
		for name, info in levels_info.items():
			levels[name].update(info)
		if function is not None:
			return functions.get(function, _finish({**_zero(), "level": None}))
		local = None
		if self.local is not None:  # ---- in-process tier: its counters and sizes
			try:
				local = self.local.stats()
			except _RedisError:
				local = {"available": False, "process": self.local.process_stats()}
		return {
			"namespace": self.namespace,
			"available": available,
			"breaker": self.breaker.state,
			"pending_invalidations": len(self._pending_invalidations),
			"invalidation_errors": self._invalidation_errors,
			"totals": totals,
			"levels": levels,
			"functions": functions,
			"local": local,
		}

	# ================================================================ internals
	def _lookup(self, entry_key: str, gen_keys: list[str]):
		"""One round trip, carrying along pending invalidations (applied first) and due statistics.

		Returns ``((delta, expires_at, payload), gens)`` on a hit, else ``(None, [outdated, *gens])``
		where ``outdated`` tells whether an entry was there and ``gens`` are the counters' tokens
		(None where missing). The comparison runs in Redis (:data:`LOOKUP_SCRIPT`), so a hit
		transfers the entry alone.
		"""
		pending = self._take_pending()
		stats = self._take_stats_if_due()
		keys = [entry_key, *gen_keys]
		try:
			if pending or stats:
				pipe = self.redis.pipeline(transaction=False)
				self._queue_pending(pipe, pending)
				self._queue_stats(pipe, stats)
				self._script(keys=keys, client=pipe)
				result = pipe.execute()[-1]
			else:
				try:  # evalsha directly: redis-py's Script wrapper costs a tenth of a hit
					result = self.redis.evalsha(self._script.sha, len(keys), *keys)
				except _NoScriptError:  # a restarted or flushed Redis forgot the script
					self.redis.script_load(LOOKUP_SCRIPT)
					result = self.redis.evalsha(self._script.sha, len(keys), *keys)
		except _RedisError:
			self._restore(pending, stats)
			raise
		if isinstance(result, list):
			return None, [bool(result[0]), *(_text(g) for g in result[1:])]
		try:
			head, meta, payload = result.split(b"\n", 2)
			delta, expires_at = meta.split(b" ")
			return (float(delta), float(expires_at), payload), head.decode().split(",")
		except ValueError:
			# An entry this code cannot read (damaged, or written in another layout): drop it and
			# look up again, which misses and returns the generations to store the new value under.
			self.redis.unlink(entry_key)
			return self._lookup(entry_key, gen_keys)

	def _refresh_early(self, now: float, delta: float, expires_at: float) -> bool:
		if self.early_beta <= 0 or delta <= 0:
			return False
		return now - delta * self.early_beta * math.log(1.0 - self._rng()) >= expires_at

	def _store(
		self, entry_key: str, level: SecurityLevel, gens: list[str], payload: bytes, delta: float, unlock=None
	):
		ttl = self.ttls[level]
		now = self.clock()
		expires_at = now + ttl
		head = f"{','.join(gens)}\n{delta:.6f} {expires_at:.3f}\n"
		index = self.keys.key(COMPONENT, "index", level.value)
		pipe = self.redis.pipeline(transaction=False)
		stats = self._take_stats_if_due()
		try:
			self._queue_stats(pipe, stats)
			pipe.set(entry_key, head.encode() + payload, px=max(1, int(ttl * 1000)))
			pipe.zadd(index, {entry_key: expires_at})
			pipe.zremrangebyscore(index, "-inf", now)
			pipe.expire(index, int(max(self.ttls.values())) + 60)
			if unlock:
				pipe.delete(unlock)
			pipe.execute()
		except _RedisError:
			self._restore([], stats)
			raise

	def _bump(self, gen_keys: list[str], *, marker: tuple[str, int] | None = None) -> bool:
		if self.breaker.allow():
			try:
				pipe = self.redis.pipeline(transaction=False)
				pending = self._take_pending()
				self._queue_pending(pipe, [*pending, *gen_keys])
				if marker is not None:  # last: set only once every counter before it was
					pipe.set(marker[0], b"1", ex=marker[1])
				pipe.execute()
				self.breaker.success()
				return self._local_dropped(gen_keys, True)
			except _RedisError:
				self._restore(pending, [])
				self._redis_failed()
		with self._mutex:
			self._pending_invalidations.extend(gen_keys)
			self._invalidation_errors += 1
		return self._local_dropped(gen_keys, False)

	def _level_sizes(self) -> dict:
		now = self.clock()
		pipe = self.redis.pipeline(transaction=False)
		for level in SecurityLevel:
			index = self.keys.key(COMPONENT, "index", level.value)
			pipe.zremrangebyscore(index, "-inf", now)
			pipe.zcard(index)
			pipe.zrandmember(index, CACHE_MEMORY_SAMPLE)
		result = pipe.execute()
		out = {}
		samples = {}
		for i, level in enumerate(SecurityLevel):
			count, sample = result[3 * i + 1], result[3 * i + 2] or []
			out[level.name] = {"entries": int(count), "memory_bytes": 0}
			samples[level.name] = sample
		pipe = self.redis.pipeline(transaction=False)
		order = []
		for name, sample in samples.items():
			for key in sample:
				pipe.memory_usage(key)
				order.append(name)
		sizes: dict[str, list[int]] = {}
		for name, size in zip(order, pipe.execute() if order else [], strict=True):
			if size is not None:
				sizes.setdefault(name, []).append(int(size))
		for name, values in sizes.items():
			out[name]["memory_bytes"] = int(sum(values) / len(values) * out[name]["entries"])
		return out

	# ---------------------------------------------------------------- statistics buffer
	def _count(self, name: str, level: SecurityLevel, metric: str, amount: float = 1) -> None:
		with self._mutex:
			self._count_locked(name, level, metric, amount)

	def _count_locked(self, name: str, level: SecurityLevel, metric: str, amount: float) -> None:
		field = f"{metric}|{level.value}|{name}"
		self._stats_buffer[field] = self._stats_buffer.get(field, 0) + amount
		self._buffered_events += 1

	def _take_stats_if_due(self) -> list:
		if (
			self._buffered_events < self._flush_events
			and time.monotonic() - self._last_flush < self._flush_seconds
		):
			return []  # the common case, decided without the lock (re-checked under it below)
		with self._mutex:
			due = (
				self._buffered_events >= self._flush_events
				or time.monotonic() - self._last_flush >= self._flush_seconds
			)
			if not due or not (self._stats_buffer or self._stats_unsure):
				return []
			return self._take_stats_locked()

	def _take_stats_locked(self) -> list:
		"""The batches to send: those a failed round trip carried (with their tokens, as they were:
		Redis applies each token once), then what was counted since, under a new token."""
		taken = [b for b in self._stats_unsure if batches.resendable(b[0])]
		if self._stats_buffer:
			taken.append((batches.new_token(), self._stats_buffer))
		self._stats_unsure = []
		self._stats_buffer = {}
		self._buffered_events = 0
		self._last_flush = time.monotonic()
		return taken

	def _queue_stats(self, pipe, stats: list) -> None:
		for token, counts in stats:
			args = [token, BATCH_MEMORY_SECONDS]
			for field, amount in counts.items():
				args += [field, batches.amount_text(amount)]
			applied = self.keys.key(COMPONENT, "stats-applied", batches.token_minute(token))
			self._stats_script(keys=[self._stats_key, applied], args=args, client=pipe)

	def _flush_stats(self) -> None:
		with self._mutex:
			stats = self._take_stats_locked() if (self._stats_buffer or self._stats_unsure) else []
		self._send_stats(stats)

	def _send_stats(self, stats: list) -> None:
		"""Write taken statistics in one round trip; on failure keep them for the next one."""
		if not stats:
			return
		pipe = self.redis.pipeline(transaction=False)
		self._queue_stats(pipe, stats)
		try:
			pipe.execute()
		except _RedisError:
			self._restore([], stats)
			raise

	# ---------------------------------------------------------------- failure handling
	def _take_pending(self) -> list[str]:
		if not self._pending_invalidations:
			return []
		with self._mutex:
			pending, self._pending_invalidations = self._pending_invalidations, []
			return pending

	@staticmethod
	def _queue_pending(pipe, gen_keys: list[str]) -> None:
		for key in dict.fromkeys(gen_keys):
			pipe.set(key, new_token())

	def _restore(self, pending: list[str], stats: list) -> None:
		"""Put back what a failed round trip was carrying, to go with the next one (statistics with
		their tokens: Redis may have applied some of them already, and skips those when resent)."""
		with self._mutex:
			self._pending_invalidations[:0] = pending
			self._stats_unsure[:0] = stats

	def _redis_failed(self) -> None:
		self.breaker.failure()

	# ---------------------------------------------------------------- in-process tier
	def _local_dropped(self, gen_keys: list[str], applied: bool) -> bool:
		"""Read-your-writes: the tier drops what the moved counters outdate before _bump returns."""
		if self.local is not None:
			self.local.invalidate(gen_keys)
		return applied

	def _tier_until(self, delta: float, expires_at: float) -> float:
		"""When the tier stops serving an entry: its expiry, brought forward by one XFetch draw (the
		Redis path then decides, hit by hit, whether to refresh it early)."""
		if self.early_beta <= 0 or delta <= 0:
			return expires_at
		return expires_at + delta * self.early_beta * math.log(1.0 - self._rng())

	def _flush_due_stats(self) -> None:
		"""Run by the tier's tracking thread about once a second: tier hits make no Redis call, so
		their statistics would otherwise wait for the next miss."""
		self._send_stats(self._take_stats_if_due())


# Counted apart from METRICS: hits served by the in-process tier. A row's "hits" are all hits,
# "redis_hits" those Redis served and "local_hits" those the tier served.
LOCAL_METRICS = ("local_hits",)


def _zero() -> dict:
	return {m: 0 for m in (*METRICS, *LOCAL_METRICS)}


def _finish(row: dict) -> dict:
	for metric in METRICS:
		row[metric] = int(row.get(metric, 0)) if metric != "compute_ms" else round(row.get(metric, 0), 3)
	row["local_hits"] = int(row.get("local_hits", 0))  # ---- in-process tier
	row["redis_hits"] = row["hits"]
	row["hits"] += row["local_hits"]
	lookups = row["hits"] + row["misses"]
	row["hit_ratio"] = round(row["hits"] / lookups, 4) if lookups else None
	return row


class _Call:
	"""One get_or_compute call past its lookup: fill a miss, single-flight, refresh early."""

	__slots__ = ("cache", "name", "level", "entry_key", "lock_key", "gen_keys", "compute")

	def __init__(self, cache: SecurityAwareCache, name, level, entry_key, lock_key, gen_keys, compute):
		self.cache = cache
		self.name = name
		self.level = level
		self.entry_key = entry_key
		self.lock_key = lock_key
		self.gen_keys = gen_keys
		self.compute = compute

	def _timed_compute(self):
		started = time.perf_counter()
		value = self.compute()
		elapsed = time.perf_counter() - started
		self.cache._count(self.name, self.level, "compute_ms", elapsed * 1000)
		return value, elapsed

	def compute_uncached(self, *, count_error: bool):
		if count_error:
			self.cache._count(self.name, self.level, "errors")
		return self._timed_compute()[0]

	def _store(self, gens, value, elapsed, *, unlock: bool = False) -> bool:
		"""Encode and store the value (releasing our lock in the same round trip); True if stored."""
		try:
			payload = encode(value)
		except UnencodableValueError as exc:
			self.cache._count(self.name, self.level, "uncacheable")
			warnings.warn(
				f"{self.name}: value returned uncached: {exc}", UncacheableValueWarning, stacklevel=4
			)
			return False
		try:
			self.cache._store(
				self.entry_key, self.level, gens, payload, elapsed, unlock=self.lock_key if unlock else None
			)
			return True
		except _RedisError:
			self.cache._redis_failed()
			self.cache._count(self.name, self.level, "errors")
			return False

	def _acquire(self, gens: list[str | None] | None = None):
		"""Try the single-flight lock; with ``gens``, also create missing counters (SET NX) and
		read the tokens in force, all in one round trip. Returns (locked, gens)."""
		redis = self.cache.redis
		lock_ms = int(self.cache.lock_ttl * 1000)
		missing = [k for k, g in zip(self.gen_keys, gens, strict=True) if g is None] if gens else []
		if not missing:
			return bool(redis.set(self.lock_key, new_token(), nx=True, px=lock_ms)), gens
		pipe = redis.pipeline(transaction=False)
		for key in missing:
			pipe.set(key, new_token(), nx=True)
		pipe.mget(self.gen_keys)
		pipe.set(self.lock_key, new_token(), nx=True, px=lock_ms)
		result = pipe.execute()
		return bool(result[-1]), [_text(g) for g in result[-2]]

	def _release(self) -> None:
		try:
			self.cache.redis.delete(self.lock_key)
		except _RedisError:
			self.cache._redis_failed()  # the lock expires by itself after lock_ttl

	def _computed_and_stored(self, gens, *, locked: bool = True):
		"""Compute and store under ``gens`` (the tokens read last), releasing our lock if ``locked``.

		``fresh_snapshot`` runs first, after those tokens were read: the compute then reads data at
		least as new as they are. When it cannot start such a snapshot the value is returned
		unstored (and the lock released before computing, so waiters need not wait for it)."""
		cache = self.cache
		released = not locked
		try:
			if cache.fresh_snapshot is not None and not cache.fresh_snapshot():
				if locked:
					released = True
					self._release()
				cache._count(self.name, self.level, "bypasses")
				return self._timed_compute()[0]
			value, elapsed = self._timed_compute()
			released = self._store(gens, value, elapsed, unlock=locked) or released
			return value
		finally:
			if not released:
				self._release()

	def fill(self, gens: list[str | None]):
		cache = self.cache
		try:
			locked, gens = self._acquire(gens)
		except _RedisError:
			cache._redis_failed()
			return self.compute_uncached(count_error=True)
		if locked:
			return self._computed_and_stored(gens)
		# Someone else is computing this entry: wait a little for their result.
		deadline = time.monotonic() + cache.lock_wait
		pause = 0.002
		while time.monotonic() < deadline:
			time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
			pause = min(pause * 2, 0.05)
			try:
				hit, current = cache._lookup(self.entry_key, self.gen_keys)
			except _RedisError:
				cache._redis_failed()
				return self.compute_uncached(count_error=True)
			if hit is not None:
				return decode(hit[2])
			if None in current[1:]:
				break  # counters vanished (flush or restart): stop waiting
			gens = current[1:]
			try:  # the computing caller may have failed and released the lock: take over
				locked, _gens = self._acquire()
				if locked:
					hit, current = cache._lookup(self.entry_key, self.gen_keys)
			except _RedisError:
				cache._redis_failed()
				return self.compute_uncached(count_error=True)
			if locked:
				if hit is not None:
					self._release()
					return decode(hit[2])
				return self._computed_and_stored(current[1:])
		return self._computed_and_stored(gens, locked=False)

	def refresh_early(self, gens: list[str], current: Callable[[], object]):
		"""Recompute a valid entry before it expires; if another caller already is, keep it."""
		try:
			locked, _gens = self._acquire()
		except _RedisError:
			self.cache._redis_failed()
			return current()
		if not locked:
			return current()
		return self._computed_and_stored(gens)


# ---------------------------------------------------------------- fork safety
# A forked child (an RQ work horse) must not inherit a statistics mutex held by another thread of
# the parent (the local tier's tracking thread flushes statistics), nor flush the parent's
# buffered statistics a second time.
_CACHES: "weakref.WeakSet[SecurityAwareCache]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
	for cache in list(_CACHES):
		cache._mutex = threading.Lock()
		cache._stats_buffer = {}
		cache._buffered_events = 0


os.register_at_fork(after_in_child=_after_fork_in_child)
