"""Showcase step: the performance score, its components, what is missing and the bottlenecks,
measured on the demo database after the other steps ran."""

import time

from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.defaults import PROBE_QUERIES
from verenigingen.performance.histogram import MetricStore
from verenigingen.performance.indexes import index_catalog_status
from verenigingen.performance.monitoring import Monitor, request_samples

from .env import ShowcaseEnv


def run(env: ShowcaseEnv) -> None:
	env.heading("Monitoring: score, components and bottlenecks")
	store = MetricStore(env.redis, env.namespace)
	members = [r[0] for r in env.db.sql("SELECT name FROM `tabMember` ORDER BY RAND(1) LIMIT 200")]
	# Real requests: time the member payment-history query the way the request hook times a request.
	sql = "SELECT name, amount FROM `tabMember Payment` WHERE member=%s ORDER BY posting_date DESC LIMIT 20"
	for member in members:
		started = time.perf_counter()
		env.db.sql(sql, (member,))
		ms = (time.perf_counter() - started) * 1000
		store.record(request_samples("/api/method/member_payments", ms, 200))
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
	env.table(
		["component", "score", "weight"],
		[[c, f"{v['score']:.3f}", f"{v['effective_weight']:.2f}"] for c, v in summary["components"].items()],
	)
	for c, why in summary["missing"].items():
		env.line(f"  missing {c}: {why}")
	env.line(f"stored Performance Snapshot {stored['name']}")
	k = summary["key_figures"]
	env.line(
		f"{k['request_count']} timed requests, p95 {k['request_p95_ms']:.2f} ms (±2 %)"
		if k["request_count"]
		else "no requests"
	)
	env.line(f"{len(summary['bottlenecks'])} bottleneck(s):")
	for b in summary["bottlenecks"][:8]:
		env.line(f"  [{b['severity']}] {b['rule']} {b['subject']}: {b['recommendation']}")
