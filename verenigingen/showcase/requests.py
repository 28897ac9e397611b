"""Showcase step: the member summary and the payment history over real HTTP, side by side in three
configurations: no catalog indexes and no cache, the indexes, the indexes and the cache.

Each configuration gets its own read API server process (:mod:`verenigingen.performance.readapi`,
bound to 127.0.0.1 on a free port) and is driven by the load generator
(:mod:`verenigingen.performance.loadgen`): keep-alive clients, a bounded count and time per
endpoint. The server's request hook records every request, with its status, into the showcase
site's metric store: the monitoring step's requests component scores these requests.
"""

import os
import random

from verenigingen.performance.baselines import environment, p50_ratio_interval, speed_words
from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.defaults import BASELINE_MIN_EFFECT
from verenigingen.performance.histogram import MetricStore
from verenigingen.performance.indexes import IndexManager, catalog
from verenigingen.performance.loadgen import CPUMeter, run_load
from verenigingen.performance.monitoring import endpoint_name
from verenigingen.performance.readapi import MEMBER_SUMMARY, PAYMENT_HISTORY, ROUTES, ReadAPIServer

from .env import ShowcaseEnv
from .fmt import count, sig

CLIENTS = 4  # keep-alive connections, each its own thread
MAX_REQUESTS = 1500  # per configuration and endpoint ...
MAX_SECONDS = 8.0  # ... or this long, whichever comes first
MEMBERS_DRAWN = 200  # the members the clients ask about (each request picks one at random)
RESAMPLES = 400  # bootstrap resamples of each p50 ratio
ADMIN_ROLE = "Verenigingen Administrator"
USERS = {  # API token -> (user, roles); client i uses the (i % 2)-th
	"showcase-admin:secret-1": ("showcase-admin@example.org", (ADMIN_ROLE,)),
	"showcase-treasurer:secret-2": ("showcase-treasurer@example.org", (ADMIN_ROLE,)),
}
ENDPOINTS = (("member summary", MEMBER_SUMMARY), ("payment history", PAYMENT_HISTORY))
# (label, catalog indexes, app cache)
CONFIGURATIONS = (
	("no indexes, no cache", False, False),
	("indexes", True, False),
	("indexes + cache", True, True),
)
# The L1 in-process cache tier gets its row here when it exists; until then the table says so.
L1_ROW = ("indexes + cache + L1 (in-process)", "not built yet: this row comes with the L1 tier")
STORE_WINDOW_MINUTES = 120  # the metric store window the recorded counts are read over (the run is fresh)


def run(env: ShowcaseEnv) -> None:
	env.heading("Requests over HTTP: the member summary and the payment history from a local server")
	manager = IndexManager(env.db, user="showcase")
	specs = catalog("all")
	members = [
		r[0] for r in env.db.sql("SELECT `name` FROM `tabMember` ORDER BY RAND(5) LIMIT %s", (MEMBERS_DRAWN,))
	]
	if not members:
		env.line("no members in the demo database: run the seed step first")
		return
	store = MetricStore(env.redis, env.namespace)
	tokens = list(USERS)
	machine = environment(env.db, env.redis)
	machine["load_average"] = ", ".join(sig(x) for x in os.getloadavg())
	env.line(
		f"{CLIENTS} keep-alive clients as {len(USERS)} users; per configuration and endpoint at most "
		f"{MAX_REQUESTS:,} requests or {MAX_SECONDS:g} s; each request asks about one of {len(members)} members."
	)
	env.line(
		"server: one process per configuration on 127.0.0.1 (Werkzeug request/response); "
		"latencies are client round trips"
	)
	env.line(
		f"machine: {machine['cpu_count']} cores, {sig((machine['memory_bytes'] or 0) / 2**30)} GiB, "
		f"{machine['platform']}; load average {machine['load_average']} before the step"
	)
	rows, notes, recorded = [], {}, {}
	for label, with_indexes, with_cache in CONFIGURATIONS:
		_set_indexes(env, manager, specs, with_indexes)
		cache = SecurityAwareCache(env.redis, env.namespace)
		if with_cache:
			cache.invalidate_all()  # the configuration starts with a cold cache
		cache_before = _function_stats(cache)
		counts_before = _recorded(store)
		with ReadAPIServer(
			env.db_settings, env.redis_settings, env.namespace, use_cache=with_cache, tokens=USERS
		) as server:
			meter = CPUMeter(env.redis, server.pid, env.db_settings["host"], int(env.db_settings["port"]))
			for name, path in ENDPOINTS:
				rng = [random.Random(f"{label}|{name}|{i}") for i in range(CLIENTS)]
				before = meter.read()
				result = run_load(
					"127.0.0.1", server.port, lambda c, n, path=path, rng=rng: f"{path}?member={rng[c].choice(members)}",
					clients=CLIENTS, max_requests=MAX_REQUESTS, max_seconds=MAX_SECONDS,
					headers=lambda c: {"Authorization": f"token {tokens[c % len(tokens)]}"},
				)  # fmt: skip
				after = meter.read()
				rows.append(
					{
						"configuration": label, "endpoint": name, "path": path, **result.as_dict(),
						"cpu_ms_per_request": CPUMeter.per_request_ms(before, after, result.requests),
						"rounds_ms": result.per_client_ms,
					}
				)  # fmt: skip
			notes.update(meter.notes)
			server.stop()
		counts_after = _recorded(store)
		cache_after = _function_stats(cache)
		for row in rows[-len(ENDPOINTS) :]:
			metric = f"endpoint:{endpoint_name(row['path'])}"
			row["recorded"] = counts_after.get(metric, 0) - counts_before.get(metric, 0)
			cache_name = ROUTES[row["path"]][0]
			if with_cache:
				hits = cache_after.get(cache_name, {}).get("hits", 0) - cache_before.get(cache_name, {}).get(
					"hits", 0
				)
				misses = cache_after.get(cache_name, {}).get("misses", 0) - cache_before.get(
					cache_name, {}
				).get("misses", 0)
				row["cache"] = {"hits": int(hits), "misses": int(misses)}
			else:
				row["cache"] = None
		recorded[label] = counts_after.get("request", 0) - counts_before.get("request", 0)
	_print_table(env, rows)
	comparisons = _compare(rows)
	_print_comparisons(env, comparisons)
	sent = sum(r["requests"] for r in rows)
	statuses: dict[str, int] = {}
	for r in rows:
		for k, v in r["statuses"].items():
			statuses[k] = statuses.get(k, 0) + v
	env.line(
		f"\nstatuses: {', '.join(f'{k} x {v:,}' for k, v in sorted(statuses.items()))}; the server's request hook "
		f"recorded {sum(recorded.values()):,} of the {sent:,} requests sent in the monitoring store"
	)
	env.line(
		"CPU per request: the server process (psutil), Redis (INFO cpu) and MariaDB (its mariadbd process); "
		"Redis and MariaDB are shared, so theirs includes other clients' work in the same interval"
	)
	for what, why in sorted(notes.items()):
		env.line(f"  {what} CPU: {why}")
	env.results["requests"] = {
		"settings": {
			"clients": CLIENTS, "users": len(USERS), "max_requests": MAX_REQUESTS, "max_seconds": MAX_SECONDS,
			"members_drawn": len(members),
		},
		"rows": [{k: v for k, v in r.items() if k != "rounds_ms"} for r in rows],
		"l1_row": {"configuration": L1_ROW[0], "note": L1_ROW[1]},
		"comparisons": comparisons,
		"recorded": recorded,
		"cpu_notes": notes,
		"environment": machine,
	}  # fmt: skip


def _set_indexes(env: ShowcaseEnv, manager: IndexManager, specs, wanted: bool) -> None:
	"""Drop the catalog indexes the tool created, or add the catalog; say what it did and what is there."""
	if wanted:
		done = [o for o in manager.apply(manager.plan(specs)) if o.action == "created"]
		if done:
			env.line(f"(added {len(done)} catalog index(es) for the rows with indexes)")
	else:
		done = [o for o in manager.rollback() if o.action == "dropped"]
		if done:
			env.line(
				f"(dropped {len(done)} catalog index(es) for the row without; they are added back after it)"
			)
	present = manager.status(specs)["counts"].get("present", 0)
	if not wanted and present:
		env.line(f"  note: {present} catalog index(es) were not created by this tool and stay in place")


def _recorded(store: MetricStore) -> dict[str, int]:
	names = store.metric_names(STORE_WINDOW_MINUTES) | {"request"}
	return {n: h.count for n, h in store.window(sorted(names), STORE_WINDOW_MINUTES).items()}


def _function_stats(cache: SecurityAwareCache) -> dict:
	return cache.stats().get("functions", {})


def _compare(rows: list[dict]) -> list[dict]:
	"""Each endpoint's p50 in every configuration against the first (a 95 % bootstrap interval of
	the ratio over the clients' runs; a verdict needs the interval to exclude 1 and the ratio to
	be beyond 1 + BASELINE_MIN_EFFECT either way)."""
	out = []
	first = CONFIGURATIONS[0][0]
	for name, _path in ENDPOINTS:
		base = next(r for r in rows if r["endpoint"] == name and r["configuration"] == first)
		for r in rows:
			if r["endpoint"] != name or r is base or not r["p50_ms"] or not base["p50_ms"]:
				continue
			ratio = r["p50_ms"] / base["p50_ms"]
			low, high = p50_ratio_interval(
				[c for c in base["rounds_ms"] if c], [c for c in r["rounds_ms"] if c], resamples=RESAMPLES
			)
			if ratio <= 1 / (1 + BASELINE_MIN_EFFECT) and high < 1:
				verdict = "faster"
			elif ratio >= 1 + BASELINE_MIN_EFFECT and low > 1:
				verdict = "slower"
			else:
				verdict = "no clear change"
			out.append(
				{
					"endpoint": name, "configuration": r["configuration"], "against": first, "ratio": ratio,
					"change": speed_words(ratio), "interval": [low, high], "min_effect": BASELINE_MIN_EFFECT,
					"verdict": verdict,
				}
			)  # fmt: skip
	return out


def _cpu(value) -> str:
	return sig(value, missing="n/m")


def _print_table(env: ShowcaseEnv, rows: list[dict]) -> None:
	table = []
	for name, _path in ENDPOINTS:
		for r in (r for r in rows if r["endpoint"] == name):
			cpu = r["cpu_ms_per_request"]
			cache = r["cache"]
			hits = (
				"-"
				if cache is None
				else f"{sig(100 * cache['hits'] / max(1, cache['hits'] + cache['misses']))} %"
			)
			table.append(
				[
					name, r["configuration"], count(r["requests"]), sig(r["rps"]), sig(r["p50_ms"]), sig(r["p95_ms"]),
					sig(r["p99_ms"]), _cpu(cpu["server"]), _cpu(cpu["redis"]), _cpu(cpu["mariadb"]), hits,
				]
			)  # fmt: skip
		table.append([name, L1_ROW[0] + " *"] + ["-"] * 9)
	env.line()
	env.table(
		["endpoint", "configuration", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "server CPU ms/req",
			"Redis CPU ms/req", "MariaDB CPU ms/req", "cache hits"],
		table,
	)  # fmt: skip
	env.line(f"* {L1_ROW[1]}")


def _print_comparisons(env: ShowcaseEnv, comparisons: list[dict]) -> None:
	if not comparisons:
		return
	env.line()
	env.line(
		f"p50 against '{CONFIGURATIONS[0][0]}' (a verdict needs the 95 % bootstrap interval of the ratio to "
		f"exclude 1 and a change of at least {sig(1 + BASELINE_MIN_EFFECT)}x):"
	)
	env.table(
		["endpoint", "configuration", "change", "95 % interval of the ratio", "verdict"],
		[
			[c["endpoint"], c["configuration"], c["change"], f"{sig(c['interval'][0])}-{sig(c['interval'][1])}x",
				c["verdict"]]
			for c in comparisons
		],
	)  # fmt: skip
