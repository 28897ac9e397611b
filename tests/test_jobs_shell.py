"""The job coordinator's Frappe shell: jobs through frappe.enqueue on the bench's queues, the runner
bench workers execute, the scheduler entry, and the admin-only whitelisted functions."""

import pytest

pytestmark = pytest.mark.shell

FIX = "verenigingen.tests.site_jobs"


def site_jobs(queue=None) -> list:
	"""The RQ jobs of this site waiting on the bench's queues (what frappe.enqueue put there), in order."""
	import frappe
	from frappe.utils.background_jobs import get_queue, get_queue_list

	jobs = []
	for q in [queue] if queue else get_queue_list():
		jobs += [j for j in get_queue(q).jobs if j.kwargs.get("site") == frappe.local.site]
	return jobs


def _order() -> list[str]:
	from verenigingen import frappe_bridge
	from verenigingen.tests.site_jobs import order_key

	return [x.decode() for x in frappe_bridge.redis_client().lrange(order_key(), 0, -1)]


def test_jobs_go_through_frappe_enqueue_on_the_bench_queues_and_run(frappe_site):
	import frappe
	from frappe.utils.background_jobs import get_queue

	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import cancel_job, get_job_status, get_queue_status

	frappe_site.login("admin@example.com", ["System Manager"])
	frappe.conf[frappe_bridge.JOB_CAPS_CONFIG_KEY] = {"bulk": 1}
	coord = frappe_bridge.job_coordinator()
	coord.load_controller = None
	coord.submit(f"{FIX}.site_record", {"label": "vtest-pay"}, priority="critical", job_id="pay")
	coord.submit(f"{FIX}.site_record", {"label": "vtest-mail"}, priority="normal", job_id="mail")
	coord.submit(f"{FIX}.site_record", {"label": "vtest-import1"}, priority="bulk", job_id="import1")
	coord.submit(f"{FIX}.site_record", {"label": "vtest-import2"}, priority="bulk", job_id="import2")
	# On the bench's queues, one RQ job per admitted job: import2 waits (BULK cap 1).
	jobs = {q: site_jobs(q) for q in ("short", "default", "long")}
	assert {q: len(j) for q, j in jobs.items()} == {"short": 1, "default": 1, "long": 1}
	calls = [jobs[q][0] for q in ("short", "default", "long")]
	assert {c.kwargs["method"] for c in calls} == {"verenigingen.jobs.run_job"}
	assert {c.kwargs["user"] for c in calls} == {"admin@example.com"}  # the job runs as who submitted it
	assert all(c.kwargs["kwargs"]["namespace"] == frappe_site.namespace for c in calls)
	assert len({c.id for c in calls}) == 3

	assert get_job_status("import2")["status"] == "waiting"
	assert cancel_job("import2")["status"] == "cancelled"
	frappe_site.run_jobs()
	assert _order() == ["vtest-pay", "vtest-mail", "vtest-import1"]
	assert [r[0] for r in frappe.db.sql("SELECT name FROM `tabMember` WHERE name LIKE 'vtest-%%' ORDER BY name")] == [
		"vtest-import1", "vtest-mail", "vtest-pay",
	]  # fmt: skip
	assert all(get_job_status(j)["status"] == "finished" for j in ("pay", "mail", "import1"))
	# a failed attempt's writes are rolled back, not committed by the worker
	from verenigingen.performance.jobs import RetryPolicy

	coord.submit(
		f"{FIX}.site_record",
		{"label": "vtest-broken", "fail": True},
		retry=RetryPolicy(0, 0),
		job_id="broken",
	)
	frappe_site.run_jobs()
	assert not frappe.db.exists("Member", "vtest-broken")
	assert get_job_status("broken")["status"] == "failed"
	assert "vtest-broken failed after writing" in get_job_status("broken")["error"]
	# a second delivery of the same admission (RQ retrying it) does not run the job again
	again = get_queue("short").enqueue_call(calls[0].func_name, kwargs=calls[0].kwargs, timeout=60)
	frappe_site.run_jobs()
	again.refresh()
	assert again.get_status() == "finished" and again.return_value() == "stale"
	assert _order().count("vtest-pay") == 1
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
	settings = frappe.get_doc("Performance Settings")
	settings.activation_level = "4"
	settings.save(ignore_permissions=True)
	result = reconcile()
	assert result["load_control"] == "on" and result["load"]["state"] in ("calm", "between", "pressure")
	# Caps lowered under pressure are put back once the level drops below 4.
	coordinator.apply_load_control(LoadReading(99, 50))
	assert coordinator.queue_status()["priorities"]["normal"]["effective_cap"] < 5  # the base cap
	settings = frappe.get_doc("Performance Settings")
	settings.activation_level = "3"
	settings.save(ignore_permissions=True)
	result = reconcile()
	assert result["load_control"] == "off" and "normal" in result["restored_caps"]
	assert coordinator.queue_status()["priorities"]["normal"]["effective_cap"] == 5
	assert "* * * * *" in frappe.get_hooks("scheduler_events")["cron"]
	frappe_site.login("clerk@example.com", ["Accounts User"])
	with pytest.raises(frappe.PermissionError):
		get_queue_status()
	frappe_site.login("Guest")
	with pytest.raises(frappe.PermissionError):
		get_queue_status()
