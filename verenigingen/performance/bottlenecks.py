"""Bottleneck rules: each names the evidence it saw and recommends what to do.

:func:`find_bottlenecks` takes the readings :class:`~.monitoring.Monitor` collects (plain
dicts; a reading that is absent is skipped, never assumed) and returns findings
``{"rule", "subject", "severity", "evidence", "recommendation"}``, high severity first.
"""

from collections.abc import Mapping

from .defaults import (
	CACHE_LOW_HIT_RATIO,
	CACHE_MIN_MISSES,
	CAP_SATURATED_MINUTES,
	ENDPOINT_MIN_COUNT,
	ENDPOINT_P95_MS,
	JOB_WAIT_TARGETS_MS,
	QUEUE_BACKLOG_LIMIT,
	RESOURCE_PRESSURE_PERCENT,
)

_SEVERITY_ORDER = {"high": 0, "medium": 1}


def _finding(rule: str, subject: str, severity: str, evidence: dict, recommendation: str) -> dict:
	return {
		"rule": rule,
		"subject": subject,
		"severity": severity,
		"evidence": evidence,
		"recommendation": recommendation,
	}


def slow_endpoints(
	endpoints: Mapping[str, dict], *, p95_ms=ENDPOINT_P95_MS, min_count=ENDPOINT_MIN_COUNT
) -> list:
	"""``endpoints``: name -> histogram summary (count, p95_ms, error_rate)."""
	out = []
	for name, s in endpoints.items():
		if s.get("count", 0) >= min_count and (s.get("p95_ms") or 0) > p95_ms:
			severity = "high" if s["p95_ms"] > 3 * p95_ms else "medium"
			out.append(_finding(
				"slow_endpoint", name, severity,
				{"p95_ms": round(s["p95_ms"], 1), "count": s["count"], "error_rate": s.get("error_rate"), "limit_ms": p95_ms},
				f"profile {name}: its p95 of {s['p95_ms']:.0f} ms over {s['count']} requests exceeds {p95_ms:.0f} ms; "
				"cache its result or add the index its queries need",
			))  # fmt: skip
	return out


def queue_backlogs(queues: Mapping[str, dict], *, limit=QUEUE_BACKLOG_LIMIT, wait_targets_ms=None) -> list:
	"""``queues``: label -> collect_rq() reading (length, workers, oldest_wait_s)."""
	targets = dict(JOB_WAIT_TARGETS_MS if wait_targets_ms is None else wait_targets_ms)
	out = []
	for label, q in queues.items():
		length, workers, oldest = q.get("length", 0), q.get("workers"), q.get("oldest_wait_s")
		target_s = targets.get(label, 0) / 1000 if label in targets else None
		too_old = oldest is not None and target_s is not None and oldest > target_s
		evidence = {"length": length, "workers": workers, "oldest_wait_s": oldest, "wait_target_s": target_s}
		if length and workers == 0:
			out.append(_finding("queue_without_workers", label, "high", evidence,
				f"start an RQ worker for the {label} queue: {length} job(s) wait and no worker listens"))  # fmt: skip
		elif length > limit or too_old:
			out.append(_finding("queue_backlog", label, "high" if too_old and length > limit else "medium", evidence,
				f"add workers to the {label} queue or spread its jobs: {length} queued, oldest waiting {oldest} s"))  # fmt: skip
	return out


def saturated_caps(caps: Mapping[str, dict], *, minutes=CAP_SATURATED_MINUTES) -> list:
	"""``caps``: priority -> {running, cap, saturated_for_s}."""
	out = []
	for priority, c in caps.items():
		held = c.get("saturated_for_s")
		if held is not None and held >= minutes * 60:
			out.append(_finding("cap_saturated", priority, "medium",
				{"running": c.get("running"), "cap": c.get("cap"), "saturated_minutes": round(held / 60, 1)},
				f"the {priority} concurrency cap has been full for {held / 60:.0f} minutes: raise it if the "
				"database has headroom, or move work to a lower priority"))  # fmt: skip
	return out


def cold_cached_functions(
	functions: Mapping[str, dict], *, ratio=CACHE_LOW_HIT_RATIO, min_misses=CACHE_MIN_MISSES
) -> list:
	"""``functions``: cached function -> {hits, misses}."""
	out = []
	for name, f in functions.items():
		hits, misses = f.get("hits", 0), f.get("misses", 0)
		if misses >= min_misses and hits / (hits + misses) < ratio:
			out.append(_finding("cache_low_hit_ratio", name, "medium",
				{"hits": hits, "misses": misses, "hit_ratio": round(hits / (hits + misses), 4)},
				f"{name} misses its cache {misses} times: check its key (too specific?), its TTL and what "
				"invalidates it"))  # fmt: skip
	return out


def full_scan_probes(probes: list[dict]) -> list:
	out = []
	for p in probes:
		if p.get("full_scan"):
			tables = ", ".join(str(s.get("table")) for s in p.get("scanned", []))
			out.append(_finding("probe_full_scan", p["label"], "medium",
				{"probe_ms": p.get("ms"), "scanned": p.get("scanned")},
				f"the probe query '{p['label']}' scans {tables} in full: apply the catalog index for it"))  # fmt: skip
	return out


def missing_indexes(catalog_status: list[dict]) -> list:
	"""``catalog_status``: [{name, table, columns, present, table_exists}] from the index manager."""
	out = []
	for spec in catalog_status:
		if spec.get("table_exists", True) and spec.get("present") is False:
			out.append(_finding("missing_catalog_index", spec.get("name", "?"), "medium",
				{"table": spec.get("table"), "columns": spec.get("columns")},
				f"apply the catalog index {spec.get('name')} on {spec.get('table')} with the index manager"))  # fmt: skip
	return out


def resource_pressure(
	resources: Mapping, redis_info: Mapping | None = None, *, percent=RESOURCE_PRESSURE_PERCENT
) -> list:
	out = []
	advice = {
		"cpu_percent": "add CPU or workers on another host, or lower job concurrency",
		"memory_percent": "add memory or lower the number of workers per host",
		"disk_percent": "free disk space on the site's volume (backups, logs) or grow it",
	}
	for key, rec in advice.items():
		value = resources.get(key)
		if value is not None and value >= percent:
			out.append(_finding("resource_pressure", key.removesuffix("_percent"), "high" if value >= 95 else "medium",
				{key: value, "limit_percent": percent}, rec))  # fmt: skip
	if redis_info:
		ratio = redis_info.get("memory_ratio")
		if ratio is not None and ratio * 100 >= percent:
			out.append(_finding("resource_pressure", "redis_memory", "high",
				{"memory_ratio": ratio, "evicted_keys": redis_info.get("evicted_keys")},
				"raise Redis maxmemory: it is nearly full and evicts keys"))  # fmt: skip
	return out


def find_bottlenecks(readings: Mapping, *, settings=None) -> list[dict]:
	"""All findings over ``readings`` (keys: endpoints, rq, caps, cache_functions, database, indexes,
	resources, redis), high severity first."""
	targets = getattr(settings, "job_wait_targets_ms", None)
	findings = []
	findings += slow_endpoints(readings.get("endpoints") or {})
	findings += queue_backlogs(readings.get("rq") or {}, wait_targets_ms=targets)
	findings += saturated_caps(readings.get("caps") or {})
	findings += cold_cached_functions(readings.get("cache_functions") or {})
	findings += full_scan_probes((readings.get("database") or {}).get("probes") or [])
	findings += missing_indexes(readings.get("indexes") or [])
	findings += resource_pressure(readings.get("resources") or {}, readings.get("redis"))
	return sorted(findings, key=lambda f: (_SEVERITY_ORDER.get(f["severity"], 9), f["rule"], f["subject"]))
