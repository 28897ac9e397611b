"""Monitoring's shell: the hooks write a batch of requests in one Redis call, the APIs are admin-only,
settings drive the activation level, the snapshot job persists and notifies."""

import pytest

pytestmark = pytest.mark.shell


class Response:
	def __init__(self, status_code):
		self.status_code = status_code


class Request:
	def __init__(self, path):
		self.path = path


def save_settings(**values):
	import frappe

	doc = frappe.get_doc({"doctype": "Performance Settings", "name": "Performance Settings", **values})
	doc.save(ignore_permissions=True)
	return doc


def one_request(path="/api/method/verenigingen.api.x", status=200):
	from verenigingen import monitoring

	monitoring.before_request()
	monitoring.after_request(response=Response(status), request=Request(path))


@pytest.mark.parametrize(
	("user", "roles", "allowed"),
	[
		("Guest", (), False),
		("desk@example.org", ("Desk User",), False),
		("vadmin@example.org", ("Verenigingen Administrator",), True),
		("sysman@example.org", ("System Manager",), True),
	],
)
def test_apis_are_admin_only(frappe_site, user, roles, allowed):
	import frappe

	from verenigingen.api.monitoring import get_performance_dashboard_data, get_performance_summary

	frappe.flags.in_test = True
	frappe_site.login(user, roles)
	for call in (get_performance_summary, lambda: get_performance_dashboard_data("1h")):
		if allowed:
			assert call()["enabled"] is True
		else:
			with pytest.raises(frappe.PermissionError):
				call()


def test_request_hooks_feed_the_summary_with_one_redis_call(frappe_site, monkeypatch):
	import frappe

	from verenigingen import frappe_bridge as bridge
	from verenigingen import monitoring
	from verenigingen.api.monitoring import get_performance_summary
	from verenigingen.performance.monitoring import request_samples
	from verenigingen.performance.samples import SampleBuffer

	# A buffer of 32 requests' samples that never flushes by age: the count decides when Redis is called.
	per_request = len(request_samples("/api/method/verenigingen.api.x", 1.0, 200))
	monitoring._REQUEST_BUFFERS[frappe_site.namespace] = SampleBuffer(
		max_samples=32 * per_request, max_age=3600
	)

	# Count the round trips of the site's own Redis client (the server's counters would also count
	# whatever else runs against the shared Redis at the same time).
	client = bridge.redis_client()
	round_trips = []
	original = client.pipeline

	def recording_pipeline(*a, **kw):
		pipe = original(*a, **kw)
		real_execute = pipe.execute

		def execute(*ea, **ekw):
			round_trips.append([c[0][0] for c in pipe.command_stack])
			return real_execute(*ea, **ekw)

		pipe.execute = execute
		return pipe

	monkeypatch.setattr(client, "pipeline", recording_pipeline)
	for i in range(30):
		one_request(status=500 if i == 0 else 200)
	one_request("/api/resource/Member/MEM-1")
	assert round_trips == []  # 31 requests gathered in the process: no Redis call yet
	one_request()
	assert len(round_trips) == 1  # the 32nd writes all 32 in one pipelined call of the record script
	assert set(round_trips[0]) == {"EVALSHA"}
	assert len(monitoring.request_buffer()) == 0
	frappe_site.login("Administrator")
	s = get_performance_summary()
	assert s["key_figures"]["request_count"] == 32
	assert set(s["endpoints"]) == {"/api/method/verenigingen.api.x", "/api/resource/Member"}
	assert s["endpoints"]["/api/method/verenigingen.api.x"]["errors"] == 1
	assert "requests" in s["components"] and "cache" in s["missing"]
	assert frappe.message_log == []


def test_activation_level_from_settings_gates_collection_and_apis(frappe_site):
	import frappe

	from verenigingen import monitoring
	from verenigingen.api.monitoring import get_performance_summary

	frappe_site.login("Administrator")
	save_settings(activation_level="0")
	one_request()
	monitoring.flush_request_samples()  # written while the level is 0: nothing is recorded
	save_settings(activation_level="1")
	assert get_performance_summary() == {
		"enabled": False, "activation_level": 1, "activation": "collect only",
		"message": "Set the activation level in Performance Settings to 2 (dashboard) or higher.",
	}  # fmt: skip
	one_request()
	monitoring.flush_request_samples()
	save_settings(activation_level="2")
	assert get_performance_summary()["key_figures"]["request_count"] == 1  # level 0 recorded nothing
	with pytest.raises(frappe.ValidationError, match="apdex_t_ms must be a number"):
		save_settings(apdex_t_ms="fast")


def test_job_hooks_record_run_time_and_failures(frappe_site):
	from verenigingen import frappe_bridge as bridge
	from verenigingen import monitoring

	def execute_job(fn):  # the shape of frappe.utils.background_jobs.execute_job
		monitoring.before_job(method="x", kwargs={}, transaction_type="job")
		try:
			return fn()
		finally:
			monitoring.after_job(method="x", kwargs={}, result=None)

	execute_job(lambda: 1)
	with pytest.raises(ZeroDivisionError):
		execute_job(lambda: 1 / 0)
	h = bridge.metric_store().window(["job_run:inline"], 1)["job_run:inline"]
	assert (h.count, h.errors) == (2, 1)


def test_dashboard_rejects_an_unknown_window(frappe_site):
	import frappe

	from verenigingen.api.monitoring import get_performance_dashboard_data

	frappe_site.login("Administrator")
	with pytest.raises(frappe.ValidationError, match="Unknown window"):
		get_performance_dashboard_data("forever")


def test_snapshot_job_persists_and_notifies_admins_of_new_alerts(frappe_site):
	import frappe

	from verenigingen import monitoring

	frappe_site.login("Administrator")
	frappe._double.add_user("vadmin@example.org", ["Verenigingen Administrator"])
	frappe._double.add_user("clerk@example.org", ["Desk User"])
	save_settings(activation_level="3", alert_breaches="1", request_p95_alert_ms="100")
	for _ in range(5):
		monitoring.before_request()
		frappe.local.verenigingen_request_started -= 0.5  # a request that took 500 ms
		monitoring.after_request(response=Response(200), request=Request("/app/member"))
	monitoring.flush_request_samples()
	result = monitoring.take_snapshot()
	assert (
		frappe.db.sql("SELECT COUNT(*) FROM `tabPerformance Snapshot` WHERE name=%s", (result["name"],))[0][0]
		== 1
	)
	notes = list(frappe._double.records.get("Notification Log", {}).values())
	# get_users_with_role leaves Administrator out; the alert adds it explicitly
	assert {n["for_user"] for n in notes} == {"Administrator", "vadmin@example.org"}
	assert all(n["document_type"] == "Performance Alert" for n in notes)
	assert any("request_p95_ms" in n["subject"] for n in notes)
	assert monitoring.purge_snapshots() == 0  # nothing older than 90 days


def test_clear_cache_keeps_metrics_and_the_activation_level(frappe_site, redis):
	"""frappe.clear_cache() (bench clear-cache, every migrate) deletes "{db_name}|*" and runs the
	clear_cache hooks: the app's histograms and its activation level survive; level 0 stays 0."""
	import frappe

	from verenigingen import frappe_bridge as bridge
	from verenigingen import monitoring

	frappe_site.login("Administrator")
	save_settings(activation_level="1")
	one_request()
	monitoring.flush_request_samples()
	store = bridge.metric_store()
	before = store.window(["request"], 2)["request"].count
	assert before >= 1
	redis.set(f"{frappe.conf.db_name}|frappe_key", 1)  # what Frappe's own clear deletes
	frappe.clear_cache()
	for key in redis.scan_iter(match=f"{frappe.conf.db_name}|*"):  # as v15's clear_cache does
		redis.delete(key)
	assert store.window(["request"], 2)["request"].count == before
	save_settings(activation_level="0")
	redis.delete(store.level_key())  # a Redis restart loses the level ...
	frappe.clear_cache()  # ... the clear_cache hook (and migrate, and the snapshot) put it back
	assert store.level() == 0
	one_request()
	monitoring.flush_request_samples()
	assert store.window(["request"], 2)["request"].count == before  # off stays off


def test_alert_recipients_include_administrator_whom_get_users_with_role_leaves_out(frappe_site):
	from frappe.utils.user import get_users_with_role

	from verenigingen import monitoring

	frappe_site.login("Administrator")
	frappe_site.login("vadmin@example.org", ["Verenigingen Administrator"])
	frappe_site.login("clerk@example.org", ["Desk User"])
	assert "Administrator" not in get_users_with_role("System Manager")
	recipients = monitoring.alert_recipients()
	assert "Administrator" in recipients and "vadmin@example.org" in recipients
	assert "clerk@example.org" not in recipients
