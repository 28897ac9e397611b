"""The enqueuer over plain RQ, for standalone use (tests, benchmarks, the showcase).

Inside a Frappe site the bridge supplies an enqueuer over ``frappe.enqueue`` instead.
"""

from collections.abc import Mapping


class RQEnqueuer:
	"""Hands coordinator calls to RQ queues on ``redis``: ``Queue(queue).enqueue_call(...)``.

	Queue objects are cached on the instance, never in module globals."""

	def __init__(self, redis, *, result_ttl: int | None = None):
		self.redis = redis
		self.result_ttl = result_ttl
		self._queues: dict = {}

	def _queue(self, queue: str):
		if queue not in self._queues:
			from rq import Queue

			self._queues[queue] = Queue(queue, connection=self.redis)
		return self._queues[queue]

	def __call__(
		self, method: str, *, queue: str, job_id: str, timeout: int, at_front: bool, kwargs: Mapping
	) -> str:
		job = self._queue(queue).enqueue_call(
			func=method,
			kwargs=dict(kwargs),
			timeout=timeout,
			result_ttl=self.result_ttl,
			job_id=job_id,
			at_front=at_front,
		)
		return job.id


def prefixed_queues(prefix: str) -> dict:
	"""The default priority-to-queue mapping with ``prefix`` before every name (one set of RQ
	queues per test run, benchmark or demo, so their workers never take each other's jobs)."""
	from .priority import DEFAULT_QUEUES

	return {p: f"{prefix}{name}" for p, name in DEFAULT_QUEUES.items()}


def worker_queue_names(queues: Mapping) -> list[str]:
	"""Queue names in the order a worker should listen: the highest priority's queue first."""
	from .priority import ORDER

	names: list[str] = []
	for p in ORDER:
		if queues[p] not in names:
			names.append(queues[p])
	return names
