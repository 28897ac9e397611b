"""One advisor run: read the schema, weigh the shapes, generate candidates, prove them on scratch
copies, and report (suggestions, unused and redundant indexes), leaving nothing behind."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ...db import Database, quote_identifier
from ...defaults import (
	ADVISOR_MAX_CANDIDATES,
	ADVISOR_MAX_COVERING_COLUMNS,
	ADVISOR_MAX_SUGGESTIONS,
	ADVISOR_MIN_SPEEDUP,
	ADVISOR_MIN_TABLE_ROWS,
	ADVISOR_RUNS,
	ADVISOR_SAMPLE_ROWS,
	ADVISOR_STATEMENT_TIMEOUT,
	ADVISOR_WEIGHT_SAMPLES,
)
from ...exceptions import AdvisorPrivilegeError, InvalidIdentifierError, SQLSyntaxError
from ..redundancy import find_redundant, foreign_keys
from .candidates import Candidate, Verdict, generate
from .model import TableSchema, load_table, resolve
from .proof import Prover, Rejected, Run, Suggestion, choose, speedup, verify
from .scratch import ScratchSpace
from .timing import ACCESS_DENIED_CODES, StatementTimeout, error_code, error_text, plan, run_once
from .workload import Problem, Shape, Workload

Progress = Callable[[str], None]
WEIGHING_BUDGET_MS = 1000.0  # a shape is run again to weigh it only while its runs took less than this
WEIGHING_TIMEOUT_S = 3.0  # a statement weighed past this counts this long (a lower bound: heavy enough)


@dataclass(frozen=True)
class AdvisorSettings:
	sample_rows: int = ADVISOR_SAMPLE_ROWS
	min_rows: int = ADVISOR_MIN_TABLE_ROWS
	min_speedup: float = ADVISOR_MIN_SPEEDUP
	runs: int = ADVISOR_RUNS
	max_suggestions: int = ADVISOR_MAX_SUGGESTIONS
	max_candidates: int = ADVISOR_MAX_CANDIDATES
	max_covering_columns: int = ADVISOR_MAX_COVERING_COLUMNS
	weight_samples: int = ADVISOR_WEIGHT_SAMPLES
	timeout_s: float = ADVISOR_STATEMENT_TIMEOUT
	seed: int = 0
	scratch_mode: str | None = None  # None: a scratch database if allowed, else scratch tables

	def __post_init__(self):
		for name in ("sample_rows", "runs", "max_suggestions", "max_candidates", "weight_samples"):
			value = getattr(self, name)
			if not isinstance(value, int) or isinstance(value, bool) or value < 1:
				raise ValueError(f"{name} must be a positive integer, got {value!r}")
		if not isinstance(self.min_rows, int) or self.min_rows < 0:
			raise ValueError(f"min_rows must be 0 or more, got {self.min_rows!r}")
		if not self.min_speedup > 1:
			raise ValueError(f"min_speedup must be above 1, got {self.min_speedup!r}")
		if not self.timeout_s > 0:
			raise ValueError(f"timeout_s must be positive, got {self.timeout_s!r}")

	def as_dict(self) -> dict:
		return dict(vars(self))


@dataclass
class Advice:
	"""The report (plain data) and what ``apply`` needs: the suggestions and their shapes."""

	report: dict
	suggestions: list[Suggestion] = field(default_factory=list)
	shapes: dict[str, Shape] = field(default_factory=dict)


def _denied(exc: BaseException, what: str) -> None:
	"""Raise AdvisorPrivilegeError (one line) if ``exc`` is the server refusing this user."""
	if not isinstance(exc, AdvisorPrivilegeError) and error_code(exc) in ACCESS_DENIED_CODES:
		raise AdvisorPrivilegeError(f"the database user may not {what}: {error_text(exc)}") from exc


def current_database(db: Database) -> str:
	"""The database the connection reads (the server's word: a handle's own name may be a label)."""
	name = db.sql("SELECT DATABASE()")[0][0]
	if not name:
		raise AdvisorPrivilegeError("the connection has no current database: give one (-D)")
	return str(name)


def _load_schemas(
	db: Database, database: str, workload: Workload, settings: AdvisorSettings
) -> dict[str, TableSchema | None]:
	schemas: dict[str, TableSchema | None] = {}
	for shape in workload.shapes:
		for ref in shape.statement.parsed.tables:
			if ref.name in schemas or (ref.schema is not None and ref.schema != database):
				continue
			try:
				schemas[ref.name] = load_table(db, ref.name, exact_below=max(10 * settings.min_rows, 10_000))
			except InvalidIdentifierError:
				schemas[ref.name] = None
			except Exception as exc:
				_denied(exc, f"read table {ref.name}")
				raise
	return schemas


def _drop_shape(workload: Workload, shape: Shape, kind: str, error: str) -> None:
	workload.problems.append(
		Problem(
			kind,
			error,
			" ".join(shape.statement.text.split())[:160],
			line=shape.first_line,
			count=shape.count,
		)
	)


def _prepare(db: Database, database: str, workload: Workload, schemas) -> list[Shape]:
	"""Resolve each shape against the schema and EXPLAIN it on the full tables; drop (and report)
	those the server or the schema rejects."""
	kept = []
	for shape in workload.shapes:
		try:
			shape.uses, shape.notes = resolve(shape.statement.parsed, schemas, database)
		except SQLSyntaxError as exc:
			_drop_shape(workload, shape, "not analysed", str(exc))
			continue
		values = shape.values[0] if shape.values else None
		try:
			shape.plan = plan(db, shape.statement.template(), values, analyze=False)
		except Exception as exc:
			_denied(exc, "run EXPLAIN on the workload's tables")
			_drop_shape(workload, shape, "rejected by the server", error_text(exc))
			continue
		finally:
			db.commit()
		kept.append(shape)
	return kept


def _weigh(db: Database, shapes: list[Shape], workload: Workload, settings: AdvisorSettings) -> str:
	"""Total time per shape: the slow log's, else measured (up to ``weight_samples`` of its
	statements run once each on the full tables, fewer once they took WEIGHING_BUDGET_MS;
	total = median x count)."""
	if workload.from_slow_log:
		for s in shapes:
			s.total_ms, s.weight_source = s.logged_ms, "slow log"
		return "slow log"
	for s in shapes:
		times = []
		sql = s.statement.template()
		for values in s.values[: settings.weight_samples]:
			if sum(times) >= WEIGHING_BUDGET_MS:
				break  # a slow shape: its runs so far weigh it well enough
			limit = min(settings.timeout_s, WEIGHING_TIMEOUT_S)
			try:
				times.append(run_once(db, sql, values, limit))
			except StatementTimeout:
				times.append(limit * 1000)
				s.notes.append(f"its statements run past {limit:g} s: weighed as {limit:g} s each (at least)")
				break
			except Exception as exc:
				_denied(exc, "run the workload's statements")
				raise
			finally:
				db.commit()
		s.total_ms, s.weight_source = statistics.median(times) * s.count, "measured"
	return f"measured (median of up to {settings.weight_samples} runs per shape x count)"


def _used_indexes(shapes: list[Shape]) -> dict[str, set[str]]:
	used: dict[str, set[str]] = {}
	for shape in shapes:
		labels = {u.label: u.table for u in shape.uses}
		for label, row in shape.plan.items():
			table = labels.get(label)
			if table and row.key:
				used.setdefault(table, set()).update(k.strip() for k in str(row.key).split(","))
	return used


def _unused(db: Database, shapes: list[Shape], schemas) -> list[dict]:
	used = _used_indexes(shapes)
	out = []
	for table in sorted({u.table for s in shapes for u in s.uses}):
		schema = schemas[table]
		fks = foreign_keys(db, table)
		for index in schema.indexes.values():
			if index.primary or index.unique or index.name in used.get(table, set()):
				continue
			note = "no shape of this workload used it (EXPLAIN); other statements may"
			if any(index.starts_with(cols) for cols in fks.values()):
				note += "; a foreign key may need it"
			out.append({"table": table, "index": index.name, "columns": list(index.columns), "note": note})
	return out


def _shape_row(shape: Shape, total: float, status: str, detail: str, names: list[str]) -> dict:
	return {
		"id": shape.id,
		"shape": shape.key,
		"count": shape.count,
		"total_ms": shape.total_ms,
		"share": (shape.total_ms or 0.0) / total if total else 0.0,
		"weight_source": shape.weight_source,
		"tables": shape.tables,
		"uses": [u.as_dict() for u in shape.uses],
		"status": status,
		"detail": detail,
		"suggestions": names,
		"notes": shape.notes,
		"plan": {label: row.as_dict() for label, row in shape.plan.items()},
		"first_line": shape.first_line,
	}


def _ddl(candidate: Candidate) -> str:
	cols = ", ".join(quote_identifier(c, "column") for c in candidate.columns)
	return (
		f"ALTER TABLE {quote_identifier(candidate.table, 'table')} ADD INDEX "
		f"{quote_identifier(candidate.name, 'index name')} ({cols}), ALGORITHM=INPLACE, LOCK=NONE"
	)


def _label(shape: Shape, table: str) -> str | None:
	return next((u.label for u in shape.uses if u.table == table), None)


def _suggestion_row(
	s: Suggestion, shapes: dict[str, Shape], total: float, schemas, scratch: ScratchSpace
) -> dict:
	c = s.candidate
	schema = schemas[c.table]
	sample = scratch.sample_rows.get(c.table) or 0
	size = None
	size_note = None
	if s.size_sample_bytes is not None and sample:
		size = int(s.size_sample_bytes * schema.rows / sample)
		size_note = f"measured on the {sample:,}-row copy, scaled to the table"
		if s.size_sample_bytes == 0:
			size, size_note = None, "InnoDB's statistics gave no size for the copy"
	rows = []
	for sid in s.shapes:
		final = s.final.get(sid)
		rows.append(
			{
				"id": sid,
				"label": _label(shapes[sid], c.table),
				"share": (shapes[sid].total_ms or 0.0) / total if total else 0.0,
				"before": s.before[sid].as_dict(),
				"after": s.after[sid].as_dict(),
				"speedup": speedup(s.before[sid], s.after[sid]),
				"with_every_suggestion": {
					"without": final[0].as_dict(),
					"with": final[1].as_dict(),
					"speedup": speedup(*final),
				}
				if final
				else None,
			}
		)
	return {
		"name": c.name,
		"table": c.table,
		"columns": list(c.columns),
		"covering": c.covering,
		"ddl": _ddl(c),
		"shapes": rows,
		"share": sum(r["share"] for r in rows),
		"together_with": s.together_with,
		"round": s.round,
		"estimated_size_bytes": size,
		"size_note": size_note,
		"table_rows": schema.rows,
		"table_rows_exact": schema.rows_exact,
		"sample_rows": sample,
	}


def advise(
	db: Database,
	workload: Workload,
	settings: AdvisorSettings | None = None,
	*,
	progress: Progress | None = None,
) -> Advice:
	"""Suggest indexes for ``workload`` on ``db`` (see the package docstring). The scratch copies
	are dropped before this returns or raises."""
	settings = settings or AdvisorSettings()
	say = progress or (lambda _msg: None)
	started = time.perf_counter()
	phases: dict[str, float] = {}

	def phase(name: str, since: float) -> float:
		now = time.perf_counter()
		phases[name] = round(now - since, 3)
		return now

	database = current_database(db)
	t = time.perf_counter()
	say(
		f"reading the schema of {len({r.name for s in workload.shapes for r in s.statement.parsed.tables})} tables"
	)
	schemas = _load_schemas(db, database, workload, settings)
	shapes = _prepare(db, database, workload, schemas)
	t = phase("schema and EXPLAIN", t)
	say(f"weighing {len(shapes)} shapes")
	weight_source = _weigh(db, shapes, workload, settings)
	t = phase("weighing", t)
	shapes.sort(key=lambda s: (-(s.total_ms or 0.0), -s.count, s.key))
	for k, shape in enumerate(shapes, 1):
		shape.id = f"S{k}"
	by_id = {s.id: s for s in shapes}
	total = sum(s.total_ms or 0.0 for s in shapes)
	candidates, verdicts = generate(
		shapes, schemas, min_rows=settings.min_rows, max_covering_columns=settings.max_covering_columns
	)
	unproven = candidates[settings.max_candidates :]
	candidates = candidates[: settings.max_candidates]
	t = phase("candidates", t)
	suggestions: list[Suggestion] = []
	rejected: list[Rejected] = []
	scratch = ScratchSpace(db, mode=settings.scratch_mode)
	baseline: dict[str, Run] = {}
	if candidates:
		say(f"proving {len(candidates)} candidates on scratch copies")
		involved = {sid for c in candidates for sid in c.serves}
		try:
			scratch.open()
			prover = Prover(
				db,
				scratch,
				{sid: by_id[sid] for sid in sorted(involved)},
				{name: s for name, s in schemas.items() if s is not None},
				runs=settings.runs,
				timeout_s=settings.timeout_s,
				seed=settings.seed,
				min_speedup=settings.min_speedup,
			)
			prover.prepare(settings.sample_rows, settings.seed)
			t = phase("scratch copies", t)
			baseline = prover.baseline
			suggestions, rejected = choose(prover, candidates)
			suggestions.sort(key=lambda s: -sum(by_id[sid].total_ms or 0.0 for sid in s.shapes))
			dropped = suggestions[settings.max_suggestions :]
			suggestions = suggestions[: settings.max_suggestions]
			for s in dropped:
				rejected.append(
					Rejected(s.candidate, None, f"past --max-suggestions {settings.max_suggestions}")
				)
			verify(prover, suggestions)
		except Exception as exc:
			_denied(exc, "build the advisor's scratch copies")
			raise
		finally:
			scratch.close()
	t = phase("proof", t)
	say("looking for unused and redundant indexes")
	tables = sorted({u.table for s in shapes for u in s.uses})
	unused = _unused(db, shapes, schemas)
	redundant = [r.as_dict() for r in find_redundant(db, tables)] if tables else []
	db.commit()
	phase("unused and redundant", t)

	suggested_for: dict[str, list[str]] = {}
	for s in suggestions:
		for sid in s.shapes:
			suggested_for.setdefault(sid, []).append(s.candidate.name)
	verdict_of: dict[str, list[Verdict]] = {}
	for v in verdicts:
		verdict_of.setdefault(v.shape, []).append(v)
	shape_rows = []
	for shape in shapes:
		names = suggested_for.get(shape.id, [])
		own = verdict_of.get(shape.id, [])
		base = baseline.get(shape.id)
		if names:
			status, detail = "suggested", ", ".join(names)
		elif own and len(own) == len(shape.uses):
			kinds = {v.reason for v in own}
			status = (
				"served" if kinds == {"served"} else ("too small" if kinds == {"too small"} else "no index")
			)
			detail = "; ".join(v.detail for v in own)
		elif base is not None and base.error:
			status, detail = "not proven", f"fails on the scratch copy: {base.error}"
		elif shape.id in {sid for c in candidates for sid in c.serves}:
			status = "not proven"
			detail = f"no candidate made it {settings.min_speedup:g}x faster on the sample"
		elif shape.id in {sid for c in unproven for sid in c.serves}:
			status, detail = (
				"not proven",
				f"its candidates were past --max-candidates {settings.max_candidates}",
			)
		else:
			status = "no index"
			detail = (
				"; ".join(v.detail for v in own)
				or "no condition, join, order or grouping an index could serve"
			)
		if shape.notes and status != "suggested":
			detail += " (" + "; ".join(shape.notes[:2]) + ")"
		shape_rows.append(_shape_row(shape, total, status, detail, names))
	report = {
		"database": database,
		"source": workload.source,
		"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
		"seconds": round(time.perf_counter() - started, 3),
		"settings": settings.as_dict(),
		"workload": {
			"statements": workload.statements,
			"analysed_statements": sum(s.count for s in shapes),
			"shapes": len(shapes),
			"total_ms": total,
			"weight_source": weight_source,
			"problems": [p.as_dict() for p in workload.problems],
			"unlisted_problems": workload.unlisted_problems,
			"notes": workload.notes,
		},
		"shapes": shape_rows,
		"suggestions": [_suggestion_row(s, by_id, total, schemas, scratch) for s in suggestions],
		"rejected": [
			{
				"name": r.candidate.name,
				"table": r.candidate.table,
				"columns": list(r.candidate.columns),
				"best_speedup": r.best,
				"reason": r.reason,
				"error": r.error,
			}
			for r in rejected
		]
		+ [
			{
				"name": c.name,
				"table": c.table,
				"columns": list(c.columns),
				"best_speedup": None,
				"reason": f"not proven: past --max-candidates {settings.max_candidates}",
				"error": None,
			}
			for c in unproven
		],  # fmt: skip
		"unused_indexes": unused,
		"redundant_indexes": redundant,
		"scratch": scratch.describe(),
		"phases": phases,
	}
	return Advice(report, suggestions, by_id)
