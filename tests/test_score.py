"""Each score component from constructed inputs; missing data excluded, weights renormalised."""

import pytest

from verenigingen.performance.exceptions import InvalidMetricError
from verenigingen.performance.histogram import Histogram
from verenigingen.performance.score import (
	apdex,
	cache_component,
	combine,
	database_component,
	jobs_component,
	requests_component,
	resources_component,
)


def hist(values, errors=0):
	h = Histogram()
	for i, v in enumerate(values):
		h.add(v, error=i < errors)
	return h


def test_apdex_counts_satisfied_tolerating_frustrated():
	h = hist([100] * 60 + [1000] * 30 + [5000] * 10)  # T=500: 60 satisfied, 30 tolerating, 10 frustrated
	assert apdex(h, 500) == pytest.approx((60 + 15) / 100)
	score, inputs = requests_component(h, 500)
	assert score == pytest.approx(0.75) and inputs["count"] == 100
	score, _ = requests_component(hist([100] * 100, errors=20), 500)  # server errors lower it
	assert score == pytest.approx(0.8)
	assert requests_component(Histogram(), 500) == (None, "no requests recorded in the window")


def test_jobs_component_uses_failure_rate_and_p95_wait_against_targets():
	run = {"short": hist([10] * 90, errors=9), "long": hist([10] * 10)}
	wait = {"short": hist([1000] * 100), "long": hist([600_000] * 10)}  # long waits 2x its 300 s target
	score, inputs = jobs_component(run, wait, {"short": 5000, "long": 300_000})
	assert inputs["failure_rate"] == pytest.approx(0.09)
	assert inputs["waits"]["short"]["score"] == 1.0
	assert inputs["waits"]["long"]["score"] == pytest.approx(0.5, rel=0.03)
	assert score == pytest.approx(0.91 * 0.75, rel=0.02)
	assert jobs_component({}, {}, {})[0] is None


def test_jobs_component_parts_without_data_are_missing_with_the_true_reason():
	targets = {"short": 5000, "default": 30_000, "long": 300_000}
	# waits recorded under names without a target are reported, not silently scored 1.0
	score, inputs = jobs_component({"x": hist([10] * 4, errors=1)}, {"custom": hist([100] * 232)}, targets)
	assert score == pytest.approx(0.75)
	assert "232 wait(s)" in inputs["missing_parts"]["wait"] and "custom" in inputs["missing_parts"]["wait"]
	assert inputs["waits_without_target"] == {"custom": 232}
	# priority names take their Frappe queue's target
	score, inputs = jobs_component({"bulk": hist([10] * 2)}, {"bulk": hist([600_000] * 10)}, targets)
	assert inputs["waits"]["bulk"]["target_ms"] == 300_000 and score == pytest.approx(0.5, rel=0.03)
	# nothing ran: no failure rate of 0 standing in for one
	score, inputs = jobs_component({}, {"short": hist([10_000] * 5)}, targets)
	assert "failure_rate" not in inputs and "no job finished" in inputs["missing_parts"]["success"]
	assert score == pytest.approx(0.5, rel=0.03)
	score, reason = jobs_component({}, {"custom": hist([1] * 3)}, targets)
	assert score is None and "without a wait target" in reason


def test_database_component_means_the_measured_parts_only():
	score, inputs = database_component(40.0, None, None, probe_target_ms=20)
	assert score == pytest.approx(0.5) and set(inputs["parts"]) == {"probe"}
	score, _ = database_component(10.0, 5.0, 0.0, probe_target_ms=20, slow_limit=10, lock_limit=30)
	assert score == pytest.approx((1 + 0.5 + 1) / 3)
	assert database_component(None, None, None)[0] is None


def test_cache_and_resources_components():
	assert cache_component(75, 25)[0] == pytest.approx(0.75)
	score, inputs = cache_component(75, 25, local_hits=60)  # a tier hit counts like a Redis hit
	assert score == pytest.approx(0.75)
	assert (inputs["local_hits"], inputs["redis_hits"], inputs["local_hit_share"]) == (60, 15, 0.8)
	assert cache_component(0, 0) == (None, "no cache lookups recorded")
	assert cache_component(None, None)[0] is None
	score, inputs = resources_component(50.0, 82.5, 10.0, comfort=70, limit=95)
	assert score == pytest.approx(0.5) and inputs["tightest"] == "memory"
	assert resources_component(99.0, None, None)[0] == 0.0
	assert resources_component(None, None, None)[0] is None


def test_missing_components_are_excluded_and_weights_renormalised():
	weights = {"requests": 0.3, "jobs": 0.2, "database": 0.2, "cache": 0.15, "resources": 0.15}
	results = {
		"requests": (0.8, {}),
		"jobs": (None, "no background jobs recorded in the window"),
		"database": (0.5, {}),
		"cache": (None, "cache statistics not available"),
		"resources": (1.0, {}),
	}
	doc = combine(results, weights)
	assert doc["score"] == pytest.approx(100 * (0.3 * 0.8 + 0.2 * 0.5 + 0.15 * 1.0) / 0.65, abs=0.05)
	assert doc["missing"] == {
		"jobs": "no background jobs recorded in the window",
		"cache": "cache statistics not available",
	}
	assert set(doc["components"]) == {"requests", "database", "resources"}
	assert sum(c["effective_weight"] for c in doc["components"].values()) == pytest.approx(1.0, abs=1e-3)
	none = combine({c: (None, "x") for c in weights}, weights)
	assert none["score"] is None and set(none["missing"]) == set(weights)


def test_combine_refuses_unknown_components_and_bad_weights():
	with pytest.raises(InvalidMetricError, match="no weight"):
		combine({"mystery": (1.0, {})}, {"requests": 1})
	with pytest.raises(InvalidMetricError, match="non-negative"):
		combine({"requests": (1.0, {})}, {"requests": -1})
