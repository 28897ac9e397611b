"""Alert hysteresis (N breaches to open, M healthy readings to resolve) and one open alert per metric."""

import threading

import pytest

from verenigingen.performance.alerts import AlertManager
from verenigingen.performance.exceptions import InvalidMetricError


@pytest.fixture
def alert_db(scratch_databases):
	handle = scratch_databases.create("alerts")
	yield handle
	handle.close()


def rows(db, metric):
	return db.sql(
		"SELECT status, value, breaches FROM `tabPerformance Alert` WHERE metric=%s ORDER BY first_seen",
		(metric,),
	)


def test_opens_after_n_breaches_and_resolves_after_m_healthy(redis, namespace, alert_db):
	mgr = AlertManager(redis, alert_db, namespace, breaches_to_open=3, healthy_to_resolve=2)
	assert mgr.evaluate({"cpu_percent": 95})["opened"] == []
	assert mgr.evaluate({"cpu_percent": 96})["opened"] == []
	opened = mgr.evaluate({"cpu_percent": 97})["opened"]
	assert [a["metric"] for a in opened] == ["cpu_percent"] and opened[0]["severity"] == "Warning"
	assert mgr.evaluate({"cpu_percent": 99})["updated"][0]["value"] == 99  # still one alert, updated
	assert mgr.evaluate({"cpu_percent": 50})["resolved"] == []  # one healthy reading is not enough
	assert mgr.evaluate({"cpu_percent": 98})["opened"] == []  # breach again: same alert, no new one
	mgr.evaluate({"cpu_percent": 40})
	assert mgr.evaluate({"cpu_percent": 41})["resolved"][0]["metric"] == "cpu_percent"
	assert [r[0] for r in rows(alert_db, "cpu_percent")] == ["Resolved"]
	assert mgr.open_alerts() == []


def test_an_interrupted_streak_does_not_open_and_none_is_not_a_reading(redis, namespace, alert_db):
	mgr = AlertManager(redis, alert_db, namespace, breaches_to_open=3, healthy_to_resolve=1)
	for value in (3000, 3000, 100, 3000, 3000, None):
		assert mgr.evaluate({"request_p95_ms": value})["opened"] == []
	assert mgr.evaluate({"request_p95_ms": 3000})["opened"]  # the third consecutive measured breach
	assert mgr.evaluate({"score": 20.0})["opened"] == []  # the score breaches when *below*
	assert len(mgr.open_alerts()) == 1


def test_concurrent_evaluations_open_one_alert_per_metric(redis, namespace, alert_db, scratch_databases):
	handles = [alert_db.clone() for _ in range(4)]
	managers = [AlertManager(redis, h, namespace, breaches_to_open=1) for h in handles]
	barrier = threading.Barrier(len(managers))
	results = []

	def run(mgr):
		barrier.wait()
		for _ in range(3):
			results.append(mgr.evaluate({"disk_percent": 99}))

	threads = [threading.Thread(target=run, args=(m,)) for m in managers]
	for t in threads:
		t.start()
	for t in threads:
		t.join()
	for h in handles:
		h.close()
	assert sum(len(r["opened"]) for r in results) == 1
	assert [r[0] for r in rows(alert_db, "disk_percent")] == ["Open"]


def test_bad_settings_and_unknown_metrics_are_refused(redis, namespace, alert_db):
	with pytest.raises(InvalidMetricError, match="breaches_to_open"):
		AlertManager(redis, alert_db, namespace, breaches_to_open=0)
	with pytest.raises(InvalidMetricError, match="no alert threshold"):
		AlertManager(redis, alert_db, namespace).evaluate({"mystery": 1})
