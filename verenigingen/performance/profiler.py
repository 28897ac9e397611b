"""A query profiler over the core's database handle, and the member page it profiles.

:class:`ProfilingDatabase` wraps any :class:`~verenigingen.performance.db.Database`
and records every statement it runs with its duration and row count. From the record
:func:`find_n_plus_one` finds statements that are identical once their literals are
normalised and that ran more than three times, :func:`find_full_scans` asks EXPLAIN
how each distinct SELECT reads its tables, and :func:`recommend` points a full scan at
the index catalog entry that covers it. :func:`profile` runs any load under the profiler and
:func:`analyze` reports on statements recorded elsewhere (in a site, the shell records
``frappe.db.sql`` while the Member form loads). :func:`profile_member` profiles what the app
really serves for one member: its read model (``summaries.member_summary``). No screen is
invented here, so an N+1 found is a real one. Nothing here imports frappe.
"""

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .db import Database, table_name
from .defaults import (
	PROFILER_FULL_SCAN_MIN_ROWS,
	PROFILER_N_PLUS_ONE_HIGH,
	PROFILER_N_PLUS_ONE_MEDIUM,
	PROFILER_N_PLUS_ONE_MIN_REPEATS,
)
from .exceptions import MemberNotFoundError

# ---------------------------------------------------------------- recording


@dataclass
class QueryRecord:
	"""One statement as it ran: its text, parameters, duration and the rows it returned."""

	sql: str
	values: Sequence | dict | None
	seconds: float
	rows: int

	@property
	def normalized(self) -> str:
		return normalize_sql(self.sql)


_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"")
_NUMBER_LITERAL = re.compile(r"(?<![A-Za-z0-9_`])-?\d+(?:\.\d+)?(?![A-Za-z0-9_`])")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")
_IN_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")
_WHITESPACE = re.compile(r"\s+")


def normalize_sql(sql: str) -> str:
	"""The statement with every literal and placeholder replaced by ``?`` and whitespace collapsed.

	Two statements that differ only in the values they look up normalise to the same text,
	so ``WHERE name='A'`` and ``WHERE name='B'`` (or the same template with different
	parameters) count as one pattern. ``IN (?, ?, ?)`` lists of any length become ``IN (?+)``.
	"""
	text = _STRING_LITERAL.sub("?", sql)
	text = _PLACEHOLDER.sub("?", text)
	text = _NUMBER_LITERAL.sub("?", text)
	text = _IN_LIST.sub("(?+)", text)
	return _WHITESPACE.sub(" ", text).strip().lower()


class ProfilingDatabase:
	"""A :class:`Database` that runs every call on ``db`` and records it in :attr:`records`."""

	def __init__(self, db: Database, clock: Callable[[], float] = time.perf_counter):
		self.db = db
		self.records: list[QueryRecord] = []
		self._clock = clock

	@property
	def database_name(self) -> str:
		return self.db.database_name

	def _timed(self, sql: str, values, call: Callable[[], object], rows_of: Callable[[object], int]):
		start = self._clock()
		result = call()
		self.records.append(QueryRecord(sql, values, self._clock() - start, rows_of(result)))
		return result

	def sql(self, query: str, values: Sequence | dict | None = None, *, as_dict: bool = False) -> list:
		return self._timed(query, values, lambda: self.db.sql(query, values, as_dict=as_dict), len)

	def sql_many(self, query: str, rows: Iterable[Sequence]) -> int:
		rows = list(rows)
		return self._timed(query, rows, lambda: self.db.sql_many(query, rows), int)

	def ddl(self, query: str) -> None:
		self._timed(query, None, lambda: self.db.ddl(query), lambda _r: 0)

	def commit(self) -> None:
		self.db.commit()

	def rollback(self) -> None:
		self.db.rollback()

	@property
	def total_seconds(self) -> float:
		return sum(r.seconds for r in self.records)

	def reset(self) -> None:
		self.records = []


# ---------------------------------------------------------------- analysis


@dataclass
class NPlusOnePattern:
	"""A statement that ran ``count`` times with different literals: a loop doing lookups one by one."""

	normalized: str
	count: int
	total_ms: float
	severity: str
	example: str

	def as_dict(self) -> dict:
		return {
			"statement": self.normalized,
			"count": self.count,
			"total_ms": round(self.total_ms, 3),
			"severity": self.severity,
			"example": self.example,
		}


def n_plus_one_severity(count: int) -> str:
	"""low / medium / high by how often the statement repeated (thresholds in defaults)."""
	if count >= PROFILER_N_PLUS_ONE_HIGH:
		return "high"
	if count >= PROFILER_N_PLUS_ONE_MEDIUM:
		return "medium"
	return "low"


def find_n_plus_one(
	records: Iterable[QueryRecord], min_repeats: int = PROFILER_N_PLUS_ONE_MIN_REPEATS
) -> list[NPlusOnePattern]:
	"""Statements that ran at least ``min_repeats`` times once literals are normalised, most first."""
	groups: dict[str, list[QueryRecord]] = {}
	for record in records:
		groups.setdefault(record.normalized, []).append(record)
	found = [
		NPlusOnePattern(
			normalized=text,
			count=len(group),
			total_ms=sum(r.seconds for r in group) * 1000,
			severity=n_plus_one_severity(len(group)),
			example=group[0].sql,
		)
		for text, group in groups.items()
		if len(group) >= min_repeats
	]
	return sorted(found, key=lambda p: (-p.count, p.normalized))


@dataclass
class FullScan:
	"""A SELECT that EXPLAIN says reads a whole table (``ALL``) or a whole index (``index``)."""

	table: str
	access_type: str
	rows_examined: int
	statement: str
	filtered_columns: list[str] = field(default_factory=list)

	def as_dict(self) -> dict:
		return {
			"table": self.table,
			"access_type": self.access_type,
			"rows_examined": self.rows_examined,
			"statement": self.statement,
			"filtered_columns": list(self.filtered_columns),
		}


_WHERE_COLUMN = re.compile(r"`?(\w+)`?\s*(?:=|<=|>=|<|>|\bin\b|\blike\b|\bbetween\b)", re.IGNORECASE)


def filtered_columns(sql: str) -> list[str]:
	"""Column names compared in the WHERE clause of ``sql``, in order, without duplicates."""
	match = re.search(r"\bwhere\b(.*?)(\border\s+by\b|\bgroup\s+by\b|\blimit\b|$)", sql, re.I | re.S)
	if not match:
		return []
	columns = []
	for col in _WHERE_COLUMN.findall(match.group(1)):
		col = col.split(".")[-1]
		if col.lower() not in ("and", "or", "not") and not col.isdigit() and col not in columns:
			columns.append(col)
	return columns


def explain(db: Database, sql: str, values=None) -> list[dict]:
	"""EXPLAIN of one SELECT, as dicts with lower-case keys (``table``, ``type``, ``rows``, ``key``...)."""
	rows = db.sql("EXPLAIN " + sql, values, as_dict=True)
	return [{str(k).lower(): v for k, v in row.items()} for row in rows]


def find_full_scans(
	db: Database, records: Iterable[QueryRecord], min_rows: int = PROFILER_FULL_SCAN_MIN_ROWS
) -> list[FullScan]:
	"""Run EXPLAIN (on ``db``, unprofiled) once per distinct SELECT and report full table or index scans
	of at least ``min_rows`` estimated rows."""
	seen = set()
	scans = []
	for record in records:
		if not record.sql.lstrip().lower().startswith("select") or record.normalized in seen:
			continue
		seen.add(record.normalized)
		for row in explain(db, record.sql, record.values):
			access = str(row.get("type") or "").upper()
			if access not in ("ALL", "INDEX"):
				continue
			estimated = int(row.get("rows") or 0)
			if estimated < min_rows:
				continue
			scans.append(
				FullScan(
					table=str(row.get("table")),
					access_type=access,
					rows_examined=estimated,
					statement=record.normalized,
					filtered_columns=filtered_columns(record.sql),
				)
			)
	return scans


def _catalog_entries(catalog: Iterable | None) -> list[tuple[str, str, tuple[str, ...]]]:
	"""(name, table, columns) of catalog specs given as objects with ``name``, ``doctype`` and
	``columns`` attributes (the index manager's IndexSpec) or as dicts with those keys."""
	entries = []
	for spec in catalog or ():
		get = spec.get if isinstance(spec, dict) else lambda k, s=spec: getattr(s, k, None)
		name, doctype, columns = get("name"), get("doctype"), get("columns")
		if name and doctype and columns:
			entries.append((str(name), table_name(str(doctype)), tuple(columns)))
	return entries


def recommend(
	full_scans: Iterable[FullScan], n_plus_one: Iterable[NPlusOnePattern], catalog: Iterable | None = None
) -> list[dict]:
	"""One recommendation per finding: the catalog index that covers a full scan (its leading column
	is filtered on), else the columns an index would need; and batching for each N+1 pattern."""
	entries = _catalog_entries(catalog)
	recommendations = []
	done = set()
	for scan in full_scans:
		match = next(
			(e for e in entries if e[1] == scan.table and e[2] and e[2][0] in scan.filtered_columns), None
		)
		if match:
			key = ("catalog", match[0])
			text = (
				f"{scan.table} is read in full ({scan.rows_examined:,} rows estimated); the index catalog "
				f"entry {match[0]!r} on ({', '.join(match[2])}) covers this lookup: apply it with the index manager"
			)
			rec = {"kind": "index", "table": scan.table, "catalog_index": match[0], "columns": list(match[2])}
		elif scan.filtered_columns:
			key = ("columns", scan.table, tuple(scan.filtered_columns))
			text = (
				f"{scan.table} is read in full ({scan.rows_examined:,} rows estimated) to filter on "
				f"{', '.join(scan.filtered_columns)}; no catalog index covers it: consider an index on "
				f"({', '.join(scan.filtered_columns)})"
			)
			rec = {
				"kind": "index",
				"table": scan.table,
				"catalog_index": None,
				"columns": list(scan.filtered_columns),
			}
		else:
			continue
		if key in done:
			continue
		done.add(key)
		rec["text"] = text
		rec["statement"] = scan.statement
		recommendations.append(rec)
	for pattern in n_plus_one:
		recommendations.append(
			{
				"kind": "batch",
				"statement": pattern.normalized,
				"count": pattern.count,
				"text": (
					f"the same statement ran {pattern.count} times with different values ({pattern.severity}): "
					"load the rows in one query (WHERE ... IN (...)) instead of one per row"
				),
			}
		)
	return recommendations


# ---------------------------------------------------------------- profiling what the app runs


def default_catalog() -> tuple:
	"""Every spec of the index manager's catalogs (empty where the index manager is not installed)."""
	try:
		from .indexes.catalog import catalog
	except ImportError:  # the index manager is absent from this installation: no catalog to point at
		return ()
	return catalog("all")


def analyze(
	db: Database, records: Sequence[QueryRecord], *, catalog: Iterable | None = None, wall_seconds=None
) -> dict:
	"""The report on ``records``: total queries and milliseconds, each distinct statement with its
	count and time, the N+1 patterns, the full scans EXPLAIN (on ``db``) found, and recommendations
	(pointing at the index specs of ``catalog``, default: the index manager's catalogs)."""
	catalog = default_catalog() if catalog is None else catalog
	records = list(records)
	statements: dict[str, dict] = {}
	for r in records:
		entry = statements.setdefault(
			r.normalized, {"statement": r.normalized, "count": 0, "ms": 0.0, "rows": 0}
		)
		entry["count"] += 1
		entry["ms"] += r.seconds * 1000
		entry["rows"] += r.rows
	patterns = find_n_plus_one(records)
	scans = find_full_scans(db, records)
	return {
		"total_queries": len(records),
		"total_ms": round(sum(r.seconds for r in records) * 1000, 3),
		"wall_ms": round(wall_seconds * 1000, 3) if wall_seconds is not None else None,
		"statements": sorted(
			({**s, "ms": round(s["ms"], 3)} for s in statements.values()), key=lambda s: -s["ms"]
		),
		"n_plus_one": [p.as_dict() for p in patterns],
		"full_scans": [s.as_dict() for s in scans],
		"recommendations": recommend(scans, patterns, catalog),
	}


def profile(db: Database, load: Callable[[Database], object], *, catalog: Iterable | None = None):
	"""Run ``load(profiled_db)`` under the profiler; return (its result, the report)."""
	profiled = ProfilingDatabase(db)
	started = time.perf_counter()
	result = load(profiled)
	wall = time.perf_counter() - started
	return result, analyze(db, profiled.records, catalog=catalog, wall_seconds=wall)


def profile_member(db: Database, member: str, *, catalog: Iterable | None = None) -> dict:
	"""Profile the app's member read model (what ``get_member_summary`` serves) for ``member``.
	Raises MemberNotFoundError for an empty or unknown member."""
	from .summaries import member_summary

	if not isinstance(member, str) or not member.strip():
		raise MemberNotFoundError(f"member must be a non-empty member name, got {member!r}")
	summary, report = profile(db, lambda d: member_summary(d, member), catalog=catalog)
	if summary is None:
		raise MemberNotFoundError(f"Member {member!r} does not exist")
	return {"member": member, "profiled": ["member_summary"], **report, "summary": summary}
