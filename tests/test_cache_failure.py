"""Redis stopped, frozen and restarted under the cache: values stay correct throughout.

The test starts its own redis-server on a free port (no persistence), so killing it
touches nothing else.
"""

import os
import shutil
import signal
import time

import pytest

from verenigingen.performance.breaker import CircuitBreaker
from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.context import SecurityContext

CTX = SecurityContext("alice@example.org", ["Member Manager"])
REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary not installed")


class Source:
	"""The data behind the cached function, and how often it was read."""

	def __init__(self):
		self.value = 1
		self.reads = 0

	def compute(self):
		self.reads += 1
		return {"value": self.value}


def call(cache, source):
	return cache.get_or_compute("f", (), source.compute, ctx=CTX, level="MEMBER_DATA", depends_on=["Member"])


def test_redis_killed_then_restarted(own_redis):
	clock = [0.0]
	breaker = CircuitBreaker(failures=2, pause=5.0, clock=lambda: clock[0])
	cache = SecurityAwareCache(own_redis.client(), "site1", breaker=breaker)
	source = Source()
	assert call(cache, source) == {"value": 1}
	assert call(cache, source) == {"value": 1} and source.reads == 1  # cached

	own_redis.kill()
	source.value = 2  # the data changes while Redis is gone (the invalidation cannot land)
	assert cache.invalidate_doctype("Member") is False
	for _ in range(5):
		assert call(cache, source) == {"value": 2}
	assert source.reads == 6  # every call computed
	assert breaker.state == "open"
	# While open, calls skip Redis: no connect timeout is paid.
	started = time.perf_counter()
	for _ in range(20):
		assert call(cache, source) == {"value": 2}
	assert time.perf_counter() - started < 0.3 * 2  # well under one 0.3 s timeout per call

	own_redis.start()  # same port, empty: a restart without persistence
	clock[0] += 5.0  # the breaker's pause is over
	assert call(cache, source) == {"value": 2}  # the trial call reaches Redis: a miss, then stored
	reads = source.reads
	assert call(cache, source) == {"value": 2}
	assert source.reads == reads  # the cache is used again
	stats = cache.stats()
	assert stats["available"] is True and stats["breaker"] == "closed"
	assert stats["totals"]["errors"] >= 25  # counted while down, delivered after the restart
	assert stats["pending_invalidations"] == 0


def test_invalidation_missed_while_redis_was_frozen_is_applied_before_the_next_lookup(own_redis):
	"""Redis hangs (SIGSTOP) with the old entry still in it; the invalidation made during the
	hang must not let that entry be served once Redis answers again."""
	clock = [0.0]
	breaker = CircuitBreaker(failures=1, pause=1.0, clock=lambda: clock[0])
	cache = SecurityAwareCache(own_redis.client(), "site1", breaker=breaker)
	source = Source()
	assert call(cache, source) == {"value": 1}
	os.kill(own_redis.proc.pid, signal.SIGSTOP)
	try:
		source.value = 2
		assert cache.invalidate_doctype("Member") is False  # timed out: kept for later
		assert call(cache, source) == {"value": 2}  # breaker open: computed
	finally:
		os.kill(own_redis.proc.pid, signal.SIGCONT)
	clock[0] += 1.0
	assert call(cache, source) == {"value": 2}  # the old entry {"value": 1} is still in Redis
	assert cache.stats()["pending_invalidations"] == 0
	reads = source.reads
	assert call(cache, source) == {"value": 2} and source.reads == reads


def test_compute_errors_are_not_hidden_when_redis_is_down(own_redis):
	cache = SecurityAwareCache(own_redis.client(), "site1")
	own_redis.kill()

	def boom():
		raise LookupError("member M1 not found")

	with pytest.raises(LookupError, match="M1"):
		cache.get_or_compute("f", (), boom, ctx=CTX, level="MEMBER_DATA")


def test_a_redis_that_forgot_the_lookup_script_reloads_it(own_redis):
	client = own_redis.client()
	cache = SecurityAwareCache(client, "site1")
	source = Source()
	call(cache, source)
	client.script_flush()  # what a restart or SCRIPT FLUSH leaves behind
	assert call(cache, source) == {"value": 1} and source.reads == 1  # still a hit
