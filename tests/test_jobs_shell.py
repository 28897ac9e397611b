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


ANN, BOB, CARL = "ann@example.com", "bob@example.com", "carl@example.com"
PLAIN = ("Desk User",)  # a desk user without any admin role


def _ran_as(label: str):
	"""The user the ``whoami`` job labelled ``label`` ran as (its Member row's first name)."""
	import frappe

	return frappe.db.get_value("Member", label, "first_name")


def _admitted(queue: str = "default") -> list:
	"""(coordinated job, the user Frappe will run the RQ job as, the RQ job) of the site's queue."""
	return [(j.kwargs["kwargs"]["coordinated_job"], j.kwargs["user"], j) for j in site_jobs(queue)]


def test_a_job_runs_as_its_submitter_whoever_frees_the_slot(frappe_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import cancel_job, get_job_status
	from verenigingen.jobs import reconcile
	from verenigingen.performance.keys import KeyBuilder

	frappe.conf[frappe_bridge.JOB_CAPS_CONFIG_KEY] = {"normal": 1}
	frappe_site.login(ANN, PLAIN)
	for job_id in ("held", "ann1"):
		frappe_bridge.submit_job(f"{FIX}.whoami", {"label": job_id}, job_id=job_id)
	frappe_site.login(CARL, PLAIN)
	frappe_bridge.submit_job(f"{FIX}.whoami", {"label": "carl1"}, job_id="carl1")
	assert [(c, u) for c, u, _j in _admitted()] == [("held", ANN)]
	# Bob, an administrator, cancels the held job: his call admits ann1, so Frappe enqueues it as Bob
	frappe_site.login(BOB, ["System Manager"])
	assert cancel_job("held")["status"] == "cancelled"
	assert [(c, u) for c, u, _j in _admitted()][-1] == ("ann1", BOB)
	# no worker took it up in time: the scheduler's reconcile, as Administrator, admits it again
	queue_redis = frappe_bridge.job_coordinator().redis  # the queue Redis (a server of its own on a bench)
	queue_redis.zadd(KeyBuilder(frappe_site.namespace).key("jobs", "slots", "normal"), {"ann1": 0}, xx=True)
	frappe_site.login("Administrator")
	assert reconcile()["expired_leases"] == {"readmitted": 1}
	admitted = _admitted()
	assert [(c, u) for c, u, _j in admitted][-1] == ("ann1", "Administrator")
	# the worker runs ann1 as Ann and carl1 as Carl, whoever enqueued them; the superseded
	# admission (Bob's) runs nothing
	frappe_site.run_jobs()
	assert (_ran_as("ann1"), _ran_as("carl1"), _ran_as("held")) == (ANN, CARL, None)
	superseded = [j for c, u, j in admitted if c == "ann1" and u == BOB][0]
	superseded.refresh()
	assert superseded.return_value() == "stale"
	assert get_job_status("ann1")["user"] == ANN and get_job_status("carl1")["status"] == "finished"


def test_a_submit_takes_effect_when_its_transaction_commits_and_never_if_it_rolls_back(frappe_site):
	import types

	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.performance.exceptions import InvalidJobError, NoSuchJobError, UnknownDependencyError

	whoami = f"{FIX}.whoami"
	coord = frappe_bridge.job_coordinator()
	frappe_site.login(ANN, PLAIN)
	frappe.local.request = types.SimpleNamespace(method="POST")  # Frappe commits it if it succeeds
	try:
		doomed = frappe_bridge.submit_job(whoami, {"label": "doomed"})
		with pytest.raises(NoSuchJobError):
			coord.status(doomed)
		frappe.db.rollback()  # the request failed
		frappe.db.commit()
		with pytest.raises(NoSuchJobError):
			coord.status(doomed)
		assert site_jobs() == []
		assert frappe_bridge.submit_job(whoami, {"label": "first"}, job_id="first") == "first"
		# a dependency submitted earlier in the same transaction is known; anything else is refused now
		frappe_bridge.submit_job(whoami, {"label": "second"}, job_id="second", depends_on=["first"])
		with pytest.raises(UnknownDependencyError, match="'ghost'"):
			frappe_bridge.submit_job(whoami, depends_on=["ghost"])
		with pytest.raises(InvalidJobError, match="dotted path"):
			frappe_bridge.submit_job("whoami")
		assert site_jobs() == []
		frappe.db.commit()  # the request succeeded
	finally:
		frappe.local.request = None
	assert coord.status("first")["phase"] == "dispatched" and coord.status("second")["phase"] == "blocked"
	frappe_site.run_jobs()
	assert (_ran_as("first"), _ran_as("second"), _ran_as("doomed")) == (ANN, ANN, None)
	# a GET request (Frappe rolls it back) or a console with nothing written: submitted at once
	frappe.local.request = types.SimpleNamespace(method="GET")
	try:
		assert coord.status(frappe_bridge.submit_job(whoami, {"label": "get"}))["user"] == ANN
	finally:
		frappe.local.request = None
	assert coord.status(frappe_bridge.submit_job(whoami, {"label": "console"}))["status"]
	# ... with writes pending, at their commit
	frappe.db.sql("INSERT INTO `tabMember` (`name`) VALUES ('pending')")
	later = frappe_bridge.submit_job(whoami, {"label": "later"})
	with pytest.raises(NoSuchJobError):
		coord.status(later)
	frappe.db.commit()
	assert coord.status(later)["user"] == ANN
	frappe_site.run_jobs()  # nothing of this test is left queued


def test_a_submit_inside_a_job_follows_that_attempt(frappe_site):
	from verenigingen import frappe_bridge
	from verenigingen.performance.exceptions import NoSuchJobError
	from verenigingen.performance.jobs import RetryPolicy

	coord = frappe_bridge.job_coordinator()
	frappe_site.login(ANN, PLAIN)
	once = RetryPolicy(0, 0)
	failing = frappe_bridge.submit_job(
		f"{FIX}.site_submit", {"label": "child-of-failure", "fail": True}, retry=once
	)
	frappe_site.run_jobs()
	assert coord.status(failing)["status"] == "failed"
	with pytest.raises(NoSuchJobError):  # its attempt was rolled back, and the submit with it
		coord.status("child-of-failure")
	parent = frappe_bridge.submit_job(f"{FIX}.site_submit", {"label": "child"}, retry=once)
	frappe_site.run_jobs()
	assert coord.status(parent)["status"] == "finished"
	assert coord.status("child")["user"] == ANN  # submitted by the job, which ran as Ann
	assert _ran_as("child") == ANN


def test_a_failed_attempt_leaves_a_committed_error_log_and_counts_as_a_failed_job(frappe_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import get_job_status
	from verenigingen.performance.jobs import RetryPolicy

	frappe_site.login(ANN, PLAIN)
	frappe_bridge.submit_job(f"{FIX}.site_record", {"label": "vtest-ok"}, job_id="ok")
	frappe_bridge.submit_job(
		f"{FIX}.site_record",
		{"label": "vtest-broken", "fail": True},
		job_id="broken",
		retry=RetryPolicy(1, 0),
	)
	frappe_site.run_jobs()
	logs = frappe.db.sql(
		"SELECT method, error, reference_name, owner FROM `tabError Log` WHERE reference_name='broken' "
		"ORDER BY creation",
		as_dict=True,
	)
	assert len(logs) == 2, logs
	for n, log in enumerate(logs, start=1):
		assert log.method == f"verenigingen job {FIX}.site_record failed"
		assert f"job broken, attempt {n}" in log.error
		assert "Traceback" in log.error and "RuntimeError: vtest-broken failed after writing" in log.error
		assert log.owner == ANN  # logged as the job's user, as execute_job does
	assert not frappe.db.exists("Member", "vtest-broken") and frappe.db.exists("Member", "vtest-ok")
	frappe_site.login(BOB, ["System Manager"])
	job = get_job_status("broken")
	assert job["status"] == "failed" and job["attempts"] == 2 and job["user"] == ANN
	# monitoring: one sample per attempt on the priority's bench queue, failures as errors; the
	# runner's own RQ jobs are not counted again by after_job
	store = frappe_bridge.metric_store()
	runs = store.window(["job_run:default", "job_run:inline"], 2)
	assert (runs["job_run:default"].count, runs["job_run:default"].errors) == (3, 2)
	assert runs["job_run:inline"].count == 0
	assert store.window(["job_wait:default"], 2)["job_wait:default"].count == 3
