"""Benchmark of the security-aware cache, every figure measured side by side in this run.

1. Hit latency of a 1 KB value: a hit of the in-process tier, a Redis hit, a raw GET of the same
   payload and a raw GET + decode (median of --samples each, interleaved).
2. The same tier hit through ``secure_cache`` (the decorator in a Frappe request, on the test
   double of frappe): the decorator's own overhead over a direct ``get_or_compute``.
3. Freshness of the tier across processes: after ``invalidate_*`` returns in one process, how
   long other processes still serve the old value (``measure_freshness``; --fresh-trials trials
   with 1 and 3 reader processes besides the writer).
4. Invalidation time with --entries cached entries against 100, and against a KEYS-prefix
   delete of the same entries (what ``frappe.cache.delete_keys`` does).
5. get_member_summary cached (hits) against the uncached query on a --members dataset.

    python benchmarks/bench_cache.py [--samples 10000] [--entries 100000] [--members 100000]
        [--fresh-trials 500] [--skip hit,decorator,freshness,invalidation,summary]

The dataset database (--database) is reused when it already holds --members members (kept
afterwards; its handle is read-only and autocommitted, and closed however the run ends).
"""

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis as redis_py

from verenigingen.performance.cache import ENTRY_FORMAT, SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.dataset import generate_dataset
from verenigingen.performance.db import PyMySQLDatabase, validate_identifier
from verenigingen.performance.defaults import BENCHMARK_MEMBERS, DATASET_SEED
from verenigingen.performance.environment import database_settings, redis_settings
from verenigingen.performance.freshness import client_kwargs, measure_freshness
from verenigingen.performance.keys import unlink_site
from verenigingen.performance.local_tier import LocalTier
from verenigingen.performance.schema import create_app_tables
from verenigingen.performance.serialization import decode, encode
from verenigingen.performance.summaries import member_summary

CTX = SecurityContext("bench@example.org", ["Verenigingen Administrator", "System Manager"])
# A member summary with its last payments: about 1 KB encoded.
VALUE = {
	"name": "M0000042", "full_name": "Anna de Vries", "status": "Active", "email": "anna@example.org",
	"payments": {"count": 10, "paid_total": "125.000000000", "last": "2026-09-01"},
	"active_mandate": {"mandate_id": "MD-00000042", "iban": "NL91ABNA0417164300", "status": "Active"},
	"history": [
		{"date": f"2026-0{i}-01", "amount": "12.50", "status": "Paid", "reference": f"PAY-{i:05d}"}
		for i in range(1, 10)
	],
}  # fmt: skip
DEPS = ("Member", "SEPA Mandate", "Member Payment")


def _us(seconds: float) -> str:
	return f"{seconds * 1e6:9.1f} us"


def _cleanup(client, namespace: str) -> None:
	unlink_site(client, namespace, batch=5000)


def _warm_tier(tier: LocalTier, call) -> None:
	"""Call until the tier serves the entry (its tracking connection is up and it holds it)."""
	tier.start()
	deadline = time.monotonic() + 10
	while tier.process_stats()["hits"] == 0:
		if time.monotonic() > deadline:
			raise RuntimeError(f"the local tier never served a hit: {tier.process_stats()}")
		call()
		time.sleep(0.001)


def bench_hit(client, samples: int) -> dict:
	namespace = f"bench-cache-{uuid.uuid4().hex[:8]}"
	cache = SecurityAwareCache(client, namespace)
	tier = LocalTier()
	tiered = SecurityAwareCache(client, namespace + "-t", local=tier)
	args = ("M0000042",)

	def redis_hit():
		return cache.get_or_compute(
			"bench_summary", args, lambda: VALUE, ctx=CTX, level="MEMBER_DATA", depends_on=DEPS
		)

	def tier_hit():
		return tiered.get_or_compute(
			"bench_summary", args, lambda: VALUE, ctx=CTX, level="MEMBER_DATA", depends_on=DEPS
		)

	redis_hit()
	_warm_tier(tier, tier_hit)
	raw_key = cache.keys.key("bench", "raw")
	payload = encode(VALUE)
	client.set(raw_key, payload)
	for _ in range(500):  # warm-up every path
		tier_hit()
		redis_hit()
		client.get(raw_key)
	# Rounds of `batch` calls of each kind in turn, every call timed: a tier hit mostly follows a
	# tier hit (a request that looks up several values); the first of each round follows network
	# I/O and is reported apart ("cold": caches and branch predictors disturbed by the syscalls).
	tier_t, cold_t, cached_t, raw_t, raw_decode_t = [], [], [], [], []
	clock = time.perf_counter
	batch = min(100, samples)
	served_before = tier.process_stats()["hits"]
	for _ in range(max(1, samples // batch)):
		for i in range(batch):
			t0 = clock()
			tier_hit()
			(cold_t if i == 0 else tier_t).append(clock() - t0)
		for _ in range(batch):
			t0 = clock()
			redis_hit()
			cached_t.append(clock() - t0)
		for _ in range(batch):
			t0 = clock()
			client.get(raw_key)
			raw_t.append(clock() - t0)
		for _ in range(batch):
			t0 = clock()
			decode(client.get(raw_key))
			raw_decode_t.append(clock() - t0)
	served = tier.process_stats()["hits"] - served_before
	stats = cache.stats(function="bench_summary")
	tier.close()
	_cleanup(client, namespace)
	_cleanup(client, namespace + "-t")
	med = statistics.median
	return {
		"payload_bytes": len(payload),
		"tier_hit": med(tier_t),
		"tier_cold": med(cold_t),
		"tier_p99": sorted(tier_t)[int(0.99 * len(tier_t))],
		"tier_calls": len(tier_t) + len(cold_t),
		"hit": med(cached_t),
		"raw_get": med(raw_t),
		"raw_get_decode": med(raw_decode_t),
		"tier_ratio_decode": med(tier_t) / med(raw_decode_t),
		"cold_ratio_decode": med(cold_t) / med(raw_decode_t),
		"ratio": med(cached_t) / med(raw_t),
		"ratio_decode": med(cached_t) / med(raw_decode_t),
		"tier_served": served,
		"hits_counted": stats["hits"],
	}


def bench_decorator(client, samples: int, database: str) -> dict:
	"""A tier hit through secure_cache in a request of the frappe test double, against the same
	tier hit through get_or_compute directly."""
	double = Path(__file__).resolve().parents[1] / "tests" / "frappe_double"
	sys.path.insert(0, str(double))
	import frappe

	if not getattr(frappe, "IS_TEST_DOUBLE", False):
		raise RuntimeError("a real frappe is importable here; run this part outside a bench")
	from verenigingen import caching
	from verenigingen import frappe_bridge as bridge

	namespace = f"bench-deco-{uuid.uuid4().hex[:8]}"
	admin = PyMySQLDatabase(**database_settings(), autocommit=True)
	admin.sql(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	admin.close()
	frappe._double.connect(database_settings(database), client, namespace)
	frappe.conf[bridge.CACHE_LOCAL_TIER_CONFIG_KEY] = True
	frappe._double.add_user(CTX.user, CTX.roles)
	frappe.set_user(CTX.user)
	frappe.local.request = object()  # as in a web request

	@caching.secure_cache(level="MEMBER_DATA", depends_on=DEPS, name="bench.summary")
	def summary(member: str) -> dict:
		return VALUE

	cache = caching.site_cache()
	ctx = bridge.security_context()
	deps = caching.parse_dependencies(DEPS)

	def direct():
		return cache.get_or_compute(
			"bench.summary",
			{"member": "M0000042"},
			lambda: VALUE,
			ctx=ctx,
			level="MEMBER_DATA",
			depends_on=deps,
		)

	def decorated():
		return summary("M0000042")

	_warm_tier(cache.local, decorated)
	for _ in range(500):
		direct()
		decorated()
	direct_t, decorated_t = [], []
	clock = time.perf_counter
	served_before = cache.local.process_stats()["hits"]
	for _ in range(samples):
		t0 = clock()
		decorated()
		t1 = clock()
		direct()
		t2 = clock()
		decorated_t.append(t1 - t0)
		direct_t.append(t2 - t1)
	served = cache.local.process_stats()["hits"] - served_before
	cache.local.close()
	frappe.db.close()
	_cleanup(client, namespace)
	med = statistics.median
	return {
		"decorated": med(decorated_t),
		"direct": med(direct_t),
		"overhead": med(decorated_t) - med(direct_t),
		"served": served,
		"calls": 2 * samples,
	}


def bench_freshness(client, trials: int, readers: int, pause: float) -> dict:
	return measure_freshness(client_kwargs(client), readers=readers, trials=trials, pause=pause)


def _fill(cache, entries: int, threads: int = 8) -> float:
	"""Cache ``entries`` values through get_or_compute itself (misses), from a few threads."""
	from concurrent.futures import ThreadPoolExecutor

	def fill(part: range) -> None:
		for i in part:
			cache.get_or_compute(
				"bench_fill", (i,), lambda i=i: {"i": i}, ctx=CTX, level="REPORTING", depends_on=("Member",)
			)

	started = time.perf_counter()
	with ThreadPoolExecutor(threads) as pool:
		list(pool.map(fill, [range(t, entries, threads) for t in range(threads)]))
	return time.perf_counter() - started


def _invalidation_median(cache, repeats: int = 201) -> float:
	times = []
	for _ in range(repeats):
		t0 = time.perf_counter()
		cache.invalidate_doctype("Member")
		times.append(time.perf_counter() - t0)
	return statistics.median(times)


def bench_invalidation(client, entries: int) -> dict:
	small_ns = f"bench-inv-s-{uuid.uuid4().hex[:8]}"
	large_ns = f"bench-inv-l-{uuid.uuid4().hex[:8]}"
	small = SecurityAwareCache(client, small_ns)
	large = SecurityAwareCache(client, large_ns)
	_fill(small, 100)
	print(f"   filling {entries:,} entries through get_or_compute ...", flush=True)
	fill_seconds = _fill(large, entries)
	entry_pattern = large.keys.pattern("cache", ENTRY_FORMAT)
	present = sum(1 for _ in client.scan_iter(match=entry_pattern, count=10_000))
	t_small = _invalidation_median(small)
	t_large = _invalidation_median(large)
	# still correct: a sample of the large cache's entries are now misses
	calls = []
	for i in random.Random(1).sample(range(entries), 20):
		large.get_or_compute(
			"bench_fill", (i,), lambda: calls.append(1), ctx=CTX, level="REPORTING", depends_on=("Member",)
		)
	# the way frappe.cache.delete_keys works: KEYS with the prefix, then delete what it found
	t0 = time.perf_counter()
	found = client.keys(entry_pattern)
	for start in range(0, len(found), 10_000):
		client.delete(*found[start : start + 10_000])
	t_keys = time.perf_counter() - t0
	_cleanup(client, small_ns)
	_cleanup(client, large_ns)
	return {
		"entries": present,
		"fill_seconds": fill_seconds,
		"small": t_small,
		"large": t_large,
		"ratio": t_large / t_small,
		"keys_delete": t_keys,
		"keys_deleted": len(found),
		"keys_ratio": t_keys / t_large,
		"misses_after": len(calls),
	}


def bench_member_summary(client, db, samples_uncached: int, samples_cached: int) -> dict:
	namespace = f"bench-ms-{uuid.uuid4().hex[:8]}"
	cache = SecurityAwareCache(client, namespace)
	members = [r[0] for r in db.sql("SELECT name FROM `tabMember` ORDER BY name")]
	rng = random.Random(7)
	picked = rng.sample(members, min(samples_uncached, len(members)))
	uncached = []
	for m in picked:
		t0 = time.perf_counter()
		member_summary(db, m)
		uncached.append(time.perf_counter() - t0)
	working_set = picked[:10]
	deps = ("Member", "SEPA Mandate", "Member Payment")

	def cached(m):
		return cache.get_or_compute(
			"get_member_summary", (m,), lambda: member_summary(db, m), ctx=CTX, level="MEMBER_DATA",
			depends_on=deps,
		)  # fmt: skip

	for m in working_set:
		assert cached(m) == member_summary(db, m)
	hits = []
	for i in range(samples_cached):
		m = working_set[i % len(working_set)]
		t0 = time.perf_counter()
		cached(m)
		hits.append(time.perf_counter() - t0)
	_cleanup(client, namespace)
	med = statistics.median
	return {"uncached": med(uncached), "cached": med(hits), "ratio": med(uncached) / med(hits),
		"n_uncached": len(uncached), "n_cached": len(hits)}  # fmt: skip


def _dataset(args) -> PyMySQLDatabase:
	server = database_settings()
	with PyMySQLDatabase(**server, autocommit=True) as admin:
		admin.sql(
			f"CREATE DATABASE IF NOT EXISTS `{args.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
		)
	db = PyMySQLDatabase(**server, database=args.database, autocommit=True)
	try:
		if not db.sql("SHOW TABLES LIKE 'tabMember'"):
			count = None
		else:
			count = db.sql("SELECT COUNT(*) FROM `tabMember`")[0][0]
		if count != args.members:
			print(f"   generating {args.members:,} members into {args.database} ...", flush=True)
			create_app_tables(db, drop_existing=True)
			generate_dataset(db, members=args.members, seed=DATASET_SEED)
	except BaseException:
		db.close()
		raise
	return db


def main(argv=None) -> int:
	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--samples", type=int, default=10_000, help="hit/GET pairs timed (default 10,000)")
	p.add_argument(
		"--entries", type=int, default=100_000, help="entries of the large cache (default 100,000)"
	)
	p.add_argument("--members", type=int, default=BENCHMARK_MEMBERS, help="members of the summary dataset")
	p.add_argument("--database", default="verenigingen_bench_cache")
	p.add_argument("--uncached-samples", type=int, default=50, help="uncached member summaries timed")
	p.add_argument(
		"--with-indexes", action="store_true", help="apply the index manager's catalogs before part 3"
	)
	p.add_argument("--fresh-trials", type=int, default=500, help="invalidations timed per freshness run")
	p.add_argument(
		"--fresh-readers",
		default="1,3",
		help="reader processes per freshness run (default 1,3: 2 and 4 processes)",
	)
	p.add_argument(
		"--fresh-pause-us",
		type=float,
		default=200.0,
		help="pause of a reader between lookups (default 200 us)",
	)
	p.add_argument("--fresh-spin", action="store_true", help="also run the readers without any pause")
	p.add_argument(
		"--skip",
		default="",
		help="comma-separated parts to skip: hit,decorator,freshness,invalidation,summary",
	)
	args = p.parse_args(argv)
	if min(args.samples, args.entries, args.members, args.uncached_samples, args.fresh_trials) < 1:
		p.error("--samples, --entries, --members, --uncached-samples and --fresh-trials must be at least 1")
	try:
		fresh_readers = [int(n) for n in args.fresh_readers.split(",")]
	except ValueError:
		p.error(f"--fresh-readers must be comma-separated integers, got {args.fresh_readers!r}")
	if not fresh_readers or min(fresh_readers) < 1 or args.fresh_pause_us < 0:
		p.error("--fresh-readers must be at least 1 and --fresh-pause-us at least 0")
	args.fresh_readers = fresh_readers
	validate_identifier(args.database, "database")
	skip = set(filter(None, args.skip.split(",")))
	client = redis_py.Redis(**redis_settings())
	try:
		client.ping()
		run(args, skip, client)
	finally:
		client.close()
	return 0


def run(args, skip: set, client) -> None:
	if "hit" not in skip:
		print(f"1. Hit latency, median of {args.samples:,} samples each, in alternating rounds of 100")
		r = bench_hit(client, args.samples)
		print(f"   payload {r['payload_bytes']:,} bytes encoded")
		print(f"   tier hit (in-process, no I/O)  {_us(r['tier_hit'])}   ratio tier/GET+decode {r['tier_ratio_decode']:.3f}x"
			f"   (p99 {r['tier_p99'] * 1e6:.1f} us; {r['tier_served']:,}/{r['tier_calls']:,} served by the tier)")  # fmt: skip
		print(f"   tier hit right after network   {_us(r['tier_cold'])}   ratio tier/GET+decode {r['cold_ratio_decode']:.3f}x"
			"   (the first of each round of 100)")  # fmt: skip
		print(f"   Redis hit (1 EVALSHA + decode) {_us(r['hit'])}")
		print(
			f"   raw GET of the same payload    {_us(r['raw_get'])}   ratio hit/GET        {r['ratio']:.2f}x"
		)
		print(
			f"   raw GET + decode               {_us(r['raw_get_decode'])}   ratio hit/GET+decode {r['ratio_decode']:.2f}x"
		)
		print(f"   hits counted by stats():       {r['hits_counted']:,}")

	if "decorator" not in skip:
		print(
			f"2. The tier hit through secure_cache (frappe test double), median of {args.samples:,} interleaved"
		)
		r = bench_decorator(client, args.samples, args.database)
		print(f"   @secure_cache call             {_us(r['decorated'])}")
		print(f"   get_or_compute directly        {_us(r['direct'])}")
		print(f"   decorator's own overhead       {_us(r['overhead'])}   (binds arguments, reads the session"
			f" user and roles, finds the site cache; {r['served']:,}/{r['calls']:,} served by the tier)")  # fmt: skip

	if "freshness" not in skip:
		pauses = [args.fresh_pause_us / 1e6] + ([0.0] if args.fresh_spin else [])
		print(f"3. Freshness across processes: {args.fresh_trials:,} invalidations per run; window = how long after"
			" invalidate_* returned a reader still began lookups that returned the old value")  # fmt: skip
		for pause in pauses:
			for readers in args.fresh_readers:
				r = bench_freshness(client, args.fresh_trials, readers, pause)
				w, u = r["summary"], r["served_until"]
				print(f"   {readers + 1} processes ({readers} reader{'s' if readers > 1 else ''}, pause {pause * 1e6:.0f} us):"
					f" window p50 {w['p50']:.3f} p95 {w['p95']:.3f} p99 {w['p99']:.3f} max {w['max']:.3f} ms"
					f" ({w['zero']:,}/{w['count']:,} zero); served-until p99 {u['p99']:.3f} max {u['max']:.3f} ms;"
					f" stale reads begun after {r['bound_ms']:.0f} ms: {r['stale_after_bound']};"
					f" back to an older value: {r['backwards']}")  # fmt: skip
		print("   targets: window p99 < 5 ms, max < 50 ms, no stale read begun after 100 ms")

	if "invalidation" not in skip:
		print(
			f"4. Invalidation (median of 201 invalidate_doctype calls) with {args.entries:,} vs 100 entries"
		)
		r = bench_invalidation(client, args.entries)
		print(f"   filled {r['entries']:,} entries in {r['fill_seconds']:.1f} s")
		print(f"   invalidate, 100 entries        {_us(r['small'])}")
		print(f"   invalidate, {r['entries']:,} entries {_us(r['large'])}   ratio {r['ratio']:.2f}x")
		print(f"   KEYS-prefix delete of {r['keys_deleted']:,}  {r['keys_delete'] * 1000:9.1f} ms   "
			f"ratio KEYS-delete/invalidate {r['keys_ratio']:,.0f}x")  # fmt: skip
		print(f"   sampled entries after invalidation that were misses: {r['misses_after']}/20")

	if "summary" not in skip:
		print(f"5. get_member_summary on {args.members:,} members: cached (hits) vs uncached query")
		db = _dataset(args)
		try:
			summary_part(args, client, db)
		finally:
			db.close()


def summary_part(args, client, db) -> None:
	"""Part 3 on an open dataset handle (closed by the caller)."""
	if args.with_indexes:
		from verenigingen.performance.indexes import IndexManager, catalog

		manager = IndexManager(db, user="bench_cache")
		print("   applying the index manager's catalogs ...", flush=True)
		manager.apply(manager.plan(catalog("all")), measure_repeats=1)
	indexed = db.sql(
		"SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() "
		"AND table_name = 'tabMember Payment' AND column_name = 'member' AND seq_in_index = 1"
	)[0][0]
	print(
		f"   `tabMember Payment`.member {'is' if indexed else 'is NOT'} indexed (the index manager adds it)"
	)
	r = bench_member_summary(client, db, args.uncached_samples, max(1000, args.samples // 10))
	print(f"   uncached query (median of {r['n_uncached']})   {_us(r['uncached'])}")
	print(f"   cached hit (median of {r['n_cached']:,})     {_us(r['cached'])}   speed-up {r['ratio']:,.1f}x")


if __name__ == "__main__":
	sys.exit(main())
