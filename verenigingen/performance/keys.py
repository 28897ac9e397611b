"""The one builder of the app's Redis keys.

Every key starts with the app's own root, then the site namespace, then the component and
its parts joined by ``:``::

    vperf|{namespace}|{component}:{part}:{part}...
    rq:vperf|{namespace}|jobs:{part}...          (the job coordinator's keys)

The root keeps the app's state out of ``{db_name}|*``, which ``frappe.clear_cache()`` (every
``bench migrate`` and ``bench clear-cache``) deletes: metrics, alert streaks, statistics and job
records survive it, and cache entries are invalidated by the app's ``clear_cache`` hook instead.
The job coordinator's keys start with ``rq:`` because they live on the queue Redis, where a bench
with ``use_rq_auth`` lets its user reach only ``rq:*`` keys.

Parts are escaped (``%`` and ``:`` are percent-encoded) so two different part lists
can never produce the same key, and a namespace may not contain ``|``, ``*``, ``?``,
``[`` or whitespace, so no site's keys or scan patterns can reach into another's.
"""

import re

from .exceptions import InvalidKeyPartError, InvalidNamespaceError

APP_PREFIX = "vperf"
JOBS_ROOT = "rq:" + APP_PREFIX  # the queue Redis under use_rq_auth allows its bench user rq:* keys only
ROOTS = {"jobs": JOBS_ROOT}  # component -> root, where it is not APP_PREFIX

_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def validate_namespace(namespace: str) -> str:
	"""Return the namespace if it is safe to prefix keys with, else raise InvalidNamespaceError."""
	if not isinstance(namespace, str) or not namespace:
		raise InvalidNamespaceError(f"namespace must be a non-empty string, got {namespace!r}")
	if not _NAMESPACE_RE.match(namespace):
		raise InvalidNamespaceError(
			f"namespace {namespace!r} may only contain letters, digits, '_', '.' and '-' "
			"(it prefixes every key of the site)"
		)
	return namespace


def escape_part(part) -> str:
	"""Encode one key part so that ':' can only ever be a separator."""
	if isinstance(part, bool) or not isinstance(part, str | int):
		raise InvalidKeyPartError(f"key part must be text or an integer, got {type(part).__name__}: {part!r}")
	text = str(part)
	if text == "":
		raise InvalidKeyPartError("key part must not be empty")
	return text.replace("%", "%25").replace(":", "%3A").replace("*", "%2A").replace("?", "%3F")


class KeyBuilder:
	"""Builds the keys of one site. Cheap to create; holds no connection."""

	__slots__ = ("namespace", "_prefix", "_prefixes")

	def __init__(self, namespace: str):
		self.namespace = validate_namespace(namespace)
		self._prefix = f"{APP_PREFIX}|{self.namespace}|"
		self._prefixes = {c: f"{root}|{self.namespace}|" for c, root in ROOTS.items()}

	@property
	def prefix(self) -> str:
		"""The prefix the keys of this site start with (the job coordinator's: ``rq:`` before it)."""
		return self._prefix

	def key(self, component: str, *parts) -> str:
		"""The key of ``parts`` under ``component`` (for example ``"cache"``, ``"jobs"``)."""
		prefix = self._prefixes.get(component, self._prefix)
		return prefix + ":".join(escape_part(p) for p in (component, *parts))

	def site_patterns(self) -> tuple[str, ...]:
		"""SCAN MATCH patterns that together cover every key of this site (for cleanup)."""
		prefixes = (self._prefix, *sorted(set(self._prefixes.values())))
		return tuple(re.sub(r"([\\\[\]])", r"\\\1", p) + "*" for p in prefixes)

	def pattern(self, component: str, *parts) -> str:
		"""A SCAN MATCH pattern for every key under ``component`` and ``parts``."""
		base = self.key(component, *parts)
		escaped = re.sub(r"([\\\[\]])", r"\\\1", base)
		return escaped + ":*"

	def __repr__(self) -> str:
		return f"KeyBuilder({self.namespace!r})"


def unlink_matching(redis, pattern: str, *, batch: int = 500) -> int:
	"""Delete every key matching the SCAN ``pattern`` in bounded SCAN + UNLINK batches (never
	``KEYS``, which blocks Redis); return how many were deleted. For cleanup, not invalidation."""
	if batch < 1:
		raise ValueError(f"batch must be >= 1, got {batch}")
	deleted = 0
	pending = []
	for key in redis.scan_iter(match=pattern, count=max(batch, 100)):
		pending.append(key)
		if len(pending) >= batch:
			deleted += redis.unlink(*pending)
			pending = []
	if pending:
		deleted += redis.unlink(*pending)
	return deleted


def unlink_site(redis, namespace: str, *, batch: int = 500) -> int:
	"""Delete every key of the site ``namespace`` (all of its roots) in bounded batches."""
	return sum(unlink_matching(redis, p, batch=batch) for p in KeyBuilder(namespace).site_patterns())
