"""The in-process tier of the security-aware cache: hot entries served from the worker's memory.

``SecurityAwareCache(redis, namespace, local=LocalTier(max_entries=10_000, max_bytes=64 * 2**20))``.

* **Keyed like Redis.** An entry sits under its Redis key (site, level, function, scope, user,
  roles digest, argument digest) with the generation keys and tokens it was stored under. A hit
  checks, in memory, that each token is still the current one and that the entry has not expired
  (nor reached its early-refresh point, drawn once as XFetch draws it); it makes no network call.
* **Current tokens are kept fresh by Redis.** The tier learns tokens from Redis hits and drops one
  the moment Redis reports its key changed (:mod:`.tracking`: client tracking, broadcast on the
  site's generation-key prefix). A token the tier does not hold is never assumed, so an entry
  depending on it is a miss. An entry is installed only if no report touching its keys arrived
  between the start of the Redis lookup that found it and the install (:meth:`mark`/:meth:`put`).
* **Doubt empties it.** The tracking connection drops, reconnects, returns something unreadable
  or a heartbeat goes unanswered; Redis reports a flush; the process forks
  (``os.register_at_fork``: a forked child, an RQ work horse, starts empty); the tier stops serving
  whenever the last answered heartbeat is older than ``stale_after``. The invalidating process
  drops its own entries before ``invalidate_*`` returns.
* **Bounded.** At most ``max_entries`` entries and ``max_bytes`` of encoded values, least recently
  used first out. A value is held as a private decoded copy; each hit returns a fresh copy of its
  mutable parts (immutable parts are shared), so a caller who mutates what it got changes nothing
  for the next.
* **Statistics** (:meth:`stats`): this process's entries, bytes, state; and counters summed over
  every process in Redis (evictions, flushes by cause, misses by reason, installs), published by the
  tracking thread about once a second, never by a hit.
"""

import datetime
import itertools
import json
import os
import socket
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from decimal import Decimal

from redis.exceptions import RedisError

from .defaults import (
	TIER_HEARTBEAT,
	TIER_IDLE_AFTER,
	TIER_MAX_BYTES,
	TIER_MAX_ENTRIES,
	TIER_PROCESS_ROW_TTL,
	TIER_SLOW_AFTER,
	TIER_STALE_AFTER,
	TIER_TICK_SECONDS,
)
from .exceptions import InvalidCacheArgumentError
from .invalidation import COMPONENT
from .serialization import decode
from .tracking import (
	ERROR,
	LOST,
	POLL_INTERVAL,
	PROTOCOL,
	REDIS_FLUSH,
	SLOW,
	Address,
	InvalidationTracker,
)

MISS = object()  # what get() returns when the tier cannot serve
FORK = "fork"
FLUSH_CAUSES = (LOST, REDIS_FLUSH, SLOW, PROTOCOL, ERROR, FORK)
MISS_REASONS = ("absent", "unvouched", "outdated", "expired")
COUNTERS = (
	"installs",
	"refused",
	"too_large",
	"evictions",
	"invalidated",
	*(f"miss_{r}" for r in MISS_REASONS),
)
_RECENT = 256  # reports remembered to judge installs whose lookup overlapped them


# ---------------------------------------------------------------- copies of held values
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes, Decimal, datetime.date, datetime.datetime})


def copier(value) -> Callable[[], object]:
	"""A function returning a fresh copy of ``value`` (decoded cache data) on each call: new dicts,
	lists and tuples holding mutable parts, the immutable parts shared. Built once per entry."""
	make, _mutable = _copier(value)
	return make


def _copier(value):
	kind = type(value)
	if kind in _IMMUTABLE:
		return itertools.repeat(value).__next__, False
	if kind is dict or kind is list:
		items = value.items() if kind is dict else enumerate(value)
		subs = []
		for key, item in items:
			make, mutable = _copier(item)
			if mutable:
				subs.append((key, make))
		if not subs:
			return value.copy, True
		subs = tuple(subs)

		def copy_container():
			out = value.copy()
			for key, make in subs:
				out[key] = make()
			return out

		return copy_container, True
	if kind is tuple:
		parts = [_copier(item) for item in value]
		if not any(mutable for _make, mutable in parts):
			return itertools.repeat(value).__next__, False
		makers = tuple(make for make, _mutable in parts)
		return (lambda: tuple(make() for make in makers)), True
	raise TypeError(f"cannot copy a cached value of type {kind.__name__}")


class _Entry:
	__slots__ = ("gen_keys", "tokens", "fresh_until", "size", "make")

	def __init__(self, gen_keys, tokens, fresh_until, size, make):
		self.gen_keys = gen_keys
		self.tokens = tokens
		self.fresh_until = fresh_until
		self.size = size
		self.make = make


_TIERS: "weakref.WeakSet[LocalTier]" = weakref.WeakSet()


class LocalTier:
	"""One site's in-process cache tier; give it to one ``SecurityAwareCache``. Thread-safe."""

	def __init__(
		self,
		max_entries: int = TIER_MAX_ENTRIES,
		max_bytes: int = TIER_MAX_BYTES,
		*,
		heartbeat: float = TIER_HEARTBEAT,
		stale_after: float = TIER_STALE_AFTER,
		slow_after: float = TIER_SLOW_AFTER,
		idle_after: float = TIER_IDLE_AFTER,
		tick_seconds: float = TIER_TICK_SECONDS,
	):
		for label, number in (("max_entries", max_entries), ("max_bytes", max_bytes)):
			if isinstance(number, bool) or not isinstance(number, int) or number < 1:
				raise InvalidCacheArgumentError(f"{label} must be a positive integer, got {number!r}")
		timing = {"heartbeat": heartbeat, "stale_after": stale_after, "slow_after": slow_after,
			"idle_after": idle_after, "tick_seconds": tick_seconds}  # fmt: skip
		for label, number in timing.items():
			if isinstance(number, bool) or not isinstance(number, int | float) or not number > 0:
				raise InvalidCacheArgumentError(
					f"{label} must be a positive number of seconds, got {number!r}"
				)
		if not heartbeat < stale_after <= slow_after:
			raise InvalidCacheArgumentError(
				f"need heartbeat < stale_after <= slow_after, got {heartbeat}, {stale_after}, {slow_after}"
			)
		self.max_entries = max_entries
		self.max_bytes = max_bytes
		self.timing = timing
		self._lock = threading.Lock()
		self._tracker: InvalidationTracker | None = None
		self._redis = None
		self._clock: Callable[[], float] = time.time
		self._on_tick: Callable[[], None] | None = None
		self._stats_key = self._procs_key = self._process_field = None
		self._reset_state()
		_TIERS.add(self)

	def _reset_state(self) -> None:
		self._entries: OrderedDict[str, _Entry] = OrderedDict()
		self._tokens: dict[str, str] = {}  # generation key -> the token Redis holds, as far as we know
		self._dependents: dict[str, set[str]] = {}  # generation key -> entries stored under it
		self._bytes = 0
		self._hits = 0
		self._seq = 0  # counts reports (and flushes) applied; see mark()
		self._recent: deque = deque(maxlen=_RECENT)  # (seq, frozenset of keys, or None: everything)
		self._counters = dict.fromkeys(COUNTERS, 0)
		self._flushes = dict.fromkeys(FLUSH_CAUSES, 0)
		self._published: dict[str, int] = {}
		self._last_gauges = 0.0

	# ------------------------------------------------------------ wiring (by SecurityAwareCache)
	def bind(self, redis, prefix: str, keys, *, clock: Callable[[], float], on_tick=None) -> "LocalTier":
		"""Attach to the cache of one site: ``prefix`` is the site's generation-key prefix, ``keys``
		its KeyBuilder, ``on_tick`` what the tracking thread runs about once a second."""
		if self._tracker is not None:
			raise InvalidCacheArgumentError("this LocalTier already serves a cache; give each cache its own")
		self._redis = redis
		self._clock = clock
		self._on_tick = on_tick
		self._stats_key = keys.key(COMPONENT, "tier", "stats")
		self._procs_key = keys.key(COMPONENT, "tier", "processes")
		self._process_field = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
		t = self.timing
		self._tracker = InvalidationTracker(
			Address.of(redis), prefix, name=f"vperf-tier:{keys.namespace}:{os.getpid()}", lock=self._lock,
			on_keys=self._on_keys, on_flush=self._on_flush, heartbeat=t["heartbeat"],
			stale_after=t["stale_after"], slow_after=t["slow_after"], idle_after=t["idle_after"],
			on_tick=self._tick, tick_seconds=t["tick_seconds"],
		)  # fmt: skip
		return self

	@property
	def tracker(self) -> InvalidationTracker:
		return self._tracker

	def start(self) -> None:
		"""Connect now rather than at the first lookup (a worker may call this when it boots); the
		tier counts as in use, so heartbeats keep it vouched for ``idle_after`` seconds."""
		self._tracker.last_use = time.monotonic()
		self._tracker.start()

	def ready(self) -> bool:
		"""Would the tier serve what it holds right now (tracking up, a heartbeat answered lately)?"""
		return self._tracker is not None and self._tracker.vouches(time.monotonic())

	# ------------------------------------------------------------ the hot path
	def get(self, key: str, gen_keys):
		"""A fresh copy of the value held for ``key`` if the tier can vouch for it, else :data:`MISS`."""
		tracker = self._tracker
		now = time.monotonic()
		tracker.last_use = now
		if now - tracker.polled_at >= POLL_INTERVAL:
			tracker.service(now)
		if not tracker.vouches(now):
			tracker.nudge(now)
			return self._miss("unvouched")
		entry = self._entries.get(key)
		if entry is None:
			return self._miss("absent")
		if (entry.gen_keys is not gen_keys and entry.gen_keys != gen_keys) or tuple(
			map(self._tokens.get, gen_keys)
		) != entry.tokens:
			return self._miss("outdated", key, entry)
		if self._clock() >= entry.fresh_until:
			return self._miss("expired", key, entry)
		try:
			self._entries.move_to_end(key)
		except KeyError:
			pass  # dropped by another thread since we read it: still the value current when read
		self._hits += 1  # this process's own count (the cache counts hits per function for every process)
		return entry.make()

	def _miss(self, reason: str, key: str | None = None, entry: _Entry | None = None):
		with self._lock:
			self._counters[f"miss_{reason}"] += 1
			if entry is not None and self._entries.get(key) is entry:
				self._remove_locked(key)
		return MISS

	def mark(self) -> int:
		"""Take before the Redis lookup whose hit may be installed with :meth:`put`."""
		return self._seq

	def put(self, mark: int, key: str, gen_keys, tokens, payload: bytes, fresh_until: float) -> bool:
		"""Hold the value of a Redis hit (``payload`` as stored, ``tokens`` the current tokens of
		``gen_keys`` that Redis compared). Refused when a report touching those keys, or a flush,
		was applied since ``mark``, or the tier cannot vouch now. Returns whether it was installed."""
		size = len(payload)
		if size > self.max_bytes:
			with self._lock:
				self._counters["too_large"] += 1
			return False
		try:
			make = copier(decode(payload))  # a private copy: never the object the caller was given
		except (TypeError, ValueError, RecursionError):
			return False
		tokens = tuple(tokens)
		if len(gen_keys) != len(tokens):
			raise InvalidCacheArgumentError(f"{len(gen_keys)} generation keys but {len(tokens)} tokens")
		if fresh_until <= self._clock():
			return False  # already past its time: the Redis path decides what to do with it
		with self._lock:
			if not self._tracker.vouches(time.monotonic()) or self._reported_since(mark, gen_keys):
				self._counters["refused"] += 1
				return False
			if key in self._entries:
				self._remove_locked(key)
			for gen_key, token in zip(gen_keys, tokens, strict=True):
				known = self._tokens.get(gen_key)
				if known != token:
					if known is not None:  # a report is on its way: what was stored under the old token goes
						for other in tuple(self._dependents.get(gen_key, ())):
							self._remove_locked(other)
					self._tokens[gen_key] = token
				self._dependents.setdefault(gen_key, set()).add(key)
			self._entries[key] = _Entry(gen_keys, tokens, fresh_until, size, make)
			self._bytes += size
			self._counters["installs"] += 1
			while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
				self._remove_locked(next(iter(self._entries)))
				self._counters["evictions"] += 1
		return True

	def _reported_since(self, mark: int, gen_keys) -> bool:
		if self._seq == mark:
			return False
		if self._seq - mark > len(self._recent):
			return True
		for seq, keys in reversed(self._recent):
			if seq <= mark:
				break
			if keys is None or not keys.isdisjoint(gen_keys):
				return True
		return False

	# ------------------------------------------------------------ invalidation
	def invalidate(self, gen_keys) -> None:
		"""This process moved these generation keys (``invalidate_*`` after writing Redis): drop what
		depends on them now, without waiting for Redis's report."""
		with self._lock:
			self._on_keys(gen_keys)

	def flush(self, cause: str = "manual") -> None:
		with self._lock:
			self._on_flush(cause)

	def _on_keys(self, gen_keys) -> None:  # lock held
		keys = frozenset(gen_keys)
		self._seq += 1
		self._recent.append((self._seq, keys))
		for gen_key in keys:
			self._tokens.pop(gen_key, None)
			for key in self._dependents.pop(gen_key, ()):
				if key in self._entries:
					self._remove_locked(key)
					self._counters["invalidated"] += 1

	def _on_flush(self, cause: str) -> None:  # lock held
		self._seq += 1
		self._recent.append((self._seq, None))
		self._entries.clear()
		self._tokens.clear()
		self._dependents.clear()
		self._bytes = 0
		if cause in self._flushes:
			self._flushes[cause] += 1

	def _remove_locked(self, key: str) -> None:
		entry = self._entries.pop(key)
		self._bytes -= entry.size
		for gen_key in entry.gen_keys:
			dependents = self._dependents.get(gen_key)
			if dependents is None:
				continue
			dependents.discard(key)
			if not dependents:
				del self._dependents[gen_key]
				self._tokens.pop(gen_key, None)

	# ------------------------------------------------------------ lifecycle
	def close(self) -> None:
		"""Stop the tracking thread and close its connection; the tier then serves nothing."""
		if self._tracker is not None:
			self._tracker.close()
		self.flush("closed")

	def _after_fork_in_child(self) -> None:
		self._lock = threading.Lock()
		self._reset_state()
		self._flushes[FORK] = 1
		if self._tracker is not None:
			self._tracker.after_fork_in_child(self._lock)
			self._process_field = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

	# ------------------------------------------------------------ statistics
	def size(self) -> int:
		"""Entries held now (in this process)."""
		return len(self._entries)

	def process_stats(self) -> dict:
		"""This process's tier: hits served, size, limits, tracking state, and its own counters."""
		with self._lock:
			counters = dict(self._counters)
			flushes = dict(self._flushes)
			entries, held = len(self._entries), self._bytes
		tracker = self._tracker.describe(time.monotonic()) if self._tracker else {"state": "unbound"}
		return {
			"hits": self._hits,
			"entries": entries,
			"bytes": held,
			"max_entries": self.max_entries,
			"max_bytes": self.max_bytes,
			"tracking": tracker,
			"counters": counters,
			"flushes": flushes,
		}

	def stats(self) -> dict:
		"""Counters summed over every process of the site (from Redis) and the live processes' sizes,
		plus this process's own view under ``process``::

		    {"processes": n, "entries": n, "bytes": n,       # processes seen in the last minute
		     "counters": {installs, refused, too_large, evictions, invalidated, miss_<reason>},
		     "flushes": {connection_lost, redis_flush, slow, protocol, fork},
		     "process": process_stats()}
		"""
		self.publish(force=True)
		raw = self._redis.hgetall(self._stats_key)
		rows = self._redis.hgetall(self._procs_key)
		totals = {_text(k): int(v) for k, v in raw.items()}
		now = self._clock()
		processes, entries, held, gone = 0, 0, 0, []
		for field, value in rows.items():
			try:
				row = json.loads(value)
				fresh = now - float(row["at"]) <= TIER_PROCESS_ROW_TTL
			except (ValueError, KeyError, TypeError):
				fresh = False
			if not fresh:
				gone.append(field)
				continue
			processes += 1
			entries += int(row.get("entries", 0))
			held += int(row.get("bytes", 0))
		if gone:
			self._redis.hdel(self._procs_key, *gone)
		return {
			"processes": processes,
			"entries": entries,
			"bytes": held,
			"counters": {c: totals.get(c, 0) for c in COUNTERS},
			"flushes": {c: totals.get(f"flush:{c}", 0) for c in FLUSH_CAUSES},
			"process": self.process_stats(),
		}

	def publish(self, *, force: bool = False) -> None:
		"""Add this process's counters since the last publish to the site's totals in Redis and
		refresh its row (entries, bytes). One pipelined round trip; raises redis errors."""
		with self._lock:
			current = {**self._counters, **{f"flush:{c}": n for c, n in self._flushes.items()}}
			gauges = {"entries": len(self._entries), "bytes": self._bytes, "at": self._clock()}
		deltas = {k: n - self._published.get(k, 0) for k, n in current.items()}
		deltas = {k: d for k, d in deltas.items() if d}
		if not deltas and not force and gauges["at"] - self._last_gauges < TIER_PROCESS_ROW_TTL / 4:
			return
		pipe = self._redis.pipeline(transaction=False)
		for field, delta in deltas.items():
			pipe.hincrby(self._stats_key, field, delta)
		pipe.hset(self._procs_key, self._process_field, json.dumps(gauges))
		pipe.execute()
		self._published = current
		self._last_gauges = gauges["at"]

	def _tick(self) -> None:
		"""Run by the tracking thread: publish, and let the cache flush its buffered statistics."""
		try:
			self.publish()
			if self._on_tick is not None:
				self._on_tick()
		except RedisError:
			return  # Redis is unreachable: the counters stay and go with a later tick

	def __repr__(self) -> str:
		return f"LocalTier(max_entries={self.max_entries}, max_bytes={self.max_bytes})"


def _text(value) -> str:
	return value.decode() if isinstance(value, bytes) else value


def _after_fork_in_child() -> None:
	for tier in list(_TIERS):
		tier._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
