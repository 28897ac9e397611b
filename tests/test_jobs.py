"""The priority job coordinator against real Redis and real RQ worker processes."""

import pytest

from tests.jobfixtures import WorkerPool, wait_for
from verenigingen.performance.environment import redis_settings
from verenigingen.performance.exceptions import (
	InvalidJobError,
	NoSuchJobError,
	UnknownDependencyError,
)
from verenigingen.performance.jobs import (
	JobCoordinator,
	LoadController,
	LoadReading,
	Priority,
	RetryPolicy,
	RQEnqueuer,
	prefixed_queues,
	worker_queue_names,
)
from verenigingen.performance.jobs.tracking import percentile
from verenigingen.performance.keys import KeyBuilder, unlink_site

FIX = "tests.jobfixtures"


def _redis_settings() -> dict:
	return redis_settings()


@pytest.fixture
def job_queues(namespace):
	return prefixed_queues(f"{namespace}-")


@pytest.fixture
def workers(redis, job_queues):
	pool = WorkerPool(worker_queue_names(job_queues), _redis_settings())
	yield pool
	pool.stop()
	from rq import Queue
	from rq.registry import FailedJobRegistry, FinishedJobRegistry

	for name in set(job_queues.values()):
		for registry in (FinishedJobRegistry, FailedJobRegistry):  # rq 2 cannot remove from the started one
			reg = registry(name, connection=redis)
			for job_id in reg.get_job_ids():
				reg.remove(job_id, delete_job=True)
		Queue(name, connection=redis).delete(delete_jobs=True)


def coordinator(redis, namespace, job_queues, **kwargs) -> JobCoordinator:
	kwargs.setdefault("load_controller", None)
	return JobCoordinator(redis, namespace, RQEnqueuer(redis), queues=job_queues, **kwargs)


class Recorder:
	"""An enqueuer that only records the calls (for tests of admission without workers)."""

	def __init__(self):
		self.calls = []

	def __call__(self, method, *, queue, job_id, timeout, at_front, kwargs):
		self.calls.append(dict(method=method, queue=queue, job_id=job_id, at_front=at_front, kwargs=kwargs))
		return job_id


def tkey(namespace, *parts):
	return KeyBuilder(namespace).key("jobtest", *parts)


def runs(redis, namespace) -> dict:
	return {k.decode(): int(v) for k, v in redis.hgetall(tkey(namespace, "runs")).items()}


def status_is(coord, job_id, *statuses):
	return lambda: coord.status(job_id)["status"] in statuses


# ---------------------------------------------------------------- without workers


def test_priority_and_retry_policy_validation():
	assert Priority.parse("BULK") is Priority.BULK
	assert [p.rank for p in Priority] == [0, 1, 2, 3, 4]
	with pytest.raises(InvalidJobError, match="unknown priority 'urgent'"):
		Priority.parse("urgent")
	policy = RetryPolicy(3, 30)
	assert [policy.interval(n) for n in (1, 2, 3)] == [30, 60, 120]
	with pytest.raises(InvalidJobError, match="max_retries"):
		RetryPolicy(-1, 1)
	with pytest.raises(InvalidJobError, match="backoff"):
		RetryPolicy(1, 1, 0.5)


def test_submit_rejects_bad_input_and_records_nothing(redis, namespace, keys):
	coord = JobCoordinator(redis, namespace, Recorder(), load_controller=None)
	with pytest.raises(InvalidJobError, match="dotted path"):
		coord.submit("noop")
	with pytest.raises(InvalidJobError, match="cannot be imported"):
		coord.submit("tests.no_such_module.fn")
	with pytest.raises(InvalidJobError, match="has no function"):
		coord.submit(f"{FIX}.missing")
	with pytest.raises(InvalidJobError, match="JSON-serialisable"):
		coord.submit(f"{FIX}.noop", {"x": object()})
	with pytest.raises(InvalidJobError, match="job_id"):
		coord.submit(f"{FIX}.noop", job_id="a:b")
	with pytest.raises(InvalidJobError, match="timeout"):
		coord.submit(f"{FIX}.noop", timeout=0)
	with pytest.raises(UnknownDependencyError, match="'ghost'"):
		coord.submit(f"{FIX}.noop", depends_on=["ghost"], job_id="j1")
	with pytest.raises(NoSuchJobError):
		coord.status("j1")
	with pytest.raises(InvalidJobError, match="cap of bulk"):
		JobCoordinator(redis, namespace, Recorder(), caps={"bulk": 0}, load_controller=None)


def test_admission_is_bounded_by_the_caps_and_goes_by_priority(redis, namespace):
	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None, caps={"normal": 2})
	for i in range(4):
		coord.submit(f"{FIX}.noop", priority="bulk", job_id=f"b{i}")
	for i in range(4):
		coord.submit(f"{FIX}.noop", priority="normal", job_id=f"n{i}")
	assert [c["kwargs"]["coordinated_job"] for c in rec.calls] == ["b0", "n0", "n1"]
	assert [c["queue"] for c in rec.calls] == ["long", "default", "default"]
	coord.submit(f"{FIX}.noop", priority="critical", job_id="c0")
	assert rec.calls[-1]["queue"] == "short" and rec.calls[-1]["at_front"] is True
	status = coord.queue_status()["priorities"]
	assert status["bulk"]["slots_in_use"] == 1 and status["bulk"]["counts"]["waiting"] == 4
	assert status["normal"]["slots_in_use"] == 2
	assert coord.status("n3")["status"] == "waiting" and coord.status("n3")["phase"] == "waiting"
	# another site on the same Redis has slots of its own
	other = JobCoordinator(redis, namespace + "-other", Recorder(), load_controller=None)
	try:
		other.submit(f"{FIX}.noop", priority="bulk", job_id="b0")
		assert other.queue_status()["priorities"]["bulk"]["slots_in_use"] == 1
		with pytest.raises(NoSuchJobError):
			other.status("n0")
	finally:
		for key in redis.scan_iter(match=KeyBuilder(namespace + "-other").pattern("jobs"), count=500):
			redis.unlink(key)


def test_failed_enqueue_leaves_the_job_waiting_and_the_slot_free(redis, namespace):
	from verenigingen.performance.exceptions import JobDispatchError

	def broken(method, **kwargs):
		raise ConnectionError("RQ is down")

	coord = JobCoordinator(redis, namespace, broken, load_controller=None)
	with pytest.raises(JobDispatchError, match="RQ is down"):
		coord.submit(f"{FIX}.noop", job_id="j1")
	assert coord.status("j1")["phase"] == "waiting"
	assert coord.queue_status()["priorities"]["normal"]["slots_in_use"] == 0
	rec = Recorder()
	coord.enqueue = rec
	assert coord.dispatch() == 1 and rec.calls[0]["kwargs"]["coordinated_job"] == "j1"


def test_cancel_of_waiting_job_and_dedup_without_workers(redis, namespace):
	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None, caps={"normal": 1})
	assert coord.submit(f"{FIX}.noop", job_id="a") == "a"
	assert coord.submit(f"{FIX}.noop", job_id="w") == "w"
	assert coord.submit(f"{FIX}.noop", job_id="w") == "w"  # deduplicated: still one job
	assert coord.queue_status()["priorities"]["normal"]["counts"]["waiting"] == 2
	assert coord.cancel("w")["status"] == "cancelled"
	assert coord.status("w")["status"] == "cancelled"
	assert coord.queue_status()["priorities"]["normal"]["counts"]["waiting"] == 1
	with pytest.raises(NoSuchJobError):
		coord.cancel("nope")


def test_load_controller_lowers_and_restores_caps_with_hysteresis(redis, namespace):
	readings = iter(
		[
			LoadReading(50, 50),
			LoadReading(95, 50),
			LoadReading(90, 50),
			LoadReading(80, 85),
			LoadReading(60, 70),
		]
	)
	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=LoadController(lambda: next(readings)))

	def caps():
		return {p: v["effective_cap"] for p, v in coord.queue_status()["priorities"].items()}

	base = {"critical": 2, "high": 3, "normal": 5, "low": 2, "bulk": 1}
	assert coord.reconcile()["load"]["changed"] == {}  # calm
	assert caps() == base
	coord.reconcile()  # CPU 95 %: pressure
	assert caps() == {"critical": 2, "high": 3, "normal": 3, "low": 1, "bulk": 1}
	coord.reconcile()  # still pressure: lower again, never below 1
	assert caps() == {"critical": 2, "high": 3, "normal": 2, "low": 1, "bulk": 1}
	for i in range(4):
		coord.submit(f"{FIX}.noop", job_id=f"n{i}")
	assert len(rec.calls) == 2  # the lowered cap holds admission
	coord.reconcile()  # CPU 80, memory 85: between the marks, nothing changes (hysteresis)
	assert caps()["normal"] == 2
	result = coord.reconcile()  # calm again: restored, and the waiting jobs go
	assert caps() == base
	assert result["dispatched"] == 2
	load = coord.queue_status()["load"]
	assert load["state"] == "calm" and load["reading"] == {"cpu_percent": 60.0, "memory_percent": 70.0}
	assert [c["state"] for c in load["changes"]] == ["calm", "pressure", "pressure"]
	assert load["changes"][0]["caps"]["normal"] == {"from": 2, "to": 5}


def test_reconcile_is_timestamped_and_restore_caps_undoes_load_control(redis, namespace):
	now = [1000.0]
	readings = iter([LoadReading(95, 50)])
	coord = JobCoordinator(
		redis,
		namespace,
		Recorder(),
		load_controller=LoadController(lambda: next(readings)),
		clock=lambda: now[0],
	)
	assert coord.last_reconcile() is None and coord.queue_status()["last_reconcile"] is None
	coord.reconcile()  # pressure: NORMAL and LOW lowered
	assert coord.last_reconcile() == 1000.0 and coord.queue_status()["last_reconcile"] == 1000.0
	assert coord.queue_status()["priorities"]["normal"]["effective_cap"] == 3
	now[0] = 1060.0
	restored = coord.restore_caps("automatic actions off")
	assert restored == {"normal": {"from": 3, "to": 5}, "low": {"from": 1, "to": 2}}
	status = coord.queue_status()
	assert {p: v["effective_cap"] for p, v in status["priorities"].items()} == {
		"critical": 2, "high": 3, "normal": 5, "low": 2, "bulk": 1,
	}  # fmt: skip
	assert status["load"]["changes"][0]["state"] == "automatic actions off"
	assert coord.restore_caps() == {}  # nothing left to restore, nothing recorded
	assert len(coord.queue_status()["load"]["changes"]) == 2


def test_runner_runs_the_next_admitted_jobs_itself_within_bounds(redis, namespace):
	from verenigingen.performance.jobs import run_attempt

	noop = "verenigingen.performance.jobs.tasks.noop"
	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None, caps={"normal": 1}, chain_jobs=3)
	for i in range(5):
		coord.submit(noop, job_id=f"n{i}")
	assert len(rec.calls) == 1
	first = rec.calls[0]["kwargs"]
	assert run_attempt(coord, first["coordinated_job"], first["attempt_token"], "normal") == "finished"
	# n0 ran, then n1 and n2 in the same RQ job (chain of 3); n3 went to RQ as usual
	assert [coord.status(f"n{i}")["status"] for i in range(5)] == ["finished"] * 3 + ["waiting"] * 2
	assert [c["kwargs"]["coordinated_job"] for c in rec.calls] == ["n0", "n3"]
	assert coord.queue_status()["priorities"]["normal"]["slots_in_use"] == 1
	# a higher-priority job waiting in RQ for a worker: the runner hands the next job to RQ instead
	coord.submit(noop, priority="critical", job_id="c0")
	assert rec.calls[-1]["kwargs"]["coordinated_job"] == "c0"
	n3 = rec.calls[1]["kwargs"]
	assert run_attempt(coord, "n3", n3["attempt_token"], "normal") == "finished"
	assert coord.status("n4")["phase"] == "dispatched" and rec.calls[-1]["kwargs"]["coordinated_job"] == "n4"
	# the same admission delivered twice runs once
	assert run_attempt(coord, "n3", n3["attempt_token"], "normal") == "stale"


def test_the_submitter_is_kept_and_every_attempt_reaches_the_hooks_with_its_outcome(redis, namespace):
	from verenigingen.performance.jobs import run_attempt

	tasks = "verenigingen.performance.jobs.tasks"
	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None, caps={"normal": 1})
	coord.submit(f"{tasks}.noop", job_id="a", user="ann@example.org")
	coord.submit(f"{tasks}.fail", {"message": "boom"}, job_id="b", user="bob", retry=RetryPolicy(0, 0))
	coord.submit(f"{tasks}.noop", job_id="c")  # nobody named
	assert coord.status("a")["user"] == "ann@example.org" and coord.status("c")["user"] is None
	before, after = [], []
	first = rec.calls[0]["kwargs"]
	status = run_attempt(
		coord, "a", first["attempt_token"], "normal", before_attempt=before.append, after_attempt=after.append
	)
	assert status == "finished" and len(rec.calls) == 1  # b and c ran in the same RQ job (chained)
	assert [(x.job_id, x.user) for x in before] == [("a", "ann@example.org"), ("b", "bob"), ("c", None)]
	assert [(x.outcome, x.status, x.number) for x in after] == [
		("finished", "finished", 1),
		("failed", "failed", 1),
		("finished", "finished", 1),
	]
	failed = after[1]
	assert failed.failed and failed.ran and failed.method == f"{tasks}.fail"
	assert failed.error == "RuntimeError: boom" and "Traceback" in failed.traceback
	assert failed.kwargs == {"message": "boom"} and failed.priority is Priority.NORMAL
	assert all(x.wait_seconds >= 0 and x.run_seconds >= 0 for x in after)
	assert coord.status("b")["user"] == "bob" and coord.status("b")["status"] == "failed"
	# a stale delivery runs nothing, and says so
	after.clear()
	assert run_attempt(coord, "a", first["attempt_token"], "normal", after_attempt=after.append) == "stale"
	assert [(x.outcome, x.ran, x.user) for x in after] == [("stale", False, None)]
	for bad in ("", 7, "x" * 256):
		with pytest.raises(InvalidJobError, match="user must be"):
			coord.submit(f"{tasks}.noop", user=bad)


def test_a_failing_before_hook_fails_the_attempt_and_a_failing_after_hook_gives_the_next_job_back(
	redis, namespace
):
	from verenigingen.performance.jobs import run_attempt

	noop = "verenigingen.performance.jobs.tasks.noop"
	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None, caps={"normal": 1})
	coord.submit(noop, job_id="a", retry=RetryPolicy(0, 0))
	coord.submit(noop, job_id="b")

	def refuse(attempt):
		raise PermissionError(f"no user {attempt.user}")

	def broken(attempt):
		raise ConnectionError("the database went away")

	a = rec.calls[0]["kwargs"]
	with pytest.raises(ConnectionError):
		run_attempt(coord, "a", a["attempt_token"], "normal", before_attempt=refuse, after_attempt=broken)
	record = coord.status("a")
	assert record["status"] == "failed" and record["error"] == "PermissionError: no user None"
	# b had been taken by this runner: it went back and on to RQ rather than waiting out its admission
	assert rec.calls[-1]["kwargs"]["coordinated_job"] == "b" and coord.status("b")["phase"] == "dispatched"
	b = rec.calls[-1]["kwargs"]
	assert run_attempt(coord, "b", b["attempt_token"], "normal") == "finished"


def test_an_attempt_that_loses_its_lease_is_reported_lost_and_records_nothing(redis, namespace):
	from verenigingen.performance.jobs import run_attempt

	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None, lease_ttl=0.3)
	coord.submit(
		f"{FIX}.lose_lease", {"namespace": namespace, "priority": "normal", "job_id": "x"}, job_id="x"
	)
	after = []
	x = rec.calls[0]["kwargs"]
	assert run_attempt(coord, "x", x["attempt_token"], "normal", after_attempt=after.append) == "stale"
	[attempt] = after
	assert attempt.outcome == "lost" and attempt.failed and "JobLeaseLostError" in attempt.traceback
	record = coord.status("x")  # the reaper, not this runner, decided its fate: a retry
	assert record["status"] == "delayed" and "worker lost" in record["error"]


def test_check_submission_raises_what_submit_would_and_records_nothing(redis, namespace):
	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None)
	noop = "verenigingen.performance.jobs.tasks.noop"
	with pytest.raises(InvalidJobError, match="dotted path"):
		coord.check_submission("noop")
	with pytest.raises(InvalidJobError, match="user must be"):
		coord.check_submission(noop, user="")
	with pytest.raises(InvalidJobError, match="accept_dependency_failure"):
		coord.check_submission(noop, accept_dependency_failure="yes")
	with pytest.raises(UnknownDependencyError, match="'ghost'"):
		coord.check_submission(noop, job_id="j", depends_on=["ghost"])
	coord.check_submission(noop, job_id="j", depends_on=["ghost"], pending={"ghost"})  # submitted first
	assert coord.queue_status()["priorities"]["normal"]["counts"]["waiting"] == 0 and rec.calls == []
	with pytest.raises(NoSuchJobError):
		coord.status("j")
	coord.submit(noop, job_id="known")
	coord.check_submission(noop, job_id="j", depends_on=["known"])


def test_reconcile_unblocks_jobs_whose_dependency_ended_unsettled(redis, namespace, keys):
	"""A runner that died after recording its outcome but before settling its dependents."""
	from verenigingen.performance.jobs import run_attempt

	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None)
	coord.submit("verenigingen.performance.jobs.tasks.noop", job_id="a")
	coord.submit("verenigingen.performance.jobs.tasks.noop", job_id="b", depends_on=["a"])
	redis.unlink(keys.key("jobs", "dependents", "a"))  # as if the settle step never happened
	a = rec.calls[0]["kwargs"]
	assert run_attempt(coord, "a", a["attempt_token"], "normal", chain_jobs=1) == "finished"
	assert coord.status("b")["phase"] == "blocked"
	assert coord.reconcile()["unblocked"] == 1
	assert coord.status("b")["phase"] == "dispatched" and rec.calls[-1]["kwargs"]["coordinated_job"] == "b"
	assert coord.reconcile()["unblocked"] == 0


def test_queue_status_reports_oldest_wait_and_throughput_from_samples(redis, namespace):
	from verenigingen.performance.jobs import run_attempt
	from verenigingen.performance.jobs.tracking import summarise

	now = [1_000.0]
	rec = Recorder()
	coord = JobCoordinator(
		redis, namespace, rec, load_controller=None, caps={"low": 1}, clock=lambda: now[0], chain_jobs=1
	)
	coord.submit("verenigingen.performance.jobs.tasks.noop", priority="low", job_id="l0")
	coord.submit("verenigingen.performance.jobs.tasks.noop", priority="low", job_id="l1")
	now[0] += 4.0
	entry = coord.queue_status()["priorities"]["low"]
	assert entry["oldest_waiting_seconds"] == 4.0 and entry["slots_in_use"] == 1
	assert entry["counts"]["waiting"] == 2 and entry["samples"] == 0 and entry["wait_p50"] is None
	l0 = rec.calls[0]["kwargs"]
	assert run_attempt(coord, "l0", l0["attempt_token"], "low") == "finished"
	entry = coord.queue_status()["priorities"]["low"]
	assert entry["wait_p50"] == 4.0 and entry["samples"] == 1 and entry["counts"]["finished"] == 1
	record = coord.status("l0")
	assert record["queue_wait"] == 4.0 and record["submitted"] == 1000.0 and record["ended"] == 1004.0
	# throughput: runs per minute over the span the window's samples cover (at least one second)
	runs = [(100.0 + i, 0.1) for i in range(30)]
	assert summarise([], runs, now=130.0, window=900)["throughput_per_minute"] == 60.0
	assert summarise([], [], now=130.0, window=900)["throughput_per_minute"] == 0.0


def test_load_controller_thresholds_are_checked():
	with pytest.raises(ValueError, match="low thresholds"):
		LoadController(lambda: LoadReading(0, 0), cpu_low=90, cpu_high=85)
	controller = LoadController(lambda: LoadReading(0, 0))
	assert (
		controller.state(LoadReading(86, 10)) == "pressure"
		and controller.state(LoadReading(10, 91)) == "pressure"
	)
	assert (
		controller.state(LoadReading(69, 79)) == "calm" and controller.state(LoadReading(75, 10)) == "between"
	)


def test_a_finished_job_id_submitted_again_runs_again_and_old_deliveries_stay_stale(redis, namespace):
	from verenigingen.performance.jobs import run_attempt

	rec = Recorder()
	coord = JobCoordinator(redis, namespace, rec, load_controller=None)
	noop = "verenigingen.performance.jobs.tasks.noop"
	coord.submit(noop, job_id="daily")
	first = rec.calls[0]["kwargs"]
	assert run_attempt(coord, "daily", first["attempt_token"], "normal") == "finished"
	assert coord.submit(noop, job_id="daily") == "daily"
	second = rec.calls[1]["kwargs"]
	assert (
		second["attempt_token"] != first["attempt_token"] and rec.calls[0]["job_id"] != rec.calls[1]["job_id"]
	)
	assert coord.status("daily")["phase"] == "dispatched" and coord.status("daily")["attempts"] == 0
	assert run_attempt(coord, "daily", first["attempt_token"], "normal") == "stale"
	assert run_attempt(coord, "daily", second["attempt_token"], "normal") == "finished"


def test_percentile_is_nearest_rank():
	assert percentile([], 0.5) is None
	assert percentile([3, 1, 2, 4], 0.5) == 2
	assert percentile(list(range(1, 101)), 0.95) == 95


# ---------------------------------------------------------------- with RQ worker processes


@pytest.mark.slow
def test_caps_hold_across_four_workers_and_every_job_runs_once(redis, namespace, job_queues, workers):
	coord = coordinator(redis, namespace, job_queues)
	per_priority = 150
	ids = []
	for n in range(per_priority):
		for p in Priority:
			label = f"{p.value}-{n}"
			ids.append(coord.submit(f"{FIX}.track", {"namespace": namespace, "priority": p.value, "label": label, "hold": 0.004}, priority=p, job_id=label))  # fmt: skip
	workers.start(4)
	wait_for(
		lambda: sum(v["counts"]["finished"] for v in coord.queue_status()["priorities"].values()) == len(ids),
		timeout=120,
		interval=0.2,
		message="every job to finish",
	)
	observed = {p.value: int(redis.get(tkey(namespace, "max", p.value)) or 0) for p in Priority}
	for p in Priority:
		assert 1 <= observed[p.value] <= coord.caps[p], observed
	assert observed["bulk"] == 1
	assert max(observed.values()) >= 2, f"no concurrency happened at all: {observed}"
	done = runs(redis, namespace)
	assert len(done) == len(ids) and set(done.values()) == {1}
	status = coord.queue_status()["priorities"]
	for p in Priority:
		entry = status[p.value]
		assert entry["slots_in_use"] == 0 and entry["counts"]["finished"] == per_priority
		assert entry["samples"] == per_priority and entry["run_p95"] >= entry["run_p50"] >= 0.004
		assert entry["throughput_per_minute"] > 0
	assert all(coord.status(i)["status"] == "finished" for i in ids[:20])


@pytest.mark.slow
def test_critical_job_starts_before_earlier_waiting_normal_and_bulk(redis, namespace, job_queues, workers):
	coord = coordinator(redis, namespace, job_queues, caps={"critical": 1, "normal": 1, "bulk": 1})
	workers.start(1)
	kw = {"namespace": namespace}
	coord.submit(f"{FIX}.gate", {**kw, "label": "blocker"}, priority="normal", job_id="blocker")
	wait_for(status_is(coord, "blocker", "running"), message="the blocker to run")
	for i in range(2):
		coord.submit(f"{FIX}.record", {**kw, "label": f"normal{i}"}, priority="normal", job_id=f"normal{i}")
		coord.submit(f"{FIX}.record", {**kw, "label": f"bulk{i}"}, priority="bulk", job_id=f"bulk{i}")
	coord.submit(f"{FIX}.record", {**kw, "label": "critical"}, priority="critical", job_id="critical")
	redis.set(tkey(namespace, "gate"), 1)
	wait_for(lambda: redis.llen(tkey(namespace, "order")) == 6, message="all six jobs to start")
	order = [x.decode() for x in redis.lrange(tkey(namespace, "order"), 0, -1)]
	assert order[:2] == ["blocker", "critical"], order
	assert order.index("normal0") < order.index("normal1") and order.index("bulk0") < order.index("bulk1")


@pytest.mark.slow
def test_sigkilled_worker_job_runs_again_and_slot_comes_back(redis, namespace, job_queues, workers):
	coord = coordinator(redis, namespace, job_queues, lease_ttl=1.0)
	(victim,) = workers.start(1)
	job = coord.submit(
		f"{FIX}.slow_first", {"namespace": namespace, "label": "k"}, retry=RetryPolicy(2, 0.1), job_id="k"
	)
	wait_for(lambda: redis.exists(tkey(namespace, "stalling")), message="the first attempt to stall")
	assert coord.status(job)["status"] == "running"
	workers.kill(victim)
	workers.start(1)

	def finished():
		coord.reconcile()
		return coord.status(job)["status"] == "finished"

	wait_for(finished, timeout=30, interval=0.1, message="the job to run again and finish")
	record = coord.status(job)
	assert record["attempts"] == 2 and "worker lost" in record["error"]
	assert runs(redis, namespace) == {"k": 2}
	assert coord.queue_status()["priorities"]["normal"]["slots_in_use"] == 0


@pytest.mark.slow
def test_retries_timeouts_and_dependencies(redis, namespace, job_queues, workers):
	coord = coordinator(redis, namespace, job_queues)
	kw = {"namespace": namespace}
	workers.start(2)
	quick = RetryPolicy(3, 0.05, 2)
	flaky = coord.submit(
		f"{FIX}.fail_times", {**kw, "label": "flaky", "failures": 2}, retry=quick, job_id="flaky"
	)
	doomed = coord.submit(f"{FIX}.fail_times", {**kw, "label": "doomed", "failures": 9}, retry=RetryPolicy(1, 0.05), job_id="doomed", user="ops@example.org")  # fmt: skip
	slow = coord.submit(
		f"{FIX}.sleep_slices", {"seconds": 20}, retry=RetryPolicy(0, 0), timeout=0.5, job_id="slow"
	)
	after_flaky = coord.submit(
		f"{FIX}.record", {**kw, "label": "after_flaky"}, depends_on=[flaky], job_id="af"
	)
	after_doomed = coord.submit(
		f"{FIX}.record", {**kw, "label": "after_doomed"}, depends_on=[doomed], job_id="ad"
	)
	chained = coord.submit(
		f"{FIX}.record", {**kw, "label": "chained"}, depends_on=[after_doomed], job_id="ch"
	)
	tolerant = coord.submit(f"{FIX}.record", {**kw, "label": "tolerant"}, depends_on=[doomed], job_id="tol", accept_dependency_failure=True)  # fmt: skip
	assert (
		coord.status(after_flaky)["status"] == "waiting" and coord.status(after_flaky)["phase"] == "blocked"
	)

	def settled():
		coord.dispatch()  # retries become due between runner calls
		return all(
			coord.status(j)["status"] in ("finished", "failed", "dependency_failed")
			for j in (flaky, doomed, slow, after_flaky, after_doomed, chained, tolerant)
		)

	wait_for(settled, timeout=30, interval=0.05, message="every job to settle")
	f = coord.status(flaky)
	assert f["status"] == "finished" and f["attempts"] == 3
	d = coord.status(doomed)
	assert d["status"] == "failed" and d["attempts"] == 2
	assert "planned failure 2" in d["error"] and "RuntimeError" in d["traceback"]
	assert d["user"] == "ops@example.org" and coord.status(flaky)["user"] is None  # kept through retries
	s = coord.status(slow)
	assert s["status"] == "failed" and "JobTimeoutError" in s["error"] and s["run_time"] < 10
	a = coord.status(after_flaky)
	assert a["status"] == "finished" and a["first_started"] >= f["ended"]
	assert coord.status(after_doomed)["status"] == "dependency_failed"
	assert "doomed ended as failed" in coord.status(after_doomed)["error"]
	assert coord.status(chained)["status"] == "dependency_failed"
	assert coord.status(tolerant)["status"] == "finished"
	assert "after_doomed" not in runs(redis, namespace) and "chained" not in runs(redis, namespace)
	# a dependency that already failed for good: the dependent ends at once
	late = coord.submit(f"{FIX}.record", {**kw, "label": "late"}, depends_on=[doomed], job_id="late")
	assert coord.status(late)["status"] == "dependency_failed"
	counts = coord.queue_status()["priorities"]["normal"]["counts"]
	assert counts["failed"] == 2 and counts["dependency_failed"] == 3 and counts["waiting"] == 0


@pytest.mark.slow
def test_dedup_and_cancel_of_waiting_and_running_jobs(redis, namespace, job_queues, workers):
	coord = coordinator(redis, namespace, job_queues, caps={"normal": 1}, lease_ttl=3.0)
	kw = {"namespace": namespace}
	workers.start(1)
	coord.submit(f"{FIX}.gate", {**kw, "label": "held"}, job_id="held")
	wait_for(status_is(coord, "held", "running"), message="the held job to run")
	assert coord.submit(f"{FIX}.gate", {**kw, "label": "held"}, job_id="held") == "held"
	coord.submit(f"{FIX}.record", {**kw, "label": "queued"}, job_id="queued")
	assert coord.cancel("queued")["status"] == "cancelled"
	answer = coord.cancel("held")
	assert answer["status"] == "running" and answer["stop_requested"]
	wait_for(status_is(coord, "held", "cancelled"), timeout=15, message="the running job to stop")
	assert coord.queue_status()["priorities"]["normal"]["slots_in_use"] == 0
	assert runs(redis, namespace) == {"held": 1}
	assert redis.llen(tkey(namespace, "passed")) == 0  # it stopped inside the gate, never passed it
	coord.submit(f"{FIX}.record", {**kw, "label": "next"}, job_id="next")
	wait_for(status_is(coord, "next", "finished"), message="the next job to run in the freed slot")
	assert "queued" not in runs(redis, namespace)


@pytest.mark.slow
def test_showcase_step_runs_a_mixed_batch_and_reports_per_priority(redis, namespace, monkeypatch):
	import io

	from verenigingen.showcase import jobs as step
	from verenigingen.showcase.env import ShowcaseEnv

	monkeypatch.setattr(step, "BATCH", [(p, 4, 0.01) for p in Priority])
	monkeypatch.setattr(step, "WORKERS", 2)
	out = io.StringIO()
	env = ShowcaseEnv(
		db=None, redis=redis, namespace=namespace, members=0, seed=0, db_settings={},
		redis_settings=_redis_settings(), out=out,
	)  # fmt: skip
	try:
		step.run(env)
		step.run(env)  # a second run starts fresh: its totals are its own
	finally:
		unlink_site(redis, namespace + "-jobs")
	result = env.results["jobs"]
	assert result["jobs"] == 24
	priorities = result["queue_status"]["priorities"]
	assert [priorities[p.value]["counts"]["finished"] for p in Priority] == [
		4,
		4,
		4,
		5,
		4,
	]  # LOW: + the report after the import
	assert priorities["normal"]["counts"]["failed"] == 3
	assert all(result["peak_in_use"][p.value] <= priorities[p.value]["cap"] for p in Priority)
	text = out.getvalue()
	assert "peak in use" in text and "critical" in text and "jobs/min" in text
