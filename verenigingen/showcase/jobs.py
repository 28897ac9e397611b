"""Showcase step: a mixed batch of jobs through the priority job coordinator on real RQ workers
(started and stopped by this step), with per-priority statistics as queue_status() reports them.

Payments (CRITICAL) and notifications (HIGH) keep moving while a bulk import (BULK, cap 1) and
reports (LOW) run beside them; some jobs fail and are retried, one chain of jobs depends on an
import. The slots-in-use figures are sampled while the batch runs, so they show the caps holding.
"""

import time

from verenigingen.performance.histogram import MetricStore
from verenigingen.performance.jobs import (
	JobCoordinator,
	Priority,
	RetryPolicy,
	RQEnqueuer,
	prefixed_queues,
	worker_queue_names,
)
from verenigingen.performance.jobs.workers import WorkerPool
from verenigingen.performance.keys import KeyBuilder, unlink_matching
from verenigingen.performance.monitoring import job_samples

from .env import ShowcaseEnv
from .fmt import sig

PAUSE = "verenigingen.performance.jobs.tasks.pause"
FAIL = "verenigingen.performance.jobs.tasks.fail"
WORKERS = 4
FAILING_ON_PURPOSE = 3  # jobs that raise every time, to show retries and failure counts

# (priority, jobs, seconds each): a mixed batch, heaviest work at the lowest priority
BATCH = [
	(Priority.CRITICAL, 40, 0.02),  # SEPA payment runs
	(Priority.HIGH, 60, 0.02),  # membership notifications
	(Priority.NORMAL, 100, 0.01),  # document updates
	(Priority.LOW, 20, 0.10),  # reports
	(Priority.BULK, 8, 0.30),  # an import, in chunks
]


def run(env: ShowcaseEnv) -> None:
	env.heading(f"Job coordinator: a mixed batch on {WORKERS} RQ workers under global caps")
	namespace = f"{env.namespace}-jobs"
	queues = prefixed_queues(f"{namespace}-")
	_forget(env.redis, namespace)  # a fresh demo: counts are totals since the coordinator started
	coord = JobCoordinator(env.redis, namespace, RQEnqueuer(env.redis), queues=queues)
	pool = WorkerPool(worker_queue_names(queues), env.redis_settings["host"], env.redis_settings["port"])
	ids: list[str] = []
	started = time.perf_counter()
	try:
		pool.start(WORKERS)
		pool.wait_until_ready(env.redis, WORKERS)
		for priority, count, seconds in BATCH:
			for _ in range(count):
				ids.append(coord.submit(PAUSE, {"seconds": seconds}, priority=priority))
		# jobs that always fail: each is retried once, 0.2 s later, then failed for good (error kept)
		for n in range(FAILING_ON_PURPOSE):
			ids.append(coord.submit(FAIL, {"message": f"demo failure {n}"}, retry=RetryPolicy(1, 0.2)))
		# a report that may only run after the last import chunk finished
		ids.append(
			coord.submit(
				PAUSE, {"seconds": 0.05}, priority=Priority.LOW, depends_on=[ids[-1 - FAILING_ON_PURPOSE]]
			)
		)
		peak = {p.value: 0 for p in Priority}
		deadline = time.monotonic() + 300
		while True:
			coord.dispatch()  # retries that became due
			status = coord.queue_status()["priorities"]
			for p, entry in status.items():
				peak[p] = max(peak[p], entry["slots_in_use"])
			live = sum(v["counts"][s] for v in status.values() for s in ("waiting", "delayed", "running"))
			if not live or time.monotonic() > deadline:
				break
			time.sleep(0.05)
		load = coord.reconcile()["load"]
	finally:
		pool.stop()
	elapsed = time.perf_counter() - started
	final = coord.queue_status()
	rows = []
	for p, entry in final["priorities"].items():
		counts = entry["counts"]
		rows.append(
			[
				p,
				entry["cap"],
				peak[p],
				counts["finished"],
				counts["failed"],
				_ms(entry["wait_p50"]),
				_ms(entry["wait_p95"]),
				_ms(entry["run_p50"]),
				_ms(entry["run_p95"]),
				sig(entry["throughput_per_minute"]),
			]
		)
	env.table(
		["priority", "cap", "peak in use", "finished", "failed", "wait p50", "wait p95", "run p50", "run p95", "jobs/min"],
		rows,
	)  # fmt: skip
	env.line(
		f"{len(ids)} jobs in {sig(elapsed)} s; peak in use is sampled every 50 ms while the batch ran. "
		f"Load now: {_reading(load['reading'])} ({load['state']})."
	)
	env.line(
		f"{FAILING_ON_PURPOSE} jobs fail on purpose (they raise 'demo failure n'): each is retried once, "
		"then counted as failed, so the failed column and the jobs score show them."
	)
	env.results["jobs"] = {
		"seconds": elapsed,
		"jobs": len(ids),
		"failing_on_purpose": FAILING_ON_PURPOSE,
		"peak_in_use": peak,
		"queue_status": final,
	}
	_record_for_monitoring(env, coord, ids)
	_cleanup(env.redis, namespace, queues)


def _record_for_monitoring(env: ShowcaseEnv, coord: JobCoordinator, ids: list[str]) -> None:
	"""Time every job into the site's metric store as the before_job/after_job hooks do in a bench
	(standalone, RQ runs no Frappe hooks), so the monitoring step scores real job figures."""
	store = MetricStore(env.redis, env.namespace)
	samples = []
	for job_id in ids:
		st = coord.status(job_id)
		if st["run_time"] is None:
			continue
		wait_ms = st["queue_wait"] * 1000 if st["queue_wait"] is not None else None
		samples += job_samples(coord.queues[Priority.parse(st["priority"])], st["run_time"] * 1000, wait_ms,
			st["status"] != "finished")  # fmt: skip
	store.record(samples)


def _reading(reading: dict | None) -> str:
	if not reading:
		return "not read"
	return ", ".join(f"{k.removesuffix('_percent')} {sig(v)} %" for k, v in reading.items() if v is not None)


def _ms(seconds) -> str:
	return "-" if seconds is None else f"{sig(seconds * 1000)} ms"


def _forget(redis, namespace: str) -> None:
	"""Remove the demo site's coordinator keys (SCAN + UNLINK in batches)."""
	unlink_matching(redis, KeyBuilder(namespace).pattern("jobs"))


def _cleanup(redis, namespace: str, queues: dict) -> None:
	"""The demo's RQ queues go; its job records stay for inspection until they expire."""
	from rq import Queue
	from rq.registry import FinishedJobRegistry

	for name in set(queues.values()):
		registry = FinishedJobRegistry(name, connection=redis)
		for job_id in registry.get_job_ids():
			registry.remove(job_id, delete_job=True)
		Queue(name, connection=redis).delete(delete_jobs=True)
