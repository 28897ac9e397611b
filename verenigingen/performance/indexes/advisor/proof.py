"""Proving candidates for real: MariaDB has no hypothetical indexes, so each candidate is built on
the scratch copies and the shapes it may serve are timed with and without it.

Every shape runs with the same parameter tuples (drawn, seeded, from the workload's own values)
before and after: p50 over the runs, and ANALYZE's access type and rows. A candidate is suggested
only if it makes a shape at least ``min_speedup`` times faster. Among candidates that do, a greedy
choice keeps the fewest indexes that serve the most workload time: a candidate serves a shape
"well" if it is within twice the best candidate's time for it, so one index serving several
shapes wins over one index each, and a covering index wins only where it is really faster, or
where the plain one would look up many rows on the full table (the copy fits in memory; the full
table may not, and its lookups become random reads). A join
gets a second round: with the indexes chosen so far in place, an index on its other table that
makes it ``min_speedup`` times faster again is suggested too, and a join no single index speeds up
enough is tried with the best index on each of its tables together.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field

from ...db import Database
from .candidates import Candidate
from .model import TableSchema
from .scratch import ScratchSpace
from .timing import PlanRow, Timing, error_text, plan, time_pair, time_statement
from .workload import Shape

MIN_GAIN_MS = 0.5  # an index must save at least this much per run to count as faster (below it: noise)
MANY_LOOKUPS = 1_000  # row lookups a plain index would make per run on the full table, from which a
# proven covering variant is preferred: the copy fits in memory, the full table may not (random reads)
GOOD_SLACK = 2.0  # a candidate serves a shape well within this factor of the best candidate's time ...
GOOD_SLACK_MS = (
	1.0  # ... plus this many milliseconds (a millisecond either way is no reason for another index)
)


@dataclass
class Run:
	"""A shape timed on the scratch copies under one set of indexes."""

	timing: Timing
	plan: dict[str, PlanRow] = field(default_factory=dict)
	error: str | None = None

	@property
	def p50_ms(self) -> float | None:
		return self.timing.p50_ms if self.error is None else None

	def as_dict(self, labels: dict[str, str] | None = None) -> dict:
		rows = {labels.get(k, k) if labels else k: v.as_dict() for k, v in self.plan.items()}
		return {
			"p50_ms": self.p50_ms,
			"runs": self.timing.runs,
			"timed_out": self.timing.timed_out,
			"plan": rows,
			"error": self.error,
		}


def speedup(before: Run | None, after: Run | None) -> float | None:
	if before is None or after is None or before.p50_ms is None or after.p50_ms is None:
		return None
	return before.p50_ms / max(after.p50_ms, 1e-3)


@dataclass
class Suggestion:
	candidate: Candidate
	shapes: list[str]  # shapes it serves, heaviest first
	before: dict[str, Run]  # the baseline it was proven against, per shape
	after: dict[str, Run]  # with it (and ``together_with``) in place, per shape
	together_with: list[str] = field(default_factory=list)  # indexes in place while it was proven
	round: int = 1
	size_sample_bytes: int | None = None
	final: dict[str, tuple[Run, Run]] = field(default_factory=dict)  # without / with every suggestion


@dataclass
class Rejected:
	candidate: Candidate
	best: float | None  # its best speed-up on any shape
	reason: str
	error: str | None = None


Pair = tuple[Run, Run]  # (without, with) the indexes under test, timed in turns


class Prover:
	"""Times shapes on the scratch copies with and without candidate indexes.

	"Without" is the same statement with ``IGNORE INDEX`` naming the indexes under test, run in
	turns with the plain one while the indexes are in place: both see the same load on the
	machine, so a busy neighbour cannot fake (or hide) a speed-up.
	"""

	def __init__(
		self,
		db: Database,
		scratch: ScratchSpace,
		shapes: dict[str, Shape],
		schemas: dict[str, TableSchema],
		*,
		runs: int,
		timeout_s: float,
		seed: int,
		min_speedup: float,
	):
		self.db = db
		self.scratch = scratch
		self.shapes = shapes
		self.schemas = schemas
		self.runs = runs
		self.timeout_s = timeout_s
		self.min_speedup = min_speedup
		self.params = {sid: s.draw(runs, seed) for sid, s in shapes.items()}
		self.baseline: dict[str, Run] = {}
		self.sizes: dict[tuple[str, tuple], int] = {}
		self.errors: dict[str, str] = {}  # candidate name -> why it could not be built

	def prepare(self, sample_rows: int, seed: int) -> None:
		"""Copy every table of the shapes, so that the sample serves the workload as the full
		table would: first the rows its equality conditions ask for (the drawn values), then the
		rows joined to those already copied, then random rows up to ``sample_rows``. Then run each
		shape once without any candidate (ANALYZE: its plan, and whether it runs at all)."""
		seeds: dict[str, dict[str, set]] = {}
		edges: dict[str, set[tuple[str, str, str]]] = {}
		for sid, shape in self.shapes.items():
			for use in shape.uses:
				for column, slots in use.eq_slots.items():
					found = seeds.setdefault(use.table, {}).setdefault(column, set())
					for params in self.params[sid]:
						for slot in slots:
							value = params[slot] if slot < len(params) else None
							found.update(value if isinstance(value, tuple) else (value,))
				edges.setdefault(use.table, set()).update(use.join_pairs)
		tables = sorted(
			{t for s in self.shapes.values() for t in s.tables}, key=lambda t: (t not in seeds, t)
		)
		done: list[str] = []
		while tables:
			# next: a table joined to one already copied (its rows follow the copied ones), else the first
			table = next((t for t in tables if any(o in done for _, o, _ in edges.get(t, ()))), tables[0])
			tables.remove(table)
			schema = self.schemas[table]
			stored = [c.name for c in schema.columns.values() if not c.generated]
			joins = [
				(column, other, other_column)
				for column, other, other_column in sorted(edges.get(table, ()))
				if other in done
			]
			values = {
				c: sorted((v for v in vs if v is not None), key=repr)
				for c, vs in seeds.get(table, {}).items()
			}
			self.scratch.copy(
				table, stored, rows=schema.rows, limit=sample_rows, seed=seed, seeds=values, joins=joins
			)
			done.append(table)
		for sid in self.shapes:
			self.baseline[sid] = self.run(sid, once=True)

	def sql(self, sid: str, ignore: dict[str, list[str]] | None = None) -> str:
		"""The shape's statement on the copies, ignoring ``ignore`` (table -> index names)."""
		shape = self.shapes[sid]
		tables = shape.statement.parsed.tables
		refs = {k: self.scratch.copies[t.name] for k, t in enumerate(tables)}
		hints = {k: ignore[t.name] for k, t in enumerate(tables) if ignore and ignore.get(t.name)}
		return shape.statement.template(refs, hints)

	def run(self, sid: str, *, once: bool = False) -> Run:
		"""The shape on the copies as they are: p50 over its parameter tuples (one run with
		``once``), and ANALYZE's plan."""
		params = self.params[sid]
		sql = self.sql(sid)
		try:
			timing = time_statement(
				self.db, sql, params[:1] if once else params, self.timeout_s, warmup=not once
			)
			rows = plan(self.db, sql, params[0] if params else None, analyze=not timing.timed_out)
		except Exception as exc:  # the statement fails on the copy: report it with the server's words
			return Run(Timing(), {}, error_text(exc))
		finally:
			self.db.commit()  # end the read snapshot
		return Run(timing, rows)

	def pair(self, sid: str, under_test: list[Candidate], *, full: bool = False) -> Pair:
		"""The shape without (IGNORE INDEX) and with the indexes ``under_test``, timed in turns.
		Timing stops early once the verdict is clear, unless ``full``; the plan without them is
		the baseline's (the same plan) unless ``full``."""
		params = self.params[sid]
		ignore: dict[str, list[str]] = {}
		for c in under_test:
			ignore.setdefault(c.table, []).append(c.name)
		without, with_ = self.sql(sid, ignore), self.sql(sid)
		first = params[0] if params else None
		try:
			before, after = time_pair(
				self.db,
				without,
				with_,
				params,
				self.timeout_s,
				threshold=None if full else self.min_speedup,
				warm_before=full,
			)
			before_plan = (
				plan(self.db, without, first, analyze=not before.timed_out)
				if full or sid not in self.baseline
				else self.baseline[sid].plan
			)
			runs = (
				Run(before, before_plan),
				Run(after, plan(self.db, with_, first, analyze=not after.timed_out)),
			)
		except Exception as exc:
			failed = Run(Timing(), {}, error_text(exc))
			runs = (failed, failed)
		finally:
			self.db.commit()
		return runs

	@contextmanager
	def indexes(self, candidates: list[Candidate]):
		"""``candidates`` built on the copies for the duration of the block."""
		added = []
		try:
			for c in candidates:
				before = self.scratch.index_bytes(c.table)
				self.scratch.add_index(c.table, c.name, c.columns)
				added.append(c)
				self.scratch.analyze(c.table)
				self.sizes.setdefault(
					(c.table, c.columns), max(0, self.scratch.index_bytes(c.table) - before)
				)
			yield
		finally:
			for c in reversed(added):
				self.scratch.drop_index(c.table, c.name)

	def full_table_lookups(self, candidate: Candidate, sid: str, after: Run) -> float:
		"""Rows the shape reads through ``candidate`` per run, scaled from the copy to the full
		table (0 where the plan reads the index alone: "Using index")."""
		label = next((u.label for u in self.shapes[sid].uses if u.table == candidate.table), None)
		row = after.plan.get(label) if label else None
		if (
			row is None
			or row.key != candidate.name
			or "Using index" in str(row.extra or "").replace("Using index condition", "")
		):
			return 0.0
		rows = row.r_rows if row.r_rows is not None else (row.rows or 0.0)
		sample = self.scratch.sample_rows.get(candidate.table) or 1
		return rows * max(1.0, self.schemas[candidate.table].rows / sample)

	def evaluate(self, candidate: Candidate, sids, base: list[Candidate] = ()) -> dict[str, Pair]:
		"""The shapes ``sids`` without and with ``candidate``, on top of ``base`` (in place for both)."""
		try:
			with self.indexes([*base, candidate]):
				return {sid: self.pair(sid, [candidate]) for sid in sids}
		except Exception as exc:  # the index cannot be built on the copy (key too long, ...)
			self.errors.setdefault(candidate.name, error_text(exc))
			return {}


def _weight(shapes: dict[str, Shape], sid: str) -> float:
	return shapes[sid].total_ms or 0.0


def _ratio(pair: Pair | None) -> float | None:
	"""The pair's speed-up; 1.0 where the index saves less than MIN_GAIN_MS (no gain worth an index)."""
	if not pair:
		return None
	ratio = speedup(*pair)
	if ratio is not None and pair[0].p50_ms - pair[1].p50_ms < MIN_GAIN_MS:
		return min(ratio, 1.0)
	return ratio


def choose(prover: Prover, candidates: list[Candidate]) -> tuple[list[Suggestion], list[Rejected]]:
	"""Prove ``candidates`` and choose the suggestions (see the module's docstring)."""
	shapes = prover.shapes
	base = prover.baseline
	min_speedup = prover.min_speedup
	results: dict[str, dict[str, Pair]] = {}
	for c in candidates:
		sids = sorted(s for s in c.serves if s in shapes and base[s].p50_ms is not None)
		results[c.name] = prover.evaluate(c, sids) if sids else {}

	def fast(cname, sid):
		return (_ratio(results[cname].get(sid)) or 0.0) >= min_speedup

	best_after: dict[str, float] = {}
	for c in candidates:
		for sid, (_before, after) in results[c.name].items():
			if fast(c.name, sid):
				best_after[sid] = min(best_after.get(sid, float("inf")), after.p50_ms)

	by_name = {c.name: c for c in candidates}
	covered_fast = {
		(c.table, sid) for c in candidates if c.covering for sid in results[c.name] if fast(c.name, sid)
	}

	def good(cname, sid):
		return (
			sid in best_after
			and fast(cname, sid)
			and results[cname][sid][1].p50_ms <= GOOD_SLACK * best_after[sid] + GOOD_SLACK_MS
			and not (
				(by_name[cname].table, sid) in covered_fast
				and prover.full_table_lookups(by_name[cname], sid, results[cname][sid][1]) >= MANY_LOOKUPS
			)
		)

	suggestions: list[Suggestion] = []
	open_shapes = set(best_after)
	chosen_names: set[str] = set()
	while open_shapes:
		scored = []
		for c in candidates:
			if c.name in chosen_names:
				continue
			served = [s for s in open_shapes if good(c.name, s)]
			if not served:
				continue
			gain = sum(_ratio(results[c.name][s]) for s in served)
			scored.append(
				((sum(_weight(shapes, s) for s in served), len(served)), -len(c.columns), gain, c, served)
			)
		if not scored:
			break
		scored.sort(key=lambda x: (x[0], x[1], x[2]), reverse=True)
		_, _, _, c, served = scored[0]
		served.sort(key=lambda s: (-_weight(shapes, s), s))
		pairs = results[c.name]
		suggestions.append(
			Suggestion(c, served, {s: pairs[s][0] for s in served}, {s: pairs[s][1] for s in served})
		)
		chosen_names.add(c.name)
		open_shapes -= set(served)

	_merge_prefixes(suggestions, chosen_names, results, min_speedup)
	_second_round(prover, candidates, suggestions, chosen_names, results)
	rejected = []
	for c in candidates:
		if c.name in chosen_names:
			continue
		best = max((r for r in map(_ratio, results[c.name].values()) if r is not None), default=None)
		if c.name in prover.errors:
			reason = "could not be built on the copy"
		elif best is not None and best >= min_speedup:
			reason = "another suggestion serves its shapes as well"
		else:
			reason = f"not {min_speedup:g}x faster on any shape"
		rejected.append(Rejected(c, best, reason, prover.errors.get(c.name)))
	return suggestions, rejected


def _merge_prefixes(
	suggestions: list[Suggestion], chosen_names: set[str], results, min_speedup: float
) -> None:
	"""A chosen index that is a left prefix of another chosen one on the same table would be the
	redundant index the manager reports: its shapes go to the longer one wherever that one was
	proven ``min_speedup`` times faster for them too."""
	for short in sorted(suggestions, key=lambda s: len(s.candidate.columns)):
		longer = [
			s
			for s in suggestions
			if s is not short
			and s.candidate.table == short.candidate.table
			and len(s.candidate.columns) > len(short.candidate.columns)
			and s.candidate.columns[: len(short.candidate.columns)] == short.candidate.columns
		]
		for target in longer:
			pairs = results.get(target.candidate.name, {})
			if all((_ratio(pairs.get(sid)) or 0.0) >= min_speedup for sid in short.shapes):
				for sid in short.shapes:
					if sid not in target.shapes:
						target.shapes.append(sid)
						target.before[sid], target.after[sid] = pairs[sid]
				suggestions.remove(short)
				chosen_names.discard(short.candidate.name)
				break


def _second_round(prover: Prover, candidates, suggestions, chosen_names, results) -> None:
	"""Joins: an index on another table of the join, on top of the ones chosen; or a pair."""
	shapes = prover.shapes
	base = prover.baseline
	for sid in sorted(shapes, key=lambda s: int(s[1:])):
		shape = shapes[sid]
		if len(shape.uses) < 2 or base[sid].p50_ms is None:
			continue
		in_place = [s.candidate for s in suggestions if s.candidate.table in shape.tables]
		served_tables = {s.candidate.table for s in suggestions if sid in s.shapes}
		# tables with a chosen index that may serve this shape (its own, or one it is a prefix of)
		covered = served_tables | {p.table for p in in_place if sid in p.serves}
		own = [
			c for c in candidates if sid in c.serves and c.name not in chosen_names and c.table not in covered
		]
		if not own:
			continue
		if served_tables:
			best = None
			for c in own:
				pair = prover.evaluate(c, [sid], base=in_place).get(sid)
				ratio = _ratio(pair)
				if (
					ratio is not None
					and ratio >= prover.min_speedup
					and (best is None or pair[1].p50_ms < best[1][1].p50_ms)
				):
					best = (c, pair)
			if best:
				c, (before, after) = best
				suggestions.append(
					Suggestion(c, [sid], {sid: before}, {sid: after}, [p.name for p in in_place], round=2)
				)
				chosen_names.add(c.name)
			continue
		# no suggestion serves it: the best candidate of each of its tables, together
		per_table: dict[str, Candidate] = {}
		for c in own:
			pair = results.get(c.name, {}).get(sid)
			if pair is None or pair[1].p50_ms is None:
				continue
			current = per_table.get(c.table)
			if current is None or pair[1].p50_ms < results[current.name][sid][1].p50_ms:
				per_table[c.table] = c
		together = list(per_table.values())
		if len(together) < 2:
			continue
		try:
			with prover.indexes(together):
				before, after = prover.pair(sid, together)
		except Exception as exc:
			prover.errors.setdefault(together[-1].name, error_text(exc))
			continue
		ratio = _ratio((before, after))
		if ratio is None or ratio < prover.min_speedup:
			continue
		for c in together:
			others = [p.name for p in together if p is not c]
			suggestions.append(Suggestion(c, [sid], {sid: before}, {sid: after}, others, round=2))
			chosen_names.add(c.name)


def verify(prover: Prover, suggestions: list[Suggestion]) -> None:
	"""Every suggestion in place at once: each served shape timed without and with all of them
	(``Suggestion.final``: the "with" run)."""
	if not suggestions:
		return
	everything = [s.candidate for s in suggestions]
	with prover.indexes(everything):
		finals = {}
		for sid in sorted({sid for s in suggestions for sid in s.shapes}):
			tables = set(prover.shapes[sid].tables)
			finals[sid] = prover.pair(sid, [c for c in everything if c.table in tables], full=True)
	for s in suggestions:
		s.final = {sid: finals[sid] for sid in s.shapes}
		s.size_sample_bytes = prover.sizes.get((s.candidate.table, s.candidate.columns))
