"""The job coordinator's Frappe shell: jobs through frappe.enqueue on the bench's queues, the runner
bench workers execute, the scheduler entry, and the admin-only whitelisted functions."""

import pytest

from verenigingen.performance.keys import KeyBuilder

pytestmark = pytest.mark.shell

FIX = "tests.jobfixtures"


def _run_enqueued(frappe, call):
	"""Execute an enqueued call the way Frappe's execute_job does: method(**kwargs)."""
	return frappe.get_attr(call.method)(**call.kwargs)


def test_jobs_go_through_frappe_enqueue_on_the_bench_queues_and_run(frappe_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import cancel_job, get_job_status, get_queue_status

	if not frappe_site.is_double:
		pytest.skip("drives frappe.enqueue's recorded calls of the double")
	frappe_site.login("admin@example.com", ["System Manager"])
	frappe.conf[frappe_bridge.JOB_CAPS_CONFIG_KEY] = {"bulk": 1}
	coord = frappe_bridge.job_coordinator()
	coord.load_controller = None
	coord.submit(f"{FIX}.site_record", {"label": "pay"}, priority="critical", job_id="pay")
	coord.submit(f"{FIX}.site_record", {"label": "mail"}, priority="normal", job_id="mail")
	coord.submit(f"{FIX}.site_record", {"label": "import1"}, priority="bulk", job_id="import1")
	coord.submit(f"{FIX}.site_record", {"label": "import2"}, priority="bulk", job_id="import2")
	calls = list(frappe.enqueued_jobs)
	assert [c.queue for c in calls] == ["short", "default", "long"]  # import2 waits: BULK cap 1
	assert {c.method for c in calls} == {"verenigingen.jobs.run_job"}
	assert all(c.deduplicate and c.job_id for c in calls)
	assert len({c.job_id for c in calls}) == 3
	assert calls[0].kwargs["namespace"] == frappe_site.namespace

	assert get_job_status("import2")["status"] == "waiting"
	assert cancel_job("import2")["status"] == "cancelled"
	for call in calls:
		assert _run_enqueued(frappe, call) == "finished"
	order = [
		x.decode()
		for x in frappe.cache.lrange(KeyBuilder(frappe_site.namespace).key("jobtest", "order"), 0, -1)
	]
	assert order == ["pay", "mail", "import1"]
	assert [r[0] for r in frappe.db.sql("SELECT name FROM `tabMember` ORDER BY name")] == [
		"import1",
		"mail",
		"pay",
	]
	# a failed attempt's writes are rolled back, not committed by the worker
	from verenigingen.performance.jobs import RetryPolicy

	coord.submit(
		f"{FIX}.site_record", {"label": "broken", "fail": True}, retry=RetryPolicy(0, 0), job_id="broken"
	)
	assert _run_enqueued(frappe, frappe.enqueued_jobs[-1]) == "failed"
	assert not frappe.db.exists("Member", "broken")
	assert "broken failed after writing" in get_job_status("broken")["error"]
	# a second delivery of the same admission (RQ retrying it) does not run the job again
	assert _run_enqueued(frappe, calls[0]) == "stale"
	status = get_queue_status()
	assert status["priorities"]["critical"]["counts"]["finished"] == 1
	assert status["priorities"]["bulk"]["counts"]["cancelled"] == 1
	assert status["priorities"]["bulk"]["cap"] == 1
	job = get_job_status("pay")
	assert job["status"] == "finished" and job["attempts"] == 1 and job["worker"]
	with pytest.raises(frappe.DoesNotExistError, match="no job 'ghost'"):
		get_job_status("ghost")
	with pytest.raises(frappe.ValidationError, match="job_id"):
		cancel_job("bad id!")


def test_runner_refuses_a_job_of_another_site(frappe_site):
	from verenigingen.jobs import run_job

	with pytest.raises(ValueError, match="runs on site"):
		run_job("some-other-site", "x", "1", "normal")


def test_reconcile_entry_and_the_guard(frappe_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import get_queue_status
	from verenigingen.jobs import reconcile
	from verenigingen.performance.jobs import LoadReading

	# Default activation level (2, dashboard): no automatic actions, so no load control.
	result = reconcile()
	assert set(result) == {"expired_leases", "unblocked", "dispatched", "load", "load_control"}
	assert result["load"] is None and result["load_control"] == "off"
	coordinator = frappe_bridge.job_coordinator()
	assert coordinator.last_reconcile() is not None
	# Level 4 (automatic actions): load control runs on every reconcile.
	frappe.get_doc(
		{"doctype": "Performance Settings", "name": "Performance Settings", "activation_level": "4"}
	).save(ignore_permissions=True)
	result = reconcile()
	assert result["load_control"] == "on" and result["load"]["state"] in ("calm", "between", "pressure")
	# Caps lowered under pressure are put back once the level drops below 4.
	coordinator.apply_load_control(LoadReading(99, 50))
	assert coordinator.queue_status()["priorities"]["normal"]["effective_cap"] < 5  # the base cap
	frappe.get_doc(
		{"doctype": "Performance Settings", "name": "Performance Settings", "activation_level": "3"}
	).save(ignore_permissions=True)
	result = reconcile()
	assert result["load_control"] == "off" and "normal" in result["restored_caps"]
	assert coordinator.queue_status()["priorities"]["normal"]["effective_cap"] == 5
	assert "* * * * *" in frappe.get_hooks("scheduler_events")["cron"]
	frappe_site.login("clerk@example.com", ["Verenigingen Member"])
	with pytest.raises(frappe.PermissionError):
		get_queue_status()
	frappe_site.login("Guest")
	with pytest.raises(frappe.PermissionError):
		get_queue_status()
