"""SampleBuffer: request samples gathered in the process, written in batches."""

import pytest

from verenigingen.performance.exceptions import InvalidMetricError
from verenigingen.performance.histogram import MetricStore, Sample
from verenigingen.performance.samples import SampleBuffer


class FakeClock:
	def __init__(self, t=1_800_000_000.0):
		self.t = t

	def __call__(self):
		return self.t


def test_buffer_writes_when_full_in_one_round_trip(redis, namespace):
	store = MetricStore(redis, namespace)
	buf = SampleBuffer(max_samples=10, max_age=3600)
	assert sum(buf.add(store, [Sample("request", 5.0)]) for _ in range(9)) == 0
	assert store.window(["request"], 1)["request"].count == 0  # nothing in Redis yet
	assert buf.add(store, [Sample("request", 7.0)]) == 10
	assert len(buf) == 0 and store.window(["request"], 1)["request"].count == 10


def test_buffer_writes_when_the_oldest_sample_is_old_enough(redis, namespace):
	clock = FakeClock()
	store = MetricStore(redis, namespace, clock=clock)
	buf = SampleBuffer(max_samples=1000, max_age=1.0, clock=clock)
	assert buf.add(store, [Sample("request", 5.0)]) == 0
	clock.t += 0.5
	assert buf.add(store, [Sample("request", 5.0)]) == 0
	clock.t += 0.6  # the first sample is now 1.1 s old
	assert buf.add(store, [Sample("request", 5.0)]) == 3


def test_buffered_samples_keep_the_minute_they_were_taken_in(redis, namespace):
	clock = FakeClock(t=60 * 30_000_000 + 59.5)  # half a second before a minute ends
	store = MetricStore(redis, namespace, clock=clock)
	buf = SampleBuffer(max_samples=1000, max_age=3600, clock=clock)
	buf.add(store, [Sample("request", 5.0)])
	clock.t += 1.0  # the next minute
	buf.add(store, [Sample("request", 9.0), Sample("request", 9.0)])
	assert buf.flush(store) == 3
	per_minute = store.per_minute(["request"], 2)["request"]
	assert [h.count for _m, h in per_minute] == [1, 2]


def test_a_failed_write_keeps_samples_within_a_bound():
	import redis as redis_py
	from redis.backoff import NoBackoff
	from redis.retry import Retry

	down = redis_py.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
	store = MetricStore(down, "site-down")
	buf = SampleBuffer(max_samples=4, max_age=3600, max_pending=6)
	for _ in range(3):
		buf.add(store, [Sample("request", 1.0)])
	assert buf.add(store, [Sample("request", 1.0)]) == 0  # the 4th makes it due; Redis is down
	assert len(buf) == 4 and buf.dropped == 0 and buf.failed_flushes == 1  # kept for the next flush
	assert "ConnectionError" in buf.last_error
	buf.add(store, [Sample("request", 1.0), Sample("request", 1.0), Sample("request", 1.0)])
	assert len(buf) == 6 and buf.dropped == 1  # bounded: the oldest went
	assert buf.failed_flushes == 2 and buf.breaker.state == "open"
	buf.add(store, [Sample("request", 1.0)])  # the breaker is open: not even tried
	assert buf.failed_flushes == 2
	with pytest.raises(redis_py.ConnectionError):  # an explicit flush says why it failed
		buf.flush(store)


def test_buffer_settings_are_checked():
	with pytest.raises(InvalidMetricError, match="max_pending >= max_samples"):
		SampleBuffer(max_samples=10, max_pending=5)
