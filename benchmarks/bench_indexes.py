"""Benchmark: each catalog probe's p50 before and after its index, measured side by side in one run.

    python benchmarks/bench_indexes.py                 # 100,000 members, about 1,000,000 payments
    python benchmarks/bench_indexes.py --members 20000

Seeds a scratch database with the generator, measures every probe of the performance and SEPA
catalogs, applies the catalogs online, measures again with the same parameter values, and prints
the ratios next to the issue's aims (payment history 50x; SEPA batch selection and the active
mandate 10x). Nothing here is asserted as a wall-clock limit; the numbers are printed.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verenigingen.performance.dataset import generate_dataset
from verenigingen.performance.db import PyMySQLDatabase, drop_database, validate_identifier
from verenigingen.performance.defaults import BENCHMARK_MEMBERS, DATASET_SEED, INDEX_MEASURE_REPEATS
from verenigingen.performance.environment import database_settings
from verenigingen.performance.indexes import IndexManager, catalog, compare
from verenigingen.performance.schema import create_app_tables
from verenigingen.performance.texttable import render_table

AIMS = {"idx_payment_member_date": 50.0, "idx_payment_sepa_batch": 10.0, "idx_mandate_member_status": 10.0}


def parse_args(argv=None):
	p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	p.add_argument("--members", type=int, default=BENCHMARK_MEMBERS)
	p.add_argument("--seed", type=int, default=DATASET_SEED)
	p.add_argument("--repeats", type=int, default=INDEX_MEASURE_REPEATS, help="probe runs per measurement")
	p.add_argument("--database", default="verenigingen_bench_indexes")
	p.add_argument("--keep", action="store_true", help="keep the database afterwards")
	args = p.parse_args(argv)
	validate_identifier(args.database, "database")
	if args.members < 1 or args.repeats < 1:
		p.error("--members and --repeats must be at least 1")
	return args


def main(argv=None) -> int:
	args = parse_args(argv)
	server = database_settings()
	admin = PyMySQLDatabase(**server, autocommit=True)
	db = None
	try:
		drop_database(admin, args.database)
		admin.sql(f"CREATE DATABASE `{args.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
		db = PyMySQLDatabase(**server, database=args.database)
		create_app_tables(db)
		summary = generate_dataset(db, members=args.members, seed=args.seed)
		print(f"seeded {args.members:,} members: {summary.counts} in {summary.seconds:.1f} s")
		manager = IndexManager(db, user="benchmark")
		plan = manager.plan(catalog("all"))
		started = time.perf_counter()
		outcomes = manager.apply(plan, measure_repeats=args.repeats)
		print(
			f"measured and applied {len(plan.to_create)} indexes in {time.perf_counter() - started:.1f} s\n"
		)
		header = (
			"probe index",
			"rows",
			"p50 before ms",
			"p50 after ms",
			"p95 before",
			"p95 after",
			"ratio",
			"aim",
			"",
		)
		rows = []
		for o in outcomes:
			if o.action != "created":
				continue
			cmp = compare(o.before, o.after, min_rows=1)
			if cmp["speedup"] is None:  # nothing to measure (an empty table): say so, print no ratio
				print(f"  {o.index}: {cmp['note']}")
				continue
			aim = AIMS.get(o.index)
			ratio = cmp["speedup"]
			verdict = "" if aim is None else ("met" if ratio >= aim else "MISSED")
			rows.append(
				(
					o.index, f"{o.before.table_rows:,}", f"{o.before.p50_ms:.3f}", f"{o.after.p50_ms:.3f}",
					f"{o.before.p95_ms:.3f}", f"{o.after.p95_ms:.3f}", f"{ratio:.1f}x",
					f">= {aim:.0f}x" if aim else "-", verdict,
				)
			)  # fmt: skip
		print(render_table(header, rows, right=range(1, len(header))))
		print(
			f"\n{args.repeats} runs per measurement, parameters drawn from the data, same values before and after."
		)
	finally:  # close first: the drop would otherwise wait for this handle's own locks
		if db is not None:
			db.close()
		try:
			if not args.keep:
				drop_database(admin, args.database)
		finally:
			admin.close()
	return 0


if __name__ == "__main__":
	sys.exit(main())
