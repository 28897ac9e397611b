"""Benchmark: the member read model under the profiler, and with the index catalogs.

Run: ``python benchmarks/bench_profiler.py [--members N]``. Seeds a scratch database, then
measures side by side, in this one run, the p50 of the member read model (what
``get_member_summary`` serves):

* raw handle vs :class:`ProfilingDatabase` (the profiler's overhead, as a ratio);
* before vs after the index catalogs (what the profiler's recommendations are worth).

Prints ratios; asserts nothing.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verenigingen.performance.dataset import generate_dataset
from verenigingen.performance.db import PyMySQLDatabase, drop_database, validate_identifier
from verenigingen.performance.environment import database_settings
from verenigingen.performance.profiler import ProfilingDatabase, profile_member
from verenigingen.performance.schema import create_app_tables
from verenigingen.performance.summaries import member_summary


def p50_ms(fn, members, repeats):
	times = []
	for i in range(repeats):
		start = time.perf_counter()
		fn(members[i % len(members)])
		times.append((time.perf_counter() - start) * 1000)
	return statistics.median(times)


def main() -> int:
	p = argparse.ArgumentParser(description=__doc__)
	p.add_argument("--members", type=int, default=20_000)
	p.add_argument("--repeats", type=int, default=60)
	p.add_argument("--database", default=f"vbench_profiler_{os.getpid()}", help="scratch database (dropped)")
	args = p.parse_args()
	if args.members < 1 or args.repeats < 1:
		p.error("--members and --repeats must be at least 1")
	name = validate_identifier(args.database, "database")
	settings = database_settings()
	admin = PyMySQLDatabase(**settings, autocommit=True)
	admin.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	db = None
	try:
		db = PyMySQLDatabase(**settings, database=name)
		create_app_tables(db)
		generate_dataset(db, members=args.members, seed=42)
		members = [r[0] for r in db.sql("SELECT name FROM `tabMember` ORDER BY RAND(42) LIMIT 50")]
		for m in members[:5]:
			member_summary(db, m)  # warm the buffer pool

		def raw(m):
			return member_summary(db, m)

		def profiled(m):
			return member_summary(ProfilingDatabase(db), m)

		def side_by_side(first, second):
			"""p50 of both, alternating call by call so both see the same machine state."""
			x, y = [], []
			for i in range(args.repeats):
				m = members[i % len(members)]
				for fn, out in ((first, x), (second, y)) if i % 2 else ((second, y), (first, x)):
					start = time.perf_counter()
					fn(m)
					out.append((time.perf_counter() - start) * 1000)
			return statistics.median(x), statistics.median(y)

		rows = [("member read model without indexes: raw vs profiled", *side_by_side(raw, profiled))]
		report = profile_member(db, members[0])
		print(f"member {members[0]}: {report['total_queries']} queries, {len(report['full_scans'])} full scans, "
			f"{len(report['n_plus_one'])} N+1 pattern(s)")  # fmt: skip

		from verenigingen.performance.indexes import IndexManager, catalog

		before_ms = rows[0][1]
		manager = IndexManager(db)
		manager.apply(manager.plan(catalog("all")))
		rows.append(("member read model with the catalogs: raw vs profiled", *side_by_side(raw, profiled)))
		rows.append(("member read model raw: without vs with catalogs", before_ms, rows[1][1]))
		after_report = profile_member(db, members[0])
		print(f"after the catalogs: {len(after_report['full_scans'])} full scans")
		print(f"\n{args.members:,} members, p50 of {args.repeats} loads")
		print(f"{'comparison':50} {'first ms':>10} {'second ms':>10} {'ratio':>8}")
		for label, first, second in rows:
			print(f"{label:50} {first:10.3f} {second:10.3f} {second / first:7.2f}x")
	finally:  # close first: the drop would otherwise wait for this handle's own locks
		if db is not None:
			db.close()
		try:
			drop_database(admin, name)
		finally:
			admin.close()
	return 0


if __name__ == "__main__":
	sys.exit(main())
