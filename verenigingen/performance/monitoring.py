"""Monitoring of one site: collection, the score, bottlenecks, alerts, snapshots, dashboard data.

:class:`Monitor` takes everything as arguments: a Redis client, a database handle, the site
namespace, :class:`MonitoringSettings`, a clock, and optionally the other subsystems'
objects, read through small adapters (:func:`cache_figures`, :func:`coordinator_figures`,
:func:`index_figures`). A subsystem that is not given, or whose reading fails, is reported
as missing with the reason; nothing stands in for it.

Metric names in the :class:`~.histogram.MetricStore`: ``request`` (every request),
``endpoint:<name>`` (capped per minute), ``job_run:<queue>`` (errors = failed jobs),
``job_wait:<queue>``.
"""

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta

from . import defaults as d
from .alerts import AlertManager
from .bottlenecks import find_bottlenecks
from .collectors import collect_database, collect_redis, collect_resources, collect_rq
from .db import Database, quote_identifier, table_name
from .exceptions import InvalidMetricError
from .histogram import Histogram, MetricStore, Sample
from .keys import KeyBuilder
from .score import (
	cache_component,
	combine,
	database_component,
	jobs_component,
	requests_component,
	resources_component,
)

SNAPSHOT_TABLE = table_name("Performance Snapshot")
WINDOWS = {"1h": 60, "6h": 360, "24h": 1440, "7d": 7 * 1440, "30d": 30 * 1440}  # dashboard windows, minutes
LEVELS = {0: "off", 1: "collect only", 2: "dashboard", 3: "alerts", 4: "automatic actions"}


@dataclass
class MonitoringSettings:
	"""What a site may configure (Performance Settings); defaults from ``defaults.py``."""

	activation_level: int = d.MONITORING_ACTIVATION_LEVEL
	apdex_t_ms: float = d.APDEX_T_MS
	window_minutes: int = d.MONITORING_WINDOW_MINUTES
	snapshot_retention_days: int = d.SNAPSHOT_RETENTION_DAYS
	alert_breaches: int = d.ALERT_BREACHES
	alert_healthy: int = d.ALERT_HEALTHY
	score_alert_below: float = d.SCORE_ALERT_BELOW
	alert_thresholds: dict = field(default_factory=lambda: {k: v for k, v in d.ALERT_THRESHOLDS.items() if v})
	job_wait_targets_ms: dict = field(default_factory=lambda: dict(d.JOB_WAIT_TARGETS_MS))
	weights: dict = field(default_factory=lambda: dict(d.SCORE_WEIGHTS))

	def __post_init__(self):
		def whole(name, lo, hi=None):
			v = getattr(self, name)
			if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
				rng = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
				raise InvalidMetricError(f"{name} must be a whole number {rng}, got {v!r}")

		whole("activation_level", 0, 4)
		whole("window_minutes", 1, 1440)
		whole("snapshot_retention_days", 1)
		whole("alert_breaches", 1)
		whole("alert_healthy", 1)
		if not isinstance(self.apdex_t_ms, int | float) or self.apdex_t_ms <= 0:
			raise InvalidMetricError(f"apdex_t_ms must be a positive number, got {self.apdex_t_ms!r}")
		if not 0 <= self.score_alert_below <= 100:
			raise InvalidMetricError(
				f"score_alert_below must be between 0 and 100, got {self.score_alert_below!r}"
			)
		unknown = set(self.alert_thresholds) - set(d.ALERT_THRESHOLDS)
		if unknown:
			raise InvalidMetricError(f"unknown alert threshold(s) {sorted(unknown)}")
		for k, v in self.alert_thresholds.items():
			if not isinstance(v, int | float) or v <= 0:
				raise InvalidMetricError(f"alert threshold {k} must be a positive number, got {v!r}")

	@classmethod
	def from_values(cls, values: Mapping) -> "MonitoringSettings":
		"""Build from flat values as the Performance Settings DocType stores them; absent or empty
		values keep their defaults; a value that is not a number raises naming the field."""

		def num(key, kind):
			raw = values.get(key)
			if raw in (None, ""):
				return None
			try:
				return kind(float(raw)) if kind is int and float(raw).is_integer() else kind(raw)
			except (TypeError, ValueError) as exc:
				raise InvalidMetricError(f"{key} must be a number, got {raw!r}") from exc

		kwargs = {}
		for key, kind in (
			("activation_level", int), ("apdex_t_ms", float), ("window_minutes", int),
			("snapshot_retention_days", int), ("alert_breaches", int), ("alert_healthy", int),
			("score_alert_below", float),
		):  # fmt: skip
			v = num(key, kind)
			if v is not None:
				kwargs[key] = v
		thresholds = {k: v for k, v in d.ALERT_THRESHOLDS.items() if v}
		for key, metric in (
			("request_p95_alert_ms", "request_p95_ms"), ("request_error_rate_alert", "request_error_rate"),
			("job_failure_rate_alert", "job_failure_rate"), ("db_probe_alert_ms", "db_probe_ms"),
			("cpu_alert_percent", "cpu_percent"), ("memory_alert_percent", "memory_percent"),
			("disk_alert_percent", "disk_percent"),
		):  # fmt: skip
			v = num(key, float)
			if v is not None:
				thresholds[metric] = v
		return cls(**kwargs, alert_thresholds=thresholds)

	def as_dict(self) -> dict:
		return asdict(self)


# ---------------------------------------------------------------- request and job samples


def endpoint_name(path: str | None) -> str:
	"""A bounded name for a request path's endpoint: the method of /api/method, the DocType of
	/api/resource, else the first path segment."""
	parts = [p for p in (path or "/").split("/") if p]
	if parts[:2] == ["api", "method"] and len(parts) > 2:
		name = "/api/method/" + parts[2]
	elif parts[:2] == ["api", "resource"] and len(parts) > 2:
		name = "/api/resource/" + parts[2]
	else:
		name = "/" + (parts[0] if parts else "")
	return name[:140]


def request_samples(endpoint: str, duration_ms: float, status: int | None) -> list[Sample]:
	"""The samples one request adds: every request, and its endpoint (capped). 5xx is an error."""
	error = status is None or status >= 500
	return [
		Sample("request", duration_ms, error),
		Sample(f"endpoint:{endpoint}", duration_ms, error, capped=True),
	]


def job_samples(queue: str, run_ms: float, wait_ms: float | None, failed: bool) -> list[Sample]:
	samples = [Sample(f"job_run:{queue}", run_ms, failed)]
	if wait_ms is not None:
		samples.append(Sample(f"job_wait:{queue}", max(0.0, wait_ms)))
	return samples


# ---------------------------------------------------------------- adapters to the other subsystems


def cache_figures(cache) -> dict:
	"""Hits and misses of the app cache (``SecurityAwareCache.stats()``), per level and per
	function where it reports them, the hits its in-process tier served (``local_hits``, None when
	not reported) and the tier's own figures (``local``: processes, entries, bytes held, evictions,
	flushes by cause; None without a tier). Raises if the object reports neither hits nor misses."""
	stats = cache.stats() if callable(getattr(cache, "stats", None)) else cache
	stats = stats.as_dict() if hasattr(stats, "as_dict") else dict(stats)

	def hm(x):
		return int(x.get("hits", 0) or 0), int(x.get("misses", 0) or 0)

	levels = {
		k: dict(zip(("hits", "misses"), hm(v), strict=True)) for k, v in (stats.get("levels") or {}).items()
	}
	functions = {
		k: dict(zip(("hits", "misses"), hm(v), strict=True))
		for k, v in (stats.get("functions") or {}).items()
	}
	if isinstance(stats.get("totals"), Mapping):
		hits, misses = hm(stats["totals"])
	elif "hits" in stats or "misses" in stats:
		hits, misses = hm(stats)
	elif levels:
		hits, misses = sum(v["hits"] for v in levels.values()), sum(v["misses"] for v in levels.values())
	else:
		raise InvalidMetricError("the cache's stats() report no hits or misses")
	totals = stats.get("totals") if isinstance(stats.get("totals"), Mapping) else stats
	local_hits = totals.get("local_hits")
	for name, row in (stats.get("levels") or {}).items():
		levels[name]["local_hits"] = int(row.get("local_hits", 0) or 0)
	return {
		"hits": hits, "misses": misses, "local_hits": None if local_hits is None else int(local_hits),
		"levels": levels, "functions": functions, "local": _tier_figures(stats.get("local")),
	}  # fmt: skip


def _tier_figures(local) -> dict | None:
	if not isinstance(local, Mapping) or "counters" not in local:
		return None
	counters = local["counters"]
	return {
		"processes": local.get("processes"), "entries": local.get("entries"), "bytes": local.get("bytes"),
		"evictions": counters.get("evictions", 0), "flushes": dict(local.get("flushes") or {}),
		"refused_installs": counters.get("refused", 0),
	}  # fmt: skip


def coordinator_figures(coordinator) -> dict:
	"""Per priority: running (slots leased), cap (effective), queued (submitted, not yet started),
	failed, oldest wait; from ``JobCoordinator.queue_status()`` or plain rows of those names."""
	status = (
		coordinator.queue_status() if callable(getattr(coordinator, "queue_status", None)) else coordinator
	)
	status = dict(status)
	priorities = status.get("priorities", status)
	out = {}
	for name, p in dict(priorities).items():
		if not isinstance(p, Mapping):
			continue
		row = {k: p.get(k) for k in ("running", "cap", "queued", "failed") if k in p}
		if "slots_in_use" in p:  # the job coordinator's names
			counts = p.get("counts") or {}
			row["running"] = p["slots_in_use"]
			row["cap"] = p.get("effective_cap", p.get("cap"))
			row["queued"] = counts.get("waiting", 0) + counts.get("delayed", 0)
			row["failed"] = counts.get("failed", 0)
			row["oldest_waiting_seconds"] = p.get("oldest_waiting_seconds")
		out[str(name)] = row
	return out


def index_figures(status) -> list[dict]:
	"""Catalog rows: name, table, columns, present, table_exists. Reads the index manager's
	``index_catalog_status()`` ({"indexes": [{index, doctype, columns, state}]}) or plain rows."""
	rows = status.get("indexes", []) if isinstance(status, Mapping) else status
	out = []
	for row in rows:
		row = row.as_dict() if hasattr(row, "as_dict") else dict(row)
		state = row.get("state")
		doctype = row.get("doctype")
		out.append(
			{
				"name": row.get("index") or row.get("name"),
				"table": row.get("table") or (f"tab{doctype}" if doctype else None),
				"columns": row.get("columns"),
				"catalog": row.get("catalog"),
				"state": state,
				"present": (state == "present") if state else row.get("present"),
				"table_exists": (state != "not applicable") if state else row.get("table_exists", True),
			}
		)
	return out


# ---------------------------------------------------------------- the monitor


class Monitor:
	"""Everything monitoring does for one site, from its inputs."""

	def __init__(
		self,
		redis,
		db: Database,
		namespace: str,
		settings: MonitoringSettings | None = None,
		*,
		clock: Callable[[], float] = time.time,
		disk_path: str = "/",
		rq_connection=None,
		rq_queues: Mapping[str, str] | None = None,
		probes: Sequence = d.PROBE_QUERIES,
		cache=None,
		coordinator=None,
		index_status: Callable[[], Iterable] | None = None,
	):
		self.redis = redis
		self.db = db
		self.namespace = namespace
		self.keys = KeyBuilder(namespace)
		self.settings = settings or MonitoringSettings()
		self.clock = clock
		self.disk_path = disk_path
		self.rq_connection = rq_connection
		self.rq_queues = dict(rq_queues or {})
		self.probes = tuple(probes)
		self.cache = cache
		self.coordinator = coordinator
		self.index_status = index_status
		self.store = MetricStore(redis, namespace, clock=clock, default_level=self.settings.activation_level)

	# ------------------------------------------------------------ collection
	def _read(self, name: str, fn: Callable, errors: dict):
		try:
			return fn()
		except Exception as exc:  # the reading is reported missing with this error, never defaulted
			errors[name] = f"{type(exc).__name__}: {exc}"
			return None

	def collect(self) -> dict:
		"""Every reading, measured now; ``errors`` says which could not be taken and why."""
		s = self.settings
		errors: dict[str, str] = {}
		window = s.window_minutes
		names = self.store.metric_names(window)
		hists = self.store.window(sorted(names | {"request"}), window)
		endpoints = {
			n.removeprefix("endpoint:"): h.summary() for n, h in hists.items() if n.startswith("endpoint:")
		}
		job_run = {n.removeprefix("job_run:"): h for n, h in hists.items() if n.startswith("job_run:")}
		job_wait = {n.removeprefix("job_wait:"): h for n, h in hists.items() if n.startswith("job_wait:")}
		readings = {
			"at": self.clock(),
			"window_minutes": window,
			"requests": hists["request"],
			"endpoints": endpoints,
			"job_run": job_run,
			"job_wait": job_wait,
			"resources": self._read(
				"resources",
				lambda: collect_resources(self.redis, self.namespace, self.disk_path, clock=self.clock),
				errors,
			),
			"redis": self._read("redis", lambda: collect_redis(self.redis), errors),
			"database": self._read(
				"database",
				lambda: collect_database(self.db, self.redis, self.namespace, self.probes, clock=self.clock),
				errors,
			),
		}
		if self.rq_connection is not None and self.rq_queues:
			readings["rq"] = self._read(
				"rq", lambda: collect_rq(self.rq_connection, self.rq_queues, clock=self.clock), errors
			)
		else:
			errors["rq"] = "no RQ connection or queues given"
		if self.cache is not None:
			cache = self._read("cache", lambda: cache_figures(self.cache), errors)
			readings["cache"] = cache
			readings["cache_functions"] = (cache or {}).get("functions") or {}
		else:
			errors["cache"] = "the app cache is not available to monitoring"
		if self.coordinator is not None:
			caps = self._read("coordinator", lambda: coordinator_figures(self.coordinator), errors)
			readings["caps"] = self._saturation(caps) if caps else None
		else:
			errors["coordinator"] = "the job coordinator is not available to monitoring"
		if self.index_status is not None:
			readings["indexes"] = self._read("indexes", lambda: index_figures(self.index_status()), errors)
		else:
			errors["indexes"] = "the index catalog is not available to monitoring"
		readings["errors"] = errors
		return readings

	def _saturation(self, caps: dict) -> dict:
		"""Add ``saturated_for_s``: how long each priority's cap has been full (tracked in Redis)."""
		now = self.clock()
		key = self.keys.key("monitoring", "saturated")
		since = {
			(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in self.redis.hgetall(key).items()
		}
		pipe = self.redis.pipeline(transaction=True)
		for priority, c in caps.items():
			full = c.get("cap") is not None and c.get("running") is not None and c["running"] >= c["cap"]
			if full:
				start = since.get(priority, now)
				pipe.hset(key, priority, repr(start))
				c["saturated_for_s"] = round(now - start, 1)
			else:
				pipe.hdel(key, priority)
				c["saturated_for_s"] = None
		pipe.execute()
		return caps

	# ------------------------------------------------------------ score
	def score(self, readings: dict) -> dict:
		s = self.settings
		res = readings.get("resources") or {}
		db = readings.get("database") or {}
		cache = readings.get("cache")
		results = {
			"requests": requests_component(readings["requests"], s.apdex_t_ms),
			"jobs": jobs_component(readings["job_run"], readings["job_wait"], s.job_wait_targets_ms),
			"database": database_component(
				db.get("probe_ms"), db.get("slow_queries_per_min"), db.get("row_lock_waits_per_min")
			)
			if readings.get("database")
			else (None, f"database readings failed: {readings['errors'].get('database')}"),
			"cache": cache_component(cache["hits"], cache["misses"], cache.get("local_hits"))
			if cache
			else (None, readings["errors"].get("cache", "cache statistics not available")),
			"resources": resources_component(
				res.get("cpu_percent"), res.get("memory_percent"), res.get("disk_percent")
			)
			if readings.get("resources")
			else (None, f"resource readings failed: {readings['errors'].get('resources')}"),
		}
		return combine(results, s.weights)

	def key_figures(self, readings: dict, scored: dict) -> dict:
		req: Histogram = readings["requests"]
		runs = sum(h.count for h in readings["job_run"].values())
		failed = sum(h.errors for h in readings["job_run"].values())
		res = readings.get("resources") or {}
		db = readings.get("database") or {}
		cache = readings.get("cache") or {}
		lookups = cache.get("hits", 0) + cache.get("misses", 0)
		return {
			"score": scored["score"],
			"request_count": req.count,
			"requests_per_min": round(req.count / readings["window_minutes"], 3),
			"request_p95_ms": req.percentile(0.95) if req.count else None,
			"request_error_rate": req.error_rate,
			"job_count": runs,
			"job_failure_rate": failed / runs if runs else None,
			"db_probe_ms": db.get("probe_ms"),
			"cache_hit_ratio": cache["hits"] / lookups if lookups else None,
			"cache_local_hit_ratio": (cache.get("local_hits") or 0) / lookups
			if lookups and cache.get("local_hits") is not None
			else None,
			"cache_tier_bytes": (cache.get("local") or {}).get("bytes"),
			"cpu_percent": res.get("cpu_percent"),
			"memory_percent": res.get("memory_percent"),
			"disk_percent": res.get("disk_percent"),
		}

	def alert_manager(self) -> AlertManager:
		s = self.settings
		return AlertManager(
			self.redis, self.db, self.namespace, breaches_to_open=s.alert_breaches,
			healthy_to_resolve=s.alert_healthy, thresholds=s.alert_thresholds,
			score_below=s.score_alert_below, clock=self.clock,
		)  # fmt: skip

	def summary(self, readings: dict | None = None) -> dict:
		"""Score, components, missing components, bottlenecks, open alerts and key figures."""
		readings = readings if readings is not None else self.collect()
		scored = self.score(readings)
		return {
			"activation_level": self.settings.activation_level,
			"activation": LEVELS[self.settings.activation_level],
			"measured_at": datetime.fromtimestamp(readings["at"]).isoformat(timespec="seconds"),
			"window_minutes": readings["window_minutes"],
			**scored,
			"key_figures": self.key_figures(readings, scored),
			"bottlenecks": find_bottlenecks(readings, settings=self.settings),
			"open_alerts": self.alert_manager().open_alerts(),
			"queues": readings.get("rq"),
			"job_priorities": readings.get("caps"),
			"cache": readings.get("cache"),
			"indexes": readings.get("indexes"),
			"endpoints": dict(
				sorted(readings["endpoints"].items(), key=lambda kv: -(kv[1]["p95_ms"] or 0))[:20]
			),
			"resources": readings.get("resources"),
			"redis": readings.get("redis"),
			"database": readings.get("database"),
			"reading_errors": readings["errors"],
		}

	# ------------------------------------------------------------ snapshots and alerts
	def snapshot(self) -> dict:
		"""Persist one Performance Snapshot row and, from level 3, evaluate alerts. Returns the
		row's name, the summary it stored and the alert changes."""
		if self.settings.activation_level < 1:
			return {"name": None, "skipped": "monitoring is off (activation level 0)"}
		summary = self.summary()
		now = datetime.fromtimestamp(self.clock()).replace(microsecond=0)
		name = secrets.token_hex(5)
		components = {"components": summary["components"], "missing": summary["missing"]}
		table = quote_identifier(SNAPSHOT_TABLE)
		try:
			self.db.sql(
				f"INSERT INTO {table} (name, creation, modified, modified_by, owner, docstatus, idx, `timestamp`, "
				"score, score_measured, missing_components, activation_level, components, metrics) "
				"VALUES (%s, %s, %s, 'Administrator', 'Administrator', 0, 0, %s, %s, %s, %s, %s, %s, %s)",
				(
					name, now, now, now, summary["score"] or 0, 1 if summary["score"] is not None else 0,
					", ".join(sorted(summary["missing"])), self.settings.activation_level,
					json.dumps(components, default=str), json.dumps(summary["key_figures"], default=str),
				),
			)  # fmt: skip
			self.db.commit()
		except Exception:
			self.db.rollback()
			raise
		alerts = None
		if self.settings.activation_level >= 3:
			k = summary["key_figures"]
			alerts = self.alert_manager().evaluate(
				{m: k.get(m) for m in ("score", *self.settings.alert_thresholds) if m in k}
			)
		return {"name": name, "summary": summary, "alerts": alerts}

	def purge(self, *, batch: int = d.SNAPSHOT_PURGE_BATCH) -> int:
		"""Delete snapshots older than the retention, ``batch`` rows per statement; return how many."""
		cutoff = datetime.fromtimestamp(self.clock()) - timedelta(days=self.settings.snapshot_retention_days)
		table = quote_identifier(SNAPSHOT_TABLE)
		deleted = 0
		while True:
			self.db.sql(f"DELETE FROM {table} WHERE `timestamp` < %s LIMIT {int(batch)}", (cutoff,))
			n = self.db.sql("SELECT ROW_COUNT()")[0][0]
			self.db.commit()
			deleted += n
			if n < batch:
				return deleted

	# ------------------------------------------------------------ dashboard
	def dashboard(self, window: str) -> dict:
		"""Time series over ``window`` (1h, 6h, 24h from the per-minute histograms; 7d, 30d from
		snapshots only): request rate, p95 and error rate, the score and resources."""
		if window not in WINDOWS:
			raise InvalidMetricError(f"unknown window {window!r}: use one of {', '.join(WINDOWS)}")
		minutes = WINDOWS[window]
		now = self.clock()
		out = {"window": window, "requests": None}
		if minutes * 60 <= self.store.retention_seconds:
			step = max(1, minutes // 60)  # at most 60 points
			rows = self.store.per_minute(["request"], minutes)["request"]
			points = []
			for i in range(0, len(rows), step):
				merged = Histogram()
				for _m, h in rows[i : i + step]:
					merged.merge(h)
				points.append(
					{
						"t": datetime.fromtimestamp(rows[i][0] * 60).isoformat(timespec="minutes"),
						"count": merged.count,
						"per_min": round(merged.count / step, 3),
						"p95_ms": merged.percentile(0.95) if merged.count else None,
						"error_rate": merged.error_rate,
					}
				)
			out["requests"] = {"step_minutes": step, "points": points}
		else:
			out["requests_note"] = "per-minute histograms are kept for a shorter time; see the snapshots"
		since = datetime.fromtimestamp(now - minutes * 60)
		rows = self.db.sql(
			f"SELECT `timestamp`, score, score_measured, missing_components, metrics FROM "
			f"{quote_identifier(SNAPSHOT_TABLE)} WHERE `timestamp` >= %s ORDER BY `timestamp`",
			(since,),
			as_dict=True,
		)
		out["snapshots"] = [
			{
				"t": r["timestamp"].isoformat(timespec="minutes"),
				"score": float(r["score"]) if r["score_measured"] else None,
				"missing": r["missing_components"] or "",
				**{k: v for k, v in json.loads(r["metrics"] or "{}").items() if k != "score"},
			}
			for r in rows
		]
		return out


def settings_field_names() -> list[str]:
	return [f.name for f in fields(MonitoringSettings)]
