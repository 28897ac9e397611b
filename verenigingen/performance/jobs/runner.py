"""What RQ runs for every admitted attempt: claim the slot lease, keep it alive, run the target,
record the outcome, release the slot and admit the next jobs.

A watchdog thread heartbeats the lease while the target runs. When the job is cancelled, runs
past its timeout, or its lease is lost, the watchdog raises JobCancelledError, JobTimeoutError or
JobLeaseLostError inside the target's thread (at its next Python bytecode: a target blocked in
one long C call stops when that call returns). They derive from BaseException so a target's
``except Exception`` does not swallow them.
"""

import _thread
import ctypes
import importlib
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable

from .. import defaults
from ..exceptions import JobCancelledError, JobInterrupt, JobLeaseLostError, JobTimeoutError
from .priority import Priority


def worker_name() -> str:
	return f"{socket.gethostname()}:{os.getpid()}"


def _import(method: str):
	module_name, _, attr = method.rpartition(".")
	return getattr(importlib.import_module(module_name), attr)


class _Watchdog:
	"""Heartbeats one attempt's lease from its own thread and interrupts the target when needed.

	The thread is started without waiting for it to come up and is never joined: ``finish`` wakes
	it and forbids any later interruption, so it cannot touch the next job (under CPU contention,
	waiting for thread start and join cost more than a no-op job)."""

	def __init__(self, coordinator, job_id: str, token: str, priority: Priority, timeout: float):
		self.coordinator = coordinator
		self.job_id, self.token, self.priority = job_id, token, priority
		self.deadline = time.monotonic() + timeout
		self.tick = max(0.01, min(defaults.JOB_WATCHDOG_TICK, coordinator.lease_ttl / 3, timeout))
		self.target_thread = threading.get_ident()
		self.lock = threading.Lock()
		self.active = True  # the target is running and may be interrupted
		self.reason: type[JobInterrupt] | None = None
		self.stopped = threading.Event()

	def start(self) -> None:
		_thread.start_new_thread(self.run, ())

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


class _Chain:
	"""How far one RQ job may go on running the next admitted jobs itself."""

	def __init__(self, jobs: int, seconds: float):
		self.jobs, self.seconds = jobs, seconds
		self.started = time.monotonic()
		self.ran = 0
		self.budget: float | None = (
			None  # seconds RQ allows this RQ job (its first attempt's timeout + margin)
		)

	def claimed(self, timeout: float) -> None:
		self.ran += 1
		if self.budget is None:
			self.budget = timeout + defaults.JOB_RQ_TIMEOUT_MARGIN - 1

	def take(self, priority: Priority, timeout: float) -> bool:
		elapsed = time.monotonic() - self.started
		if self.ran >= self.jobs or elapsed >= self.seconds:
			return False
		return self.budget is not None and elapsed + timeout <= self.budget


def run_attempt(
	coordinator,
	job_id: str,
	token: str,
	priority,
	*,
	chain_jobs: int | None = None,
	chain_seconds: float | None = None,
	after_attempt: Callable[[str], None] | None = None,
) -> str:
	"""Run one admitted attempt of ``job_id``; returns the job's status afterwards (or 'stale').

	When it ends and a slot frees, the next job the coordinator admits is run here as well, without
	a round through RQ, up to ``chain_jobs`` jobs and ``chain_seconds`` seconds (the coordinator's
	settings by default), only while no higher-priority job waits in RQ, and only jobs whose
	timeout fits within this RQ job's own (so RQ's timeout never fires first); any other admitted
	job goes to RQ as usual. ``after_attempt(status)`` runs after every attempt (the Frappe runner
	commits or rolls back there)."""
	chain = _Chain(
		chain_jobs if chain_jobs is not None else coordinator.chain_jobs,
		chain_seconds if chain_seconds is not None else coordinator.chain_seconds,
	)
	first_status = None
	current = (Priority.parse(priority), job_id, token)
	while current is not None:
		p, jid, tok = current
		status, current = _run_one(coordinator, jid, tok, p, chain)
		if after_attempt is not None:
			after_attempt(status)
		if first_status is None:
			first_status = status
	return first_status


def _run_one(coordinator, job_id: str, token: str, priority: Priority, chain: _Chain):
	claim = coordinator.claim(job_id, token, priority, worker_name())
	if claim is None:
		return "stale", None
	chain.claimed(claim["timeout"])
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
		return "stale", None  # the lease was reaped: the job is someone else's now, record nothing
	except Exception as exc:
		outcome, error, tb = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
	return coordinator.finish(
		job_id,
		token,
		priority,
		outcome,
		started=claim["started"],
		ready_at=claim["ready_at"],
		error=error,
		traceback=tb,
		take=chain.take,
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
