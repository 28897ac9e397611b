"""What keeping the cache fresh costs, measured side by side in one run (medians, interleaved).

1. A miss with ``fresh_snapshot`` (COMMIT + START TRANSACTION before computing, as the shell does
   in a transaction without writes) against a miss without it; the compute is one indexed SELECT.
2. A writing transaction as the app ran it before the outbox (UPDATE, COMMIT, then the counters
   moved after commit) against the same with its outbox row (one upsert in the transaction) and
   the after-commit step that also sets the row's marker (counters, then marker, one pipeline).

    python benchmarks/bench_cache_freshness.py [--samples 2000]
"""

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis as redis_py

from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.db import PyMySQLDatabase, drop_database
from verenigingen.performance.environment import database_settings, redis_settings
from verenigingen.performance.invalidation import InvalidationBatch
from verenigingen.performance.keys import unlink_site
from verenigingen.performance.outbox import InvalidationOutbox, new_outbox_id
from verenigingen.performance.schema import create_app_tables

CTX = SecurityContext("bench@example.org", ["System Manager"])


def _us(seconds: float) -> str:
	return f"{seconds * 1e6:8.1f} us"


def bench_miss(client, db, samples: int) -> tuple[float, float]:
	namespace = f"bench-fresh-{uuid.uuid4().hex[:8]}"

	def refresh():
		db.sql("COMMIT")
		db.sql("START TRANSACTION")
		return True

	plain = SecurityAwareCache(client, namespace)
	fresh = SecurityAwareCache(client, namespace, fresh_snapshot=refresh)
	compute = lambda: db.sql("SELECT status FROM `tabMember` WHERE name = 'M1'")[0][0]  # noqa: E731
	timings: dict[str, list[float]] = {"plain": [], "fresh": []}
	try:
		for i in range(samples):
			for label, cache in (("plain", plain), ("fresh", fresh)):
				cache.invalidate_function(label)  # outside the timing: the next call misses
				started = time.perf_counter()
				cache.get_or_compute(label, (i,), compute, ctx=CTX, level="MEMBER_DATA")
				timings[label].append(time.perf_counter() - started)
	finally:
		unlink_site(client, namespace)
	return statistics.median(timings["plain"]), statistics.median(timings["fresh"])


def bench_transaction(client, db, samples: int) -> tuple[float, float]:
	namespace = f"bench-fresh-{uuid.uuid4().hex[:8]}"
	outbox = InvalidationOutbox(db, SecurityAwareCache(client, namespace))
	batch = InvalidationBatch()
	batch.add_doctype("Member", ["status"])
	timings: dict[str, list[float]] = {"plain": [], "outbox": []}
	try:
		for i in range(samples):
			for label in ("plain", "outbox"):
				started = time.perf_counter()
				db.sql("UPDATE `tabMember` SET status = %s WHERE name = 'M1'", (f"S{i % 7}",))
				if label == "outbox":
					oid = new_outbox_id()
					outbox.record(oid, batch)
				db.commit()
				if label == "outbox":
					outbox.applied(oid, batch)
				else:
					outbox.cache.apply(batch)
				timings[label].append(time.perf_counter() - started)
		outbox.sweep(max_batches=10_000)
	finally:
		unlink_site(client, namespace)
	return statistics.median(timings["plain"]), statistics.median(timings["outbox"])


def main(argv=None) -> int:
	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--samples", type=int, default=2000, help="pairs timed per comparison (default 2000)")
	p.add_argument(
		"--database", default=None, help="scratch database to create and drop (default: a new name)"
	)
	args = p.parse_args(argv)
	client = redis_py.Redis(**redis_settings())
	admin = PyMySQLDatabase(**database_settings(), autocommit=True)
	name = args.database or f"vbench_fresh_{uuid.uuid4().hex[:8]}"
	admin.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	db = None
	try:
		db = PyMySQLDatabase(**database_settings(name))
		create_app_tables(db)
		db.sql("INSERT INTO `tabMember` (name, member_id, status) VALUES ('M1', 'M1', 'Active')")
		db.commit()
		plain, fresh = bench_miss(client, db, args.samples)
		print(f"miss, compute = one SELECT      without fresh_snapshot {_us(plain)}")
		print(f"                                with COMMIT + START    {_us(fresh)}  ({fresh / plain:.2f}x)")
		plain, outboxed = bench_transaction(client, db, args.samples)
		print(f"UPDATE, COMMIT, counters        without outbox         {_us(plain)}")
		print(
			f"                                with row and marker    {_us(outboxed)}  ({outboxed / plain:.2f}x)"
		)
	finally:
		if db is not None:
			db.close()
		drop_database(admin, name)
		admin.close()
		client.close()
	return 0


if __name__ == "__main__":
	sys.exit(main())
