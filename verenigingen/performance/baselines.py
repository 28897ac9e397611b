"""Performance baselines: a fixed suite of operations, measured, written to a versioned file, compared.

:func:`establish_baselines` runs each operation of the suite after a warm-up, in several rounds,
and records p50, p95, p99, min, max, the number of SQL statements one run takes and the rows the
storage engine read for it (MariaDB's ``Handler_read_*`` counters, the overhead of reading them
subtracted), and keeps every timed run grouped by round. Each operation's **noise** is the
spread of its per-round medians relative to the overall median. :func:`compare_baselines`
decides with a statistical test, not a fixed tolerance: a two-level bootstrap (rounds, then runs
within them, so drift between rounds widens the interval) gives a 95 % confidence interval of the
p50 ratio; a **regression** is a ratio of at least ``1 + BASELINE_MIN_EFFECT`` whose interval
lies wholly above 1 (significant, and large enough to matter: reruns of unchanged code drift by
up to ~18 % on a loaded 2-core machine), an **improvement** the mirror image. Operations whose
subsystem is not available (no Redis given, the cache or the job coordinator not installed) are
recorded as ``not_measured`` with the reason: never a number standing in for a measurement.
"""

import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .context import SecurityContext
from .db import Database
from .defaults import (
	BASELINE_BOOTSTRAP,
	BASELINE_CACHED_MEMBERS,
	BASELINE_CONFIDENCE,
	BASELINE_JOB_TIMEOUT,
	BASELINE_MIN_DIFFERENCE_MS,
	BASELINE_MIN_EFFECT,
	BASELINE_MIN_TOLERANCE,
	BASELINE_ROUNDS,
	BASELINE_RUNS,
	BASELINE_SAMPLE_SEED,
	BASELINE_WARMUP,
)
from .exceptions import BaselineFileError, JobRoundTripError
from .profiler import ProfilingDatabase
from .summaries import member_summary
from .texttable import render_table

SCHEMA = "verenigingen.performance_baselines"
SCHEMA_VERSION = 1
MEASURED = "measured"
NOT_MEASURED = "not_measured"
_HANDLER_COUNTERS = (
	"Handler_read_first",
	"Handler_read_key",
	"Handler_read_last",
	"Handler_read_next",
	"Handler_read_prev",
	"Handler_read_rnd",
	"Handler_read_rnd_next",
)


class NotAvailable(Exception):
	"""Raised by an operation's setup when what it needs is absent; the message says what."""


@dataclass(frozen=True)
class Operation:
	"""One operation of the suite: ``setup(suite)`` returns ``run(i)``, called once per iteration."""

	name: str
	description: str
	setup: Callable[["Suite"], Callable[[int], object]]


@dataclass
class Suite:
	"""What operations run against: the database, and optionally Redis and the site namespace."""

	db: Database
	redis: object | None = None
	namespace: str | None = None
	seed: int = BASELINE_SAMPLE_SEED
	job_round_trip: Callable[[int], object] | None = None  # submits one job and waits for its result

	def sample(self, sql: str, n: int = 200) -> list[tuple]:
		"""Parameter tuples drawn from the data: a deterministic shuffle of the first ``n`` rows."""
		rows = [tuple(r) for r in self.db.sql(sql + " LIMIT %s", (int(n),))]
		if not rows:
			raise NotAvailable(f"no data for this operation (the query {sql!r} returned nothing)")
		random.Random(self.seed).shuffle(rows)
		return rows


# ---------------------------------------------------------------- the operations


def _query_op(sample_sql: str, sql: str):
	def setup(suite: Suite):
		params = suite.sample(sample_sql)
		return lambda i: suite.db.sql(sql, params[i % len(params)])

	return setup


def _member_summary_uncached(suite: Suite):
	members = [r[0] for r in suite.sample("SELECT name FROM `tabMember` ORDER BY name")]
	return lambda i: member_summary(suite.db, members[i % len(members)])


def _cache(suite: Suite):
	if suite.redis is None or not suite.namespace:
		raise NotAvailable("no Redis connection was given to the baseline run")
	try:
		from .cache import SecurityAwareCache
	except ImportError as exc:
		raise NotAvailable(f"the cache is not installed: {exc}") from exc
	# A measurement, not a web request: a slow Redis must show as slow calls, not as calls that gave
	# up after the request bound and computed uncached. The suite's client bounds its own calls.
	return SecurityAwareCache(suite.redis, suite.namespace, call_timeout=None)


_BASELINE_USER = SecurityContext("baselines@verenigingen.invalid", ("Verenigingen Administrator",))


def _member_summary_cached(suite: Suite):
	"""The member page as a returning visitor sees it: a working set of members, filled in setup, so
	the timed runs measure the cache serving what it holds (hits), as the uncached operation does not."""
	cache = _cache(suite)
	members = [r[0] for r in suite.sample("SELECT name FROM `tabMember` ORDER BY name")][
		:BASELINE_CACHED_MEMBERS
	]

	def run(i):
		member = members[i % len(members)]
		return cache.get_or_compute(
			"baseline_member_summary",
			(member,),
			lambda: member_summary(suite.db, member),
			ctx=_BASELINE_USER,
			level="MEMBER_DATA",
			depends_on=("Member", "Member Payment", "SEPA Mandate", "Chapter"),
		)

	for i in range(len(members)):
		run(i)
	return run


def _cache_hit(suite: Suite):
	cache = _cache(suite)
	value = {"probe": "baseline", "numbers": list(range(20))}
	cache.get_or_compute("baseline_cache_hit", (), lambda: value, ctx=_BASELINE_USER, level="UTILITY")
	return lambda i: cache.get_or_compute(
		"baseline_cache_hit", (), lambda: value, ctx=_BASELINE_USER, level="UTILITY"
	)


def _job_round_trip(suite: Suite):
	if suite.job_round_trip is None:
		raise NotAvailable("no job coordinator with a worker was given to the baseline run")
	return suite.job_round_trip


OPERATIONS: tuple[Operation, ...] = (
	Operation(
		"member_by_email",
		"look a member up by email address",
		_query_op(
			"SELECT email FROM `tabMember` ORDER BY name",
			"SELECT name, full_name, status FROM `tabMember` WHERE email=%s",
		),
	),
	Operation(
		"payment_history",
		"a member's last 20 payments, newest first",
		_query_op(
			"SELECT name FROM `tabMember` ORDER BY name",
			"SELECT name, posting_date, amount, status FROM `tabMember Payment` "
			"WHERE member=%s ORDER BY posting_date DESC LIMIT 20",
		),
	),
	Operation(
		"active_mandate",
		"a member's active SEPA mandate",
		_query_op(
			"SELECT DISTINCT member FROM `tabSEPA Mandate` ORDER BY member",
			"SELECT name, iban, bic, sign_date FROM `tabSEPA Mandate` "
			"WHERE member=%s AND status='Active' ORDER BY sign_date DESC LIMIT 1",
		),
	),
	Operation(
		"chapter_membership_check",
		"is this member an enabled member of this chapter?",
		_query_op(
			"SELECT member, parent FROM `tabChapter Member` ORDER BY name",
			"SELECT 1 FROM `tabChapter Member` WHERE member=%s AND parent=%s AND enabled=1 LIMIT 1",
		),
	),
	Operation(
		"sepa_batch_selection",
		"the unpaid SEPA direct-debit payments of one month",
		_query_op(
			"SELECT DISTINCT DATE_FORMAT(posting_date, '%%Y-%%m-01'), LAST_DAY(posting_date) "
			"FROM `tabMember Payment` WHERE status='Unpaid' ORDER BY 1 DESC",
			"SELECT name, member, amount, sepa_mandate FROM `tabMember Payment` WHERE status='Unpaid' "
			"AND payment_method='SEPA Direct Debit' AND posting_date BETWEEN %s AND %s",
		),
	),
	Operation("member_summary_uncached", "the member read model (get_member_summary), straight from the database", _member_summary_uncached),
	Operation("member_summary_cached", "the member read model through the security-aware cache", _member_summary_cached),
	Operation("cache_hit", "one cache read of a stored value", _cache_hit),
	Operation("job_submit_round_trip", "submit a job to the coordinator and wait for its result", _job_round_trip),
)  # fmt: skip

OPERATION_NAMES = tuple(op.name for op in OPERATIONS)


def coordinator_round_trip(
	coordinator,
	*,
	timeout: float = BASELINE_JOB_TIMEOUT,
	method: str = "verenigingen.performance.readiness.ping",
) -> Callable[[int], object]:
	"""A ``job_round_trip`` over the job coordinator: submit ``method`` at critical priority, poll its
	status until it finished (JobRoundTripError if it failed or took longer than ``timeout``)."""

	def run(i: int):
		job_id = coordinator.submit(method, {}, priority="critical")
		deadline = time.monotonic() + timeout
		while True:
			status = coordinator.status(job_id)["status"]
			if status == "finished":
				return job_id
			if status in ("failed", "cancelled", "dependency_failed"):
				raise JobRoundTripError(f"the baseline job {job_id} ended {status}")
			if time.monotonic() > deadline:
				coordinator.cancel(job_id)
				raise JobRoundTripError(
					f"the baseline job {job_id} did not finish within {timeout} s (is a worker up?)"
				)
			time.sleep(0.0005)

	return run


# ---------------------------------------------------------------- measuring


def percentile(sorted_values: list[float], p: float) -> float:
	"""The nearest-rank ``p``-th percentile (0 < p <= 100) of already sorted values."""
	if not sorted_values:
		raise ValueError("no values")
	rank = max(1, -(-len(sorted_values) * p // 100))
	return sorted_values[int(rank) - 1]


def _handler_reads(db: Database) -> int:
	rows = db.sql("SHOW SESSION STATUS LIKE 'Handler_read%%'")
	return sum(int(v) for k, v in rows if k in _HANDLER_COUNTERS)


def _rows_examined(db: Database, run: Callable[[], object]) -> int | None:
	"""Rows the storage engine read during ``run()``: the Handler_read_* delta minus the delta of
	reading the counters themselves. None where the server does not expose them."""
	try:
		a = _handler_reads(db)
		b = _handler_reads(db)
	except Exception:  # a handle without SHOW STATUS (or not MariaDB/MySQL): nothing measured
		return None
	run()  # the operation's own errors propagate: they are not "nothing measured"
	c = _handler_reads(db)
	return max(0, (c - b) - (b - a))


def measure_operation(
	suite: Suite,
	op: Operation,
	*,
	runs: int = BASELINE_RUNS,
	warmup: int = BASELINE_WARMUP,
	rounds: int = BASELINE_ROUNDS,
	clock: Callable[[], float] = time.perf_counter,
) -> dict:
	"""Measure one operation; a dict with status ``measured`` and its figures, or ``not_measured``."""
	try:
		run = op.setup(suite)
	except NotAvailable as exc:
		return {"status": NOT_MEASURED, "description": op.description, "reason": str(exc)}
	for i in range(warmup):
		run(i)
	per_round = max(1, runs // rounds)
	timings: list[float] = []
	medians = []
	by_round: list[list[float]] = []
	i = warmup
	for _ in range(rounds):
		this_round = []
		for _ in range(per_round):
			start = clock()
			run(i)
			this_round.append((clock() - start) * 1000)
			i += 1
		medians.append(statistics.median(this_round))
		timings.extend(this_round)
		by_round.append([round(t, 4) for t in this_round])
	timings.sort()
	p50 = statistics.median(timings)
	noise = (max(medians) - min(medians)) / p50 if p50 > 0 and len(medians) > 1 else 0.0
	# Statements and rows of one more run, outside the timed loop (setup's sampling not counted).
	profiled = ProfilingDatabase(suite.db)
	probe = op.setup(Suite(profiled, suite.redis, suite.namespace, suite.seed, suite.job_round_trip))
	profiled.reset()
	rows = _rows_examined(suite.db, lambda: probe(i))
	return {
		"status": MEASURED,
		"description": op.description,
		"runs": len(timings),
		"rounds": rounds,
		"p50_ms": round(p50, 4),
		"p95_ms": round(percentile(timings, 95), 4),
		"p99_ms": round(percentile(timings, 99), 4),
		"min_ms": round(timings[0], 4),
		"max_ms": round(timings[-1], 4),
		"mean_ms": round(statistics.fmean(timings), 4),
		"noise": round(noise, 4),
		"rounds_ms": by_round,
		"queries": len(profiled.records),
		"rows_examined": rows,
	}


def environment(db: Database, redis=None, *, source: tuple[str | None, bool | None] | None = None) -> dict:
	"""Where the baseline was measured: app version and commit, Python, MariaDB, Redis, data, machine."""
	import psutil

	from .. import __version__

	counts = {}
	for doctype in ("Member", "Chapter", "Chapter Member", "SEPA Mandate", "Member Payment"):
		counts[doctype] = int(db.sql(f"SELECT COUNT(*) FROM `tab{doctype}`")[0][0])
	redis_version = None
	if redis is not None:
		redis_version = (redis.info("server") or {}).get("redis_version")
	return {
		"app_version": __version__,
		"commit": (source or code_source())[0],
		"dirty": (source or code_source())[1],
		"python": platform.python_version(),
		"mariadb": db.sql("SELECT VERSION()")[0][0],
		"redis": redis_version.decode() if isinstance(redis_version, bytes) else redis_version,
		"dataset": {"members": counts["Member"], "rows": counts, "database": db.database_name},
		"cpu_count": os.cpu_count(),
		"memory_bytes": psutil.virtual_memory().total,
		"platform": platform.platform(),
	}


def _git(*args: str) -> str | None:
	import subprocess

	root = Path(__file__).resolve().parents[2]
	try:
		out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5)
	except (OSError, subprocess.SubprocessError):
		return None
	return out.stdout if out.returncode == 0 else None


def _git_commit() -> str | None:
	out = _git("rev-parse", "HEAD")
	return out.strip() or None if out is not None else None


def code_source() -> tuple[str | None, bool | None]:
	"""(commit, dirty) of the checkout the code runs from, read when a measurement starts: edits
	made while it runs do not change which code was measured."""
	return _git_commit(), _git_dirty()


def _git_dirty() -> bool | None:
	"""Did the working tree differ from the commit (tracked files changed or untracked files)?
	None outside a git checkout. A dirty tree means the commit does not hold the code measured."""
	out = _git("status", "--porcelain", "--untracked-files=normal")
	return None if out is None else bool(out.strip())


def establish_baselines(
	suite: Suite,
	*,
	operations: tuple[Operation, ...] = OPERATIONS,
	runs: int = BASELINE_RUNS,
	warmup: int = BASELINE_WARMUP,
	rounds: int = BASELINE_ROUNDS,
	dataset: dict | None = None,
	progress: Callable[[str], None] | None = None,
) -> dict:
	"""Measure every operation of the suite; return the baselines document (see :data:`SCHEMA_VERSION`)."""
	if runs < rounds or rounds < 1 or warmup < 0:
		raise ValueError(
			f"need runs >= rounds >= 1 and warmup >= 0, got runs={runs} rounds={rounds} warmup={warmup}"
		)
	source = code_source()  # the code as it was loaded, before any measurement
	results = {}
	for op in operations:
		if progress:
			progress(op.name)
		results[op.name] = measure_operation(suite, op, runs=runs, warmup=warmup, rounds=rounds)
	env = environment(suite.db, suite.redis, source=source)
	if dataset:
		env["dataset"].update(dataset)
	return {
		"schema": SCHEMA,
		"schema_version": SCHEMA_VERSION,
		"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
		"environment": env,
		"settings": {"runs": runs, "warmup": warmup, "rounds": rounds, "seed": suite.seed},
		"operations": results,
	}


# ---------------------------------------------------------------- the file


_REQUIRED_MEASURED = ("p50_ms", "p95_ms", "p99_ms", "min_ms", "max_ms", "noise", "runs", "queries")


def validate_baselines(data, source: str = "baselines") -> dict:
	"""Return ``data`` if it is a baselines document this code reads, else raise BaselineFileError."""
	if not isinstance(data, dict) or data.get("schema") != SCHEMA:
		raise BaselineFileError(f"{source} is not a baselines file (its 'schema' is not {SCHEMA!r})")
	version = data.get("schema_version")
	if version != SCHEMA_VERSION:
		raise BaselineFileError(
			f"{source} has schema version {version!r}; this code reads version {SCHEMA_VERSION}"
		)
	operations = data.get("operations")
	if not isinstance(operations, dict) or not operations:
		raise BaselineFileError(f"{source} has no operations")
	for name, op in operations.items():
		if not isinstance(op, dict) or op.get("status") not in (MEASURED, NOT_MEASURED):
			raise BaselineFileError(f"{source}: operation {name!r} has no valid status")
		if op["status"] == MEASURED:
			missing = [k for k in _REQUIRED_MEASURED if not isinstance(op.get(k), int | float)]
			if missing:
				raise BaselineFileError(f"{source}: operation {name!r} lacks {', '.join(missing)}")
		elif not op.get("reason"):
			raise BaselineFileError(f"{source}: operation {name!r} is not measured but gives no reason")
	if not isinstance(data.get("environment"), dict) or not data.get("created"):
		raise BaselineFileError(f"{source} lacks its environment or creation time")
	return data


def write_baselines(data: dict, path: str | Path) -> Path:
	"""Write the document atomically (a temporary file renamed over the target)."""
	validate_baselines(data)
	path = Path(path)
	tmp = path.with_suffix(path.suffix + ".tmp")
	tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
	os.replace(tmp, path)
	return path


def load_baselines(path: str | Path) -> dict:
	path = Path(path)
	try:
		data = json.loads(path.read_text(encoding="utf-8"))
	except FileNotFoundError as exc:
		raise BaselineFileError(f"baselines file {path} does not exist") from exc
	except (OSError, ValueError) as exc:
		raise BaselineFileError(f"cannot read baselines file {path}: {exc}") from exc
	return validate_baselines(data, str(path))


# ---------------------------------------------------------------- comparing and reporting


def _resampled_p50(rounds: list[list[float]], rng: random.Random) -> float:
	"""The p50 of one two-level bootstrap resample: rounds drawn with replacement, then runs
	drawn with replacement within each drawn round."""
	values: list[float] = []
	for r in (rounds[rng.randrange(len(rounds))] for _ in rounds):
		values.extend(r[rng.randrange(len(r))] for _ in r)
	return statistics.median(values)


def p50_ratio_interval(
	baseline_rounds: list[list[float]],
	current_rounds: list[list[float]],
	*,
	resamples: int = BASELINE_BOOTSTRAP,
	confidence: float = BASELINE_CONFIDENCE,
	seed: int = BASELINE_SAMPLE_SEED,
) -> tuple[float, float]:
	"""A bootstrap confidence interval of p50(current) / p50(baseline)."""
	if not baseline_rounds or not current_rounds or not all(baseline_rounds) or not all(current_rounds):
		raise ValueError("both sides need at least one round with at least one run")
	rng = random.Random(seed)
	ratios = sorted(
		_resampled_p50(current_rounds, rng) / max(_resampled_p50(baseline_rounds, rng), 1e-9)
		for _ in range(resamples)
	)
	tail = (1 - confidence) / 2
	return ratios[int(tail * (resamples - 1))], ratios[int((1 - tail) * (resamples - 1))]


def speed_words(ratio: float | None) -> str:
	"""A p50 ratio (current / baseline) in words: "417x faster", "1.3x slower", "same speed"."""
	if ratio is None:
		return "-"
	if ratio <= 0:
		return "faster than measurable"
	factor = 1 / ratio if ratio < 1 else ratio
	text = f"{factor:.3g}x"
	if text == "1x":
		return "same speed"
	return f"{text} faster" if ratio < 1 else f"{text} slower"


def compare_baselines(
	baseline: dict,
	current: dict,
	*,
	min_effect: float = BASELINE_MIN_EFFECT,
	min_difference_ms: float = BASELINE_MIN_DIFFERENCE_MS,
	min_tolerance: float = BASELINE_MIN_TOLERANCE,
	resamples: int = BASELINE_BOOTSTRAP,
) -> dict:
	"""Each operation's p50 ratio (current / baseline), its confidence interval and a verdict.

	With every run kept on both sides (``rounds_ms``): ``regression`` when the ratio is at least
	``1 + min_effect`` and its 95 % interval lies wholly above 1, ``improved`` when the ratio is at
	most ``1 / (1 + min_effect)`` and its interval lies wholly below 1, ``ok`` otherwise. A baselines file without its runs (written by an
	older version) falls back to the recorded-noise tolerance (``max(noise, min_tolerance)``),
	and the row says so. Either way, p50s closer than ``min_difference_ms`` are ``ok`` (a sub-0.1
	ms operation doubles on one scheduler hiccup); ``not_compared`` when either side did not
	measure it.
	"""
	validate_baselines(baseline, "the baseline")
	validate_baselines(current, "the current run")
	rows = []
	for name in list(baseline["operations"]) + [
		n for n in current["operations"] if n not in baseline["operations"]
	]:
		old = baseline["operations"].get(name)
		new = current["operations"].get(name)
		row = {"operation": name, "baseline_p50_ms": None, "current_p50_ms": None, "ratio": None}
		if not old or not new or old["status"] != MEASURED or new["status"] != MEASURED:
			why = (old or {}).get("reason") or (new or {}).get("reason") or "absent from one side"
			rows.append({**row, "verdict": "not_compared", "reason": why})
			continue
		ratio = new["p50_ms"] / old["p50_ms"] if old["p50_ms"] > 0 else float("inf")
		if old.get("rounds_ms") and new.get("rounds_ms"):
			low, high = p50_ratio_interval(old["rounds_ms"], new["rounds_ms"], resamples=resamples)
			if ratio >= 1 + min_effect and low > 1:
				verdict = "regression"
			elif ratio <= 1 / (1 + min_effect) and high < 1:
				verdict = "improved"
			else:
				verdict = "ok"
			decided = {
				"method": "bootstrap",
				"interval": [round(low, 3), round(high, 3)],
				"threshold": round(min_effect, 3),
			}
		else:
			tolerance = max(float(old["noise"]), min_tolerance)
			verdict = "regression" if ratio > 1 + tolerance else "improved" if ratio < 1 - tolerance else "ok"
			decided = {
				"method": "noise tolerance (a side has no runs recorded)",
				"threshold": round(tolerance, 3),
			}
		if abs(new["p50_ms"] - old["p50_ms"]) < min_difference_ms:
			verdict = "ok"
		rows.append(
			{
				**row,
				"baseline_p50_ms": old["p50_ms"],
				"current_p50_ms": new["p50_ms"],
				"ratio": round(ratio, 3),
				"change": speed_words(ratio),
				**decided,
				"verdict": verdict,
			}
		)
	regressions = [r["operation"] for r in rows if r["verdict"] == "regression"]
	improvements = [r["operation"] for r in rows if r["verdict"] == "improved"]
	return {
		"operations": rows,
		"regressions": regressions,
		"improvements": improvements,
		"ok": not regressions,
	}


def _table(headers: list[str], rows: list[list]) -> str:
	"""The operation left, its figures right."""
	return render_table(headers, rows, right=range(1, len(headers)))


def format_report(data: dict) -> str:
	"""The baselines as a readable text report."""
	env = data["environment"]
	head = (
		f"Performance baselines ({data['created']}, schema {data['schema_version']})\n"
		f"app {env.get('app_version')} commit {str(env.get('commit'))[:12]}"
		f"{' (uncommitted changes: not the code of that commit)' if env.get('dirty') else ''}, Python {env.get('python')}, "
		f"MariaDB {env.get('mariadb')}, Redis {env.get('redis')}\n"
		f"dataset: {env.get('dataset', {}).get('members'):,} members; {env.get('cpu_count')} cores, "
		f"{(env.get('memory_bytes') or 0) / 2**30:.1f} GiB memory\n"
		f"{data['settings']['runs']} runs after {data['settings']['warmup']} warm-up, in {data['settings']['rounds']} rounds\n"
	)
	rows = []
	absent = []
	for name, op in data["operations"].items():
		if op["status"] != MEASURED:
			absent.append(f"  {name}: not measured: {op['reason']}")
			continue
		rows.append(
			[
				name, f"{op['p50_ms']:.3f}", f"{op['p95_ms']:.3f}", f"{op['p99_ms']:.3f}", f"{op['min_ms']:.3f}",
				f"{op['max_ms']:.3f}", f"{op['noise'] * 100:.1f}%", op["queries"],
				"-" if op.get("rows_examined") is None else f"{op['rows_examined']:,}",
			]
		)  # fmt: skip
	table = _table(
		["operation", "p50 ms", "p95 ms", "p99 ms", "min ms", "max ms", "noise", "queries", "rows read"], rows
	)
	return head + "\n" + table + ("\n" + "\n".join(absent) if absent else "")


def format_comparison(result: dict) -> str:
	"""The comparison as a readable table, the operations not compared and a one-line verdict below it."""
	rows = []
	absent = []
	for r in result["operations"]:
		if r["verdict"] == "not_compared":
			absent.append(f"  {r['operation']}: not compared: {r['reason']}")
			continue
		verdict = r["verdict"].upper() if r["verdict"] == "regression" else r["verdict"]
		if r.get("method") == "bootstrap":
			low, high = r["interval"]
			rule = f"95% CI {low:.3g}-{high:.3g}x, effect >= {1 + r['threshold']:.3g}x"
		else:
			rule = f"±{r['threshold'] * 100:.0f}% (no runs recorded)"
		rows.append(
			[r["operation"], f"{r['baseline_p50_ms']:.3g}", f"{r['current_p50_ms']:.3g}", r["change"], rule, verdict]
		)  # fmt: skip
	summary = (
		f"{len(result['regressions'])} regression(s): {', '.join(result['regressions'])}"
		if result["regressions"]
		else "no regressions"
	)
	if result.get("improvements"):
		summary += f"; {len(result['improvements'])} improvement(s): {', '.join(result['improvements'])}"
	table = _table(["operation", "baseline p50 ms", "now p50 ms", "change", "decided by", "verdict"], rows)
	return table + ("\n" + "\n".join(absent) if absent else "") + "\n" + summary


# ---------------------------------------------------------------- the last comparison, kept per site


def record_comparison(redis, namespace: str, result: dict, *, clock: Callable[[], float] = time.time) -> None:
	"""Keep ``result`` (of :func:`compare_baselines`) as the site's last comparison, with its time."""
	from .keys import KeyBuilder

	payload = {"at": clock(), "ok": result["ok"], "regressions": list(result["regressions"])}
	redis.set(KeyBuilder(namespace).key("baselines", "last_compare"), json.dumps(payload))


def last_comparison(redis, namespace: str) -> dict | None:
	"""The site's last recorded comparison (``at``, ``ok``, ``regressions``), or None."""
	from .keys import KeyBuilder

	raw = redis.get(KeyBuilder(namespace).key("baselines", "last_compare"))
	return json.loads(raw) if raw else None


# ---------------------------------------------------------------- local workers for standalone runs

_WORKER_CODE = (
	"import sys, redis; from rq import SimpleWorker; "
	"SimpleWorker(sys.argv[3].split(','), connection=redis.Redis(host=sys.argv[1], port=int(sys.argv[2])))"
	".work(logging_level='WARNING', with_scheduler=False)"
)


class LocalWorkers:
	"""``n`` RQ SimpleWorker processes on ``queues`` for a standalone run (the script, the main job),
	started on enter once they are registered in Redis, and stopped (SIGTERM, then kill) on exit."""

	def __init__(
		self, redis, redis_settings: dict, queues: list[str], n: int = 1, *, start_timeout: float = 30
	):
		self.redis = redis
		self.settings = redis_settings
		self.queues = list(queues)
		self.n = n
		self.start_timeout = start_timeout
		self.procs: list = []

	def __enter__(self) -> "LocalWorkers":
		import subprocess
		import sys

		from rq import Queue, Worker

		root = Path(__file__).resolve().parents[2]
		env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
		host, port = str(self.settings.get("host", "127.0.0.1")), str(self.settings.get("port", 6379))
		for _ in range(self.n):
			cmd = [sys.executable, "-c", _WORKER_CODE, host, port, ",".join(self.queues)]
			self.procs.append(subprocess.Popen(cmd, cwd=root, env=env))
		queue = Queue(self.queues[0], connection=self.redis)
		deadline = time.monotonic() + self.start_timeout
		while len(Worker.all(connection=self.redis, queue=queue)) < self.n:
			if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
				self.__exit__()
				raise JobRoundTripError(f"the RQ workers did not start within {self.start_timeout} s")
			time.sleep(0.05)
		return self

	def __exit__(self, *exc) -> None:
		import subprocess

		for proc in self.procs:
			if proc.poll() is None:
				proc.terminate()
		for proc in self.procs:
			try:
				proc.wait(timeout=10)
			except subprocess.TimeoutExpired:
				proc.kill()
				proc.wait(timeout=10)
		self.procs.clear()
