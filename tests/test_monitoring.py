"""The monitor end to end on real Redis and MariaDB: readings, score, bottlenecks, snapshots, purge."""

import json
from datetime import datetime

import pytest

from verenigingen.performance.exceptions import InvalidMetricError
from verenigingen.performance.monitoring import (
	Monitor,
	MonitoringSettings,
	cache_figures,
	coordinator_figures,
	job_samples,
	request_samples,
)


@pytest.fixture
def mon_db(scratch_databases):
	handle = scratch_databases.create("monitor")
	yield handle
	handle.close()


class Clock:
	def __init__(self, t=1_800_000_000.0):
		self.t = t

	def __call__(self):
		return self.t


class StatsCache:
	"""Any object with stats(), as the cache subsystem exposes."""

	def __init__(self, hits, misses, functions=None):
		self._stats = {"hits": hits, "misses": misses, "functions": functions or {}}

	def stats(self):
		return self._stats


def feed(monitor, n=200, slow_every=0, endpoint="/api/method/x"):
	for i in range(n):
		ms = 3000.0 if slow_every and i % slow_every == 0 else 40.0
		monitor.store.record(request_samples(endpoint, ms, 500 if i % 50 == 0 else 200))


def test_summary_scores_measured_components_and_names_the_missing(redis, namespace, mon_db):
	clock = Clock()
	m = Monitor(redis, mon_db, namespace, clock=clock, probes=())
	feed(m)
	first = m.summary()  # no probes, and no earlier status reading to take rates from
	assert first["missing"]["database"] == "no database probe or status readings"
	clock.t += 30
	s = m.summary()
	assert s["key_figures"]["request_count"] == 200
	assert s["key_figures"]["request_error_rate"] == pytest.approx(0.02)
	assert set(s["components"]) == {"requests", "database", "resources"}
	assert s["components"]["database"]["inputs"]["slow_queries_per_min"] is not None
	assert set(s["missing"]) == {"jobs", "cache"}
	assert "not available" in s["missing"]["cache"]
	assert s["components"]["requests"]["score"] == pytest.approx(0.98)
	assert 0 <= s["score"] <= 100
	assert s["reading_errors"]["coordinator"].startswith("the job coordinator is not available")


def test_jobs_and_cache_adapters_fill_their_components(redis, namespace, mon_db):
	clock = Clock()
	m = Monitor(redis, mon_db, namespace, clock=clock, probes=(), cache=StatsCache(90, 10))
	for i in range(20):
		m.store.record(job_samples("short", 100.0, 200.0, failed=i < 2))
	s = m.summary()
	assert s["components"]["cache"]["score"] == pytest.approx(0.9)
	assert s["components"]["jobs"]["inputs"]["failure_rate"] == pytest.approx(0.1)
	assert s["key_figures"]["job_failure_rate"] == pytest.approx(0.1)
	assert "jobs" not in s["missing"] and "cache" not in s["missing"]


def test_a_failing_adapter_is_reported_missing_not_defaulted(redis, namespace, mon_db):
	class Broken:
		def stats(self):
			raise RuntimeError("cache backend down")

	m = Monitor(redis, mon_db, namespace, clock=Clock(), probes=(), cache=Broken())
	s = m.summary()
	assert "cache backend down" in s["missing"]["cache"]
	assert s["key_figures"]["cache_hit_ratio"] is None


def test_bottlenecks_name_their_evidence(redis, namespace, mon_db, seeded_db):
	probe = (("payments by member", "SELECT name FROM `tabMember Payment` WHERE member=%s", ("X",)),)
	m = Monitor(
		redis, seeded_db, namespace, clock=Clock(), probes=probe,
		cache=StatsCache(10, 500, {"member_summary": {"hits": 10, "misses": 500}}),
	)  # fmt: skip
	feed(m, n=100, slow_every=2, endpoint="/api/method/slow")
	feed(m, n=100, endpoint="/api/method/fast")
	found = {(b["rule"], b["subject"]): b for b in m.summary()["bottlenecks"]}
	slow = found[("slow_endpoint", "/api/method/slow")]
	assert slow["evidence"]["count"] == 100 and slow["evidence"]["p95_ms"] == pytest.approx(3000, rel=0.03)
	assert ("slow_endpoint", "/api/method/fast") not in found
	assert found[("cache_low_hit_ratio", "member_summary")]["evidence"]["misses"] == 500
	scan = found[("probe_full_scan", "payments by member")]
	assert scan["evidence"]["scanned"][0]["table"] == "tabMember Payment"
	assert scan["recommendation"]


def test_rq_queue_without_workers_is_a_bottleneck(redis, namespace, mon_db):
	from rq import Queue

	qname = f"{namespace}:short"
	q = Queue(qname, connection=redis)
	try:
		for _ in range(3):
			q.enqueue("os.getcwd")
		clock = Clock(datetime.now().timestamp() + 30)
		m = Monitor(
			redis, mon_db, namespace, clock=clock, probes=(), rq_connection=redis, rq_queues={"short": qname}
		)
		s = m.summary()
		assert s["queues"]["short"]["length"] == 3 and s["queues"]["short"]["workers"] == 0
		assert s["queues"]["short"]["oldest_wait_s"] >= 29
		rules = {(b["rule"], b["subject"]) for b in s["bottlenecks"]}
		assert ("queue_without_workers", "short") in rules
	finally:
		q.empty()
		q.delete(delete_jobs=True)


def test_snapshot_persists_a_row_and_purge_removes_only_old_ones(redis, namespace, mon_db):
	clock = Clock(datetime(2026, 11, 1, 12, 0).timestamp())
	m = Monitor(
		redis, mon_db, namespace, MonitoringSettings(snapshot_retention_days=90), clock=clock, probes=()
	)
	feed(m, n=50)
	first = m.snapshot()
	row = mon_db.sql("SELECT score, score_measured, missing_components, metrics, components FROM `tabPerformance Snapshot` WHERE name=%s", (first["name"],), as_dict=True)[0]  # fmt: skip
	assert row["score_measured"] == 1 and float(row["score"]) == pytest.approx(
		first["summary"]["score"], abs=0.1
	)
	assert "cache" in row["missing_components"] and "jobs" in row["missing_components"]
	assert json.loads(row["metrics"])["request_count"] == 50
	assert "requests" in json.loads(row["components"])["components"]
	clock.t += 91 * 86400
	second = m.snapshot()
	assert m.purge(batch=1) == 1
	names = {r[0] for r in mon_db.sql("SELECT name FROM `tabPerformance Snapshot`")}
	assert names == {second["name"]}
	mon_db.sql("DELETE FROM `tabPerformance Snapshot`")
	mon_db.commit()


def test_snapshot_without_any_data_stores_no_score_as_a_measurement(redis, namespace, mon_db):
	class NoResources(Monitor):
		def collect(self):
			r = super().collect()
			r["resources"], r["database"] = None, None
			r["errors"].update(resources="psutil unavailable", database="down")
			return r

	m = NoResources(redis, mon_db, namespace, clock=Clock(), probes=())
	snap = m.snapshot()
	assert snap["summary"]["score"] is None
	row = mon_db.sql("SELECT score_measured FROM `tabPerformance Snapshot` WHERE name=%s", (snap["name"],))
	assert row[0][0] == 0
	series = m.dashboard("1h")["snapshots"]
	assert series[-1]["score"] is None
	mon_db.sql("DELETE FROM `tabPerformance Snapshot`")
	mon_db.commit()


def test_snapshot_opens_alerts_from_level_three_only(redis, namespace, mon_db):
	clock = Clock()
	low = Monitor(
		redis,
		mon_db,
		namespace,
		MonitoringSettings(activation_level=2, alert_breaches=1),
		clock=clock,
		probes=(),
	)
	feed(low, n=40, slow_every=1)  # every request 3 s: p95 breaches 2 s
	assert low.snapshot()["alerts"] is None
	high = Monitor(
		redis,
		mon_db,
		namespace,
		MonitoringSettings(activation_level=3, alert_breaches=1),
		clock=clock,
		probes=(),
	)
	opened = high.snapshot()["alerts"]["opened"]
	assert "request_p95_ms" in {a["metric"] for a in opened}
	assert (
		Monitor(redis, mon_db, namespace, MonitoringSettings(activation_level=0)).snapshot()["name"] is None
	)
	mon_db.sql("DELETE FROM `tabPerformance Snapshot`")
	mon_db.sql("DELETE FROM `tabPerformance Alert`")
	mon_db.commit()


def test_dashboard_series_and_window_validation(redis, namespace, mon_db):
	clock = Clock(1_800_000_000.0)
	m = Monitor(redis, mon_db, namespace, clock=clock, probes=())
	for minute in range(5):
		feed(m, n=10 * (minute + 1))
		clock.t += 60
	clock.t -= 60
	data = m.dashboard("1h")
	points = data["requests"]["points"]
	assert len(points) == 60 and [p["count"] for p in points[-5:]] == [10, 20, 30, 40, 50]
	assert m.dashboard("24h")["requests"]["step_minutes"] == 24
	with pytest.raises(InvalidMetricError, match="unknown window"):
		m.dashboard("1y")


def test_settings_validation_names_the_field():
	with pytest.raises(InvalidMetricError, match="activation_level"):
		MonitoringSettings(activation_level=7)
	with pytest.raises(InvalidMetricError, match="apdex_t_ms must be a number"):
		MonitoringSettings.from_values({"apdex_t_ms": "fast"})
	s = MonitoringSettings.from_values(
		{"apdex_t_ms": "250", "cpu_alert_percent": 80, "activation_level": "3"}
	)
	assert s.apdex_t_ms == 250 and s.alert_thresholds["cpu_percent"] == 80 and s.activation_level == 3


def test_the_cache_component_and_figures_show_the_in_process_tier(redis, namespace, mon_db):
	import time

	from verenigingen.performance.cache import SecurityAwareCache
	from verenigingen.performance.context import SecurityContext
	from verenigingen.performance.local_tier import LocalTier

	tier = LocalTier(stale_after=5.0, slow_after=10.0)
	cache = SecurityAwareCache(redis, namespace, local=tier)
	ctx = SecurityContext("a@example.org", ["R"])
	try:
		deadline = time.monotonic() + 10
		while tier.process_stats()["hits"] < 3 and time.monotonic() < deadline:
			cache.get_or_compute("f", (), lambda: {"v": 1}, ctx=ctx, level="UTILITY")
		cache.get_or_compute("g", (), lambda: {"v": 2}, ctx=ctx, level="UTILITY")  # one more miss
		s = Monitor(redis, mon_db, namespace, clock=Clock(), probes=(), cache=cache).summary()
	finally:
		tier.close()
	inputs = s["components"]["cache"]["inputs"]
	assert inputs["local_hits"] >= 3 and inputs["redis_hits"] >= 1
	assert inputs["hits"] == inputs["local_hits"] + inputs["redis_hits"]
	lookups = inputs["hits"] + inputs["misses"]
	assert s["key_figures"]["cache_local_hit_ratio"] == pytest.approx(inputs["local_hits"] / lookups)
	assert s["cache"]["levels"]["UTILITY"]["local_hits"] == inputs["local_hits"]
	local = s["cache"]["local"]
	assert local["processes"] == 1 and local["entries"] == 1 and local["bytes"] > 0
	assert set(local["flushes"]) >= {"connection_lost", "fork"} and s["key_figures"]["cache_tier_bytes"] > 0


def test_adapters_read_duck_typed_subsystems():
	assert cache_figures(StatsCache(3, 1))["hits"] == 3
	levels = cache_figures(
		{"levels": {"FINANCIAL": {"hits": 2, "misses": 2}, "PUBLIC": {"hits": 4, "misses": 0}}}
	)
	assert (levels["hits"], levels["misses"]) == (6, 2)
	assert levels["local_hits"] is None and levels["local"] is None  # a cache without a tier
	with pytest.raises(InvalidMetricError):
		cache_figures({"entries": 3})

	class Coordinator:
		def queue_status(self):
			return {"priorities": {"high": {"running": 2, "cap": 2, "queued": 5}}}

	assert coordinator_figures(Coordinator()) == {"high": {"running": 2, "cap": 2, "queued": 5}}


def test_coordinator_figures_from_a_real_job_coordinator(redis, namespace):
	"""The adapter reads the real queue_status(): slots in use, effective cap, waiting jobs."""
	from verenigingen.performance.jobs import JobCoordinator

	admitted = []

	def enqueue(method, *, queue, job_id, timeout, at_front, kwargs):
		admitted.append(job_id)
		return job_id

	clock = Clock()
	coord = JobCoordinator(redis, namespace, enqueue, load_controller=None, clock=clock)
	for i in range(3):
		coord.submit("tests.jobfixtures.noop", job_id=f"b{i}", priority="bulk")
	figures = coordinator_figures(coord)
	# one slot is leased (admitted to RQ); none has started, so all three still wait to run
	assert figures["bulk"] == {
		"running": 1,
		"cap": 1,
		"queued": 3,
		"failed": 0,
		"oldest_waiting_seconds": 0.0,
	}
	assert figures["critical"]["running"] == 0 and figures["critical"]["queued"] == 0
	assert len(admitted) == 1  # the BULK cap admits one
	m = Monitor(redis, None, namespace, clock=clock, probes=(), coordinator=coord)
	readings = m.collect()
	assert "coordinator" not in readings["errors"]
	assert readings["caps"]["bulk"]["running"] == 1 and readings["caps"]["bulk"]["saturated_for_s"] == 0.0


def test_missing_catalog_index_from_the_real_index_manager(redis, namespace, mon_db):
	from verenigingen.performance.indexes import index_catalog_status

	m = Monitor(
		redis, mon_db, namespace, clock=Clock(), probes=(), index_status=lambda: index_catalog_status(mon_db)
	)
	s = m.summary()
	states = {i["name"]: i["state"] for i in s["indexes"]}
	assert states["idx_payment_member_date"] == "missing"
	rules = {(b["rule"], b["subject"]) for b in s["bottlenecks"]}
	assert ("missing_catalog_index", "idx_payment_member_date") in rules
	assert not any(
		b["subject"] == "idx_sinv_customer_date" for b in s["bottlenecks"]
	)  # no ERPNext table here
