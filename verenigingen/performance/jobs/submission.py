"""What a submit must check before a job is recorded: its method, arguments, id, dependencies,
retry policy, timeout and submitter. Each failure is one InvalidJobError naming what is wrong."""

import importlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..exceptions import InvalidJobError
from .priority import Priority, RetryPolicy

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
METHOD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
USER_MAX = 255  # characters of the opaque ``user`` a job records (Frappe user names are 140)


@dataclass(frozen=True)
class Submission:
	"""A checked submit: the values the coordinator records."""

	job_id: str
	method: str
	kwargs_json: str
	priority: Priority
	deps: list
	policy: RetryPolicy
	timeout: float
	accept_dependency_failure: bool
	user: str | None


def check_job_id(job_id, what: str = "job_id") -> None:
	if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
		raise InvalidJobError(f"{what} {job_id!r} must be 1 to 100 letters, digits, '_' or '-'")


def check_method(method) -> None:
	"""A dotted path to a function that imports (workers import jobs by dotted path)."""
	if not isinstance(method, str) or not METHOD_RE.match(method):
		raise InvalidJobError(f"method must be a dotted path like 'package.module.function', got {method!r}")
	module_name, _, attr = method.rpartition(".")
	try:
		module = importlib.import_module(module_name)
	except ImportError as exc:
		raise InvalidJobError(f"method {method}: module {module_name} cannot be imported: {exc}") from exc
	if not callable(getattr(module, attr, None)):
		raise InvalidJobError(f"method {method}: {module_name} has no function {attr}")


def check_timeout(seconds) -> float:
	if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
		raise InvalidJobError(f"timeout must be a number of seconds > 0, got {seconds!r}")
	return seconds


def prepare(
	method,
	kwargs: Mapping | None,
	*,
	priority,
	depends_on: Iterable[str],
	retry: RetryPolicy | None,
	job_id: str | None,
	timeout: float | None,
	accept_dependency_failure: bool,
	user: str | None,
	default_retry: Mapping,
	default_timeouts: Mapping,
) -> Submission:
	"""Check a submit's arguments and fill in the defaults of its priority (a new id if none)."""
	priority = Priority.parse(priority)
	check_method(method)
	if kwargs is None:
		kwargs = {}
	if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
		raise InvalidJobError(f"kwargs must be a mapping with text keys, got {kwargs!r}")
	try:
		kwargs_json = json.dumps(dict(kwargs), sort_keys=True)
	except (TypeError, ValueError) as exc:
		raise InvalidJobError(f"kwargs of {method} must be JSON-serialisable: {exc}") from exc
	if job_id is None:
		job_id = uuid.uuid4().hex
	check_job_id(job_id)
	if isinstance(depends_on, str):
		depends_on = (depends_on,)
	deps = list(dict.fromkeys(depends_on))
	for dep in deps:
		check_job_id(dep, "dependency id")
	if job_id in deps:
		raise InvalidJobError(f"job {job_id} cannot depend on itself")
	policy = retry if retry is not None else default_retry[priority]
	if not isinstance(policy, RetryPolicy):
		raise InvalidJobError(f"retry must be a RetryPolicy, got {policy!r}")
	timeout = check_timeout(timeout) if timeout is not None else default_timeouts[priority]
	if not isinstance(accept_dependency_failure, bool):
		raise InvalidJobError(
			f"accept_dependency_failure must be True or False, got {accept_dependency_failure!r}"
		)
	if user is not None and (not isinstance(user, str) or not 0 < len(user) <= USER_MAX):
		raise InvalidJobError(f"user must be None or 1 to {USER_MAX} characters of text, got {user!r}")
	return Submission(
		job_id, method, kwargs_json, priority, deps, policy, timeout, accept_dependency_failure, user
	)
