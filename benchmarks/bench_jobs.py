"""The job coordinator's overhead: the same no-op jobs through the coordinator and straight into RQ,
on the same four RQ worker processes, measured side by side in one run.

Run: python benchmarks/bench_jobs.py [--jobs 2000] [--workers 4] [--rounds 2]
Prints, per round and as medians, the throughput (jobs finished per second, from the first submit
to the last finish) and the mean submit latency of each path, and their ratios. Nothing is asserted.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis as redis_py
from rq import Queue
from rq.registry import FinishedJobRegistry

from verenigingen.performance.jobs import (
	JobCoordinator,
	Priority,
	RQEnqueuer,
	prefixed_queues,
	worker_queue_names,
)
from verenigingen.performance.jobs.workers import WorkerPool
from verenigingen.performance.keys import KeyBuilder

NOOP = "verenigingen.performance.jobs.tasks.noop"


def wait_until(condition, timeout: float, what: str) -> None:
	deadline = time.monotonic() + timeout
	while not condition():
		if time.monotonic() > deadline:
			raise SystemExit(f"timed out waiting for {what}")
		time.sleep(0.01)


def run_direct(client, queue_name: str, jobs: int) -> tuple[float, float]:
	queue = Queue(queue_name, connection=client)
	registry = FinishedJobRegistry(queue_name, connection=client)
	submit = 0.0
	start = time.perf_counter()
	for _ in range(jobs):
		t = time.perf_counter()
		queue.enqueue_call(func=NOOP)
		submit += time.perf_counter() - t
	wait_until(lambda: registry.count >= jobs, 300, "the direct jobs")
	elapsed = time.perf_counter() - start
	queue.delete(delete_jobs=True)
	for job_id in registry.get_job_ids():
		registry.remove(job_id, delete_job=True)
	return jobs / elapsed, submit / jobs


def run_coordinated(client, namespace: str, queues: dict, jobs: int) -> tuple[float, float]:
	coord = JobCoordinator(client, namespace, RQEnqueuer(client), queues=queues, load_controller=None)
	counts_key = KeyBuilder(namespace).key("jobs", "counts", Priority.NORMAL.value)
	submit = 0.0
	start = time.perf_counter()
	for _ in range(jobs):
		t = time.perf_counter()
		coord.submit(NOOP)
		submit += time.perf_counter() - t
	wait_until(lambda: int(client.hget(counts_key, "finished") or 0) >= jobs, 300, "the coordinated jobs")
	elapsed = time.perf_counter() - start
	return jobs / elapsed, submit / jobs


def cleanup(client, namespace: str, queues: dict) -> None:
	batch = []
	for key in client.scan_iter(match=f"{namespace}|*", count=1000):
		batch.append(key)
		if len(batch) >= 500:
			client.unlink(*batch)
			batch = []
	if batch:
		client.unlink(*batch)
	for name in set(queues.values()):
		queue = Queue(name, connection=client)
		registry = FinishedJobRegistry(name, connection=client)
		for job_id in registry.get_job_ids():
			registry.remove(job_id, delete_job=True)
		queue.delete(delete_jobs=True)


def main(argv=None) -> int:
	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--jobs", type=int, default=2000)
	p.add_argument("--workers", type=int, default=4)
	p.add_argument("--rounds", type=int, default=2)
	p.add_argument("--redis-host", default=os.environ.get("VERENIGINGEN_REDIS_HOST", "127.0.0.1"))
	p.add_argument("--redis-port", type=int, default=int(os.environ.get("VERENIGINGEN_REDIS_PORT", "6379")))
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
		pool.start(args.workers)
		wait_until(lambda: len(client.smembers("rq:workers")) >= args.workers, 60, "the workers to register")
		run_direct(client, queues[Priority.NORMAL], 50)  # warm-up: imports in every worker
		for r in range(args.rounds):
			direct = run_direct(client, queues[Priority.NORMAL], args.jobs)
			coordinated = run_coordinated(client, f"{namespace}-{r}", queues, args.jobs)
			rows.append((direct, coordinated))
			print(
				f"round {r + 1}: direct {direct[0]:8.1f} jobs/s, submit {direct[1] * 1e3:6.3f} ms | "
				f"coordinator {coordinated[0]:8.1f} jobs/s, submit {coordinated[1] * 1e3:6.3f} ms | "
				f"throughput ratio {coordinated[0] / direct[0]:.2f}, submit latency ratio "
				f"{coordinated[1] / direct[1]:.2f}"
			)
	finally:
		pool.stop()
		for r in range(args.rounds):
			cleanup(client, f"{namespace}-{r}", queues)
	throughput = statistics.median(c[0] / d[0] for d, c in rows)
	latency = statistics.median(c[1] / d[1] for d, c in rows)
	print(f"median throughput ratio (coordinator / direct RQ): {throughput:.2f}  (aim: >= 0.7)")
	print(f"median submit latency ratio (coordinator / direct RQ): {latency:.2f}")
	return 0


if __name__ == "__main__":
	sys.exit(main())
