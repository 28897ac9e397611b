"""Benchmark of the security-aware cache, every figure measured side by side in this run.

1. Hit latency against a raw GET of the same payload (median of --samples each, interleaved).
2. Invalidation time with --entries cached entries against 100, and against a KEYS-prefix
   delete of the same entries (what ``frappe.cache.delete_keys`` does).
3. get_member_summary cached (hits) against the uncached query on a --members dataset.

    python benchmarks/bench_cache.py [--samples 10000] [--entries 100000] [--members 100000]

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
from verenigingen.performance.keys import unlink_site
from verenigingen.performance.schema import create_app_tables
from verenigingen.performance.serialization import decode, encode
from verenigingen.performance.summaries import member_summary

CTX = SecurityContext("bench@example.org", ["Verenigingen Administrator", "System Manager"])


def _us(seconds: float) -> str:
	return f"{seconds * 1e6:9.1f} us"


def _cleanup(client, namespace: str) -> None:
	unlink_site(client, namespace, batch=5000)


def bench_hit(client, samples: int) -> dict:
	namespace = f"bench-cache-{uuid.uuid4().hex[:8]}"
	cache = SecurityAwareCache(client, namespace)
	value = {
		"name": "M0000042", "full_name": "Anna de Vries", "status": "Active", "email": "anna@example.org",
		"payments": {"count": 10, "paid_total": "125.000000000", "last": "2026-09-01"},
		"active_mandate": {"mandate_id": "MD-00000042", "iban": "NL91ABNA0417164300", "status": "Active"},
	}  # fmt: skip
	args = ("M0000042",)
	deps = ("Member", "SEPA Mandate", "Member Payment")

	def hit():
		return cache.get_or_compute(
			"bench_summary", args, lambda: value, ctx=CTX, level="MEMBER_DATA", depends_on=deps
		)

	hit()
	raw_key = cache.keys.key("bench", "raw")
	payload = encode(value)
	client.set(raw_key, payload)
	for _ in range(500):  # warm-up both paths
		hit()
		client.get(raw_key)
	cached_t, raw_t, raw_decode_t = [], [], []
	clock = time.perf_counter
	for _ in range(samples):
		t0 = clock()
		hit()
		t1 = clock()
		client.get(raw_key)
		t2 = clock()
		decode(client.get(raw_key))
		t3 = clock()
		cached_t.append(t1 - t0)
		raw_t.append(t2 - t1)
		raw_decode_t.append(t3 - t2)
	stats = cache.stats(function="bench_summary")
	_cleanup(client, namespace)
	med = statistics.median
	return {
		"hit": med(cached_t),
		"raw_get": med(raw_t),
		"raw_get_decode": med(raw_decode_t),
		"ratio": med(cached_t) / med(raw_t),
		"ratio_decode": med(cached_t) / med(raw_decode_t),
		"hits_counted": stats["hits"],
	}


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
	p.add_argument("--skip", default="", help="comma-separated parts to skip: hit,invalidation,summary")
	args = p.parse_args(argv)
	if min(args.samples, args.entries, args.members, args.uncached_samples) < 1:
		p.error("--samples, --entries, --members and --uncached-samples must be at least 1")
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
		print(f"1. Hit latency, median of {args.samples:,} interleaved samples")
		r = bench_hit(client, args.samples)
		print(f"   cache hit (1 EVALSHA + decode) {_us(r['hit'])}")
		print(
			f"   raw GET of the same payload    {_us(r['raw_get'])}   ratio hit/GET        {r['ratio']:.2f}x"
		)
		print(
			f"   raw GET + decode               {_us(r['raw_get_decode'])}   ratio hit/GET+decode {r['ratio_decode']:.2f}x"
		)
		print(f"   hits counted by stats():       {r['hits_counted']:,}")

	if "invalidation" not in skip:
		print(
			f"2. Invalidation (median of 201 invalidate_doctype calls) with {args.entries:,} vs 100 entries"
		)
		r = bench_invalidation(client, args.entries)
		print(f"   filled {r['entries']:,} entries in {r['fill_seconds']:.1f} s")
		print(f"   invalidate, 100 entries        {_us(r['small'])}")
		print(f"   invalidate, {r['entries']:,} entries {_us(r['large'])}   ratio {r['ratio']:.2f}x")
		print(f"   KEYS-prefix delete of {r['keys_deleted']:,}  {r['keys_delete'] * 1000:9.1f} ms   "
			f"ratio KEYS-delete/invalidate {r['keys_ratio']:,.0f}x")  # fmt: skip
		print(f"   sampled entries after invalidation that were misses: {r['misses_after']}/20")

	if "summary" not in skip:
		print(f"3. get_member_summary on {args.members:,} members: cached (hits) vs uncached query")
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
