"""The freshness window across real processes, functionally: after an invalidation returns, no
reader process begins a lookup past the bound and still gets the old value, and no reader ever
goes back to an older value. (Percentiles of the window are benchmarks/bench_cache.py's job.)"""

import pytest

from verenigingen.performance.exceptions import InvalidCacheArgumentError
from verenigingen.performance.freshness import client_kwargs, measure_freshness

pytestmark = pytest.mark.slow


def test_no_reader_serves_the_old_value_past_the_bound(redis_server_client):
	result = measure_freshness(client_kwargs(redis_server_client), readers=2, trials=40, bound=0.1)
	assert result["summary"]["count"] == 2 * 40  # every reader saw every trial's new value
	assert result["stale_after_bound"] == 0
	assert result["backwards"] == 0
	for report in result["reader_reports"]:
		assert report["tier"]["hits"] > 0  # the readers were served by their tiers between trials
		assert report["tier"]["counters"]["invalidated"] > 0  # and dropped entries on Redis's reports
		assert sum(report["tier"]["flushes"].values()) == 0


def test_bad_arguments_are_refused(redis_server_client):
	with pytest.raises(InvalidCacheArgumentError):
		measure_freshness(client_kwargs(redis_server_client), readers=0)
