"""The readiness validator: each of the seven components probed for real, and the score."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from verenigingen.performance import baselines as bl
from verenigingen.performance import readiness as rd
from verenigingen.performance.environment import redis_settings


def _by_name(report) -> dict:
	return {c["component"]: c for c in report["components"]}


def test_nothing_given_fails_every_site_component_and_the_code_audit_carries_no_weight():
	report = rd.validate_readiness(rd.ReadinessInputs())
	comps = _by_name(report)
	assert list(comps) == list(rd.PROBES)
	assert "api_security" not in comps and "api_security" not in rd.READINESS_WEIGHTS
	for name in ("cache", "invalidation", "jobs", "database", "monitoring", "baselines"):
		assert comps[name]["status"] == rd.FAILED, name
		assert comps[name]["evidence"] and comps[name]["recommendation"], name
	assert "no coordinator" in comps["jobs"]["evidence"]["coordinator"]
	assert report["score"] == 0.0  # the app's own code being guarded says nothing about the site
	assert report["code_audit"]["status"] == rd.OPERATIONAL and report["code_audit"]["weight"] == 0
	assert not report["ready"] and report["counts"] == {"operational": 0, "degraded": 0, "failed": 6}


def test_score_is_the_documented_weighted_sum():
	results = [
		rd.ComponentResult("cache", rd.OPERATIONAL),
		rd.ComponentResult("database", rd.DEGRADED),
		rd.ComponentResult("baselines", rd.FAILED),
	]
	w = rd.READINESS_WEIGHTS
	expected = 100 * (w["cache"] + 0.5 * w["database"]) / (w["cache"] + w["database"] + w["baselines"])
	assert rd.readiness_score(results) == pytest.approx(round(expected, 1))
	assert sum(w.values()) == 100 and set(w) == set(rd.PROBES)
	with pytest.raises(ValueError, match="unknown readiness component"):
		rd.validate_readiness(rd.ReadinessInputs(), ["cache", "nope"])


def test_cache_and_invalidation_probe_redis_for_real(redis, namespace, keys):
	inputs = rd.ReadinessInputs(redis=redis, namespace=namespace)
	report = rd.validate_readiness(inputs, ["cache", "invalidation"])
	cache, inval = _by_name(report)["cache"], _by_name(report)["invalidation"]
	assert cache["status"] == rd.OPERATIONAL, cache
	assert cache["evidence"]["write_read_ok"] and 0 < cache["evidence"]["ttl_ms"] <= 60_000
	assert cache["evidence"]["cache_hit_on_second_read"] is True
	assert inval["status"] == rd.OPERATIONAL, inval
	assert inval["evidence"] == {"cached_before": True, "bump_applied_now": True, "missed_after_bump": True}
	# the probe key itself is removed; nothing lands outside the site's namespace
	assert not list(redis.scan_iter(match=keys.key("readiness", "probe", "*")))
	assert report["score"] == 100.0


def test_a_failing_probe_is_reported_failed_with_its_error(scratch_databases):
	db = scratch_databases.create("readiness_closed")
	db.close()
	report = rd.validate_readiness(rd.ReadinessInputs(db=db), ["database"])
	comp = report["components"][0]
	assert comp["status"] == rd.FAILED and "Error" in comp["evidence"]["error"]


def test_database_reports_missing_catalog_indexes_until_applied(scratch_databases):
	from verenigingen.performance.indexes.catalog import catalog

	db = scratch_databases.create("readiness_db")
	try:
		comp = rd.validate_readiness(rd.ReadinessInputs(db=db), ["database"])["components"][0]
		assert comp["status"] == rd.DEGRADED
		own = [s for s in catalog("all") if not s.is_foreign]
		assert sorted(comp["evidence"]["catalog"]["missing"]) == sorted(s.name for s in own)
		assert comp["evidence"]["catalog"]["skipped"]  # ERPNext specs: no such tables here
		assert "apply the index catalogs" in comp["recommendation"]
		assert comp["evidence"]["version"].lower().count("mariadb") == 1
		for spec in own:
			db.ddl(spec.add_index_sql())
		comp = rd.validate_readiness(rd.ReadinessInputs(db=db), ["database"])["components"][0]
		assert comp["status"] == rd.OPERATIONAL, comp
		assert comp["evidence"]["catalog"]["missing"] == []
	finally:
		db.close()


def test_catalog_status_compares_columns_not_names(scratch_databases):
	from verenigingen.performance.indexes.catalog import PAYMENT_HISTORY

	db = scratch_databases.create("readiness_cols")
	try:
		db.ddl("ALTER TABLE `tabMember Payment` ADD INDEX some_other_name (member, posting_date, status)")
		assert rd.catalog_status(db, [PAYMENT_HISTORY])[0] == {
			"index": PAYMENT_HISTORY.name,
			"table": "tabMember Payment",
			"state": "present",
			"by": "some_other_name",
		}
		db.ddl("ALTER TABLE `tabMember Payment` ADD INDEX idx_payment_member_date (posting_date)")
		status = rd.catalog_status(db, [PAYMENT_HISTORY])[0]
		assert status["by"] == "some_other_name"  # the same name on other columns does not count
	finally:
		db.close()


def test_monitoring_needs_recent_samples_and_a_recent_snapshot(scratch_databases, redis, namespace):
	from verenigingen.performance.histogram import MetricStore, Sample

	db = scratch_databases.create("readiness_mon")
	try:
		inputs = rd.ReadinessInputs(db=db, redis=redis, namespace=namespace)
		comp = rd.validate_readiness(inputs, ["monitoring"])["components"][0]
		assert comp["status"] == rd.FAILED
		assert comp["evidence"]["last_snapshot_seconds_ago"] is None
		store = MetricStore(redis, namespace)
		store.set_level(1)
		assert store.record([Sample("request:probe", 12.0)]) == 1
		comp = rd.validate_readiness(inputs, ["monitoring"])["components"][0]
		assert comp["status"] == rd.DEGRADED and "Snapshot" in comp["recommendation"]
		now = datetime.now().replace(microsecond=0)
		db.sql(
			"INSERT INTO `tabPerformance Snapshot` (name, creation, modified, `timestamp`) VALUES (%s, %s, %s, %s)",
			("snap1", now, now, now),
		)
		db.commit()
		comp = rd.validate_readiness(inputs, ["monitoring"])["components"][0]
		assert comp["status"] == rd.OPERATIONAL, comp
	finally:
		db.close()


def test_api_security_fails_on_an_unguarded_endpoint(tmp_path):
	app = tmp_path / "app"
	app.mkdir()
	(app / "api.py").write_text("import frappe\n@frappe.whitelist()\ndef open_door(a: int):\n\treturn a\n")
	comp = rd.validate_readiness(rd.ReadinessInputs(app_dir=app))["code_audit"]
	assert comp["status"] == rd.FAILED and comp["evidence"]["unguarded"] == ["app.api.open_door"]
	assert "@admin_only" in comp["recommendation"]


def _baselines_doc(created: datetime) -> dict:
	return {
		"schema": bl.SCHEMA,
		"schema_version": bl.SCHEMA_VERSION,
		"created": created.isoformat(timespec="seconds"),
		"environment": {"dataset": {"members": 1}},
		"settings": {},
		"operations": {"a": {"status": "not_measured", "description": "a", "reason": "test"}},
	}


def test_baselines_present_valid_recent_and_without_regression(tmp_path, redis, namespace):
	path = tmp_path / "b.json"
	inputs = rd.ReadinessInputs(redis=redis, namespace=namespace, baselines_path=path)
	comp = rd.validate_readiness(inputs, ["baselines"])["components"][0]
	assert comp["status"] == rd.FAILED and "no baselines measured on this site" in comp["evidence"]["error"]
	path.write_text("{}")
	comp = rd.validate_readiness(inputs, ["baselines"])["components"][0]
	assert comp["status"] == rd.FAILED and "not a baselines file" in comp["evidence"]["error"]
	path.write_text(json.dumps(_baselines_doc(datetime.now(timezone.utc))))
	comp = rd.validate_readiness(inputs, ["baselines"])["components"][0]
	assert comp["status"] == rd.OPERATIONAL and comp["evidence"]["last_compare"] is None
	bl.record_comparison(redis, namespace, {"ok": False, "regressions": ["payment_history"]})
	comp = rd.validate_readiness(inputs, ["baselines"])["components"][0]
	assert comp["status"] == rd.DEGRADED and "payment_history" in comp["recommendation"]
	bl.record_comparison(redis, namespace, {"ok": True, "regressions": []})
	path.write_text(json.dumps(_baselines_doc(datetime.now(timezone.utc) - timedelta(days=45))))
	comp = rd.validate_readiness(inputs, ["baselines"])["components"][0]
	assert comp["status"] == rd.DEGRADED and "days old" in comp["recommendation"]


def test_baselines_of_another_database_do_not_describe_this_site(tmp_path, scratch_db):
	path = tmp_path / "b.json"
	doc = _baselines_doc(datetime.now(timezone.utc))
	doc["environment"]["dataset"]["database"] = "somewhere_else"
	path.write_text(json.dumps(doc))
	comp = rd.validate_readiness(rd.ReadinessInputs(db=scratch_db, baselines_path=path), ["baselines"])
	comp = comp["components"][0]
	assert comp["status"] == rd.DEGRADED and "'somewhere_else', not this site's" in comp["recommendation"]
	doc["environment"]["dataset"]["database"] = scratch_db.database_name
	path.write_text(json.dumps(doc))
	comp = rd.validate_readiness(rd.ReadinessInputs(db=scratch_db, baselines_path=path), ["baselines"])
	assert comp["components"][0]["status"] == rd.OPERATIONAL


# ---------------------------------------------------------------- the job coordinator, with real workers


@pytest.fixture
def job_setup(redis, namespace):
	from tests.jobfixtures import WorkerPool
	from verenigingen.performance.jobs import (
		JobCoordinator,
		LoadController,
		LoadReading,
		RQEnqueuer,
		prefixed_queues,
		worker_queue_names,
	)

	queues = prefixed_queues(f"{namespace}-")
	settings = redis_settings()
	pool = WorkerPool(worker_queue_names(queues), settings)
	# a calm, fixed load reading: the machine's real load (other test runs) must not throttle the ping
	calm = LoadController(source=lambda: LoadReading(10.0, 10.0))
	coordinator = JobCoordinator(redis, namespace, RQEnqueuer(redis), queues=queues, load_controller=calm)
	yield coordinator, pool
	pool.stop()
	from rq import Queue

	for name in set(queues.values()):
		Queue(name, connection=redis).delete(delete_jobs=True)


@pytest.mark.slow
def test_jobs_probe_without_workers_then_with_a_worker(job_setup):
	from tests.jobfixtures import wait_for

	coordinator, pool = job_setup
	inputs = rd.ReadinessInputs(coordinator=coordinator, ping_timeout=2)
	comp = rd.validate_readiness(inputs, ["jobs"])["components"][0]
	assert comp["status"] == rd.FAILED and set(comp["evidence"]["workers"].values()) == {0}
	assert "start RQ workers" in comp["recommendation"]

	pool.start(1)
	wait_for(lambda: all(rd._workers_by_queue(coordinator.redis, coordinator.queues.values()).values()), 20,
		message="the worker to register")  # fmt: skip
	coordinator.reconcile()
	inputs = rd.ReadinessInputs(coordinator=coordinator, ping_timeout=20)
	comp = rd.validate_readiness(inputs, ["jobs"])["components"][0]
	assert comp["status"] == rd.OPERATIONAL, comp
	ping = comp["evidence"]["ping"]
	assert ping["status"] == "finished" and ping["round_trip_ms"] > 0
	assert coordinator.status(ping["job_id"])["status"] == "finished"
	assert comp["evidence"]["last_reconcile_seconds_ago"] < 60


@pytest.mark.slow
def test_jobs_probe_is_degraded_when_reconcile_is_stale(job_setup):
	from tests.jobfixtures import wait_for

	coordinator, pool = job_setup
	pool.start(1)
	wait_for(lambda: all(rd._workers_by_queue(coordinator.redis, coordinator.queues.values()).values()), 20,
		message="the worker to register")  # fmt: skip
	later = time.time() + 3600  # an hour without a reconcile
	comp = rd.validate_readiness(rd.ReadinessInputs(coordinator=coordinator, clock=lambda: later), ["jobs"])
	comp = comp["components"][0]
	assert comp["status"] == rd.DEGRADED and "reconcile" in comp["recommendation"]


# ---------------------------------------------------------------- the whitelisted function


@pytest.mark.shell
def test_validate_performance_infrastructure_in_the_site(frappe_site, tmp_path):
	import frappe

	from verenigingen.api.readiness import validate_performance_infrastructure

	frappe.flags.in_test = True
	frappe.conf["verenigingen_baselines_path"] = str(tmp_path / "missing.json")
	frappe_site.login("v.admin@example.org", ("Verenigingen Administrator",))
	report = validate_performance_infrastructure()
	comps = _by_name(report)
	assert list(comps) == list(rd.PROBES)
	assert comps["cache"]["status"] == rd.OPERATIONAL
	assert comps["invalidation"]["status"] == rd.OPERATIONAL
	assert comps["database"]["status"] == rd.DEGRADED  # a fresh site: catalog indexes not applied
	assert report["code_audit"]["status"] == rd.OPERATIONAL
	assert (
		comps["baselines"]["status"] == rd.FAILED
		and "missing.json" in comps["baselines"]["evidence"]["error"]
	)
	del frappe.conf["verenigingen_baselines_path"]  # by default: this site's own file, not the app's
	assert (
		frappe.get_site_path()
		in _by_name(validate_performance_infrastructure())["baselines"]["evidence"]["error"]
	)
	assert 0 < report["score"] < 100
	if frappe_site.is_double:  # no bench workers: the jobs probe fails and says what to start
		assert comps["jobs"]["status"] == rd.FAILED and comps["jobs"]["recommendation"], comps["jobs"]
	assert json.loads(json.dumps(report)) == report  # plain data

	frappe_site.login("desk.user@example.org", ("Desk User",))
	with pytest.raises(frappe.PermissionError):
		validate_performance_infrastructure()
