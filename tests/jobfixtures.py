"""Importable job functions for the coordinator tests (workers import jobs by dotted path),
and a pool of real RQ worker processes.

Every job records what it did under the test's own namespace (``jobtest`` keys), using the
Redis connection of the RQ job running it.
"""

import os
import signal
import subprocess
import time

from verenigingen.performance.jobs.workers import WorkerPool as _CoreWorkerPool
from verenigingen.performance.keys import KeyBuilder

_RAISE_MAX = "if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end"


def _redis():
	from rq import get_current_job

	return get_current_job().connection


def _key(namespace: str, *parts) -> str:
	return KeyBuilder(namespace).key("jobtest", *parts)


def noop() -> None:
	"""Does nothing: for throughput measurements."""


def track(namespace: str, priority: str, label: str, hold: float = 0.0) -> None:
	"""Count this run and how many jobs of ``priority`` run at this moment (and the maximum seen)."""
	r = _redis()
	current = _key(namespace, "current", priority)
	n = r.incr(current)
	try:
		r.eval(_RAISE_MAX, 1, _key(namespace, "max", priority), n)
		r.hincrby(_key(namespace, "runs"), label, 1)
		if hold:
			time.sleep(hold)
	finally:
		r.decr(current)


def record(namespace: str, label: str) -> None:
	"""Append ``label`` to the start order and count the run."""
	r = _redis()
	r.rpush(_key(namespace, "order"), label)
	r.hincrby(_key(namespace, "runs"), label, 1)


def gate(namespace: str, label: str, limit: float = 30.0) -> None:
	"""Record the start, then wait (in short slices, so it can be interrupted) until the gate opens."""
	record(namespace, label)
	r = _redis()
	deadline = time.monotonic() + limit
	while not r.exists(_key(namespace, "gate")):
		if time.monotonic() > deadline:
			raise TimeoutError("the test never opened the gate")
		time.sleep(0.01)
	r.rpush(_key(namespace, "passed"), label)


def fail_times(namespace: str, label: str, failures: int) -> str:
	"""Fail the first ``failures`` runs, then succeed."""
	r = _redis()
	n = r.hincrby(_key(namespace, "runs"), label, 1)
	if n <= failures:
		raise RuntimeError(f"planned failure {n} of {failures}")
	return "ok"


def slow_first(namespace: str, label: str, seconds: float = 30.0) -> None:
	"""The first run stalls (for the SIGKILL test); later runs return at once."""
	r = _redis()
	n = r.hincrby(_key(namespace, "runs"), label, 1)
	if n == 1:
		r.set(_key(namespace, "stalling"), os.getpid())
		deadline = time.monotonic() + seconds
		while time.monotonic() < deadline:
			time.sleep(0.01)


def sleep_slices(seconds: float) -> None:
	"""Sleep in short slices (so a timeout or cancel can interrupt between them)."""
	deadline = time.monotonic() + seconds
	while time.monotonic() < deadline:
		time.sleep(0.01)


def wait_for(condition, timeout: float = 30.0, interval: float = 0.02, message: str = "condition"):
	"""Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
	deadline = time.monotonic() + timeout
	while True:
		value = condition()
		if value:
			return value
		if time.monotonic() > deadline:
			raise AssertionError(f"timed out after {timeout} s waiting for {message}")
		time.sleep(interval)


class WorkerPool(_CoreWorkerPool):
	"""The core's pool of real RQ worker processes (``rq.SimpleWorker``), built from the tests'
	Redis settings, plus SIGKILL for the crash tests."""

	def __init__(self, queues: list[str], redis_settings: dict):
		super().__init__(queues, redis_settings["host"], redis_settings["port"])

	def kill(self, proc: subprocess.Popen) -> None:
		proc.send_signal(signal.SIGKILL)
		proc.wait(timeout=10)


def site_record(label: str, fail: bool = False) -> None:
	"""A job for the shell tests, run in-process as a bench worker would: records on the site's Redis
	and writes a Role row (to see commits and rollbacks); ``fail`` raises after the write."""
	import frappe

	frappe.cache.rpush(_key(frappe.local.site, "order"), label)
	frappe.db.sql("INSERT INTO `tabMember` (`name`) VALUES (%s)", (label,))
	if fail:
		raise RuntimeError(f"{label} failed after writing")


def site_whoami(label: str) -> None:
	"""A job for the shell tests: records, under ``label``, the user it runs as."""
	import frappe

	from verenigingen import frappe_bridge

	frappe_bridge.redis_client().hset(_key(frappe_bridge.namespace(), "user"), label, frappe.session.user)


def site_submit(label: str, fail: bool = False) -> None:
	"""A job for the shell tests that submits ``site_whoami`` as job ``label``, then fails if told to."""
	from verenigingen import frappe_bridge

	frappe_bridge.submit_job(f"{__name__}.site_whoami", {"label": label}, job_id=label)
	if fail:
		raise RuntimeError(f"{label}: the submitting job failed")


def lose_lease(namespace: str, priority: str, job_id: str) -> None:
	"""Let this job's slot lease expire and have it reaped (as a reconcile after a stall would), then
	work until the watchdog notices."""
	import redis

	from verenigingen.performance.environment import redis_settings
	from verenigingen.performance.jobs import JobCoordinator

	client = redis.Redis(**redis_settings())
	try:
		client.zadd(KeyBuilder(namespace).key("jobs", "slots", priority), {job_id: 0}, xx=True)
		JobCoordinator.attach(client, namespace, lambda method, **kwargs: None).reconcile()
	finally:
		client.close()
	sleep_slices(30)
