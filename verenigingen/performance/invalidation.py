"""Generation counters and the dependency graph that make cache invalidation O(1).

Every cache entry records the generation tokens it was computed under (global, its
function, the asking user and roles, the DocTypes it reads) and is a miss once any of them
moved. Invalidating therefore writes a handful of counter keys, whatever the number of
cached entries; nothing scans keys.

A generation is a random token rather than an incrementing integer, and a missing counter
never matches: if Redis loses or evicts a counter, every entry that depended on it is a
miss, never a stale hit (an integer counter that restarted at 0 could count back up to an
old entry's value).

Per DocType there are three kinds of counter:

* ``*``, moved by every change; entries that depend on the whole DocType check it;
* ``+``, moved by inserts, deletes, renames and updates whose changed fields are unknown;
* one per field, moved by updates that changed that field.

An entry that depends on named fields checks ``+`` and those fields' counters only, so an
update that changed none of them leaves it valid.
"""

import json
import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .context import SecurityContext
from .exceptions import InvalidCacheArgumentError
from .keys import KeyBuilder

COMPONENT = "cache"


def new_token() -> str:
	"""A fresh generation token (64 random bits, hex)."""
	return os.urandom(8).hex()


def _name(value, what: str) -> str:
	if not isinstance(value, str) or not value.strip():
		raise InvalidCacheArgumentError(f"{what} must be a non-empty string, got {value!r}")
	return value


@dataclass(frozen=True)
class Dependency:
	"""A DocType an entry reads, optionally narrowed to the fields it reads."""

	doctype: str
	fields: frozenset[str] | None = None

	@classmethod
	def parse(cls, spec) -> "Dependency":
		"""Accept ``"DocType"``, ``("DocType", ("field", ...))`` or a Dependency."""
		if isinstance(spec, Dependency):
			return spec
		if isinstance(spec, str):
			return cls(_name(spec, "dependency DocType"))
		if isinstance(spec, tuple | list) and len(spec) == 2:
			doctype, fields = spec
			if isinstance(fields, str):
				fields = (fields,)
			names = frozenset(_name(f, f"field of dependency {doctype!r}") for f in fields)
			if not names:
				raise InvalidCacheArgumentError(f"dependency {doctype!r} names an empty field list")
			return cls(_name(doctype, "dependency DocType"), names)
		raise InvalidCacheArgumentError(f"a dependency is a DocType name or (DocType, fields), got {spec!r}")


def parse_dependencies(depends_on) -> tuple[Dependency, ...]:
	"""Normalise a ``depends_on`` argument (one spec or an iterable of specs)."""
	if isinstance(depends_on, str | Dependency):
		depends_on = (depends_on,)
	return tuple(Dependency.parse(spec) for spec in depends_on)


class DependencyGraph:
	"""Derived dependencies: a change to a DocType also invalidates what is declared on others.

	``DependencyGraph({"Member Payment": ["Member"]})`` means a change to Member Payment
	invalidates entries that declared Member. Edges are followed transitively; cycles are safe.
	"""

	def __init__(self, edges: Mapping[str, Iterable[str]] | None = None):
		self._edges: dict[str, tuple[str, ...]] = {}
		for source, targets in (edges or {}).items():
			if isinstance(targets, str):
				targets = (targets,)
			self._edges[_name(source, "derived dependency source")] = tuple(
				_name(t, f"derived dependency target of {source!r}") for t in targets
			)

	def affected(self, doctype: str) -> list[str]:
		"""``doctype`` first, then every DocType reachable from it, each once."""
		seen = {doctype}
		order = [doctype]
		queue = deque([doctype])
		while queue:
			for target in self._edges.get(queue.popleft(), ()):
				if target not in seen:
					seen.add(target)
					order.append(target)
					queue.append(target)
		return order

	def as_dict(self) -> dict[str, list[str]]:
		return {k: list(v) for k, v in self._edges.items()}


class Generations:
	"""The generation counters of one site's cache."""

	def __init__(self, keys: KeyBuilder, graph: DependencyGraph | None = None):
		self.keys = keys
		self.graph = graph or DependencyGraph()

	# ------------------------------------------------------------ counter keys
	def global_key(self) -> str:
		return self.keys.key(COMPONENT, "gen", "g")

	def function_key(self, name: str) -> str:
		return self.keys.key(COMPONENT, "gen", "fn", name)

	def user_key(self, user: str) -> str:
		return self.keys.key(COMPONENT, "gen", "u", user)

	def role_key(self, role: str) -> str:
		return self.keys.key(COMPONENT, "gen", "r", role)

	def doctype_key(self, doctype: str) -> str:
		return self.keys.key(COMPONENT, "gen", "d", doctype, "*")

	def rows_key(self, doctype: str) -> str:
		return self.keys.key(COMPONENT, "gen", "d", doctype, "+")

	def field_key(self, doctype: str, field: str) -> str:
		return self.keys.key(COMPONENT, "gen", "d", doctype, "f", field)

	def prefix(self) -> str:
		"""What every counter key of the site starts with (the local tier tracks changes under it)."""
		return self.keys.key(COMPONENT, "gen") + ":"

	# ------------------------------------------------------------ what an entry checks
	def keys_for(
		self, name: str, ctx: SecurityContext | None, deps: tuple[Dependency, ...], *, user: bool, roles: bool
	) -> list[str]:
		"""The counters an entry depends on, in a fixed order."""
		out = [self.global_key(), self.function_key(name)]
		if user:
			out.append(self.user_key(ctx.user))
		if roles:
			out.extend(self.role_key(r) for r in sorted(ctx.roles))
		for dep in deps:
			if dep.fields is None:
				out.append(self.doctype_key(dep.doctype))
			else:
				out.append(self.rows_key(dep.doctype))
				out.extend(self.field_key(dep.doctype, f) for f in sorted(dep.fields))
		return out

	# ------------------------------------------------------------ what an invalidation moves
	def doctype_change(self, doctype: str, changed_fields: Iterable[str] | None = None) -> list[str]:
		"""The counters a change to ``doctype`` moves, derived DocTypes included.

		With ``changed_fields`` (an update whose changes are known) only those fields' counters
		of ``doctype`` move besides ``*``; derived DocTypes always move whole.
		"""
		_name(doctype, "doctype")
		out = [self.doctype_key(doctype)]
		if changed_fields is None:
			out.append(self.rows_key(doctype))
		else:
			out.extend(self.field_key(doctype, f) for f in sorted(set(changed_fields)))
		for derived in self.graph.affected(doctype)[1:]:
			out.extend((self.doctype_key(derived), self.rows_key(derived)))
		return out


class InvalidationBatch:
	"""What one transaction changed, merged: DocTypes (with the fields an update changed, or None
	when unknown), users, roles, cached functions, or everything.

	Merging never loses an invalidation: a DocType recorded once with unknown fields stays
	unknown (its ``+`` counter moves), and field sets are unioned. The batch travels as JSON
	(:meth:`to_json`, :meth:`from_json`) through the transactional outbox.
	"""

	__slots__ = ("doctypes", "users", "roles", "functions", "everything")

	def __init__(self):
		self.doctypes: dict[str, frozenset[str] | None] = {}
		self.users: set[str] = set()
		self.roles: set[str] = set()
		self.functions: set[str] = set()
		self.everything = False

	# ------------------------------------------------------------ recording
	def add_doctype(self, doctype: str, changed_fields: Iterable[str] | None = None) -> bool:
		"""Record a change of ``doctype``; True if the batch grew."""
		_name(doctype, "doctype")
		if changed_fields is not None:
			if isinstance(changed_fields, str):
				changed_fields = (changed_fields,)
			changed_fields = frozenset(_name(f, f"changed field of {doctype!r}") for f in changed_fields)
		if doctype not in self.doctypes:
			self.doctypes[doctype] = changed_fields
			return True
		known = self.doctypes[doctype]
		if known is None:
			return False
		if changed_fields is None:
			self.doctypes[doctype] = None
			return True
		if changed_fields <= known:
			return False
		self.doctypes[doctype] = known | changed_fields
		return True

	def add_user(self, user: str) -> bool:
		return _add(self.users, _name(user, "user"))

	def add_role(self, role: str) -> bool:
		return _add(self.roles, _name(role, "role"))

	def add_function(self, name: str) -> bool:
		return _add(self.functions, _name(name, "function name"))

	def add_everything(self) -> bool:
		grew = not self.everything
		self.everything = True
		return grew

	def merge(self, other: "InvalidationBatch") -> bool:
		"""Add everything ``other`` records; True if this batch grew."""
		grew = False
		for doctype, fields in other.doctypes.items():
			grew = self.add_doctype(doctype, fields) or grew
		for user in other.users:
			grew = self.add_user(user) or grew
		for role in other.roles:
			grew = self.add_role(role) or grew
		for name in other.functions:
			grew = self.add_function(name) or grew
		if other.everything:
			grew = self.add_everything() or grew
		return grew

	def __bool__(self) -> bool:
		return bool(self.doctypes or self.users or self.roles or self.functions or self.everything)

	def __eq__(self, other) -> bool:
		return isinstance(other, InvalidationBatch) and self.as_dict() == other.as_dict()

	def __repr__(self) -> str:
		return f"InvalidationBatch({self.as_dict()!r})"

	# ------------------------------------------------------------ counters
	def gen_keys(self, generations: "Generations") -> list[str]:
		"""The counters this batch moves, each once, in a fixed order."""
		out: list[str] = []
		if self.everything:
			out.append(generations.global_key())
		for doctype in sorted(self.doctypes):
			out.extend(generations.doctype_change(doctype, self.doctypes[doctype]))
		out.extend(generations.user_key(u) for u in sorted(self.users))
		out.extend(generations.role_key(r) for r in sorted(self.roles))
		out.extend(generations.function_key(f) for f in sorted(self.functions))
		return list(dict.fromkeys(out))

	# ------------------------------------------------------------ JSON
	def as_dict(self) -> dict:
		return {
			"doctypes": {d: (None if f is None else sorted(f)) for d, f in sorted(self.doctypes.items())},
			"users": sorted(self.users),
			"roles": sorted(self.roles),
			"functions": sorted(self.functions),
			"all": self.everything,
		}

	def to_json(self) -> str:
		return json.dumps(self.as_dict(), separators=(",", ":"), sort_keys=True)

	@classmethod
	def from_json(cls, text) -> "InvalidationBatch":
		"""Parse :meth:`to_json`'s output; raise InvalidCacheArgumentError naming what is wrong."""
		try:
			data = json.loads(text)
		except (TypeError, ValueError) as exc:
			raise InvalidCacheArgumentError(f"invalidation payload is not JSON: {exc}") from exc
		if not isinstance(data, dict):
			raise InvalidCacheArgumentError(f"invalidation payload must be an object, got {data!r}")
		unknown = set(data) - {"doctypes", "users", "roles", "functions", "all"}
		if unknown:
			raise InvalidCacheArgumentError(f"invalidation payload has unknown keys {sorted(unknown)}")
		batch = cls()
		doctypes = data.get("doctypes", {})
		if not isinstance(doctypes, dict):
			raise InvalidCacheArgumentError(
				f"invalidation payload 'doctypes' must be an object, got {doctypes!r}"
			)
		for doctype, fields in doctypes.items():
			if fields is not None and not isinstance(fields, list):
				raise InvalidCacheArgumentError(
					f"changed fields of {doctype!r} must be a list or null, got {fields!r}"
				)
			batch.add_doctype(doctype, fields)
		for key, add in (
			("users", batch.add_user),
			("roles", batch.add_role),
			("functions", batch.add_function),
		):
			values = data.get(key, [])
			if not isinstance(values, list):
				raise InvalidCacheArgumentError(
					f"invalidation payload {key!r} must be a list, got {values!r}"
				)
			for value in values:
				add(value)
		everything = data.get("all", False)
		if not isinstance(everything, bool):
			raise InvalidCacheArgumentError(
				f"invalidation payload 'all' must be true or false, got {everything!r}"
			)
		if everything:
			batch.add_everything()
		return batch


def _add(target: set, value: str) -> bool:
	if value in target:
		return False
	target.add(value)
	return True
