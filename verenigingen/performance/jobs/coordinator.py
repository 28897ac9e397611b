"""The priority job coordinator: global concurrency caps per priority, on RQ.

Jobs wait here, in Redis, not in RQ. A job is admitted to RQ only when it can take a slot of
its priority (a lease in Redis, taken atomically by a Lua script), so at no moment do more
jobs of one priority hold slots than its cap, across every worker on every host, and the work
admitted to RQ is bounded by the sum of the caps. What RQ runs is the coordinator's runner
(a dotted path): it turns the reservation into a lease kept alive by a heartbeat, runs the
target, records the outcome, releases the slot and admits the next waiting jobs.

``enqueue`` is an *enqueuer*: ``enqueue(method, *, queue, job_id, timeout, at_front, kwargs)``
that hands one call to RQ and returns RQ's job id. :class:`~.rq_backend.RQEnqueuer` does that
over ``rq.Queue.enqueue_call`` standalone; ``verenigingen.frappe_bridge`` over ``frappe.enqueue``
inside a site. The coordinator behaves the same over both.
"""

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping

from .. import defaults
from ..exceptions import (
	InvalidJobError,
	JobDispatchError,
	NoSuchJobError,
	UnknownDependencyError,
)
from ..keys import KeyBuilder
from . import leases, tracking
from .load_control import LoadController, LoadReading
from .priority import (
	DEFAULT_QUEUES,
	DEFAULT_RETRY,
	DEFAULT_TIMEOUTS,
	ORDER,
	Priority,
	RetryPolicy,
	resolve_caps,
)
from .submission import METHOD_RE, Submission, check_job_id, check_timeout, prepare

RQ_RUNNER = "verenigingen.performance.jobs.runner.run_rq_job"  # the runner standalone RQ workers import

TERMINAL = ("finished", "failed", "cancelled", "dependency_failed")
PUBLIC_STATUSES = ("waiting", "delayed", "running", "finished", "failed", "cancelled", "dependency_failed")
_PUBLIC = {"blocked": "waiting", "dispatched": "waiting"}

_DEFAULT = object()


def _text(value) -> str | None:
	if value is None:
		return None
	return value.decode() if isinstance(value, bytes) else str(value)


def _float(value) -> float | None:
	text = _text(value)
	return float(text) if text not in (None, "") else None


class JobCoordinator:
	"""Submit, track, cancel and dispatch jobs of one site (``namespace``) under global caps.

	caps: per-priority overrides of the default caps ({"bulk": 2}); lease_ttl: seconds a
	running job's slot survives without a heartbeat; admission_ttl: seconds a slot reserved for
	an admitted job waits for a worker; chain_jobs/chain_seconds: how many admitted jobs (and for
	how long) a runner may run itself, in a row, before handing over to RQ (1 turns it off); load_controller: a LoadController (psutil by default,
	None to turn load control off); clock: wall-clock seconds (time.time)."""

	def __init__(
		self,
		redis,
		namespace: str,
		enqueue: Callable,
		*,
		caps: Mapping | None = None,
		queues: Mapping | None = None,
		retry: Mapping | None = None,
		timeouts: Mapping | None = None,
		runner: str = RQ_RUNNER,
		lease_ttl: float = defaults.JOB_LEASE_TTL,
		admission_ttl: float = defaults.JOB_ADMISSION_TTL,
		chain_jobs: int = defaults.JOB_CHAIN_JOBS,
		chain_seconds: float = defaults.JOB_CHAIN_SECONDS,
		load_controller=_DEFAULT,
		clock: Callable[[], float] = time.time,
		publish: bool = True,
	):
		self.redis = redis
		self.keys = KeyBuilder(namespace)
		self.namespace = self.keys.namespace
		self.enqueue = enqueue
		self.caps = resolve_caps(caps)
		self.queues = dict(DEFAULT_QUEUES)
		for key, name in (queues or {}).items():
			if not isinstance(name, str) or not name:
				raise InvalidJobError(f"queue of {key!r} must be a non-empty queue name, got {name!r}")
			self.queues[Priority.parse(key)] = name
		self.retry = dict(DEFAULT_RETRY)
		for key, policy in (retry or {}).items():
			if not isinstance(policy, RetryPolicy):
				raise InvalidJobError(f"retry of {key!r} must be a RetryPolicy, got {policy!r}")
			self.retry[Priority.parse(key)] = policy
		self.timeouts = dict(DEFAULT_TIMEOUTS)
		for key, seconds in (timeouts or {}).items():
			self.timeouts[Priority.parse(key)] = check_timeout(seconds)
		if not METHOD_RE.match(runner or ""):
			raise InvalidJobError(f"runner must be a dotted path, got {runner!r}")
		self.runner = runner
		for name, value in (("lease_ttl", lease_ttl), ("admission_ttl", admission_ttl)):
			if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
				raise InvalidJobError(f"{name} must be a number of seconds > 0, got {value!r}")
		if isinstance(chain_jobs, bool) or not isinstance(chain_jobs, int) or chain_jobs < 1:
			raise InvalidJobError(f"chain_jobs must be an integer >= 1, got {chain_jobs!r}")
		self.chain_jobs = chain_jobs
		self.chain_seconds = float(chain_seconds)
		self.lease_ttl = float(lease_ttl)
		self.admission_ttl = float(admission_ttl)
		self.load_controller = LoadController() if load_controller is _DEFAULT else load_controller
		self.clock = clock
		self._rq_prefix = "v" + hashlib.sha1(self.namespace.encode()).hexdigest()[:10]
		self._scripts = {
			name: redis.register_script(getattr(leases, name))
			for name in ("SUBMIT", "ADMIT", "UNADMIT", "CLAIM", "RENEW", "FINISH", "EXPIRE", "PROMOTE")
			+ ("CANCEL", "RESOLVE", "SET_REDUCED")
		}
		if publish:
			self.redis.hset(self._key("config"), mapping=self._config())

	@classmethod
	def attach(cls, redis, namespace: str, enqueue: Callable, **kwargs) -> "JobCoordinator":
		"""The coordinator of a site as its last constructor published it (used by runners in workers)."""
		keys = KeyBuilder(namespace)
		raw = {_text(k): _text(v) for k, v in redis.hgetall(keys.key("jobs", "config")).items()}
		caps, queues = {}, {}
		for key, value in raw.items():
			kind, _, name = key.partition(":")
			if kind == "cap":
				caps[name] = int(value)
			elif kind == "queue":
				queues[name] = value
		options = dict(caps=caps, queues=queues, publish=False, load_controller=None)
		if raw:
			options.update(
				runner=raw["runner"],
				lease_ttl=float(raw["lease_ttl"]),
				admission_ttl=float(raw["admission_ttl"]),
				chain_jobs=int(raw.get("chain_jobs") or defaults.JOB_CHAIN_JOBS),
				chain_seconds=float(raw.get("chain_seconds") or defaults.JOB_CHAIN_SECONDS),
			)
		options.update(kwargs)
		return cls(redis, namespace, enqueue, **options)

	# ------------------------------------------------------------------ keys
	def _key(self, *parts) -> str:
		return self.keys.key("jobs", *parts)

	def _job_key(self, job_id: str) -> str:
		return self._key("job", job_id)

	def _config(self) -> dict:
		config = {"runner": self.runner, "lease_ttl": self.lease_ttl, "admission_ttl": self.admission_ttl}
		config.update(chain_jobs=self.chain_jobs, chain_seconds=self.chain_seconds)
		for p in ORDER:
			config[f"cap:{p.value}"] = self.caps[p]
			config[f"queue:{p.value}"] = self.queues[p]
		return config

	def rq_job_id(self, job_id: str, token) -> str:
		"""RQ's id of one admission of a job: unique per site, job and attempt token."""
		return f"{self._rq_prefix}-{job_id}-{token}"

	# ------------------------------------------------------------------ submit
	def submit(
		self,
		method: str,
		kwargs: Mapping | None = None,
		*,
		priority=Priority.NORMAL,
		depends_on: Iterable[str] = (),
		retry: RetryPolicy | None = None,
		job_id: str | None = None,
		timeout: float | None = None,
		accept_dependency_failure: bool = False,
		user: str | None = None,
	) -> str:
		"""Record a job and admit it to RQ as soon as a slot of its priority is free; return its id.

		``method`` is a dotted path to an importable function, ``kwargs`` JSON-serialisable keyword
		arguments. A ``job_id`` that is already waiting or running is returned without a second job.
		``depends_on`` jobs must all finish first; if one fails for good or is cancelled this job ends
		as ``dependency_failed`` without running, unless ``accept_dependency_failure``. ``user`` is
		who submitted it: opaque text kept with the job, handed to the runner's hooks with every
		attempt (a bench runs the attempt as that user) and shown by :meth:`status`."""
		job = self._prepare(
			method, kwargs, priority, depends_on, retry, job_id, timeout, accept_dependency_failure, user
		)
		priority, job_id, deps = job.priority, job.job_id, job.deps
		now = self.clock()
		fields = {
			"job_id": job_id,
			"method": method,
			"kwargs": job.kwargs_json,
			"priority": priority.value,
			"submitted": repr(now),
			"max_retries": job.policy.max_retries,
			"first_interval": repr(float(job.policy.first_interval)),
			"backoff": repr(float(job.policy.backoff)),
			"timeout": repr(float(job.timeout)),
			"depends_on": json.dumps(deps),
			"accept_dependency_failure": "1" if accept_dependency_failure else "0",
		}
		if user is not None:
			fields["user"] = user
		keys = [
			self._job_key(job_id),
			self._key("waiting", priority.value),
			self._key("seq"),
			self._key("counts", priority.value),
			self._key("blocked"),
			self._key("config"),
			self._key("reduced"),
			self._key("slots", priority.value),
			self._key("admitted", priority.value),
		]
		for dep in deps:
			keys += [self._job_key(dep), self._key("dependents", dep)]
		args = [
			job_id,
			repr(now),
			"1" if accept_dependency_failure else "0",
			defaults.JOB_FAILED_TTL,
			len(deps),
		]
		args += deps
		args += [priority.value, self.caps[priority], repr(now + self.admission_ttl)]
		for field, value in fields.items():
			args += [field, value]
		outcome, detail, timeout_text = (_text(x) for x in self._scripts["SUBMIT"](keys=keys, args=args))
		if outcome == "unknown":
			raise self._unknown_dependency(job_id, deps[int(detail)])
		if outcome == "admitted":  # it took a free slot at once: hand it to RQ
			self._send(priority, job_id, int(detail), float(timeout_text))
		elif outcome == "waiting" and detail == "1":  # a slot is free, other jobs wait before this one
			self.dispatch()
		return job_id

	def check_submission(
		self,
		method: str,
		kwargs: Mapping | None = None,
		*,
		priority=Priority.NORMAL,
		depends_on: Iterable[str] = (),
		retry: RetryPolicy | None = None,
		job_id: str | None = None,
		timeout: float | None = None,
		accept_dependency_failure: bool = False,
		user: str | None = None,
		pending: Iterable[str] = (),
	) -> None:
		"""Raise what :meth:`submit` would raise for these arguments, recording nothing: bad input
		(InvalidJobError) or a dependency the coordinator does not know (UnknownDependencyError),
		where a dependency in ``pending`` counts as known (it is to be submitted before this job).
		For callers that submit later, e.g. when a database transaction commits."""
		job = self._prepare(
			method, kwargs, priority, depends_on, retry, job_id, timeout, accept_dependency_failure, user
		)
		pending = set(pending)
		deps = [dep for dep in job.deps if dep not in pending]
		if deps:
			pipe = self.redis.pipeline(transaction=False)
			for dep in deps:
				pipe.exists(self._job_key(dep))
			for dep, known in zip(deps, pipe.execute(), strict=True):
				if not known:
					raise self._unknown_dependency(job.job_id, dep)

	def _prepare(
		self, method, kwargs, priority, depends_on, retry, job_id, timeout, accept_dependency_failure, user
	) -> Submission:
		return prepare(
			method, kwargs, priority=priority, depends_on=depends_on, retry=retry, job_id=job_id,
			timeout=timeout, accept_dependency_failure=accept_dependency_failure, user=user,
			default_retry=self.retry, default_timeouts=self.timeouts,
		)  # fmt: skip

	@staticmethod
	def _unknown_dependency(job_id: str, dep: str) -> UnknownDependencyError:
		return UnknownDependencyError(
			f"job {job_id} depends on {dep!r}, which the coordinator does not know "
			"(never submitted, or its record expired)"
		)

	# ------------------------------------------------------------------ dispatch
	def _effective_caps(self, reduced: Mapping) -> dict[Priority, int]:
		caps = dict(self.caps)
		for key, value in reduced.items():
			p = Priority.parse(_text(key))
			caps[p] = min(caps[p], int(value))
		return caps

	def dispatch(self, take: Callable | None = None):
		"""Move due retries back into their queues, then admit waiting jobs, highest priority first,
		while slots are free. Returns how many jobs were admitted.

		With ``take`` (``take(priority, timeout) -> bool``, used by runners) the first admitted job
		``take`` accepts is not handed to RQ but returned for the caller to run itself, as
		``(admitted, (priority, job_id, token))``; ``(admitted, None)`` when there was none."""
		admitted = 0
		taken = None
		while True:
			now = self.clock()
			pipe = self.redis.pipeline(transaction=False)
			for p in ORDER:
				pipe.zrangebyscore(
					self._key("delayed", p.value), "-inf", now, start=0, num=defaults.JOB_RECONCILE_BATCH
				)
			pipe.hgetall(self._key("reduced"))
			for p in ORDER:
				pipe.zrange(self._key("waiting", p.value), 0, 0)
				pipe.zcard(self._key("slots", p.value))
			if take is not None:
				for p in ORDER:
					pipe.scard(self._key("admitted", p.value))
			result = pipe.execute()
			n = len(ORDER)
			promoted = 0
			for p, ids in zip(ORDER, result[:n], strict=True):
				for job_id in ids:
					promoted += self._promote(p, _text(job_id), now)
			if promoted:
				continue  # read the queues again with the retries in them
			caps = self._effective_caps(result[n])
			candidates = [
				(p, _text(result[n + 1 + 2 * i][0]), result[n + 2 + 2 * i])
				for i, p in enumerate(ORDER)
				if result[n + 1 + 2 * i] and result[n + 2 + 2 * i] < caps[p]
			]
			again = False
			for p, job_id, in_use in candidates:
				admission = self._admit(p, job_id)
				if admission == 0:
					continue
				if admission != -1:
					token, timeout = admission
					if (
						taken is None
						and take is not None
						and self._may_take(p, result[-n:])
						and take(p, timeout)
					):
						taken = (p, job_id, str(token))
					else:
						self._send(p, job_id, token, timeout)
					admitted += 1
				# read again (highest priority first) only if this snapshot leaves room for more
				again = admission == -1 or in_use + 1 < caps[p] or len(candidates) > 1
				break
			if not again:
				return admitted if take is None else (admitted, taken)

	@staticmethod
	def _may_take(p: Priority, in_rq: list) -> bool:
		"""A runner may run an admitted job itself only while no job of a higher priority sits in RQ
		waiting for a worker (that one must start first, as RQ's queue order has it)."""
		return not any(in_rq[q.rank] for q in ORDER if q.rank < p.rank)

	def _promote(self, p: Priority, job_id: str, now: float) -> int:
		keys = [self._key("delayed", p.value), self._job_key(job_id), self._key("waiting", p.value)]
		keys.append(self._key("counts", p.value))
		return int(self._scripts["PROMOTE"](keys=keys, args=[job_id, repr(now)]))

	def _admit(self, p: Priority, job_id: str):
		"""(token, timeout) when the job took a slot, 0 when none is free, -1 when it is no longer the head."""
		now = self.clock()
		keys = [
			self._key("waiting", p.value),
			self._key("slots", p.value),
			self._key("config"),
			self._key("reduced"),
			self._job_key(job_id),
			self._key("admitted", p.value),
		]
		args = [job_id, p.value, repr(now), repr(now + self.admission_ttl), self.caps[p]]
		result = self._scripts["ADMIT"](keys=keys, args=args)
		if isinstance(result, list):
			return int(result[0]), float(_text(result[1]))
		return int(result)

	def _send(self, p: Priority, job_id: str, token: int, timeout: float) -> None:
		try:
			self.enqueue(
				self.runner,
				queue=self.queues[p],
				job_id=self.rq_job_id(job_id, token),
				timeout=int(timeout) + defaults.JOB_RQ_TIMEOUT_MARGIN,
				at_front=p is Priority.CRITICAL,
				kwargs={
					"namespace": self.namespace,
					"coordinated_job": job_id,
					"attempt_token": str(token),
					"priority": p.value,
				},
			)
		except Exception as exc:
			keys = [self._key("waiting", p.value), self._key("slots", p.value), self._job_key(job_id)]
			keys.append(self._key("admitted", p.value))
			self._scripts["UNADMIT"](keys=keys, args=[job_id, str(token)])
			raise JobDispatchError(
				f"job {job_id} could not be handed to RQ queue {self.queues[p]!r} ({exc}); it waits and "
				"the next dispatch or reconcile tries again"
			) from exc

	def give_back(self, priority: Priority, job_id: str, token: str) -> int:
		"""Return an admission a runner took (see :meth:`dispatch`) but will not run: the job heads
		its queue again, its slot is free, and it is admitted anew (to RQ). Returns how many jobs the
		dispatch admitted."""
		p = Priority.parse(priority)
		keys = [self._key("waiting", p.value), self._key("slots", p.value), self._job_key(job_id)]
		keys.append(self._key("admitted", p.value))
		self._scripts["UNADMIT"](keys=keys, args=[job_id, str(token)])
		return self.dispatch()

	# ------------------------------------------------------------------ worker side (runner)
	def claim(self, job_id: str, token: str, priority: Priority, worker: str) -> dict | None:
		"""Start an admitted attempt; None when it is stale (cancelled, re-dispatched or reaped).

		Returns {"attempts", "ready_at", "admitted_at", "started", "method", "kwargs", "timeout",
		"user"} (``user`` None when the submit named nobody)."""
		now = self.clock()
		keys = [
			self._job_key(job_id),
			self._key("slots", priority.value),
			self._key("counts", priority.value),
			self._key("admitted", priority.value),
		]
		result = self._scripts["CLAIM"](
			keys=keys, args=[job_id, token, repr(now), repr(now + self.lease_ttl), worker]
		)
		if not result:
			return None
		return {
			"attempts": int(result[0]),
			"ready_at": float(_text(result[1])),
			"started": now,
			"method": _text(result[2]),
			"kwargs": json.loads(_text(result[3])),
			"timeout": float(_text(result[4])),
			"user": _text(result[5]) or None,
			"admitted_at": float(_text(result[6])),
		}

	def renew(self, job_id: str, token: str, priority: Priority) -> int:
		"""Heartbeat: 1 renewed, 2 renewed but cancel requested, 0 lease lost."""
		keys = [self._job_key(job_id), self._key("slots", priority.value)]
		return int(
			self._scripts["RENEW"](keys=keys, args=[job_id, token, repr(self.clock() + self.lease_ttl)])
		)

	def finish(
		self,
		job_id: str,
		token: str,
		priority: Priority,
		outcome: str,
		*,
		started: float,
		ready_at: float,
		error: str = "",
		traceback: str = "",
		take: Callable | None = None,
	):
		"""Record the end of an attempt, release its slot, settle dependents, admit the next jobs.
		Returns the job's status afterwards ('stale' if the attempt no longer owned the job); with
		``take`` (see :meth:`dispatch`) also the admitted job the caller is to run next, or None."""
		now = self.clock()
		run_time = now - started
		keys = [
			self._job_key(job_id),
			self._key("slots", priority.value),
			self._key("counts", priority.value),
			self._key("delayed", priority.value),
			tracking.sample_key(self.keys, priority, "wait"),
			tracking.sample_key(self.keys, priority, "run"),
			self._key("dependents", job_id),
		]
		args = [job_id, token, repr(now), outcome, error, traceback, repr(run_time)]
		args += [defaults.JOB_FINISHED_TTL, defaults.JOB_FAILED_TTL, defaults.JOB_SAMPLES]
		args.append(repr(max(started - ready_at, 0.0)))
		status, _interval, has_dependents = (_text(x) for x in self._scripts["FINISH"](keys=keys, args=args))
		if has_dependents == "1" and status in TERMINAL:
			self._settle(job_id, status)
		if take is None:
			self.dispatch()
			return status
		return status, self.dispatch(take)[1]

	def _settle(self, job_id: str, status: str) -> None:
		"""A job ended for good: unblock, or fail, the jobs that depend on it (transitively)."""
		todo = [(job_id, status)]
		now = self.clock()
		while todo:
			dep, dep_status = todo.pop()
			dependents_key = self._key("dependents", dep)
			for raw in self.redis.smembers(dependents_key):
				child = _text(raw)
				child_priority = _text(self.redis.hget(self._job_key(child), "priority"))
				if child_priority is None:
					continue
				keys = [
					self._job_key(child),
					self._key("waiting", child_priority),
					self._key("counts", child_priority),
					self._key("blocked"),
				]
				args = [child, dep, dep_status, repr(now), defaults.JOB_FAILED_TTL]
				result = _text(self._scripts["RESOLVE"](keys=keys, args=args))
				if result == "dependency_failed":
					todo.append((child, "dependency_failed"))
			self.redis.unlink(dependents_key)

	# ------------------------------------------------------------------ status, cancel
	def status(self, job_id: str) -> dict:
		"""The job's record as plain data; NoSuchJobError if there is none."""
		check_job_id(job_id)
		raw = self.redis.hgetall(self._job_key(job_id))
		if not raw:
			raise NoSuchJobError(f"no job {job_id!r} (never submitted, or its record expired)")
		return self._public(job_id, {_text(k): _text(v) for k, v in raw.items()})

	def _public(self, job_id: str, rec: dict) -> dict:
		internal = rec.get("status")
		submitted = _float(rec.get("submitted"))
		first_started = _float(rec.get("first_started"))
		started = _float(rec.get("started"))
		ended = _float(rec.get("ended"))
		return {
			"job_id": job_id,
			"method": rec.get("method"),
			"priority": rec.get("priority"),
			"user": rec.get("user") or None,
			"status": _PUBLIC.get(internal, internal),
			"phase": internal,
			"attempts": int(rec.get("attempts") or 0),
			"max_retries": int(rec.get("max_retries") or 0),
			"submitted": submitted,
			"started": started,
			"first_started": first_started,
			"ended": ended,
			"queue_wait": (first_started - submitted) if first_started is not None and submitted else None,
			"run_time": _float(rec.get("run_time")),
			"worker": rec.get("worker") or None,
			"error": rec.get("error") or None,
			"traceback": rec.get("traceback") or None,
			"depends_on": json.loads(rec.get("depends_on") or "[]"),
			"next_retry_at": _float(rec.get("due")) if internal == "delayed" else None,
			"cancel_requested": rec.get("cancel_requested") == "1",
		}

	def cancel(self, job_id: str) -> dict:
		"""Cancel a job: a waiting or delayed one is removed at once, a running one's worker is asked
		to stop (its status turns ``cancelled`` when it has). Returns {"job_id", "status"}."""
		check_job_id(job_id)
		priority = _text(self.redis.hget(self._job_key(job_id), "priority"))
		if priority is None:
			raise NoSuchJobError(f"no job {job_id!r} to cancel (never submitted, or its record expired)")
		keys = [
			self._job_key(job_id),
			self._key("waiting", priority),
			self._key("delayed", priority),
			self._key("slots", priority),
			self._key("counts", priority),
			self._key("blocked"),
			self._key("admitted", priority),
		]
		result = _text(
			self._scripts["CANCEL"](keys=keys, args=[job_id, repr(self.clock()), defaults.JOB_FAILED_TTL])[0]
		)
		if result == "unknown":
			raise NoSuchJobError(f"no job {job_id!r} to cancel (its record expired)")
		if result == "cancelled":
			self._settle(job_id, "cancelled")
			self.dispatch()
		return {
			"job_id": job_id,
			"status": "running" if result == "stopping" else result,
			"stop_requested": result == "stopping",
		}

	# ------------------------------------------------------------------ reconcile
	def reconcile(self) -> dict:
		"""Reap expired leases (retrying their jobs), apply load control, move due retries back,
		and admit waiting jobs. Meant to run every minute. Returns what it did."""
		now = self.clock()
		reaped: dict[str, int] = {}
		for p in ORDER:
			slots = self._key("slots", p.value)
			for raw in self.redis.zrangebyscore(
				slots, "-inf", now, start=0, num=defaults.JOB_RECONCILE_BATCH
			):
				job_id = _text(raw)
				keys = [self._job_key(job_id), slots, self._key("waiting", p.value)]
				keys += [
					self._key("delayed", p.value),
					self._key("counts", p.value),
					self._key("admitted", p.value),
				]
				outcome = _text(
					self._scripts["EXPIRE"](keys=keys, args=[job_id, repr(now), defaults.JOB_FAILED_TTL])[0]
				)
				if outcome != "alive":
					reaped[outcome] = reaped.get(outcome, 0) + 1
				if outcome in ("failed", "cancelled"):
					self._settle(job_id, outcome)
		unblocked = self._repair_blocked()
		load = self.apply_load_control() if self.load_controller is not None else None
		dispatched = self.dispatch()
		self.redis.set(self._key("reconcile", "last"), repr(now))
		return {"expired_leases": reaped, "unblocked": unblocked, "dispatched": dispatched, "load": load}

	def last_reconcile(self) -> float | None:
		"""When ``reconcile()`` last completed on this site (clock seconds), or None if never."""
		return _float(self.redis.get(self._key("reconcile", "last")))

	def restore_caps(self, reason: str = "load control off") -> dict:
		"""Put every throttled cap back to its base value (load control switched off); recorded
		in the load changes like any other change. Returns the caps that changed."""
		effective = self._effective_caps(self.redis.hgetall(self._key("reduced")))
		changes = {p: (effective[p], self.caps[p]) for p in ORDER if effective[p] != self.caps[p]}
		if changes:
			record = {
				"at": self.clock(),
				"state": reason,
				"reading": None,
				"caps": {p.value: {"from": old, "to": new} for p, (old, new) in changes.items()},
			}
			args = [json.dumps(record), defaults.JOB_LOAD_CHANGES_KEPT]
			for p in changes:
				args += [p.value, ""]
			self._scripts["SET_REDUCED"](keys=[self._key("reduced"), self._key("load", "changes")], args=args)
		return {p.value: {"from": old, "to": new} for p, (old, new) in changes.items()}

	def _repair_blocked(self) -> int:
		"""Settle blocked jobs whose dependencies already ended (a runner that died between
		recording an outcome and settling its dependents would otherwise leave them blocked).
		Returns how many left the blocked state."""
		now = self.clock()
		moved = 0
		for raw in self.redis.sscan_iter(self._key("blocked"), count=defaults.JOB_RECONCILE_BATCH):
			job_id = _text(raw)
			record = self.redis.hmget(self._job_key(job_id), "priority", "depends_on", "status")
			priority, deps, status = (_text(x) for x in record)
			if status != "blocked" or priority is None:
				continue
			for dep in json.loads(deps or "[]"):
				dep_status = _text(self.redis.hget(self._job_key(dep), "status"))
				if dep_status not in TERMINAL:
					continue
				keys = [
					self._job_key(job_id),
					self._key("waiting", priority),
					self._key("counts", priority),
					self._key("blocked"),
				]
				args = [job_id, dep, dep_status, repr(now), defaults.JOB_FAILED_TTL]
				result = _text(self._scripts["RESOLVE"](keys=keys, args=args))
				if result in ("ready", "dependency_failed"):
					moved += 1
					if result == "dependency_failed":
						self._settle(job_id, "dependency_failed")
					break
		return moved

	def apply_load_control(self, reading: LoadReading | None = None) -> dict:
		"""Read the load (or take ``reading``) and lower or restore the throttled caps."""
		controller = self.load_controller or LoadController()
		reading = reading if reading is not None else controller.read()
		now = self.clock()
		reduced_raw = self.redis.hgetall(self._key("reduced"))
		effective = self._effective_caps(reduced_raw)
		decided = controller.decide(reading, self.caps, effective)
		state = controller.state(reading)
		changes = {p: (effective[p], cap) for p, cap in decided.items() if cap != effective[p]}
		self.redis.hset(
			self._key("load", "last"),
			mapping={"state": state, "at": repr(now), "reading": json.dumps(reading.as_dict())},
		)
		if changes:
			record = {
				"at": now,
				"state": state,
				"reading": reading.as_dict(),
				"caps": {p.value: {"from": old, "to": new} for p, (old, new) in changes.items()},
			}
			args = [json.dumps(record), defaults.JOB_LOAD_CHANGES_KEPT]
			for p, (_old, new) in changes.items():
				args += [p.value, "" if new >= self.caps[p] else new]
			self._scripts["SET_REDUCED"](keys=[self._key("reduced"), self._key("load", "changes")], args=args)
		return {
			"state": state,
			"reading": reading.as_dict(),
			"changed": {p.value: {"from": old, "to": new} for p, (old, new) in changes.items()},
		}

	# ------------------------------------------------------------------ statistics
	def queue_status(self) -> dict:
		"""Plain data for dashboards and monitoring (documented in the README)::

		{"namespace", "time", "window_seconds",
		 "priorities": {"critical": {"queue", "cap", "effective_cap", "slots_in_use",
		                "counts": {status: n}, "oldest_waiting_seconds", "wait_p50", "wait_p95",
		                "run_p50", "run_p95", "throughput_per_minute", "samples"}, ...},
		 "load": {"state", "reading", "at", "changes": [...newest first]}, "last_reconcile": time or None}
		"""
		now = self.clock()
		window = defaults.JOB_STATS_WINDOW
		pipe = self.redis.pipeline(transaction=False)
		pipe.hgetall(self._key("reduced"))
		pipe.hgetall(self._key("load", "last"))
		pipe.lrange(self._key("load", "changes"), 0, -1)
		pipe.get(self._key("reconcile", "last"))
		for p in ORDER:
			pipe.hgetall(self._key("counts", p.value))
			pipe.zcard(self._key("slots", p.value))
			pipe.zrange(self._key("waiting", p.value), 0, 0)
			pipe.lrange(tracking.sample_key(self.keys, p, "wait"), 0, -1)
			pipe.lrange(tracking.sample_key(self.keys, p, "run"), 0, -1)
		result = pipe.execute()
		effective = self._effective_caps(result[0])
		last = {_text(k): _text(v) for k, v in result[1].items()}
		last_reconcile = _float(result[3])
		per = [result[4 + 5 * i : 9 + 5 * i] for i in range(len(ORDER))]
		heads = {p: _text(rows[2][0]) for p, rows in zip(ORDER, per, strict=True) if rows[2]}
		ready = {}
		if heads:
			pipe = self.redis.pipeline(transaction=False)
			for job_id in heads.values():
				pipe.hget(self._job_key(job_id), "ready_at")
			ready = dict(zip(heads, pipe.execute(), strict=True))
		priorities = {}
		for p, (counts, in_use, _head, waits, runs) in zip(ORDER, per, strict=True):
			counts = {_text(k): int(v) for k, v in counts.items()}
			head_ready = _float(ready.get(p))
			entry = {
				"queue": self.queues[p],
				"cap": self.caps[p],
				"effective_cap": effective[p],
				"slots_in_use": int(in_use),
				"counts": {s: max(counts.get(s, 0), 0) for s in PUBLIC_STATUSES},
				"oldest_waiting_seconds": round(now - head_ready, 6) if head_ready is not None else None,
			}
			entry.update(
				tracking.summarise(
					tracking.parse_samples(waits, now, window),
					tracking.parse_samples(runs, now, window),
					now,
					window,
				)
			)
			priorities[p.value] = entry
		return {
			"namespace": self.namespace,
			"time": now,
			"window_seconds": window,
			"priorities": priorities,
			"load": {
				"state": last.get("state"),
				"reading": json.loads(last["reading"]) if last.get("reading") else None,
				"at": _float(last.get("at")),
				"changes": [json.loads(_text(c)) for c in result[2]],
			},
			"last_reconcile": last_reconcile,
		}
