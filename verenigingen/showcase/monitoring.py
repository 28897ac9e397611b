"""Showcase step: the performance score, its components, what is missing and the bottlenecks,
measured on the demo database after the other steps ran."""

import time

from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.defaults import PROBE_QUERIES
from verenigingen.performance.indexes import index_catalog_status
from verenigingen.performance.monitoring import Monitor

from .env import ShowcaseEnv
from .fmt import count, sig


def run(env: ShowcaseEnv) -> None:
	env.heading("Monitoring: score, components and bottlenecks")
	members = [r[0] for r in env.db.sql("SELECT name FROM `tabMember` ORDER BY RAND(1) LIMIT 1")]
	# The requests component reads what the request hook recorded: the requests step's HTTP requests.
	probes = [(label, q, (members[0] if members else "none",)) for label, q, _p in PROBE_QUERIES]
	# The app cache of the demo site (the cache step's statistics) and the index catalog status.
	monitor = Monitor(
		env.redis, env.db, env.namespace, probes=probes, index_status=lambda: index_catalog_status(env.db),
		cache=SecurityAwareCache(env.redis, env.namespace),
	)  # fmt: skip
	monitor.collect()  # first reading: stores the counters later rates are taken from
	time.sleep(1.0)  # let a second pass by so the database rates cover a real interval
	stored = monitor.snapshot()  # a Performance Snapshot row, as the five-minute job stores one
	summary = stored["summary"]
	env.results["monitoring"] = {
		"score": summary["score"],
		"components": summary["components"],
		"missing": summary["missing"],
		"snapshot": stored["name"],
	}
	env.line(f"score: {summary['score']} (of 100) from {len(summary['components'])} measured component(s)")
	deliberate = (env.results.get("jobs") or {}).get("failing_on_purpose", 0)
	env.table(
		["component", "score", "weight", "from"],
		[[c, sig(v["score"]), sig(v["effective_weight"]), basis(c, v["inputs"], deliberate)]
			for c, v in summary["components"].items()],
	)  # fmt: skip
	for c, why in summary["missing"].items():
		env.line(f"  missing {c}: {why}")
	env.line(f"stored Performance Snapshot {stored['name']}")
	k = summary["key_figures"]
	env.line(
		f"{count(k['request_count'])} requests in the last {summary['window_minutes']} minutes, "
		f"server-side p95 {sig(k['request_p95_ms'])} ms (±2 %)"
		if k["request_count"]
		else "no requests recorded in the window (the requests step sends them)"
	)
	env.line(f"{len(summary['bottlenecks'])} bottleneck(s):")
	for b in summary["bottlenecks"][:8]:
		env.line(f"  [{b['severity']}] {b['rule']} {b['subject']}: {b['recommendation']}")


def basis(component: str, inputs: dict, deliberate_failures: int = 0) -> str:
	"""What a score component was computed from, in a few words."""
	if component == "requests":
		return (
			f"{count(inputs['count'])} HTTP requests: Apdex {sig(inputs['apdex'])} (T {sig(inputs['t_ms'])} ms), "
			f"5xx rate {sig(inputs['server_error_rate'])}"
		)
	if component == "jobs":
		text = f"{count(inputs.get('jobs'))} jobs, {count(inputs.get('failed', 0))} failed"
		if deliberate_failures:
			text += f" ({deliberate_failures} of them fail on purpose in the demo)"
		waits = inputs.get("waits") or {}
		if waits:
			text += f"; wait p95 vs target in {len(waits)} queue(s)"
		return text
	if component == "cache":
		return f"{count(inputs['hits'])} hits, {count(inputs['misses'])} misses"
	if component == "database":
		return (
			f"probe {sig(inputs.get('probe_ms'))} ms, {sig(inputs.get('slow_queries_per_min'))} slow queries/min, "
			f"{sig(inputs.get('row_lock_waits_per_min'))} lock waits/min"
		)
	if component == "resources":
		return (
			f"CPU {sig(inputs.get('cpu_percent'))} %, memory {sig(inputs.get('memory_percent'))} %, "
			f"disk {sig(inputs.get('disk_percent'))} % (tightest: {inputs.get('tightest')})"
		)
	return ""
