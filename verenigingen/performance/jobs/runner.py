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
from dataclasses import dataclass, field

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


@dataclass
class Attempt:
	"""One attempt as a runner saw it, handed to ``run_attempt``'s hooks.

	``outcome`` is the attempt's own end: ``finished``, ``failed`` (the target raised or ran past
	its timeout), ``cancelled``, ``lost`` (its lease was reaped while it ran: the coordinator retries
	or fails the job) or ``stale`` (not run: the admission was no longer current). ``status`` is the
	job's status afterwards (``delayed`` when a failed attempt will be retried; ``stale`` when the
	attempt no longer owned the job). ``wait_seconds`` runs from the admission (a slot was free)
	to the start, ``run_seconds`` over the target."""

	job_id: str
	priority: Priority
	outcome: str = "stale"
	status: str = "stale"
	number: int = 0  # the job's attempt count: 1 for its first attempt
	method: str | None = None
	kwargs: dict = field(default_factory=dict)
	user: str | None = None
	wait_seconds: float | None = None
	run_seconds: float | None = None
	error: str = ""
	traceback: str = ""

	@property
	def ran(self) -> bool:
		return self.outcome != "stale"

	@property
	def failed(self) -> bool:
		"""The target did not complete: it raised, timed out, or lost its lease."""
		return self.outcome in ("failed", "lost")


def run_attempt(
	coordinator,
	job_id: str,
	token: str,
	priority,
	*,
	chain_jobs: int | None = None,
	chain_seconds: float | None = None,
	before_attempt: Callable[[Attempt], None] | None = None,
	after_attempt: Callable[[Attempt], None] | None = None,
) -> str:
	"""Run one admitted attempt of ``job_id``; returns the job's status afterwards (or 'stale').

	When it ends and a slot frees, the next job the coordinator admits is run here as well, without
	a round through RQ, up to ``chain_jobs`` jobs and ``chain_seconds`` seconds (the coordinator's
	settings by default), only while no higher-priority job waits in RQ, and only jobs whose
	timeout fits within this RQ job's own (so RQ's timeout never fires first); any other admitted
	job goes to RQ as usual.

	``before_attempt(attempt)`` runs after every claim, just before the target (a bench runner
	becomes the job's submitter there); its failure is the attempt's failure.
	``after_attempt(attempt)`` runs after every attempt, once its outcome is recorded (a bench
	runner commits or rolls back there and reports failures). If it raises, the next job this
	runner had taken goes back to the coordinator (and on to RQ) before the error propagates."""
	chain = _Chain(
		chain_jobs if chain_jobs is not None else coordinator.chain_jobs,
		chain_seconds if chain_seconds is not None else coordinator.chain_seconds,
	)
	first_status = None
	current = (Priority.parse(priority), job_id, token)
	while current is not None:
		p, jid, tok = current
		attempt, current = _run_one(coordinator, jid, tok, p, chain, before_attempt)
		if after_attempt is not None:
			try:
				after_attempt(attempt)
			except BaseException:
				if current is not None:
					coordinator.give_back(*current)
				raise
		if first_status is None:
			first_status = attempt.status
	return first_status


def _run_one(coordinator, job_id: str, token: str, priority: Priority, chain: _Chain, before_attempt):
	attempt = Attempt(job_id, priority)
	claim = coordinator.claim(job_id, token, priority, worker_name())
	if claim is None:
		return attempt, None
	chain.claimed(claim["timeout"])
	attempt.number, attempt.method, attempt.kwargs = claim["attempts"], claim["method"], claim["kwargs"]
	attempt.user = claim["user"]
	attempt.wait_seconds = max(claim["started"] - claim["admitted_at"], 0.0)
	outcome, error, tb = "finished", "", ""
	watchdog = _Watchdog(coordinator, job_id, token, priority, claim["timeout"])
	watchdog.start()
	started = time.monotonic()
	try:
		try:
			if before_attempt is not None:
				before_attempt(attempt)
			_import(claim["method"])(**claim["kwargs"])
		finally:
			watchdog.finish()
			attempt.run_seconds = time.monotonic() - started
	except JobCancelledError:
		outcome, error = "cancelled", "cancelled while running"
	except JobTimeoutError:
		outcome, error = "failed", f"JobTimeoutError: ran longer than its timeout of {claim['timeout']:g} s"
		tb = traceback.format_exc()
	except JobLeaseLostError:
		# the lease was reaped: the job is someone else's now, record nothing in the coordinator
		attempt.outcome, attempt.status = "lost", "stale"
		attempt.error = "JobLeaseLostError: the attempt lost its slot lease (no heartbeat in time)"
		attempt.traceback = traceback.format_exc()
		return attempt, None
	except Exception as exc:
		outcome, error, tb = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
	attempt.outcome, attempt.error, attempt.traceback = outcome, error, tb
	attempt.status, taken = coordinator.finish(
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
	return attempt, taken


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
