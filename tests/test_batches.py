"""A batch of counts resent after a failed round trip is counted once (performance/batches.py).

The failure is the hard one: Redis carried the batch out but its reply was lost (a proxy closes
the connection instead of passing the answer on), so the sender cannot know and resends it.
Without tokens the resend doubles the counts."""

import pytest

from verenigingen.performance import batches
from verenigingen.performance.breaker import CircuitBreaker
from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.environment import redis_settings
from verenigingen.performance.histogram import MetricStore, Sample
from verenigingen.performance.samples import SampleBuffer

from .redisproxy import ReplyLosingProxy

CTX = SecurityContext("alice@example.org", ["Member Manager"])


@pytest.fixture
def proxy():
	settings = redis_settings()
	p = ReplyLosingProxy(settings["host"], settings["port"])
	yield p
	p.close()


@pytest.fixture
def proxied(proxy):
	import redis as redis_py

	from verenigingen.performance.bounded import bounded_client

	client = bounded_client(redis_py.Redis(port=proxy.port), 5.0)  # no retries of its own
	yield client
	client.close()


def test_a_sample_batch_whose_reply_was_lost_is_counted_once(proxy, proxied, redis, namespace):
	now = [600.0 * 60 + 50]  # ten seconds before a minute ends: the batch spans two minutes
	store = MetricStore(proxied, namespace, clock=lambda: now[0])
	buffer = SampleBuffer(max_samples=1000, max_age=3600, clock=lambda: now[0])
	for _ in range(12):
		buffer.add(store, [Sample("request", 5.0)])
	now[0] += 20
	for _ in range(8):
		buffer.add(store, [Sample("request", 5.0), Sample("job_run:short", 1.0)])
	proxy.lose_reply_to(b"EVALSHA")
	with pytest.raises(Exception, match="(?i)connection|closed"):
		buffer.flush(store)
	assert proxy.lost_replies == 1 and len(buffer) == 28  # kept: the sender cannot know it landed
	assert buffer.flush(store) == 0  # resent with the same tokens: Redis had applied them already
	reader = MetricStore(redis, namespace, clock=lambda: now[0])
	counts = {m: h.count for m, h in reader.window(["request", "job_run:short"], 2).items()}
	assert counts == {"request": 20, "job_run:short": 8}
	buffer.add(store, [Sample("request", 5.0)])
	assert buffer.flush(store) == 1  # a new batch is a new token
	assert reader.window(["request"], 2)["request"].count == 21


def test_a_batch_too_old_to_be_known_is_dropped_not_resent(proxy, proxied, redis, namespace):
	now = [1000.0 * 60]
	store = MetricStore(proxied, namespace, clock=lambda: now[0])
	buffer = SampleBuffer(max_samples=1000, max_age=3600, clock=lambda: now[0])
	buffer.add(store, [Sample("request", 5.0)] * 3)
	proxy.lose_reply_to(b"EVALSHA")
	with pytest.raises(Exception, match="(?i)connection|closed"):
		buffer.flush(store)
	now[0] += batches.RESEND_WITHIN + 1
	assert buffer.flush(store) == 0 and buffer.dropped == 3 and len(buffer) == 0


def test_cache_statistics_whose_reply_was_lost_are_counted_once(proxy, proxied, namespace):
	cache = SecurityAwareCache(
		proxied, namespace, stats_flush_events=1, breaker=CircuitBreaker(failures=5), call_timeout=5.0
	)

	def call():
		return cache.get_or_compute("f", (), lambda: {"v": 1}, ctx=CTX, level="MEMBER_DATA")

	assert call() == {"v": 1}  # a miss, stored
	assert call() == {"v": 1}  # hit 1, buffered: the next round trip carries it
	proxy.lose_reply_to(b"cache:stats")
	assert call() == {"v": 1}  # the round trip carrying hit 1 loses its reply: computed uncached
	assert proxy.lost_replies == 1
	assert call() == {"v": 1}  # hit 2; hit 1's batch is resent with its token
	totals = cache.stats()["totals"]
	assert (totals["hits"], totals["misses"], totals["errors"]) == (2, 1, 1)


def test_amounts_keep_their_kind():
	assert batches.amount_text(3) == "3" and batches.amount_text(2.0) == "2"
	assert batches.amount_text(0.25) == "0.25" and "e" in batches.amount_text(1e-9)
	token = batches.new_token(lambda: 120.5)
	assert batches.token_minute(token) == 2 and batches.resendable(token, lambda: 130.0)
	assert not batches.resendable(token, lambda: 120 + batches.RESEND_WITHIN + 1)
