"""The readiness validator: six components of the layer on this site, each probed for real.

:func:`validate_readiness` runs one probe per component and reports it ``operational``,
``degraded`` or ``failed`` with the evidence the probe gathered and a recommendation:

* **cache**: a probe key written with a TTL, read back, its TTL checked, the round-trip latency;
  a value stored through the security-aware cache and read back as a hit;
* **invalidation**: a cache entry depending on a probe DocType, the DocType's generation bumped,
  the entry must miss;
* **jobs**: RQ workers on the coordinator's queues, the last reconcile (load control) time, and
  a ping job's round trip when workers are up, bounded by a timeout;
* **database**: connection latency, a supported MariaDB version, the catalog indexes present
  (compared by columns, as the index manager plans them);
* **monitoring**: metric samples in the last minutes, a recent Performance Snapshot;
* **baselines**: baselines measured on this site (its database), valid and recent, no
  regression in the last recorded compare; none measured here is said so.

The readiness **score** is the weighted mean of the components' values (operational 1,
degraded 0.5, failed 0) times 100, with the weights of :data:`READINESS_WEIGHTS` (README).
A subsystem that is not installed or not given is ``failed`` with that as its evidence.

The **code audit** (the static guard and annotation coverage of every whitelisted function) is a
property of the app's code, the same on every site: it is reported apart, under ``code_audit``,
and carries no weight.
"""

import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .context import SecurityContext
from .db import Database, table_name
from .defaults import (
	BASELINE_MAX_AGE_DAYS,
	READINESS_CACHE_MAX_MS,
	READINESS_MIN_MARIADB,
	READINESS_MONITORING_MINUTES,
	READINESS_PING_TIMEOUT,
	READINESS_RECONCILE_MAX_AGE,
	READINESS_SNAPSHOT_MAX_AGE,
	READINESS_WEIGHTS,
)
from .keys import KeyBuilder

OPERATIONAL = "operational"
DEGRADED = "degraded"
FAILED = "failed"
STATUS_VALUE = {OPERATIONAL: 1.0, DEGRADED: 0.5, FAILED: 0.0}
PROBE_DOCTYPE = "Readiness Probe"  # not a real DocType: its generation counter exists only for the probe
_PROBE_USER = SecurityContext("readiness@verenigingen.invalid", ("System Manager",))


def ping() -> str:
	"""The job the readiness check submits through the coordinator."""
	return "pong"


@dataclass
class ReadinessInputs:
	"""What the probes use. Anything left None is reported as not available by its probe."""

	db: Database | None = None
	redis: object | None = None
	namespace: str | None = None
	coordinator: object | None = None  # a JobCoordinator of the site
	# RQ queue names workers must listen on (default: the coordinator's)
	worker_queues: Iterable[str] | None = None
	# or, built inside the probe so that failing to build it is the probe's finding: () -> (coordinator, queues)
	jobs_factory: Callable[[], tuple] | None = None
	baselines_path: str | Path | None = None
	app_dir: str | Path | None = None
	catalog: Iterable | None = None  # index specs (default: the index manager's catalogs)
	ping_timeout: float = READINESS_PING_TIMEOUT
	clock: Callable[[], float] = time.time
	poll: Callable[[float], None] = time.sleep


@dataclass
class ComponentResult:
	name: str
	status: str
	evidence: dict = field(default_factory=dict)
	recommendation: str = ""
	seconds: float = 0.0

	def as_dict(self) -> dict:
		return {
			"component": self.name,
			"status": self.status,
			"evidence": self.evidence,
			"recommendation": self.recommendation,
			"seconds": round(self.seconds, 4),
		}


def _ms(seconds: float) -> float:
	return round(seconds * 1000, 3)


# ---------------------------------------------------------------- cache and invalidation


def _cache_module(inputs: ReadinessInputs):
	from .cache import SecurityAwareCache

	return SecurityAwareCache(inputs.redis, inputs.namespace)


def probe_cache(inputs: ReadinessInputs) -> ComponentResult:
	if inputs.redis is None or not inputs.namespace:
		return ComponentResult("cache", FAILED, {"error": "no Redis connection or namespace was given"},
			"configure the site's Redis cache")  # fmt: skip
	keys = KeyBuilder(inputs.namespace)
	token = uuid.uuid4().hex
	key = keys.key("readiness", "probe", token)
	start = time.perf_counter()
	inputs.redis.set(key, token, px=60_000)
	read = inputs.redis.get(key)
	ttl_ms = inputs.redis.pttl(key)
	latency = time.perf_counter() - start
	inputs.redis.delete(key)
	value = read.decode() if isinstance(read, bytes) else read
	evidence = {"write_read_ok": value == token, "ttl_ms": ttl_ms, "round_trip_ms": _ms(latency)}
	if value != token or not (0 < ttl_ms <= 60_000):
		return ComponentResult(
			"cache",
			FAILED,
			evidence,
			"Redis does not keep what is written, or drops its TTL: check the server",
		)
	try:
		cache = _cache_module(inputs)
	except ImportError as exc:
		evidence["cache_module"] = f"not installed: {exc}"
		return ComponentResult(
			"cache", FAILED, evidence, "install the security-aware cache (verenigingen.performance.cache)"
		)
	calls = []
	args = (token,)
	for _ in range(2):
		cache.get_or_compute(
			"readiness_cache_probe", args, lambda: calls.append(1) or token, ctx=_PROBE_USER, level="ADMIN"
		)
	evidence["cache_hit_on_second_read"] = len(calls) == 1
	if len(calls) != 1:
		return ComponentResult(
			"cache",
			FAILED,
			evidence,
			"the cache computed a stored value again: check the cache's Redis and its circuit breaker",
		)
	if latency * 1000 > READINESS_CACHE_MAX_MS:
		return ComponentResult("cache", DEGRADED, evidence,
			f"Redis round trips take {latency * 1000:.1f} ms (> {READINESS_CACHE_MAX_MS} ms): check its load and network")  # fmt: skip
	return ComponentResult("cache", OPERATIONAL, evidence)


def probe_invalidation(inputs: ReadinessInputs) -> ComponentResult:
	if inputs.redis is None or not inputs.namespace:
		return ComponentResult("invalidation", FAILED, {"error": "no Redis connection or namespace was given"},
			"configure the site's Redis cache")  # fmt: skip
	try:
		cache = _cache_module(inputs)
	except ImportError as exc:
		return ComponentResult("invalidation", FAILED, {"cache_module": f"not installed: {exc}"},
			"install the security-aware cache (verenigingen.performance.cache)")  # fmt: skip
	calls = []
	token = uuid.uuid4().hex

	def read():
		return cache.get_or_compute("readiness_invalidation_probe", (token,), lambda: calls.append(1) or len(calls),
			ctx=_PROBE_USER, level="ADMIN", depends_on=(PROBE_DOCTYPE,))  # fmt: skip

	read()
	read()
	cached = len(calls) == 1
	bumped = cache.invalidate_doctype(PROBE_DOCTYPE)
	read()
	missed = len(calls) == 2
	evidence = {"cached_before": cached, "bump_applied_now": bumped, "missed_after_bump": missed}
	if cached and missed:
		return ComponentResult("invalidation", OPERATIONAL, evidence)
	return ComponentResult("invalidation", FAILED, evidence,
		"a generation bump did not make the entry miss: cached data can outlive a change")  # fmt: skip


# ---------------------------------------------------------------- job coordinator


def _workers_by_queue(redis, queues: Iterable[str]) -> dict[str, int]:
	from rq import Queue, Worker

	return {q: len(Worker.all(connection=redis, queue=Queue(q, connection=redis))) for q in queues}


def probe_jobs(inputs: ReadinessInputs) -> ComponentResult:
	coordinator, worker_queues = inputs.coordinator, inputs.worker_queues
	if coordinator is None and inputs.jobs_factory is not None:
		coordinator, worker_queues = inputs.jobs_factory()
	if coordinator is None:
		try:
			from .jobs import JobCoordinator  # noqa: F401
		except ImportError as exc:
			return ComponentResult("jobs", FAILED, {"coordinator": f"not installed: {exc}"},
				"install the job coordinator (verenigingen.performance.jobs)")  # fmt: skip
		return ComponentResult("jobs", FAILED, {"coordinator": "no coordinator was given to the check"},
			"run the check where the site's job coordinator is configured")  # fmt: skip
	queues = list(dict.fromkeys(worker_queues or coordinator.queues.values()))
	workers = _workers_by_queue(coordinator.redis, queues)
	evidence = {"workers": workers}
	last = coordinator.last_reconcile()
	age = inputs.clock() - last if last is not None else None
	evidence["last_reconcile_seconds_ago"] = round(age, 1) if age is not None else None
	problems = []
	if not any(workers.values()):
		return ComponentResult("jobs", FAILED, evidence, f"start RQ workers on {', '.join(queues)}")
	idle = [q for q, n in workers.items() if not n]
	if idle:
		problems.append(f"no worker listens on {', '.join(idle)}")
	if age is None or age > READINESS_RECONCILE_MAX_AGE:
		problems.append("the coordinator's reconcile has not run in the last "
			f"{READINESS_RECONCILE_MAX_AGE:.0f} s: schedule it every minute")  # fmt: skip
	start = time.monotonic()  # the ping is timed on the monotonic clock, whatever inputs.clock says
	job_id = coordinator.submit(f"{__name__}.ping", {}, priority="critical")
	deadline = start + inputs.ping_timeout
	status = coordinator.status(job_id)
	while (
		status["status"] not in ("finished", "failed", "cancelled", "dependency_failed")
		and time.monotonic() < deadline
	):
		inputs.poll(0.02)
		status = coordinator.status(job_id)
	evidence["ping"] = {"job_id": job_id, "status": status["status"],
		"round_trip_ms": _ms(time.monotonic() - start) if status["status"] == "finished" else None}  # fmt: skip
	if status["status"] != "finished":
		if status["status"] in ("waiting", "running", "delayed"):
			coordinator.cancel(job_id)
		problems.append(
			f"the ping job did not finish within {inputs.ping_timeout:.0f} s (status {status['status']})"
		)
		return ComponentResult(
			"jobs", FAILED if status["status"] == "failed" else DEGRADED, evidence, "; ".join(problems)
		)
	return ComponentResult("jobs", DEGRADED if problems else OPERATIONAL, evidence, "; ".join(problems))


# ---------------------------------------------------------------- database


def _version_tuple(text: str) -> tuple[int, ...]:
	match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
	return tuple(int(x) for x in match.groups() if x is not None) if match else ()


def _catalog(inputs: ReadinessInputs):
	if inputs.catalog is not None:
		return list(inputs.catalog)
	from .indexes.catalog import catalog

	return list(catalog("all"))


def catalog_status(db: Database, specs: Iterable) -> list[dict]:
	"""For each spec: present (an index whose leading columns are the spec's), missing, or skipped
	(its table does not exist here, as for another app's DocType)."""
	out = []
	tables = {r[0] for r in db.sql("SHOW TABLES")}
	for spec in specs:
		table = table_name(spec.doctype)
		if table not in tables:
			out.append({"index": spec.name, "table": table, "state": "skipped", "reason": "table absent"})
			continue
		rows = db.sql(
			"SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS "
			"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY INDEX_NAME, SEQ_IN_INDEX",
			(table,),
		)
		indexes: dict[str, list[str]] = {}
		for name, _seq, column in rows:
			indexes.setdefault(name, []).append(column)
		want = list(spec.columns)
		match = next((n for n, cols in indexes.items() if cols[: len(want)] == want), None)
		out.append(
			{"index": spec.name, "table": table, "state": "present" if match else "missing", "by": match}
		)
	return out


def probe_database(inputs: ReadinessInputs) -> ComponentResult:
	db = inputs.db
	if db is None:
		return ComponentResult(
			"database", FAILED, {"error": "no database handle was given"}, "connect the site's database"
		)
	start = time.perf_counter()
	db.sql("SELECT 1")
	latency = time.perf_counter() - start
	version = db.sql("SELECT VERSION()")[0][0]
	evidence = {"select_1_ms": _ms(latency), "version": version}
	if "mariadb" not in version.lower() or _version_tuple(version) < READINESS_MIN_MARIADB:
		minimum = ".".join(map(str, READINESS_MIN_MARIADB))
		return ComponentResult("database", FAILED, evidence, f"Frappe v15 needs MariaDB {minimum} or newer")
	try:
		specs = _catalog(inputs)
	except ImportError as exc:
		evidence["catalog"] = f"index manager not installed: {exc}"
		return ComponentResult(
			"database", DEGRADED, evidence, "install the index manager to check the catalog indexes"
		)
	status = catalog_status(db, specs)
	missing = [s["index"] for s in status if s["state"] == "missing"]
	evidence["catalog"] = {
		"present": [s["index"] for s in status if s["state"] == "present"],
		"missing": missing,
		"skipped": [s["index"] for s in status if s["state"] == "skipped"],
	}
	if missing:
		return ComponentResult("database", DEGRADED, evidence,
			f"apply the index catalogs: {', '.join(missing)} missing (scripts/database/create_sepa_indexes.py --catalog all)")  # fmt: skip
	return ComponentResult("database", OPERATIONAL, evidence)


# ---------------------------------------------------------------- monitoring


def probe_monitoring(inputs: ReadinessInputs) -> ComponentResult:
	if inputs.redis is None or not inputs.namespace or inputs.db is None:
		return ComponentResult("monitoring", FAILED, {"error": "Redis, namespace and database are all needed"},
			"run the check inside the site")  # fmt: skip
	try:
		from .histogram import MetricStore
	except ImportError as exc:
		return ComponentResult("monitoring", FAILED, {"monitoring": f"not installed: {exc}"},
			"install monitoring (verenigingen.performance.monitoring)")  # fmt: skip
	store = MetricStore(inputs.redis, inputs.namespace, clock=inputs.clock)
	metrics = sorted(store.metric_names(READINESS_MONITORING_MINUTES))
	evidence = {f"metrics_last_{READINESS_MONITORING_MINUTES}_minutes": len(metrics)}
	snapshot_table = table_name("Performance Snapshot")
	latest = None
	if inputs.db.sql("SHOW TABLES LIKE %s", (snapshot_table,)):
		row = inputs.db.sql(f"SELECT MAX(`timestamp`) FROM `{snapshot_table}`")
		latest = row[0][0] if row else None
	age = None
	if latest is not None:
		age = inputs.clock() - latest.timestamp()
	evidence["last_snapshot_seconds_ago"] = round(age, 1) if age is not None else None
	samples_ok = bool(metrics)
	snapshot_ok = age is not None and age <= READINESS_SNAPSHOT_MAX_AGE
	if samples_ok and snapshot_ok:
		return ComponentResult("monitoring", OPERATIONAL, evidence)
	advice = []
	if not samples_ok:
		advice.append("no metric samples recently: check the request/job hooks and the activation level")
	if not snapshot_ok:
		advice.append("no recent Performance Snapshot: check the scheduler runs the snapshot job")
	return ComponentResult(
		"monitoring", DEGRADED if (samples_ok or snapshot_ok) else FAILED, evidence, "; ".join(advice)
	)


# ---------------------------------------------------------------- API security and baselines


def audit_code(inputs: ReadinessInputs) -> ComponentResult:
	"""The app's whitelisted functions: guarded and annotated? (Code, not site: no weight.)"""
	from .api_audit import APP_DIR, coverage

	found = coverage(inputs.app_dir or APP_DIR)
	if not found["endpoints"]:
		return ComponentResult("code_audit", FAILED, found, "no whitelisted functions were found to check")
	if found["unguarded"]:
		return ComponentResult("code_audit", FAILED, found,
			f"add @admin_only below @frappe.whitelist() on {', '.join(found['unguarded'])}")  # fmt: skip
	if found["unannotated"]:
		return ComponentResult(
			"code_audit", DEGRADED, found, "annotate every argument of the listed functions"
		)
	return ComponentResult("code_audit", OPERATIONAL, found)


def probe_baselines(inputs: ReadinessInputs) -> ComponentResult:
	from .baselines import MEASURED, last_comparison, load_baselines
	from .exceptions import BaselineFileError

	advice = "measure baselines on this site: bench --site SITE verenigingen baselines --output FILE"
	if not inputs.baselines_path:
		return ComponentResult("baselines", FAILED, {"error": "no baselines file was named"}, advice)
	if not Path(inputs.baselines_path).exists():
		return ComponentResult("baselines", FAILED,
			{"error": f"no baselines measured on this site ({inputs.baselines_path} does not exist)"}, advice)  # fmt: skip
	try:
		data = load_baselines(inputs.baselines_path)
	except BaselineFileError as exc:
		return ComponentResult("baselines", FAILED, {"error": str(exc)}, advice)
	created = datetime.fromisoformat(data["created"])
	if created.tzinfo is None:
		created = created.replace(tzinfo=timezone.utc)
	age_days = (inputs.clock() - created.timestamp()) / 86400
	ops = data["operations"]
	evidence = {
		"path": str(inputs.baselines_path),
		"created": data["created"],
		"age_days": round(age_days, 2),
		"measured": sum(1 for o in ops.values() if o["status"] == MEASURED),
		"operations": len(ops),
	}
	last = (
		last_comparison(inputs.redis, inputs.namespace)
		if inputs.redis is not None and inputs.namespace
		else None
	)
	evidence["last_compare"] = last
	problems = []
	measured_on = ((data.get("environment") or {}).get("dataset") or {}).get("database")
	site_db = getattr(inputs.db, "database_name", None) if inputs.db is not None else None
	evidence.update(measured_on_database=measured_on, site_database=site_db)
	if site_db and measured_on != site_db:
		problems.append(
			f"the baselines were measured on database {measured_on!r}, not this site's {site_db!r}: {advice}"
		)
	if age_days > BASELINE_MAX_AGE_DAYS:
		problems.append(f"the baselines are {age_days:.0f} days old: measure them again")
	if last is not None and not last["ok"]:
		problems.append(f"the last compare found regressions in {', '.join(last['regressions'])}")
	return ComponentResult("baselines", DEGRADED if problems else OPERATIONAL, evidence, "; ".join(problems))


PROBES: dict[str, Callable[[ReadinessInputs], ComponentResult]] = {
	"cache": probe_cache,
	"invalidation": probe_invalidation,
	"jobs": probe_jobs,
	"database": probe_database,
	"monitoring": probe_monitoring,
	"baselines": probe_baselines,
}


def readiness_score(results: Iterable[ComponentResult], weights=READINESS_WEIGHTS) -> float:
	"""100 x sum(weight x value) / sum(weights), value 1 / 0.5 / 0 for operational / degraded / failed."""
	results = list(results)
	total = sum(weights[r.name] for r in results)
	if not total:
		return 0.0
	return round(100 * sum(weights[r.name] * STATUS_VALUE[r.status] for r in results) / total, 1)


def validate_readiness(inputs: ReadinessInputs, components: Iterable[str] | None = None) -> dict:
	"""Probe each component (default: all six); a probe that raises is ``failed`` with the error.
	The code audit runs with the default set and is reported apart (``code_audit``, no weight)."""
	names = list(components or PROBES)
	unknown = [n for n in names if n not in PROBES]
	if unknown:
		raise ValueError(f"unknown readiness component(s) {', '.join(unknown)}; known: {', '.join(PROBES)}")
	results = []
	for name in names:
		start = time.perf_counter()
		try:
			result = PROBES[name](inputs)
		except Exception as exc:  # the probe's failure is the finding: reported, not swallowed
			result = ComponentResult(name, FAILED, {"error": f"{type(exc).__name__}: {exc}"},
				f"the {name} probe failed: fix the error above")  # fmt: skip
		result.seconds = time.perf_counter() - start
		results.append(result)
	counts = {s: sum(1 for r in results if r.status == s) for s in STATUS_VALUE}
	audit = None
	if components is None:
		try:
			audit = audit_code(inputs).as_dict()
		except Exception as exc:  # reported as the audit's finding
			audit = {
				"component": "code_audit",
				"status": FAILED,
				"evidence": {"error": f"{type(exc).__name__}: {exc}"},
			}
		audit["component"] = "code_audit"
		audit["weight"] = 0
	return {
		"score": readiness_score(results),
		"ready": counts[FAILED] == 0 and counts[DEGRADED] == 0,
		"counts": counts,
		"weights": {r.name: READINESS_WEIGHTS[r.name] for r in results},
		"components": [r.as_dict() for r in results],
		"code_audit": audit,
		"checked_at": datetime.fromtimestamp(inputs.clock(), timezone.utc).isoformat(timespec="seconds"),
	}
