"""The job coordinator's overhead: the same no-op jobs through the coordinator and straight into RQ,
on the same four RQ worker processes, measured side by side in one run.

Run: python benchmarks/bench_jobs.py [--jobs 2000] [--workers 4] [--rounds 2]
Each path first submits every job with no worker running (the mean submit latency), then four
workers drain them; throughput is jobs per second from the first job's start to the last job's
end (worker start-up excluded). With every slot taken, a coordinator submit only records the job;
the submit of a job admitted at once (a slot free: record, admission and RQ's enqueue) is
measured separately. Prints each round and the median ratios. The coordinator runs
twice: as configured by default (a runner whose slot frees runs the next admitted job itself, up to
a bound) and with that turned off (chain_jobs=1: every job makes its own round through RQ).
NORMAL priority, default cap 5. Nothing is asserted.
"""

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis as redis_py
from rq import Queue
from rq.registry import FinishedJobRegistry

from verenigingen.performance.defaults import JOB_CHAIN_JOBS
from verenigingen.performance.environment import redis_settings
from verenigingen.performance.jobs import (
	JobCoordinator,
	Priority,
	RQEnqueuer,
	prefixed_queues,
	worker_queue_names,
)
from verenigingen.performance.jobs.workers import WorkerPool
from verenigingen.performance.keys import KeyBuilder, unlink_matching

_REDIS = redis_settings()

NOOP = "verenigingen.performance.jobs.tasks.noop"


def wait_until(condition, timeout: float, what: str) -> None:
	deadline = time.monotonic() + timeout
	while not condition():
		if time.monotonic() > deadline:
			raise SystemExit(f"timed out waiting for {what}")
		time.sleep(0.01)


def run_direct(client, pool: WorkerPool, workers: int, queue_name: str, jobs: int) -> tuple[float, float]:
	"""Enqueue ``jobs`` straight into RQ (timed, no worker running), then let the workers drain them.
	Returns (jobs per second from the first job's start to the last one's end, mean submit seconds)."""
	from rq.job import Job

	queue = Queue(queue_name, connection=client)
	registry = FinishedJobRegistry(queue_name, connection=client)
	clear_queue(client, queue_name)
	ids, submit = [], 0.0
	for _ in range(jobs):
		t = time.perf_counter()
		ids.append(queue.enqueue_call(func=NOOP).id)
		submit += time.perf_counter() - t
	pool.start(workers)
	wait_until(lambda: registry.count >= jobs, 600, "the direct jobs")
	pool.stop()
	done = [j for j in Job.fetch_many(ids, connection=client) if j is not None]
	span = (max(j.ended_at for j in done) - min(j.started_at for j in done)).total_seconds()
	clear_queue(client, queue_name)
	return jobs / span, submit / jobs


def submit_with_free_slots(client, namespace: str, queues: dict, jobs: int) -> float:
	"""Mean seconds of a coordinator submit that is admitted to RQ at once (a cap nothing reaches):
	the record, the admission and RQ's own enqueue, the coordinator's most expensive submit."""
	coord = JobCoordinator(
		client, namespace, RQEnqueuer(client), queues=queues, load_controller=None, caps={"normal": 10**9}
	)
	total = 0.0
	for _ in range(jobs):
		t = time.perf_counter()
		coord.submit(NOOP)
		total += time.perf_counter() - t
	clear_queue(client, queues[Priority.NORMAL])
	return total / jobs


def clear_queue(client, name: str) -> None:
	"""Remove a queue's waiting and finished jobs (runner jobs of the coordinator included)."""
	registry = FinishedJobRegistry(name, connection=client)
	for job_id in registry.get_job_ids():
		registry.remove(job_id, delete_job=True)
	Queue(name, connection=client).delete(delete_jobs=True)


def run_coordinated(
	client, pool: WorkerPool, workers: int, namespace: str, queues: dict, jobs: int, chain_jobs: int
) -> tuple[float, float]:
	"""The same through the coordinator (NORMAL, default cap 5): submit (timed, no worker running),
	then drain; the span runs from the first job's start to the last one's end, from its records."""
	coord = JobCoordinator(
		client, namespace, RQEnqueuer(client), queues=queues, load_controller=None, chain_jobs=chain_jobs
	)
	counts_key = KeyBuilder(namespace).key("jobs", "counts", Priority.NORMAL.value)
	ids, submit = [], 0.0
	for _ in range(jobs):
		t = time.perf_counter()
		ids.append(coord.submit(NOOP))
		submit += time.perf_counter() - t
	pool.start(workers)
	wait_until(lambda: int(client.hget(counts_key, "finished") or 0) >= jobs, 600, "the coordinated jobs")
	pool.stop()
	pipe = client.pipeline(transaction=False)
	for job_id in ids:
		pipe.hmget(KeyBuilder(namespace).key("jobs", "job", job_id), "first_started", "ended")
	times = [(float(a), float(b)) for a, b in pipe.execute()]
	span = max(b for _, b in times) - min(a for a, _ in times)
	return jobs / span, submit / jobs


def cleanup(client, namespace: str, queues: dict) -> None:
	unlink_matching(client, KeyBuilder(namespace).pattern("jobs"))
	for name in set(queues.values()):
		clear_queue(client, name)


def main(argv=None) -> int:
	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--jobs", type=int, default=2000)
	p.add_argument("--workers", type=int, default=4)
	p.add_argument("--rounds", type=int, default=2)
	p.add_argument("--redis-host", default=_REDIS["host"])
	p.add_argument("--redis-port", type=int, default=_REDIS["port"])
	args = p.parse_args(argv)
	if args.jobs < 1 or args.workers < 1 or args.rounds < 1:
		p.error("--jobs, --workers and --rounds must be at least 1")
	client = redis_py.Redis(host=args.redis_host, port=args.redis_port)
	namespace = f"bench-jobs-{uuid.uuid4().hex[:8]}"
	queues = prefixed_queues(f"{namespace}-")
	pool = WorkerPool(worker_queue_names(queues), args.redis_host, args.redis_port)
	print(f"{args.jobs:,} no-op jobs, {args.workers} RQ SimpleWorker processes, {args.rounds} round(s)")
	rows = []
	try:
		# warm-up: the workers' first jobs import everything
		run_direct(client, pool, args.workers, queues[Priority.NORMAL], 50)
		for r in range(args.rounds):
			direct = run_direct(client, pool, args.workers, queues[Priority.NORMAL], args.jobs)
			chained = run_coordinated(
				client, pool, args.workers, f"{namespace}-{r}c", queues, args.jobs, JOB_CHAIN_JOBS
			)
			single = run_coordinated(client, pool, args.workers, f"{namespace}-{r}s", queues, args.jobs, 1)
			free = submit_with_free_slots(client, f"{namespace}-{r}f", queues, min(args.jobs, 500))
			rows.append((direct, chained, single, free))
			print(
				f"round {r + 1}: direct RQ {direct[0]:7.1f} jobs/s, submit {direct[1] * 1e3:6.3f} ms | "
				f"coordinator {chained[0]:7.1f} jobs/s, submit {chained[1] * 1e3:6.3f} ms | "
				f"coordinator without chaining {single[0]:7.1f} jobs/s, submit {single[1] * 1e3:6.3f} ms | "
				f"coordinator submit with a free slot {free * 1e3:6.3f} ms"
			)
	finally:
		pool.stop()
		for r in range(args.rounds):
			for variant in "csf":
				cleanup(client, f"{namespace}-{r}{variant}", queues)
	for label, k in (("coordinator", 1), ("coordinator without chaining", 2)):
		throughput = statistics.median(row[k][0] / row[0][0] for row in rows)
		latency = statistics.median(row[k][1] / row[0][1] for row in rows)
		print(
			f"{label} / direct RQ, medians over {len(rows)} round(s): throughput ratio {throughput:.2f} "
			f"(aim >= 0.7), submit latency ratio {latency:.2f}"
		)
	free = statistics.median(row[3] / row[0][1] for row in rows)
	print(f"coordinator submit admitted at once (slot free) / direct RQ submit: latency ratio {free:.2f}")
	return 0


if __name__ == "__main__":
	sys.exit(main())
