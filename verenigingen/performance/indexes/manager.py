"""IndexManager: inspect, plan, apply (online), verify, measure, roll back, find redundant indexes.

Every name the manager puts into SQL is first checked two ways: against the identifier rules
(:func:`validate_identifier`), and against the database's own catalog (``information_schema``),
so an unknown DocType, column or index is refused before any statement is built from it.
"""

import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..db import Database, quote_identifier, table_name, validate_identifier
from ..defaults import (
	INDEX_APPLY_MEASURE_REPEATS,
	INDEX_LOCK_WAIT_TIMEOUT,
	INDEX_MEASURE_REPEATS,
	INDEX_MIN_ROWS_FOR_COMPARISON,
	INDEX_OLD_TRANSACTION_SECONDS,
)
from ..exceptions import (
	IndexApplyError,
	IndexConflictError,
	InvalidIndexSpecError,
	MetadataLockTimeoutError,
	OnlineDDLUnsupportedError,
	UnknownColumnError,
	UnknownDocTypeError,
)
from ..locks import LockHolder, error_code, seconds_value
from .changelog import ChangeLog
from .ddl import OnlineDDL
from .redundancy import IndexInfo, RedundantIndex, find_redundant, table_indexes
from .spec import IndexSpec, drop_index_sql

# MariaDB/MySQL: "ALGORITHM=INPLACE/LOCK=NONE is not supported" (with and without a reason).
ONLINE_DDL_UNSUPPORTED_CODES = (1845, 1846)

# Plan actions.
CREATE = "create"
PRESENT = "present"
CONFLICT = "conflict"
MISSING_TABLE = "missing_table"
MISSING_COLUMN = "missing_column"
BLOCKING = (CONFLICT, MISSING_COLUMN)

Progress = Callable[[int, int, float, str], None]  # (step, steps, fraction of this step, label)


@dataclass(frozen=True)
class TableInfo:
	doctype: str
	table: str
	columns: tuple[str, ...]
	indexes: dict[str, IndexInfo]
	engine: str | None = None

	def as_dict(self) -> dict:
		return {
			"doctype": self.doctype,
			"table": self.table,
			"engine": self.engine,
			"columns": list(self.columns),
			"indexes": [i.as_dict() for i in self.indexes.values()],
		}


@dataclass(frozen=True)
class PlanItem:
	spec: IndexSpec
	action: str
	reason: str
	existing_index: str | None = None
	ddl: str | None = None

	def as_dict(self) -> dict:
		return {
			"index": self.spec.name,
			"doctype": self.spec.doctype,
			"columns": list(self.spec.columns),
			"catalog": self.spec.catalog,
			"action": self.action,
			"reason": self.reason,
			"existing_index": self.existing_index,
			"ddl": self.ddl,
		}


@dataclass(frozen=True)
class Plan:
	items: tuple[PlanItem, ...]

	@property
	def to_create(self) -> list[PlanItem]:
		return [i for i in self.items if i.action == CREATE]

	@property
	def problems(self) -> list[PlanItem]:
		"""Items that stop an apply: conflicts and missing columns."""
		return [i for i in self.items if i.action in BLOCKING]

	@property
	def specs(self) -> list[IndexSpec]:
		return [i.spec for i in self.items]

	def as_dict(self) -> dict:
		return {"items": [i.as_dict() for i in self.items], "problems": len(self.problems)}


@dataclass
class Measurement:
	"""A probe run ``runs`` times with parameters drawn from the data, and its plan."""

	index: str
	table: str
	table_rows: int
	runs: int
	p50_ms: float | None = None
	p95_ms: float | None = None
	key: str | None = None
	access_type: str | None = None
	rows_estimated: float | None = None
	rows_examined: float | None = None
	note: str | None = None

	def as_dict(self) -> dict:
		return dict(vars(self))


def compare(
	before: Measurement | None, after: Measurement | None, min_rows: int = INDEX_MIN_ROWS_FOR_COMPARISON
) -> dict:
	"""The before/after comparison of two measurements: a speed-up ratio, or why there is none."""
	if before is None or after is None or before.p50_ms is None or after.p50_ms is None:
		return {"speedup": None, "note": "not measured"}
	rows = max(before.table_rows, after.table_rows)
	if rows < min_rows:
		return {
			"speedup": None,
			"note": f"table has {rows:,} rows (< {min_rows:,}): too small for a difference to show",
		}
	return {"speedup": before.p50_ms / max(after.p50_ms, 1e-6), "note": None}


@dataclass
class ChangeOutcome:
	"""What an apply or rollback did with one index."""

	index: str
	table: str
	action: str  # created, would create, skipped, dropped, failed, dropped after failure
	reason: str = ""
	ddl: str | None = None
	duration_ms: float | None = None
	locking: bool = False
	before: Measurement | None = None
	after: Measurement | None = None
	log: str | None = None

	def as_dict(self) -> dict:
		out = dict(vars(self))
		out["before"] = self.before.as_dict() if self.before else None
		out["after"] = self.after.as_dict() if self.after else None
		out["comparison"] = compare(self.before, self.after)
		return out


@dataclass
class VerifyResult:
	index: str
	present: bool
	satisfied_by: str | None
	probe_key: str | None
	uses_index: bool
	access_type: str | None = None
	note: str | None = None

	def as_dict(self) -> dict:
		return dict(vars(self))


@dataclass
class IndexManager:
	"""Index operations on one database. ``user`` is who the change log records as acting.

	Its DDL waits at most ``lock_wait_timeout`` seconds for a metadata lock and then fails naming
	the connection that holds it. Before an online ALTER TABLE, transactions open for
	``old_transaction_seconds`` or longer on the database stop it (they would hold it up at its
	start and its end, and every statement on the table behind it) unless the caller says to wait.
	"""

	db: Database
	user: str = "Administrator"
	min_rows_for_comparison: int = INDEX_MIN_ROWS_FOR_COMPARISON
	lock_wait_timeout: int = INDEX_LOCK_WAIT_TIMEOUT
	old_transaction_seconds: float = INDEX_OLD_TRANSACTION_SECONDS
	_tables: dict = field(default_factory=dict, repr=False)

	def __post_init__(self) -> None:
		self.lock_wait_timeout = seconds_value(self.lock_wait_timeout, "lock_wait_timeout")
		seconds_value(self.old_transaction_seconds, "old_transaction_seconds")

	# ------------------------------------------------------------------ catalog checks

	def table_exists(self, doctype: str) -> bool:
		tname = table_name(doctype)
		return bool(
			self.db.sql(
				"SELECT 1 FROM information_schema.tables WHERE table_schema=DATABASE() AND table_name=%s",
				(tname,),
			)
		)

	def estimated_rows(self, tables: Iterable[str]) -> dict[str, int]:
		"""The storage engine's estimate of each existing table's rows (``information_schema``, no scan)."""
		names = sorted({validate_identifier(t, "table") for t in tables})
		if not names:
			return {}
		marks = ", ".join(["%s"] * len(names))
		rows = self.db.sql(
			"SELECT table_name, table_rows FROM information_schema.tables "
			f"WHERE table_schema=DATABASE() AND table_name IN ({marks})",
			tuple(names),
		)
		return {name: int(count or 0) for name, count in rows}

	def inspect(self, doctype: str) -> TableInfo:
		"""Columns and indexes of a DocType's table; UnknownDocTypeError if there is no such table."""
		tname = table_name(doctype)
		rows = self.db.sql(
			"SELECT engine FROM information_schema.tables WHERE table_schema=DATABASE() AND table_name=%s",
			(tname,),
		)
		if not rows:
			raise UnknownDocTypeError(
				f"DocType {doctype!r} has no table {tname!r} in database {self.db.database_name!r}"
			)
		columns = tuple(
			r[0]
			for r in self.db.sql(
				"SELECT column_name FROM information_schema.columns WHERE table_schema=DATABASE() "
				"AND table_name=%s ORDER BY ordinal_position",
				(tname,),
			)
		)
		return TableInfo(doctype, tname, columns, table_indexes(self.db, tname), rows[0][0])

	def check_columns(self, doctype: str, columns: Iterable[str]) -> TableInfo:
		"""The table, if every column exists in it; else UnknownColumnError naming the missing ones."""
		info = self.inspect(doctype)
		missing = [validate_identifier(c, "column") for c in columns if c not in info.columns]
		if missing:
			raise UnknownColumnError(f"{info.table} has no column(s) {', '.join(missing)}")
		return info

	# ------------------------------------------------------------------ plan

	def _plan_one(self, spec: IndexSpec, info: TableInfo | None) -> PlanItem:
		if info is None:
			who = f" ({spec.app} is not installed here)" if spec.is_foreign else ""
			return PlanItem(spec, MISSING_TABLE, f"table {spec.table!r} does not exist{who}; skipped")
		missing = [c for c in spec.columns if c not in info.columns]
		if missing:
			return PlanItem(spec, MISSING_COLUMN, f"{spec.table} has no column(s) {', '.join(missing)}")
		same_name = info.indexes.get(spec.name)
		if same_name is not None:
			if same_name.starts_with(spec.columns):
				return PlanItem(
					spec, PRESENT, f"index {spec.name} already covers {_cols(spec.columns)}", spec.name
				)
			return PlanItem(
				spec,
				CONFLICT,
				f"index {spec.name} exists on {_cols(same_name.columns)}, the spec wants {_cols(spec.columns)}; "
				"nothing will be changed",
				spec.name,
			)
		for index in info.indexes.values():
			if index.starts_with(spec.columns):
				return PlanItem(
					spec,
					PRESENT,
					f"satisfied by existing index {index.name} on {_cols(index.columns)}",
					index.name,
				)
		return PlanItem(spec, CREATE, f"no index leads with {_cols(spec.columns)}", ddl=spec.add_index_sql())

	def plan(self, specs: Iterable[IndexSpec]) -> Plan:
		"""What applying ``specs`` would do, compared by columns, not only by name."""
		items = []
		seen: dict[tuple[str, str], IndexSpec] = {}
		tables: dict[str, TableInfo | None] = {}
		for spec in specs:
			if not isinstance(spec, IndexSpec):
				raise InvalidIndexSpecError(f"plan takes IndexSpec objects, got {type(spec).__name__}")
			key = (spec.table, spec.name)
			if key in seen and seen[key].columns != spec.columns:
				items.append(PlanItem(spec, CONFLICT, f"two specs name index {spec.name} on {spec.table}"))
				continue
			seen[key] = spec
			if spec.doctype not in tables:
				tables[spec.doctype] = self.inspect(spec.doctype) if self.table_exists(spec.doctype) else None
			items.append(self._plan_one(spec, tables[spec.doctype]))
		return Plan(tuple(items))

	# ------------------------------------------------------------------ measure and verify

	def measure(self, spec: IndexSpec, repeats: int = INDEX_MEASURE_REPEATS, *, seed: int = 0) -> Measurement:
		"""Run the spec's probe ``repeats`` times with parameters drawn from the data: p50, p95, plan."""
		if spec.probe is None:
			raise InvalidIndexSpecError(f"index {spec.name} has no probe to measure")
		if not isinstance(repeats, int) or repeats < 1:
			raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
		self.check_columns(spec.doctype, spec.columns)
		table = quote_identifier(spec.table, "table")
		rows = int(self.db.sql(f"SELECT COUNT(*) FROM {table}")[0][0])
		params = spec.probe.draw(self.db, repeats, seed)
		result = Measurement(spec.name, spec.table, rows, 0)
		if not params:
			result.note = "no rows to draw probe parameters from"
			return result
		self.db.sql(spec.probe.sql, params[0])  # warm-up: the same page cache for before and after
		times = []
		for values in params:
			start = time.perf_counter()
			self.db.sql(spec.probe.sql, values)
			times.append((time.perf_counter() - start) * 1000)
		times.sort()
		result.runs = len(times)
		result.p50_ms = statistics.median(times)
		result.p95_ms = times[max(0, math.ceil(0.95 * len(times)) - 1)]
		plan = self._analyze(spec, params[0])
		if plan:
			result.key = plan.get("key")
			result.access_type = plan.get("type")
			result.rows_estimated = _num(plan.get("rows"))
			result.rows_examined = _num(plan.get("r_rows"))
		if rows < self.min_rows_for_comparison:
			result.note = f"table has {rows:,} rows: too small for a difference to show"
		return result

	def _analyze(self, spec: IndexSpec, values: tuple) -> dict | None:
		"""MariaDB's ANALYZE of the probe: the chosen key and access type, estimated and actual rows."""
		rows = self.db.sql("ANALYZE " + spec.probe.sql, values, as_dict=True)
		for row in rows:
			if row.get("table") == spec.table:
				return row
		return rows[0] if rows else None

	def verify(self, spec: IndexSpec) -> VerifyResult:
		"""Is the index there (by columns), and does the probe's plan use it?"""
		item = self.plan([spec]).items[0]
		present = item.action == PRESENT
		result = VerifyResult(spec.name, present, item.existing_index if present else None, None, False)
		if not present:
			result.note = item.reason
			return result
		if spec.probe is None:
			result.note = "no probe to check the plan with"
			return result
		params = spec.probe.draw(self.db, 1)
		if not params:
			result.note = "no rows to draw probe parameters from"
			return result
		rows = self.db.sql("EXPLAIN " + spec.probe.sql, params[0], as_dict=True)
		row = next((r for r in rows if r.get("table") == spec.table), rows[0] if rows else {})
		result.probe_key = row.get("key")
		result.access_type = row.get("type")
		result.uses_index = result.probe_key == item.existing_index
		return result

	# ------------------------------------------------------------------ apply

	@property
	def _ddl(self) -> OnlineDDL:
		return OnlineDDL(self.db, self.lock_wait_timeout, self.old_transaction_seconds)

	def pending_writes(self) -> bool | None:
		"""Does this connection's transaction hold uncommitted writes? None if the server won't say."""
		return self._ddl.pending_writes()

	def open_transactions(self, tables: Iterable[str]) -> list[LockHolder]:
		"""Other connections' transactions open for ``old_transaction_seconds`` or longer on this
		database (on ``tables``, where METADATA_LOCK_INFO can tell): they would block DDL on them."""
		return self._ddl.open_transactions(tables)

	def _run_ddl(self, sql: str, on_fraction: Callable[[float], None] | None, table: str) -> float:
		return self._ddl.run(sql, table, on_fraction)

	def apply(
		self,
		plan: Plan,
		*,
		dry_run: bool = False,
		allow_locking: bool = False,
		progress: Progress | None = None,
		measure_repeats: int = INDEX_APPLY_MEASURE_REPEATS,
		wait_for_transactions: bool = False,
	) -> list[ChangeOutcome]:
		"""Add the plan's missing indexes online, measuring each probe before and after.

		A plan with conflicts or missing columns changes nothing (IndexConflictError). Each index
		is re-checked just before its DDL, so applying the same plan twice is a no-op. If an
		index fails, the indexes this call added are dropped again before the error is raised.
		Transactions open for ``old_transaction_seconds`` on the database stop the apply before
		any DDL (OpenTransactionsError) unless ``wait_for_transactions``; each DDL then waits at
		most ``lock_wait_timeout`` for its metadata lock, and a timeout names the holder.
		"""
		problems = plan.problems
		if problems:
			raise IndexConflictError(
				"the plan has problems, nothing was changed: " + "; ".join(p.reason for p in problems)
			)
		outcomes: list[ChangeOutcome] = []
		creates = plan.to_create
		for item in plan.items:
			if item.action != CREATE:
				outcomes.append(ChangeOutcome(item.spec.name, item.spec.table, "skipped", item.reason))
		if dry_run:
			outcomes += [
				ChangeOutcome(i.spec.name, i.spec.table, "would create", i.reason, i.ddl) for i in creates
			]
			return outcomes
		if not creates:
			return outcomes
		self._ddl.refuse_pending_writes()
		if not wait_for_transactions:
			tables = [i.spec.table for i in creates]
			self._ddl.refuse_old_transactions(
				tables, f"the online ALTER TABLE of {', '.join(dict.fromkeys(tables))}"
			)
		log = ChangeLog(self.db)
		with self._ddl.bounded():
			log.ensure()
			return outcomes + self._create(creates, log, allow_locking, progress, measure_repeats)

	def _create(
		self, creates: list[PlanItem], log: ChangeLog, allow_locking: bool, progress, measure_repeats: int
	) -> list[ChangeOutcome]:
		outcomes: list[ChangeOutcome] = []
		created: list[ChangeOutcome] = []
		for step, item in enumerate(creates):
			spec = item.spec
			before = None
			fresh = self._plan_one(spec, self.inspect(spec.doctype))
			if fresh.action != CREATE:
				if fresh.action in BLOCKING:
					failures = self._undo(created, log, f"index {spec.name}: {fresh.reason}")
					if failures:
						raise IndexApplyError(
							f"{fresh.reason}; {_undo_summary(created, failures, 'this apply added')}"
						)
					raise IndexConflictError(
						f"{fresh.reason}; the indexes this apply added were dropped again"
					)
				outcomes.append(ChangeOutcome(spec.name, spec.table, "skipped", fresh.reason))
				continue
			label = f"{spec.table}.{spec.name}"
			outcome = ChangeOutcome(spec.name, spec.table, "created", item.reason)
			try:
				if progress:
					progress(step, len(creates), 0.0, label)
				outcome.before = before = self._measure_quietly(spec, measure_repeats)
				outcome.ddl, outcome.duration_ms, outcome.locking = self._add_index(
					spec,
					allow_locking,
					(lambda f, s=step, lb=label: progress(s, len(creates), f, lb)) if progress else None,
				)
			except BaseException as exc:
				outcome.action = "failed"
				outcome.reason = str(exc) or type(exc).__name__
				outcome.log = log.record(
					action="Apply", outcome="Failed", index_name=spec.name, user=self.user,
					reference_doctype=spec.doctype, table=spec.table, columns=spec.columns, catalog=spec.catalog,
					ddl=spec.add_index_sql(), before=_dict(before), error=outcome.reason,
				)  # fmt: skip
				failures = self._undo(created, log, f"index {spec.name} failed: {outcome.reason}")
				_reraise(
					exc,
					failures,
					f"adding {spec.name} to {spec.table} failed: {outcome.reason}; "
					+ _undo_summary(created, failures, "added earlier in this apply"),
				)
			# The index exists from here on: whatever stops the apply now (a failed measurement, an
			# interrupt) drops it again with the others, so the change log never misses an index.
			created.append(outcome)
			try:
				outcome.after = self._measure_quietly(spec, measure_repeats)
				outcome.log = log.record(
					action="Apply", outcome="Success", index_name=spec.name, user=self.user,
					reference_doctype=spec.doctype, table=spec.table, columns=spec.columns, catalog=spec.catalog,
					created_by_tool=True, duration_ms=outcome.duration_ms, ddl=outcome.ddl,
					before=_dict(before), after=_dict(outcome.after),
				)  # fmt: skip
				outcomes.append(outcome)
				if progress:
					progress(step, len(creates), 1.0, label)
			except BaseException as exc:
				reason = str(exc) or type(exc).__name__
				failures = self._undo(created, log, f"stopped after adding {spec.name}: {reason}")
				_reraise(
					exc,
					failures,
					f"the apply stopped after adding {spec.name} to {spec.table}: {reason}; "
					+ _undo_summary(created, failures, "this apply added"),
				)
		return outcomes

	def _measure_quietly(self, spec: IndexSpec, repeats: int) -> Measurement | None:
		"""Measure for an apply (None without a probe or repeats); end the read transaction after."""
		if not repeats or spec.probe is None:
			return None
		try:
			return self.measure(spec, repeats)
		finally:
			self.db.commit()  # no writes are pending (checked): this only releases the snapshot and locks

	def _add_index(self, spec: IndexSpec, allow_locking: bool, on_fraction) -> tuple[str, float, bool]:
		online = spec.add_index_sql(online=True)
		try:
			return online, self._run_ddl(online, on_fraction, spec.table), False
		except MetadataLockTimeoutError:
			raise
		except Exception as exc:
			if error_code(exc) not in ONLINE_DDL_UNSUPPORTED_CODES:
				raise
			if not allow_locking:
				raise OnlineDDLUnsupportedError(
					f"{spec.table} cannot get index {spec.name} online (ALGORITHM=INPLACE, LOCK=NONE): "
					f"{exc.args[-1]}. Run it in a maintenance window with allow_locking (--allow-locking)"
				) from exc
		locking = spec.add_index_sql(online=False)
		return locking, self._run_ddl(locking, on_fraction, spec.table), True

	def _undo(self, created: list[ChangeOutcome], log: ChangeLog, why: str) -> list[tuple[str, str]]:
		"""Drop the indexes an apply added before it failed, newest first, and log each drop.
		Return (index, error) of those that could not be dropped (a lock holder still in the way)."""
		failures = []
		for outcome in reversed(created):
			sql = drop_index_sql(outcome.table, outcome.index)
			try:
				duration = self._run_ddl(sql, None, outcome.table)
			except MetadataLockTimeoutError as exc:
				failures.append((outcome.index, str(exc)))
				log.record(
					action="Rollback", outcome="Failed", index_name=outcome.index, user=self.user,
					table=outcome.table, ddl=sql, error=f"apply stopped: {why}; the drop failed: {exc}",
				)  # fmt: skip
				continue
			outcome.action = "dropped after failure"
			log.record(
				action="Rollback", outcome="Success", index_name=outcome.index, user=self.user,
				table=outcome.table, duration_ms=duration, ddl=sql, error=f"apply stopped: {why}",
			)  # fmt: skip
		return failures

	# ------------------------------------------------------------------ rollback

	def rollback(
		self,
		index_names: Iterable[str] | None = None,
		*,
		dry_run: bool = False,
		progress: Progress | None = None,
		wait_for_transactions: bool = False,
	) -> list[ChangeOutcome]:
		"""Drop indexes this tool created (per the change log); ``index_names`` limits which.

		An index whose columns changed since the tool created it, or that is gone, is left
		alone and reported. Indexes the log does not show as the tool's are never dropped.
		Old transactions and metadata lock waits are handled as in :meth:`apply`.
		"""
		wanted = None if index_names is None else {validate_identifier(n, "index name") for n in index_names}
		log = ChangeLog(self.db)
		log.ensure()
		entries = [e for e in log.tool_created() if wanted is None or e.index_name in wanted]
		if wanted:
			unknown = wanted - {e.index_name for e in entries}
			if unknown:
				raise UnknownColumnError(
					f"the change log shows no index {', '.join(sorted(unknown))} created by this tool; nothing dropped"
				)
		if dry_run:
			return self._drop(entries, log, True, progress)
		self._ddl.refuse_pending_writes()
		if not wait_for_transactions and entries:
			tables = [validate_identifier(e.table_name, "table") for e in entries]
			self._ddl.refuse_old_transactions(tables, f"the DROP INDEX on {', '.join(dict.fromkeys(tables))}")
		with self._ddl.bounded():
			return self._drop(entries, log, False, progress)

	def _drop(self, entries: list, log: ChangeLog, dry_run: bool, progress) -> list[ChangeOutcome]:
		outcomes = []
		for step, entry in enumerate(entries):
			current = table_indexes(self.db, validate_identifier(entry.table_name, "table"))
			index = current.get(entry.index_name)
			columns = tuple((entry.index_columns or "").split(","))
			if index is None or index.columns != columns:
				reason = (
					"index is gone"
					if index is None
					else f"index now covers {_cols(index.columns)}, not {_cols(columns)}"
				)
				outcomes.append(ChangeOutcome(entry.index_name, entry.table_name, "skipped", reason))
				if not dry_run:
					log.record(
						action="Rollback", outcome="Skipped", index_name=entry.index_name, user=self.user,
						reference_doctype=entry.reference_doctype, table=entry.table_name, columns=columns,
						catalog=entry.catalog, error=reason,
					)  # fmt: skip
				continue
			sql = drop_index_sql(entry.table_name, entry.index_name)
			if dry_run:
				outcomes.append(
					ChangeOutcome(
						entry.index_name, entry.table_name, "would drop", "created by this tool", sql
					)
				)
				continue
			if progress:
				progress(step, len(entries), 0.0, entry.index_name)
			duration = self._run_ddl(sql, None, entry.table_name)
			name = log.record(
				action="Rollback", outcome="Success", index_name=entry.index_name, user=self.user,
				reference_doctype=entry.reference_doctype, table=entry.table_name, columns=columns,
				catalog=entry.catalog, duration_ms=duration, ddl=sql,
			)  # fmt: skip
			outcomes.append(
				ChangeOutcome(
					entry.index_name,
					entry.table_name,
					"dropped",
					"created by this tool",
					sql,
					duration,
					log=name,
				)
			)
			if progress:
				progress(step, len(entries), 1.0, entry.index_name)
		return outcomes

	# ------------------------------------------------------------------ redundancy and status

	def find_redundant(self, doctypes: Iterable[str] | None = None) -> list[RedundantIndex]:
		"""Exact and left-prefix duplicate indexes of ``doctypes`` (default: every table)."""
		tables = None
		if doctypes is not None:
			tables = []
			for doctype in doctypes:
				tables.append(self.inspect(doctype).table)
		return find_redundant(self.db, tables)

	def status(self, specs: Iterable[IndexSpec]) -> dict:
		"""Plain data for monitoring: each spec's state and the last change the tool made to it."""
		plan = self.plan(specs)
		log = ChangeLog(self.db)
		has_log = self.table_exists("Index Change Log")
		last: dict[tuple[str, str], dict] = {}
		if has_log:
			for entry in log.entries(limit=100_000):
				last[(entry.table_name, entry.index_name)] = {
					"action": entry.action,
					"outcome": entry.outcome,
					"at": entry.creation.isoformat() if entry.creation else None,
					"by": entry.performed_by,
				}
		items = []
		for item in plan.items:
			row = item.as_dict()
			row["state"] = {
				PRESENT: "present",
				CREATE: "missing",
				CONFLICT: "conflict",
				MISSING_TABLE: "not applicable",
				MISSING_COLUMN: "missing column",
			}[item.action]
			row["last_change"] = last.get((item.spec.table, item.spec.name))
			items.append(row)
		counts: dict[str, int] = {}
		for row in items:
			counts[row["state"]] = counts.get(row["state"], 0) + 1
		applicable = [r for r in items if r["state"] != "not applicable"]
		return {
			"database": self.db.database_name,
			"healthy": all(r["state"] == "present" for r in applicable),
			"counts": counts,
			"indexes": items,
		}


def _undo_summary(created: list[ChangeOutcome], failures: list[tuple[str, str]], which: str) -> str:
	if not created:
		return "nothing was changed"
	if not failures:
		return f"{len(created)} index(es) {which} were dropped again"
	names = ", ".join(name for name, _ in failures)
	return (
		f"{len(created) - len(failures)} of the {len(created)} index(es) {which} were "
		f"dropped again; {names} could not be ({failures[0][1]}): drop it with rollback once that "
		"connection has ended its transaction"
	)


def _reraise(exc: BaseException, failures: list, message: str) -> None:
	"""Raise what stopped an apply, once the indexes it added are dropped again: the index manager's
	own errors and interrupts (KeyboardInterrupt) as they are (unless an index could not be dropped),
	any other error as IndexApplyError."""
	if not isinstance(exc, Exception):
		raise exc
	if isinstance(exc, OnlineDDLUnsupportedError | IndexConflictError) and not failures:
		raise exc
	raise IndexApplyError(message) from exc


def _cols(columns) -> str:
	return "(" + ", ".join(columns) + ")"


def _num(value) -> float | None:
	try:
		return None if value is None else float(value)
	except (TypeError, ValueError):
		return None


def _dict(measurement: Measurement | None) -> dict | None:
	return measurement.as_dict() if measurement else None
