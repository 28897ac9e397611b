"""Applying the advisor's suggestions through the index manager (online DDL, the change log,
rollback), each served shape measured on the full table before and after.

A suggestion becomes an :class:`~..spec.IndexSpec` of catalog ``advisor`` whose probe is the
heaviest single-table shape it serves (none for a join), run with the workload's own values
(:class:`WorkloadProbe`), so the manager's before/after measurement and its change log entry
speak of the real query. Tables that
are not a Frappe DocType's (``tab...``) are left out: the manager works on DocTypes, so their DDL
is reported to run by hand.
"""

from dataclasses import dataclass

from ...db import Database
from ...defaults import INDEX_APPLY_MEASURE_REPEATS
from ..manager import IndexManager
from ..spec import IndexSpec, Probe
from .pipeline import Advice, AdvisorSettings
from .timing import Timing, time_pair

CATALOG = "advisor"
NO_SAMPLE_SQL = "SELECT NULL LIMIT %s"  # WorkloadProbe draws from the workload's values, not from SQL


@dataclass(frozen=True)
class WorkloadProbe(Probe):
	"""A probe whose parameter tuples are the workload's own values for the shape."""

	values: tuple = ()

	def candidates(self, db: Database) -> list[tuple]:
		return [tuple(v) for v in self.values]


def spec_for(advice: Advice, name: str) -> IndexSpec | None:
	"""The IndexSpec of suggestion ``name`` (None if its table is not a DocType's)."""
	suggestion = next(s for s in advice.suggestions if s.candidate.name == name)
	c = suggestion.candidate
	if not c.table.startswith("tab") or len(c.table) <= 3:
		return None
	# The probe: the heaviest shape it serves that reads its table alone. A join gets none: the
	# manager times its probe without a time limit, and a join on the full tables before its
	# other indexes exist can take minutes a run (apply_advice times every shape, bounded).
	served = [advice.shapes[sid] for sid in suggestion.shapes]
	shape = next((sh for sh in served if len(sh.uses) == 1), None)
	probe = None
	if shape is not None and shape.statement.values:
		probe = WorkloadProbe(shape.statement.template(), NO_SAMPLE_SQL, values=tuple(shape.values))
	shares = ", ".join(suggestion.shapes)
	return IndexSpec(
		name=c.name,
		doctype=c.table[3:],
		columns=c.columns,
		purpose=f"index advisor: serves workload shapes {shares}",
		probe=probe,
		catalog=CATALOG,
	)


def _time_full(db: Database, advice: Advice, sid: str, settings: AdvisorSettings, new: dict[str, list[str]]):
	"""The shape on the full tables without (IGNORE INDEX) and with the indexes just added, in turns."""
	shape = advice.shapes[sid]
	tables = shape.statement.parsed.tables
	ignore = {k: new[t.name] for k, t in enumerate(tables) if new.get(t.name)}
	try:
		return time_pair(
			db,
			shape.statement.template(None, ignore),
			shape.statement.template(),
			shape.draw(settings.runs, settings.seed),
			settings.timeout_s,
		)
	finally:
		db.commit()


def apply_advice(
	db: Database,
	advice: Advice,
	*,
	user: str = "Administrator",
	settings: AdvisorSettings | None = None,
	allow_locking: bool = False,
	measure_repeats: int = INDEX_APPLY_MEASURE_REPEATS,
	progress=None,
	manager: IndexManager | None = None,
	wait_for_transactions: bool = False,
) -> list[dict]:
	"""Add the suggested indexes online through the index manager (which measures each one's probe
	before and after its DDL, into its change log). Then every shape they serve is timed on the
	full tables without (``IGNORE INDEX``) and with the new indexes, run in turns so both see the
	same load. Returns one row per suggestion (also ``advice.report["applied"]``). A failure
	half-way drops what this apply added (the manager's rule) and raises. ``manager`` is one with
	the caller's lock wait timeout and old-transaction threshold (default: the manager's defaults,
	acting as ``user``)."""
	settings = settings or AdvisorSettings()
	rows = []
	specs = []
	for s in advice.suggestions:
		spec = spec_for(advice, s.candidate.name)
		if spec is None:
			rows.append(
				{
					"index": s.candidate.name,
					"table": s.candidate.table,
					"action": "skipped",
					"reason": "not a Frappe DocType table (tab...): run the suggested DDL by hand",
					"shapes": [],
				}
			)
			continue
		specs.append((s, spec))
	manager = manager or IndexManager(db, user=user)
	plan = manager.plan([spec for _, spec in specs])
	outcomes = {}
	if specs:
		applied = manager.apply(
			plan, allow_locking=allow_locking, progress=progress, measure_repeats=measure_repeats
		)
		outcomes = {o.index: o for o in applied}
	new: dict[str, list[str]] = {}
	for _, spec in specs:
		outcome = outcomes.get(spec.name)
		if outcome is not None and outcome.action == "created":
			new.setdefault(spec.table, []).append(spec.name)
	sids = sorted({sid for s, _ in specs for sid in s.shapes}, key=lambda x: int(x[1:]))
	timed = {sid: _time_full(db, advice, sid, settings, new) for sid in sids}
	for s, spec in specs:
		outcome = outcomes.get(spec.name)
		shapes = []
		for sid in s.shapes:
			b, a = timed[sid]
			shapes.append(
				{
					"id": sid,
					"before_ms": b.p50_ms,
					"after_ms": a.p50_ms,
					"speedup": _ratio(b, a),
					"before_timed_out": b.timed_out,  # then before_ms is the time limit: a lower bound
					"runs": a.runs,
				}
			)
		rows.append(
			{
				"index": spec.name,
				"table": spec.table,
				"action": outcome.action if outcome else "skipped",
				"reason": outcome.reason if outcome else "",
				"ddl": outcome.ddl if outcome else None,
				"duration_ms": outcome.duration_ms if outcome else None,
				"log": outcome.log if outcome else None,
				"probe": outcome.as_dict()["comparison"] if outcome else None,
				"shapes": shapes,
			}
		)
	advice.report["applied"] = rows
	return rows


def _ratio(before: Timing, after: Timing) -> float | None:
	if before.p50_ms is None or after.p50_ms is None:
		return None
	return before.p50_ms / max(after.p50_ms, 1e-3)
