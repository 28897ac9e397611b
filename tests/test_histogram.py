"""Log-scale histograms: percentiles within the stated error, merging, bounded memory in Redis."""

import math
import random

import pytest

from verenigingen.performance.exceptions import InvalidMetricError
from verenigingen.performance.histogram import (
	BUCKETS,
	RELATIVE_ERROR,
	Histogram,
	MetricStore,
	Sample,
	bucket_of,
	bucket_value,
)
from verenigingen.performance.keys import unlink_site


def exact(values, q):
	ordered = sorted(values)
	return ordered[max(1, math.ceil(q * len(ordered) - 1e-9)) - 1]


DISTRIBUTIONS = {
	"lognormal": lambda r: r.lognormvariate(3, 1.2),
	"exponential": lambda r: r.expovariate(1 / 80),
	"uniform": lambda r: r.uniform(0.5, 5000),
	"bimodal": lambda r: r.gauss(20, 3) if r.random() < 0.8 else r.gauss(900, 100),
	"pareto": lambda r: 5 * r.paretovariate(1.5),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_within_stated_relative_error(name, seed):
	rng = random.Random(seed)
	values = [max(0.002, DISTRIBUTIONS[name](rng)) for _ in range(rng.randint(500, 20_000))]
	h = Histogram()
	for v in values:
		h.add(v)
	for q in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
		est, true = h.percentile(q), exact(values, q)
		assert abs(est - true) <= RELATIVE_ERROR * true + 1e-12, (name, q, est, true)


def test_every_value_is_within_error_of_its_bucket_value():
	rng = random.Random(9)
	for _ in range(20_000):
		v = 10 ** rng.uniform(-2.9, 6.5)
		assert abs(bucket_value(bucket_of(v)) - v) <= RELATIVE_ERROR * v * (1 + 1e-9)


def test_merge_equals_histogram_of_all_samples():
	rng = random.Random(4)
	a, b, both = Histogram(), Histogram(), Histogram()
	for i in range(5000):
		v = rng.lognormvariate(2, 1)
		(a if i % 3 else b).add(v, error=i % 7 == 0)
		both.add(v, error=i % 7 == 0)
	merged = Histogram().merge(a).merge(b)
	assert merged.counts == both.counts and merged.count == both.count and merged.errors == both.errors
	assert merged.percentile(0.95) == both.percentile(0.95)


def test_bad_input_is_refused_with_a_clear_error():
	with pytest.raises(InvalidMetricError, match="non-negative"):
		bucket_of(-1)
	with pytest.raises(InvalidMetricError, match="quantile"):
		Histogram().percentile(1.5)
	assert Histogram().percentile(0.5) is None


def test_store_round_trip_matches_in_memory_histogram(redis, namespace):
	now = [1_800_000_000.0]
	store = MetricStore(redis, namespace, clock=lambda: now[0])
	rng = random.Random(5)
	local = Histogram()
	for i in range(600):
		v = rng.expovariate(1 / 50)
		err = i % 10 == 0
		local.add(v, error=err)
		store.record([Sample("request", v, err)])
		if i % 100 == 99:
			now[0] += 60  # six minutes of data
	merged = store.window(["request"], 10)["request"]
	assert merged.counts == local.counts and merged.count == 600 and merged.errors == 60
	assert merged.total_ms == pytest.approx(local.total_ms)
	assert store.window(["request"], 1, end=now[0] - 60)["request"].count == 100  # one minute only


def test_store_memory_is_bounded_under_a_long_synthetic_run(redis, namespace, keys):
	"""Many requests over many minutes and thousands of distinct endpoints: the keys per minute,
	the fields per key and the keys alive all stay under fixed bounds."""
	now = [1_800_000_000.0]
	cap = 20
	store = MetricStore(
		redis, namespace, clock=lambda: now[0], retention_seconds=180, max_metrics_per_minute=cap
	)
	rng = random.Random(6)
	for minute in range(8):
		for i in range(400):
			v = rng.lognormvariate(3, 2)
			store.record([Sample("request", v), Sample(f"endpoint:/api/m{minute}-{i}", v, capped=True)])
		now[0] += 60
	index_sizes = [redis.scard(store.index_key(m)) for m in range(store.minute() - 8, store.minute())]
	assert max(index_sizes) <= cap + 2  # capped endpoints + overflow + the uncapped "request"
	names = store.metric_names(8, end=now[0] - 60)
	assert "endpoint:~other" in names
	fields = [redis.hlen(k) for k in redis.scan_iter(match=keys.pattern("metrics", "m"), count=1000)]
	assert fields and max(fields) <= BUCKETS + 3
	ttls = [redis.ttl(k) for k in redis.scan_iter(match=keys.pattern("metrics"), count=1000)]
	assert all(0 < t <= 180 for t in ttls)  # every key expires within the retention
	overflow = store.window(["endpoint:~other"], 8, end=now[0] - 60)["endpoint:~other"]
	assert overflow.count == 8 * 400 - 8 * (cap - 1)  # nothing lost: folded into the overflow


def test_activation_level_zero_records_nothing(redis, namespace):
	store = MetricStore(redis, namespace)
	store.set_level(0)
	assert store.record([Sample("request", 3.0)]) == 0
	assert store.window(["request"], 1)["request"].count == 0
	store.set_level(1)
	assert store.record([Sample("request", 3.0)]) == 1


def test_sites_do_not_see_each_others_metrics(redis, namespace):
	other = namespace + "-b"
	try:
		MetricStore(redis, namespace).record([Sample("request", 1.0)])
		assert MetricStore(redis, other).window(["request"], 1)["request"].count == 0
		assert MetricStore(redis, other).metric_names(1) == set()
	finally:
		unlink_site(redis, other)
