"""Timing a statement with parameters: p50 over runs, bounded by ``max_statement_time``, and the
plan MariaDB's ANALYZE (it runs the statement) or EXPLAIN reports for each table."""

import statistics
import time
from dataclasses import dataclass, field

from ...db import Database

STATEMENT_TIMEOUT_CODE = 1969  # ER_STATEMENT_TIMEOUT: max_statement_time exceeded
ACCESS_DENIED_CODES = (1044, 1045, 1142, 1143, 1227, 1370)


def error_code(exc: BaseException) -> int | None:
	"""The server's error number of ``exc`` or of the error it wraps (Frappe wraps some)."""
	seen = 0
	while exc is not None and seen < 5:
		args = getattr(exc, "args", ())
		if args and isinstance(args[0], int):
			return args[0]
		if args and isinstance(args[0], BaseException):
			exc = args[0]
		else:
			exc = exc.__cause__
		seen += 1
	return None


def error_text(exc: BaseException) -> str:
	args = getattr(exc, "args", ())
	return str(args[-1]) if args else str(exc)


def bounded(sql: str, timeout_s: float) -> str:
	"""``sql`` under MariaDB's per-statement time limit (``SET STATEMENT max_statement_time=...``)."""
	return f"SET STATEMENT max_statement_time={float(timeout_s):g} FOR {sql}"


class StatementTimeout(Exception):
	"""A timed statement ran past its limit."""


def run_once(db: Database, sql: str, values, timeout_s: float) -> float:
	"""Run ``sql`` once, fetching every row; return milliseconds. StatementTimeout past the limit."""
	start = time.perf_counter()
	try:
		db.sql(bounded(sql, timeout_s), values if values else None)
	except Exception as exc:
		if error_code(exc) == STATEMENT_TIMEOUT_CODE:
			raise StatementTimeout(f"ran past {timeout_s:g} s") from exc
		raise
	return (time.perf_counter() - start) * 1000


@dataclass
class Timing:
	"""A statement run once per parameter tuple (after one warm-up run)."""

	runs: int = 0
	p50_ms: float | None = None
	times_ms: list[float] = field(default_factory=list, repr=False)
	timed_out: bool = False
	note: str | None = None

	def as_dict(self) -> dict:
		return {"runs": self.runs, "p50_ms": self.p50_ms, "timed_out": self.timed_out, "note": self.note}


FAST_ROUNDS = 4  # a statement whose runs over all parameter tuples take under FAST_TOTAL_MS is run ...
FAST_TOTAL_MS = 25.0  # ... up to this many rounds: a p50 of a few sub-millisecond runs is mostly noise


def time_statement(db: Database, sql: str, params: list, timeout_s: float, *, warmup: bool = True) -> Timing:
	"""p50 of ``sql`` over ``params`` (one run each, more rounds of them for a fast statement); a run
	past the limit stops the timing."""
	result = Timing()
	if not params:
		result.note = "no parameter values to run it with"
		return result
	try:
		if warmup:
			run_once(db, sql, params[0], timeout_s)
		for _round in range(FAST_ROUNDS):
			for values in params:
				result.times_ms.append(run_once(db, sql, values, timeout_s))
			if sum(result.times_ms) >= FAST_TOTAL_MS:
				break
	except StatementTimeout:
		result.timed_out = True
		result.note = f"ran past the {timeout_s:g} s limit"
		result.times_ms.append(timeout_s * 1000)
	result.runs = len(result.times_ms)
	result.p50_ms = statistics.median(result.times_ms)
	return result


def _run_into(
	db: Database, sql: str, values, timeout_s: float, timing: Timing, *, record: bool = True
) -> None:
	"""One run of ``sql`` added to ``timing``; a run past the limit marks it timed out (and is not
	repeated: every later run of it would be as slow)."""
	if timing.timed_out:
		return
	try:
		ms = run_once(db, sql, values, timeout_s)
	except StatementTimeout:
		timing.timed_out = True
		timing.note = f"ran past the {timeout_s:g} s limit"
		timing.times_ms.append(timeout_s * 1000)
		return
	if record:
		timing.times_ms.append(ms)


CLEAR_AFTER = 3  # pairs after which timing stops early if the verdict on the threshold is already clear
PAIR_BUDGET_MS = 800.0  # ... or once the pairs so far took this long (a slow statement: its p50 of 3+ runs)


CLEAR_MARGIN = 1.25  # every comparison must clear the threshold by this factor for an early verdict


def _clear(before: list[float], after: list[float], threshold: float) -> bool:
	"""True when every comparison of the runs so far falls on the same side of ``threshold`` with
	a margin: even the fastest run without the index over the slowest with it beats
	``threshold x CLEAR_MARGIN``, or even the slowest without over the fastest with stays under
	``threshold / CLEAR_MARGIN``."""
	if len(before) < CLEAR_AFTER or len(after) < CLEAR_AFTER:
		return False
	fastest_after, slowest_after = max(min(after), 1e-3), max(max(after), 1e-3)
	return (
		min(before) >= threshold * CLEAR_MARGIN * slowest_after
		or max(before) <= threshold / CLEAR_MARGIN * fastest_after
	)


def time_pair(
	db: Database,
	before_sql: str,
	after_sql: str,
	params: list,
	timeout_s: float,
	*,
	threshold: float | None = None,
	warm_before: bool = True,
) -> tuple[Timing, Timing]:
	"""Two forms of a statement (without and with an index) timed run by run in turns, so both see
	the same load on the machine: their p50s, over the same parameter tuples. With ``threshold``,
	timing stops once the runs clearly say whether the speed-up reaches it (see :func:`_clear`), or
	after :data:`CLEAR_AFTER` pairs once they took :data:`PAIR_BUDGET_MS`.
	``warm_before=False`` skips the warm-up run of the first form (its pages are warm already)."""
	before, after = Timing(), Timing()
	if not params:
		before.note = after.note = "no parameter values to run it with"
		return before, after
	if warm_before:
		_run_into(db, before_sql, params[0], timeout_s, before, record=False)
	_run_into(db, after_sql, params[0], timeout_s, after, record=False)
	done = False
	for _round in range(FAST_ROUNDS):
		for values in params:
			_run_into(db, before_sql, values, timeout_s, before)
			_run_into(db, after_sql, values, timeout_s, after)
			if threshold and (
				_clear(before.times_ms, after.times_ms, threshold)
				or (
					len(after.times_ms) >= CLEAR_AFTER
					and sum(before.times_ms) + sum(after.times_ms) >= PAIR_BUDGET_MS
				)
			):
				done = True
				break
		if done or sum(before.times_ms) + sum(after.times_ms) >= 2 * FAST_TOTAL_MS:
			break
	for timing in (before, after):
		timing.runs = len(timing.times_ms)
		timing.p50_ms = statistics.median(timing.times_ms) if timing.times_ms else None
	return before, after


@dataclass(frozen=True)
class PlanRow:
	"""One table of a plan: how it is read and how many rows (estimated; read, for ANALYZE)."""

	label: str
	access_type: str | None
	key: str | None
	rows: float | None
	r_rows: float | None = None
	extra: str | None = None

	def as_dict(self) -> dict:
		return {
			"access_type": self.access_type,
			"key": self.key,
			"rows": self.rows,
			"r_rows": self.r_rows,
			"extra": self.extra,
		}


def _num(value) -> float | None:
	try:
		return None if value is None else float(value)
	except (TypeError, ValueError):
		return None


def plan(db: Database, sql: str, values, *, analyze: bool) -> dict[str, PlanRow]:
	"""EXPLAIN (or ANALYZE, which runs the statement) of ``sql``: table label -> PlanRow."""
	rows = db.sql(("ANALYZE " if analyze else "EXPLAIN ") + sql, values if values else None, as_dict=True)
	out: dict[str, PlanRow] = {}
	for row in rows:
		label = row.get("table")
		if not label or label in out:
			continue
		out[label] = PlanRow(
			label,
			row.get("type"),
			row.get("key"),
			_num(row.get("rows")),
			_num(row.get("r_rows")),
			row.get("Extra"),
		)
	return out
