"""How fresh the in-process tier is across processes: the window after an invalidation returns.

``measure_freshness(redis_kwargs, readers=1, trials=500)`` starts ``readers`` processes (spawned,
each with its own cache and LocalTier on one scratch namespace) that look up one cached value in a
loop, a lookup every ``pause`` seconds. This process is the writer: per trial it changes the data
behind the value, calls ``invalidate_doctype`` and notes when that returned (``t_return``), then
waits until every reader holds the new value in its tier again.

For each reader and trial the readers report the start and end of the last lookup that returned
the old value and the start of the first that returned the new one. The **window** is how long
after ``t_return`` the reader still *began* lookups that returned the old value: the start of that
last lookup minus ``t_return``, 0 if it began before (a lookup that began before the invalidation
returned may rightly return the old value). The report also gives ``served_until_ms``: the *end*
of that lookup minus ``t_return``, which adds the time the lookup took, including any time the
reader was not scheduled on a busy machine. A **stale read after the bound** is a lookup that
began more than ``bound`` seconds after ``t_return`` and returned the old value; the tier's
heartbeat rule makes it impossible (``TIER_STALE_AFTER`` is below the default bound of 0.1 s), and
the report counts any.
The clock is ``time.monotonic`` (CLOCK_MONOTONIC), shared by the processes of one machine.
"""

import multiprocessing
import random
import statistics
import time
import uuid

from .context import SecurityContext
from .exceptions import InvalidCacheArgumentError

PROBE_DOCTYPE = "Freshness Probe"
PROBE_FUNCTION = "freshness_probe"
_CTX = SecurityContext("freshness@example.org", ["Freshness Reader"])
_CLIENT_KEYS = ("host", "port", "db", "username", "password", "path")


def client_kwargs(redis) -> dict:
	"""What a spawned process needs to reach the same Redis as ``redis`` (plain, picklable)."""
	kwargs = redis.connection_pool.connection_kwargs
	return {k: kwargs[k] for k in _CLIENT_KEYS if kwargs.get(k) is not None}


def _cache(redis_kwargs: dict, namespace: str, tier_options: dict):
	import redis as redis_py

	from .cache import SecurityAwareCache
	from .local_tier import LocalTier

	client = redis_py.Redis(**redis_kwargs)
	tier = LocalTier(**tier_options)
	cache = SecurityAwareCache(client, namespace, local=tier, early_beta=0)
	truth = cache.keys.key("freshness", "truth")

	def lookup():
		return cache.get_or_compute(
			PROBE_FUNCTION,
			(),
			lambda: int(client.get(truth) or 0),
			ctx=_CTX,
			level="UTILITY",
			depends_on=(PROBE_DOCTYPE,),
		)

	return client, cache, tier, truth, lookup


def _reader(redis_kwargs: dict, namespace: str, tier_options: dict, pause: float, conn) -> None:
	"""A reader process: look up in a loop; report each change of the value (see module doc)."""
	client, cache, tier, _truth, lookup = _cache(redis_kwargs, namespace, tier_options)
	try:
		current = lookup()
		last_start = last_end = time.monotonic()
		announced = None
		conn.send(("ready", current))
		checks = 0
		while True:
			start = time.monotonic()
			value = lookup()
			end = time.monotonic()
			if value != current:
				conn.send(("changed", value, current, last_start, last_end, start))
				current = value
			last_start, last_end = start, end
			if announced != current and tier.size():
				announced = current
				conn.send(("held", current))
			checks += 1
			if checks % 16 == 0 and conn.poll():
				break
			if pause:
				time.sleep(pause)
		conn.send(("done", tier.process_stats(), cache.stats(function=PROBE_FUNCTION)))
	finally:
		tier.close()
		client.close()


def measure_freshness(
	redis_kwargs: dict,
	*,
	readers: int = 1,
	trials: int = 500,
	pause: float = 0.0002,
	bound: float = 0.1,
	tier_options: dict | None = None,
	timeout: float = 10.0,
	seed: int = 1,
) -> dict:
	"""Run the measurement (module doc) and return plain data: per-reader windows in ms, their
	p50/p95/p99/max, stale reads after ``bound``, reads that went back to an older value, and the
	readers' tier statistics. Uses and then deletes a scratch namespace of its own."""
	if readers < 1 or trials < 1 or pause < 0 or bound <= 0:
		raise InvalidCacheArgumentError("need readers >= 1, trials >= 1, pause >= 0 and bound > 0")
	from .keys import unlink_site

	tier_options = dict(tier_options or {})
	namespace = f"vfresh-{uuid.uuid4().hex[:10]}"
	client, cache, tier, truth, _lookup = _cache(redis_kwargs, namespace, tier_options)
	context = multiprocessing.get_context("spawn")
	pipes, procs = [], []
	rng = random.Random(seed)
	try:
		client.set(truth, 0)
		for _ in range(readers):
			mine, theirs = context.Pipe()
			proc = context.Process(
				target=_reader, args=(redis_kwargs, namespace, tier_options, pause, theirs), daemon=True
			)
			proc.start()
			theirs.close()  # so a reader that dies shows as end of file, not as silence
			pipes.append(mine)
			procs.append(proc)
		for conn in pipes:
			_expect(conn, "ready", timeout * 6)  # a spawned interpreter imports everything first
		for conn in pipes:
			_wait_held(conn, 0, timeout)
		windows, served_until, first_new, stale_after_bound, backwards = [], [], [], 0, 0
		for trial in range(1, trials + 1):
			client.set(truth, trial)
			cache.invalidate_doctype(PROBE_DOCTYPE)
			returned = time.monotonic()
			for conn in pipes:
				for msg in _wait_held(conn, trial, timeout):
					_tag, value, old, old_start, old_end, new_start = msg
					if value < old:
						backwards += 1
					if value == trial:
						windows.append(max(0.0, old_start - returned) * 1000)
						served_until.append(max(0.0, old_end - returned) * 1000)
						first_new.append((new_start - returned) * 1000)
						if old_start - returned > bound:
							stale_after_bound += 1
			time.sleep(rng.uniform(0, 0.002))  # let the next trial start at no fixed phase of the readers
		reports = []
		for conn in pipes:
			conn.send("stop")
		for conn in pipes:
			msg = _expect(conn, "done", timeout)
			reports.append({"tier": msg[1], "probe": msg[2]})
		return {
			"readers": readers,
			"trials": trials,
			"pause_ms": pause * 1000,
			"bound_ms": bound * 1000,
			"windows_ms": windows,
			"served_until_ms": served_until,
			"first_new_ms": first_new,
			"summary": _summary(windows),
			"served_until": _summary(served_until),
			"stale_after_bound": stale_after_bound,
			"backwards": backwards,
			"reader_reports": reports,
		}
	finally:
		for conn in pipes:
			conn.close()
		for proc in procs:
			proc.join(timeout)
			if proc.is_alive():
				proc.kill()
				proc.join(timeout)
		tier.close()
		unlink_site(client, namespace)
		client.close()


def _expect(conn, tag: str, timeout: float):
	if not conn.poll(timeout):
		raise TimeoutError(f"a freshness reader sent no {tag!r} within {timeout} s")
	msg = conn.recv()
	if msg[0] != tag:
		raise RuntimeError(f"a freshness reader sent {msg!r}, expected {tag!r}")
	return msg


def _wait_held(conn, value: int, timeout: float) -> list:
	"""The reader's messages up to the one saying it holds ``value`` in its tier (changes included)."""
	out = []
	deadline = time.monotonic() + timeout
	while True:
		left = deadline - time.monotonic()
		if left <= 0 or not conn.poll(left):
			raise TimeoutError(
				f"a freshness reader did not hold value {value} in its tier within {timeout} s"
			)
		msg = conn.recv()
		if msg[0] == "changed":
			out.append(msg)
		elif msg[0] == "held" and msg[1] == value:
			return out


def _summary(windows_ms: list[float]) -> dict:
	if not windows_ms:
		return {"count": 0}
	ordered = sorted(windows_ms)

	def pct(q: float) -> float:
		return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 3)

	return {
		"count": len(ordered),
		"mean": round(statistics.fmean(ordered), 3),
		"p50": pct(0.50),
		"p95": pct(0.95),
		"p99": pct(0.99),
		"max": round(ordered[-1], 3),
		"zero": sum(1 for w in ordered if w == 0.0),
	}
