"""What RQ runs for every admitted attempt: claim the slot lease, keep it alive, run the target,
record the outcome, release the slot and admit the next jobs.

A watchdog thread heartbeats the lease while the target runs. When the job is cancelled, runs
past its timeout, or its lease is lost, the watchdog raises JobCancelledError, JobTimeoutError or
JobLeaseLostError inside the target's thread (at its next Python bytecode: a target blocked in
one long C call stops when that call returns). They derive from BaseException so a target's
``except Exception`` does not swallow them.
"""

import ctypes
import importlib
import os
import socket
import threading
import time
import traceback

from .. import defaults
from ..exceptions import JobCancelledError, JobInterrupt, JobLeaseLostError, JobTimeoutError
from .priority import Priority


def worker_name() -> str:
	return f"{socket.gethostname()}:{os.getpid()}"


def _import(method: str):
	module_name, _, attr = method.rpartition(".")
	return getattr(importlib.import_module(module_name), attr)


class _Watchdog(threading.Thread):
	def __init__(self, coordinator, job_id: str, token: str, priority: Priority, timeout: float):
		super().__init__(name=f"vperf-watchdog-{job_id}", daemon=True)
		self.coordinator = coordinator
		self.job_id, self.token, self.priority = job_id, token, priority
		self.deadline = time.monotonic() + timeout
		self.tick = max(0.01, min(defaults.JOB_WATCHDOG_TICK, coordinator.lease_ttl / 3, timeout))
		self.target_thread = threading.get_ident()
		self.lock = threading.Lock()
		self.active = True  # the target is running and may be interrupted
		self.reason: type[JobInterrupt] | None = None
		self.stopped = threading.Event()

	def run(self) -> None:
		while not self.stopped.wait(self.tick):
			if time.monotonic() >= self.deadline:
				self._interrupt(JobTimeoutError)
				return
			try:
				state = self.coordinator.renew(self.job_id, self.token, self.priority)
			except Exception:  # Redis unreachable for a moment: the lease TTL decides, try again next tick
				continue
			if state == 0:
				self._interrupt(JobLeaseLostError)
				return
			if state == 2:
				self._interrupt(JobCancelledError)
				return

	def _interrupt(self, exc: type[JobInterrupt]) -> None:
		with self.lock:
			if not self.active:
				return
			self.active = False
			self.reason = exc
			ctypes.pythonapi.PyThreadState_SetAsyncExc(
				ctypes.c_ulong(self.target_thread), ctypes.py_object(exc)
			)

	def finish(self) -> None:
		"""The target is done: no interruption may land after this returns."""
		with self.lock:
			self.active = False
		self.stopped.set()


def run_attempt(coordinator, job_id: str, token: str, priority) -> str:
	"""Run one admitted attempt of ``job_id``; returns the job's status afterwards (or 'stale')."""
	priority = Priority.parse(priority)
	claim = coordinator.claim(job_id, token, priority, worker_name())
	if claim is None:
		return "stale"
	outcome, error, tb = "finished", "", ""
	watchdog = _Watchdog(coordinator, job_id, token, priority, claim["timeout"])
	watchdog.start()
	try:
		try:
			_import(claim["method"])(**claim["kwargs"])
		finally:
			watchdog.finish()
	except JobCancelledError:
		outcome, error = "cancelled", "cancelled while running"
	except JobTimeoutError:
		outcome, error = "failed", f"JobTimeoutError: ran longer than its timeout of {claim['timeout']:g} s"
		tb = traceback.format_exc()
	except JobLeaseLostError:
		return "stale"  # the lease was reaped: the job is someone else's now, record nothing
	except Exception as exc:
		outcome, error, tb = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
	watchdog.join()
	return coordinator.finish(
		job_id,
		token,
		priority,
		outcome,
		started=claim["started"],
		ready_at=claim["ready_at"],
		error=error,
		traceback=tb,
	)


def _current_rq_connection():
	"""The Redis connection of the RQ job running now (rq 1.15 and 2.x alike)."""
	from rq import get_current_job

	job = get_current_job()
	if job is None:
		raise RuntimeError("run_rq_job must run inside an RQ worker")
	return job.connection


def run_rq_job(namespace: str, coordinated_job: str, attempt_token: str, priority: str) -> str:
	"""The runner standalone RQ workers import (the coordinator's default ``runner``)."""
	from .coordinator import JobCoordinator
	from .rq_backend import RQEnqueuer

	connection = _current_rq_connection()
	coordinator = JobCoordinator.attach(connection, namespace, RQEnqueuer(connection))
	return run_attempt(coordinator, coordinated_job, attempt_token, priority)
