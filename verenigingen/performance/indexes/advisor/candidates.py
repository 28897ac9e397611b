"""Candidate indexes for a workload's shapes, the way a DBA would write them.

Per shape and table: the equality columns first (=, IN, IS NULL; for the inner table of a join
also the join columns), then one range column, or the ORDER BY / GROUP BY columns; a covering
variant adds the few other columns the shape reads. Equality columns are ordered the same way
for every shape of a table (by how much of the workload's time filters on them), so the index of
one shape is often a left prefix of another's and one index can serve several. No candidate is
made where an existing index already leads with the same columns (compared by columns, as the
index manager does, the equality part in any order), nor on a table under the size at which a
scan is as fast.
"""

import hashlib
import re
from dataclasses import dataclass, field

from ..redundancy import IndexInfo
from .model import MAX_KEY_BYTES, TableSchema, TableUse
from .workload import Shape

MAX_INDEX_COLUMNS = 6  # columns in one suggested index at most (a covering one included)


@dataclass
class Candidate:
	table: str
	columns: tuple[str, ...]
	covering: bool
	origin: set[str] = field(default_factory=set)  # shapes whose own candidate this is
	serves: set[str] = field(default_factory=set)  # shapes it may serve (origin, and shapes of its prefixes)
	weight: float = 0.0  # total time of the shapes it may serve
	name: str = ""

	def label(self) -> str:
		return f"{self.table}({', '.join(self.columns)})"


@dataclass
class Verdict:
	"""Why a shape gets no candidate on one of its tables."""

	shape: str
	table: str
	reason: str  # too small | served | no predicate | ...
	detail: str
	index: str | None = None

	def as_dict(self) -> dict:
		return dict(vars(self))


def served_by(indexes: dict[str, IndexInfo], key: tuple[str, ...], n_eq: int) -> IndexInfo | None:
	"""An existing index that leads with ``key`` (its first ``n_eq`` columns in any order)."""
	for index in indexes.values():
		if index.index_type != "BTREE":
			continue
		if index.starts_with(key):
			return index
	if n_eq > 1:
		n = len(key)
		for index in indexes.values():
			if index.index_type != "BTREE" or len(index.columns) < n:
				continue
			if any(p is not None for p in index.sub_parts[:n]):
				continue
			if set(index.columns[:n_eq]) == set(key[:n_eq]) and index.columns[n_eq:n] == key[n_eq:]:
				return index
	return None


def index_name(table: str, columns: tuple[str, ...], taken: set[str]) -> str:
	"""``idx_adv_<columns>``, shortened with a hash to fit 64 characters and to differ from ``taken``."""
	base = "idx_adv_" + "_".join(re.sub(r"[^A-Za-z0-9_]", "_", c) for c in columns)
	digest = hashlib.sha1(f"{table}|{'|'.join(columns)}".encode()).hexdigest()
	name = base if len(base) <= 64 else base[:57] + "_" + digest[:6]
	k = 0
	while name in taken:
		k += 1
		name = base[:55] + "_" + digest[k : k + 8]
	return name


def _fit(schema: TableSchema, columns: list[str]) -> tuple[str, ...]:
	"""``columns`` cut where the key would pass InnoDB's byte limit or MAX_INDEX_COLUMNS."""
	out = []
	total = 0
	for column in columns:
		size = schema.columns[column].key_bytes
		if total + size > MAX_KEY_BYTES or len(out) >= MAX_INDEX_COLUMNS:
			break
		out.append(column)
		total += size
	return tuple(out)


def _keys_for(use: TableUse, order_eq, limit: bool) -> list[tuple[tuple[str, ...], int]]:
	"""(key columns, number of equality columns) for each way this table could be read."""
	roles = []
	own = order_eq(use.eq)
	if use.eq or use.range or use.order or use.group:
		roles.append(own)
	if use.join:
		roles.append(order_eq(use.eq + use.join))
	keys = []
	for eq in roles:
		tails = []
		for column in use.range[:2]:
			tails.append([column])
		if use.order and (eq or limit):
			tail = [c for c in use.order if c not in eq]
			if tail:
				tails.append(tail)
		if use.group:
			tail = [c for c in use.group if c not in eq]
			if tail:
				tails.append(tail)
		if not tails and eq:
			keys.append((tuple(eq), len(eq)))
		for tail in tails:
			keys.append((tuple(eq + tail), len(eq)))
	return keys


def generate(
	shapes: list[Shape],
	schemas: dict[str, TableSchema],
	*,
	min_rows: int,
	max_covering_columns: int,
) -> tuple[list[Candidate], list[Verdict]]:
	"""Candidates for ``shapes`` (with ``uses`` resolved and ``total_ms`` set), heaviest first,
	and a verdict for every shape and table that gets none."""
	freq: dict[str, dict[str, float]] = {}
	for shape in shapes:
		for use in shape.uses:
			table_freq = freq.setdefault(use.table, {})
			for column in {*use.eq, *use.join}:
				table_freq[column] = (
					table_freq.get(column, 0.0) + (shape.total_ms or 0.0) + 1e-9 * shape.count
				)
	found: dict[tuple[str, tuple[str, ...]], Candidate] = {}
	verdicts: list[Verdict] = []
	for shape in shapes:
		for use in shape.uses:
			schema = schemas[use.table]
			if schema.rows < min_rows:
				about = "" if schema.rows_exact else "about "
				verdicts.append(
					Verdict(
						shape.id,
						use.table,
						"too small",
						f"{use.table} has {about}{schema.rows:,} rows (< {min_rows:,}): a scan is as fast as an index",
					)
				)
				continue
			ordinal = {c: k for k, c in enumerate(schema.columns)}
			table_freq = freq.get(use.table, {})
			unindexable = sorted(
				{
					c
					for c in (*use.eq, *use.range, *use.join, *(use.order or ()), *(use.group or ()))
					if not schema.columns[c].indexable
				}
			)
			if unindexable:
				shape.notes.append(
					f"{use.table}: {', '.join(unindexable)} cannot be indexed whole (TEXT/BLOB/too long)"
				)
			usable = TableUse(
				use.label,
				use.table,
				[c for c in use.eq if c not in unindexable],
				[c for c in use.range if c not in unindexable],
				[c for c in use.join if c not in unindexable],
				use.order if use.order and not set(use.order) & set(unindexable) else None,
				use.group if use.group and not set(use.group) & set(unindexable) else None,
				use.read,
				use.star,
			)

			def order_eq(columns, table_freq=table_freq, ordinal=ordinal):
				return sorted(
					dict.fromkeys(columns), key=lambda col: (-table_freq.get(col, 0.0), ordinal[col])
				)

			keys = _keys_for(usable, order_eq, shape.statement.parsed.limit)
			if not keys:
				verdicts.append(
					Verdict(
						shape.id,
						use.table,
						"no predicate",
						"no condition, join, order or grouping an index could serve",
					)
				)
				continue
			served = []
			for key, n_eq in keys:
				key = _fit(schema, list(key))
				existing = served_by(schema.indexes, key, min(n_eq, len(key)))
				if existing is not None:
					served.append(existing.name)
					continue
				variants = [(key, False)]
				read = set(usable.read) - set(schema.primary)
				extra = [
					c for c in sorted(read, key=ordinal.get) if c not in key and schema.columns[c].indexable
				]
				if not usable.star and extra and len(read) <= max_covering_columns:
					cover = _fit(schema, [*key, *extra])
					if len(cover) == len(key) + len(extra):
						variants.append((cover, True))
				for columns, covering in variants:
					candidate = found.get((use.table, columns))
					if candidate is None:
						candidate = found[(use.table, columns)] = Candidate(use.table, columns, covering)
					candidate.origin.add(shape.id)
			if served and len(served) == len(keys):
				verdicts.append(
					Verdict(
						shape.id,
						use.table,
						"served",
						f"already served by existing index {', '.join(dict.fromkeys(served))}",
						served[0],
					)
				)
	candidates = list(found.values())
	weights = {s.id: (s.total_ms or 0.0) for s in shapes}
	for candidate in candidates:
		candidate.serves = set(candidate.origin)
		for other in candidates:
			if other.table == candidate.table and candidate.columns[: len(other.columns)] == other.columns:
				candidate.serves |= other.origin
		candidate.weight = sum(weights[s] for s in candidate.serves)
	candidates.sort(key=lambda c: (-c.weight, len(c.columns), c.columns))
	taken: dict[str, set[str]] = {}
	for candidate in candidates:
		names = taken.setdefault(candidate.table, set(schemas[candidate.table].indexes))
		candidate.name = index_name(candidate.table, candidate.columns, names)
		names.add(candidate.name)
	return candidates, verdicts
