"""The job coordinator's Frappe shell: jobs through frappe.enqueue on the bench's queues, the runner
bench workers execute, the scheduler entry, and the admin-only whitelisted functions."""

import pytest

from verenigingen.performance.keys import KeyBuilder

pytestmark = pytest.mark.shell

FIX = "tests.jobfixtures"


def _run_enqueued(frappe, call):
	"""Execute an enqueued call as a bench worker does: Frappe's execute_job, as the enqueuing user."""
	from frappe.utils.background_jobs import execute_job

	return execute_job(frappe.local.site, call.method, None, call.method, call.kwargs, user=call.user)


def _ran_as(frappe_site) -> dict:
	"""{label: user} the site_whoami jobs recorded."""
	from verenigingen import frappe_bridge

	raw = frappe_bridge.redis_client().hgetall(KeyBuilder(frappe_site.namespace).key("jobtest", "user"))
	return {k.decode(): v.decode() for k, v in raw.items()}


def _error_logs(frappe) -> list:
	"""The committed Error Log rows (whatever the open transaction holds is rolled back first)."""
	frappe.db.rollback()
	return frappe.db.sql(
		"SELECT method, error, reference_name, owner FROM `tabError Log` ORDER BY creation", as_dict=True
	)


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


ANN, BOB, CARL = "ann@example.com", "bob@example.com", "carl@example.com"


def test_a_job_runs_as_its_submitter_whoever_frees_the_slot(frappe_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import cancel_job, get_job_status
	from verenigingen.jobs import reconcile

	if not frappe_site.is_double:
		pytest.skip("drives frappe.enqueue's recorded calls of the double")
	frappe.conf[frappe_bridge.JOB_CAPS_CONFIG_KEY] = {"normal": 1}
	frappe_site.login(ANN, ["Verenigingen Member"])
	for job_id in ("held", "ann1"):
		frappe_bridge.submit_job(f"{FIX}.site_whoami", {"label": job_id}, job_id=job_id)
	frappe_site.login(CARL, ["Verenigingen Member"])
	frappe_bridge.submit_job(f"{FIX}.site_whoami", {"label": "carl1"}, job_id="carl1")
	assert [(c.kwargs["coordinated_job"], c.user) for c in frappe.enqueued_jobs] == [("held", ANN)]
	# Bob, an administrator, cancels the held job: his call admits ann1, so Frappe enqueues it as Bob
	frappe_site.login(BOB, ["System Manager"])
	assert cancel_job("held")["status"] == "cancelled"
	by_bob = frappe.enqueued_jobs[-1]
	assert by_bob.kwargs["coordinated_job"] == "ann1" and by_bob.user == BOB
	# no worker took it up in time: the scheduler's reconcile, as Administrator, admits it again
	redis = frappe_bridge.redis_client()
	redis.zadd(KeyBuilder(frappe_site.namespace).key("jobs", "slots", "normal"), {"ann1": 0}, xx=True)
	frappe_site.login("Administrator")
	assert reconcile()["expired_leases"] == {"readmitted": 1}
	by_admin = frappe.enqueued_jobs[-1]
	assert by_admin.kwargs["coordinated_job"] == "ann1" and by_admin.user == "Administrator"
	# the worker runs ann1 as Ann, then carl1 (chained in the same RQ job) as Carl
	assert _run_enqueued(frappe, by_admin) == "finished"
	assert _ran_as(frappe_site) == {"ann1": ANN, "carl1": CARL}
	assert _run_enqueued(frappe, by_bob) == "stale"  # the superseded admission runs nothing
	assert get_job_status("ann1")["user"] == ANN and get_job_status("carl1")["status"] == "finished"


def test_a_submit_takes_effect_when_its_transaction_commits_and_never_if_it_rolls_back(frappe_site):
	import types

	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.performance.exceptions import InvalidJobError, NoSuchJobError, UnknownDependencyError

	if not frappe_site.is_double:
		pytest.skip("drives frappe.enqueue's recorded calls of the double")
	whoami = f"{FIX}.site_whoami"
	coord = frappe_bridge.job_coordinator()
	frappe_site.login(ANN, ["Verenigingen Member"])
	frappe.local.request = types.SimpleNamespace(method="POST")  # Frappe commits it if it succeeds
	try:
		doomed = frappe_bridge.submit_job(whoami, {"label": "doomed"})
		with pytest.raises(NoSuchJobError):
			coord.status(doomed)
		frappe.db.rollback()  # the request failed
		frappe.db.commit()
		with pytest.raises(NoSuchJobError):
			coord.status(doomed)
		assert frappe.enqueued_jobs == []
		assert frappe_bridge.submit_job(whoami, {"label": "first"}, job_id="first") == "first"
		# a dependency submitted earlier in the same transaction is known; anything else is refused now
		frappe_bridge.submit_job(whoami, {"label": "second"}, job_id="second", depends_on=["first"])
		with pytest.raises(UnknownDependencyError, match="'ghost'"):
			frappe_bridge.submit_job(whoami, depends_on=["ghost"])
		with pytest.raises(InvalidJobError, match="dotted path"):
			frappe_bridge.submit_job("whoami")
		assert frappe.enqueued_jobs == []
		frappe.db.commit()  # the request succeeded
	finally:
		del frappe.local.request
	assert coord.status("first")["phase"] == "dispatched" and coord.status("second")["phase"] == "blocked"
	assert _run_enqueued(frappe, frappe.enqueued_jobs[-1]) == "finished"  # first, then second, chained
	assert _ran_as(frappe_site) == {"first": ANN, "second": ANN}
	# a GET request (Frappe rolls it back) or a console with nothing written: submitted at once
	frappe.local.request = types.SimpleNamespace(method="GET")
	try:
		assert coord.status(frappe_bridge.submit_job(whoami, {"label": "get"}))["user"] == ANN
	finally:
		del frappe.local.request
	assert coord.status(frappe_bridge.submit_job(whoami, {"label": "console"}))["status"]
	# ... with writes pending, at their commit
	frappe.db.sql("INSERT INTO `tabMember` (`name`) VALUES ('pending')")
	later = frappe_bridge.submit_job(whoami, {"label": "later"})
	with pytest.raises(NoSuchJobError):
		coord.status(later)
	frappe.db.commit()
	assert coord.status(later)["user"] == ANN


def test_a_submit_inside_a_job_follows_that_attempt(frappe_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.performance.exceptions import NoSuchJobError
	from verenigingen.performance.jobs import RetryPolicy

	if not frappe_site.is_double:
		pytest.skip("drives frappe.enqueue's recorded calls of the double")
	coord = frappe_bridge.job_coordinator()
	frappe_site.login(ANN, ["Verenigingen Member"])
	once = RetryPolicy(0, 0)
	frappe_bridge.submit_job(f"{FIX}.site_submit", {"label": "child-of-failure", "fail": True}, retry=once)
	assert _run_enqueued(frappe, frappe.enqueued_jobs[-1]) == "failed"
	with pytest.raises(NoSuchJobError):  # its attempt was rolled back, and the submit with it
		coord.status("child-of-failure")
	frappe_bridge.submit_job(f"{FIX}.site_submit", {"label": "child"}, retry=once)
	assert _run_enqueued(frappe, frappe.enqueued_jobs[-1]) == "finished"
	assert coord.status("child")["user"] == ANN  # submitted by the job, which ran as Ann


def test_a_failed_attempt_leaves_a_committed_error_log_and_counts_as_a_failed_job(frappe_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import get_job_status
	from verenigingen.performance.jobs import RetryPolicy

	if not frappe_site.is_double:
		pytest.skip("drives frappe.enqueue's recorded calls of the double")
	frappe_site.login(ANN, ["Verenigingen Member"])
	frappe_bridge.submit_job(f"{FIX}.site_record", {"label": "ok"}, job_id="ok")
	frappe_bridge.submit_job(
		f"{FIX}.site_record", {"label": "broken", "fail": True}, job_id="broken", retry=RetryPolicy(1, 0)
	)
	[ok_call, broken_call] = frappe.enqueued_jobs
	assert _run_enqueued(frappe, ok_call) == "finished"
	# the first attempt fails, its retry is due at once and runs chained in the same RQ job: the RQ
	# job itself ends OK (no exception reaches execute_job, which would log a second row)
	assert _run_enqueued(frappe, broken_call) == "delayed"
	logs = _error_logs(frappe)
	assert len(logs) == 2
	for n, log in enumerate(logs, start=1):
		assert log.method == f"verenigingen job {FIX}.site_record failed"
		assert f"job broken, attempt {n}" in log.error and log.reference_name == "broken"
		assert "Traceback" in log.error and "RuntimeError: broken failed after writing" in log.error
		assert log.owner == ANN  # logged as the job's user, as execute_job does
	assert not frappe.db.exists("Member", "broken") and frappe.db.exists("Member", "ok")
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
