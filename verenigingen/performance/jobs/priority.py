"""Job priorities, their default concurrency caps, timeouts and retry policies."""

import enum
from dataclasses import dataclass

from .. import defaults
from ..exceptions import InvalidJobError


class Priority(str, enum.Enum):
	"""How urgent a job is. Each priority has its own global concurrency cap."""

	CRITICAL = "critical"
	HIGH = "high"
	NORMAL = "normal"
	LOW = "low"
	BULK = "bulk"

	@property
	def rank(self) -> int:
		"""0 for CRITICAL up to 4 for BULK: lower goes first."""
		return ORDER.index(self)

	@classmethod
	def parse(cls, value) -> "Priority":
		"""A Priority from itself or its name ("normal", "NORMAL"); InvalidJobError otherwise."""
		if isinstance(value, cls):
			return value
		if isinstance(value, str):
			try:
				return cls(value.strip().lower())
			except ValueError:
				pass
		names = ", ".join(p.value for p in cls)
		raise InvalidJobError(f"unknown priority {value!r}: use one of {names}")


ORDER: tuple[Priority, ...] = tuple(Priority)

DEFAULT_CAPS: dict[Priority, int] = {
	Priority.CRITICAL: defaults.JOB_CAP_CRITICAL,
	Priority.HIGH: defaults.JOB_CAP_HIGH,
	Priority.NORMAL: defaults.JOB_CAP_NORMAL,
	Priority.LOW: defaults.JOB_CAP_LOW,
	Priority.BULK: defaults.JOB_CAP_BULK,
}

# The queues bench workers already serve: CRITICAL and HIGH on short, NORMAL on default, LOW and BULK on long.
DEFAULT_QUEUES: dict[Priority, str] = {
	Priority.CRITICAL: "short",
	Priority.HIGH: "short",
	Priority.NORMAL: "default",
	Priority.LOW: "long",
	Priority.BULK: "long",
}

DEFAULT_TIMEOUTS: dict[Priority, int] = {
	Priority.CRITICAL: defaults.JOB_TIMEOUT_SHORT,
	Priority.HIGH: defaults.JOB_TIMEOUT_SHORT,
	Priority.NORMAL: defaults.JOB_TIMEOUT_DEFAULT,
	Priority.LOW: defaults.JOB_TIMEOUT_LONG,
	Priority.BULK: defaults.JOB_TIMEOUT_LONG,
}

# Priorities the load controller may throttle; CRITICAL and HIGH are never touched.
THROTTLED: tuple[Priority, ...] = (Priority.NORMAL, Priority.LOW, Priority.BULK)


@dataclass(frozen=True)
class RetryPolicy:
	"""Retry a failed attempt up to ``max_retries`` times, waiting ``first_interval`` seconds
	before the first retry and ``backoff`` times longer before each next one."""

	max_retries: int
	first_interval: float
	backoff: float = 2.0

	def __post_init__(self):
		if (
			isinstance(self.max_retries, bool)
			or not isinstance(self.max_retries, int)
			or self.max_retries < 0
		):
			raise InvalidJobError(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
		for name in ("first_interval", "backoff"):
			value = getattr(self, name)
			if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
				raise InvalidJobError(f"{name} must be a number >= 0, got {value!r}")
		if self.backoff < 1:
			raise InvalidJobError(f"backoff must be >= 1 (intervals never shrink), got {self.backoff!r}")

	def interval(self, retry: int) -> float:
		"""Seconds to wait before retry number ``retry`` (1 for the first retry)."""
		return self.first_interval * self.backoff ** (retry - 1)


DEFAULT_RETRY: dict[Priority, RetryPolicy] = {
	Priority.CRITICAL: RetryPolicy(5, 30),
	Priority.HIGH: RetryPolicy(3, 60),
	Priority.NORMAL: RetryPolicy(3, 120),
	Priority.LOW: RetryPolicy(2, 300),
	Priority.BULK: RetryPolicy(1, 600),
}


def resolve_caps(overrides=None) -> dict[Priority, int]:
	"""The default caps with per-site ``overrides`` ({priority: cap}) applied and checked."""
	caps = dict(DEFAULT_CAPS)
	for key, value in (overrides or {}).items():
		priority = Priority.parse(key)
		if isinstance(value, bool) or not isinstance(value, int) or value < 1:
			raise InvalidJobError(f"the cap of {priority.value} must be an integer >= 1, got {value!r}")
		caps[priority] = value
	return caps
