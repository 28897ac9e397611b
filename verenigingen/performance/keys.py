"""The one builder of the app's Redis keys.

Every key starts with the site namespace, the way Frappe prefixes its keys with the
site's database name, then ``|vperf:`` and the parts joined by ``:``::

    {namespace}|vperf:{component}:{part}:{part}...

Parts are escaped (``%`` and ``:`` are percent-encoded) so two different part lists
can never produce the same key, and a namespace may not contain ``|``, ``*``, ``?``,
``[`` or whitespace, so no site's keys or scan patterns can reach into another's.
"""

import re

from .exceptions import InvalidKeyPartError, InvalidNamespaceError

APP_PREFIX = "vperf"

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

	__slots__ = ("namespace", "_prefix")

	def __init__(self, namespace: str):
		self.namespace = validate_namespace(namespace)
		self._prefix = f"{self.namespace}|{APP_PREFIX}:"

	@property
	def prefix(self) -> str:
		"""The prefix every key of this site starts with."""
		return self._prefix

	def key(self, component: str, *parts) -> str:
		"""The key of ``parts`` under ``component`` (for example ``"cache"``, ``"jobs"``)."""
		return self._prefix + ":".join(escape_part(p) for p in (component, *parts))

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
