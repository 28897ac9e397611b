"""Benchmark: the index advisor on a workload of 1,000 statements over 1,000,000 rows.

    python benchmarks/bench_advisor.py                      # seed, advise, print the timings
    python benchmarks/bench_advisor.py --apply              # ... then apply and time each shape
    python benchmarks/bench_advisor.py --orders 200000 --keep

Seeds the made-up order-entry schema of the advisor's tests (tests/advisor_schema.py) with
``--orders`` orders and as many order items, in the server (``seq_*`` tables of MariaDB's
SEQUENCE engine), writes ``--statements`` statements over its shapes (and a few broken ones), and
times one advisor run end to end, with its phases, next to the aim (under 60 s). With
``--apply`` the suggestions go through the index manager and every shape they serve is timed on
the full tables without and with them, next to the aim of 10x. Nothing is asserted; the numbers
are printed.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.advisor_schema import COMPANIES, DBA_SHAPES, STATUSES, TABLES, WAREHOUSES, workload
from verenigingen.performance.db import PyMySQLDatabase, validate_identifier
from verenigingen.performance.environment import database_settings
from verenigingen.performance.indexes.advisor import AdvisorSettings, advise, apply_advice, read_workload_text
from verenigingen.performance.indexes.advisor.query import parse_statement

AIM_SECONDS = 60.0
AIM_SPEEDUP = 10.0


def parse_args(argv=None):
	p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	p.add_argument("--orders", type=int, default=1_000_000, help="orders, and as many order items")
	p.add_argument("--statements", type=int, default=1_000)
	p.add_argument("--database", default="verenigingen_bench_advisor")
	p.add_argument("--apply", action="store_true", help="apply the suggestions and time each shape")
	p.add_argument("--reuse", action="store_true", help="keep an already seeded database of the same size")
	p.add_argument("--keep", action="store_true", help="keep the database afterwards")
	args = p.parse_args(argv)
	validate_identifier(args.database, "database")
	if args.orders < 1000 or args.statements < 1:
		p.error("--orders must be at least 1000 and --statements at least 1")
	return args


def _seq(n: int) -> str:
	return f"seq_0_to_{n - 1}"


def seed(db, orders: int) -> dict:
	"""The schema, filled in the server: deterministic RAND(seed) columns over SEQUENCE rows."""
	customers = max(100, orders // 10)
	sizes = {"orders": orders, "items": orders, "customers": customers, "countries": 200}
	for ddl in TABLES.values():
		db.ddl(ddl)
	statuses = ", ".join(f"'{s}'" for s in STATUSES)
	warehouses = ", ".join(f"'{w}'" for w in WAREHOUSES)
	companies = ", ".join(f"'{c}'" for c in COMPANIES)
	db.sql(
		"INSERT INTO `tabAdv Customer` SELECT CONCAT('CUST-', LPAD(seq, 6, '0')), CONCAT('Customer ', seq), "
		"CONCAT('c', seq, '@example.org'), CONCAT('City ', seq MOD 300), CONCAT('Group ', seq MOD 7), '2022-01-01' "
		f"FROM {_seq(customers)}"
	)
	db.commit()
	db.sql(
		"INSERT INTO `tabAdv Order` SELECT CONCAT('ORD-', LPAD(seq, 7, '0')), "
		f"CONCAT('CUST-', LPAD(FLOOR(RAND(1) * {customers}), 6, '0')), ELT(1 + FLOOR(RAND(2) * 4), {statuses}), "
		"DATE('2022-01-01') + INTERVAL FLOOR(RAND(3) * 1095) DAY, ROUND(1 + RAND(4) * 999, 2), "
		f"ELT(1 + FLOOR(RAND(5) * {len(COMPANIES)}), {companies}), ELT(1 + FLOOR(RAND(6) * 4), 0, 1, 1, 2), "
		f"REPEAT('remark ', 60), '2022-01-01' FROM {_seq(orders)}"
	)
	db.commit()
	db.sql(
		"INSERT INTO `tabAdv Order Item` SELECT CONCAT('ITM-', LPAD(seq, 8, '0')), "
		f"CONCAT('ORD-', LPAD(FLOOR(RAND(7) * {orders}), 7, '0')), CONCAT('ITEM-', LPAD(FLOOR(RAND(8) * 400), 4, '0')), "
		f"ELT(1 + FLOOR(RAND(9) * {len(WAREHOUSES)}), {warehouses}), 1 + FLOOR(RAND(10) * 19), "
		f"ROUND(1 + RAND(11) * 99, 2), ROUND(1 + RAND(12) * 999, 2) FROM {_seq(orders)}"
	)
	db.commit()
	db.sql(
		"INSERT INTO `tabAdv Country` SELECT CONCAT('Country ', seq), CONCAT('C', LPAD(seq, 3, '0')), "
		"ELT(1 + seq MOD 3, 'EUR', 'USD', 'GBP') FROM seq_0_to_199"
	)
	db.commit()
	for table in TABLES:
		db.ddl(f"ANALYZE TABLE `{table}`")
	return sizes


def main(argv=None) -> int:
	args = parse_args(argv)
	server = database_settings()
	admin = PyMySQLDatabase(**server, autocommit=True)
	exists = admin.sql("SELECT 1 FROM information_schema.schemata WHERE schema_name=%s", (args.database,))
	reuse = False
	if exists and args.reuse:
		probe = PyMySQLDatabase(**server, database=args.database)
		try:
			count = probe.sql("SELECT COUNT(*) FROM `tabAdv Order`")[0][0]
			indexes = probe.sql(
				"SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema=DATABASE() AND index_name LIKE 'idx\\_adv\\_%'"
			)[0][0]
			reuse = count == args.orders and indexes == 0
		except Exception:  # a half-made database from an interrupted run: seed it again
			reuse = False
		finally:
			probe.close()
	if not reuse:
		admin.sql(f"DROP DATABASE IF EXISTS `{args.database}`")
		admin.sql(f"CREATE DATABASE `{args.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	db = PyMySQLDatabase(**server, database=args.database)
	try:
		started = time.perf_counter()
		if reuse:
			customers = max(100, args.orders // 10)
			sizes = {"orders": args.orders, "items": args.orders, "customers": customers, "countries": 200}
			print(f"reusing {args.database}: {args.orders:,} orders and {args.orders:,} order items")
		else:
			sizes = seed(db, args.orders)
			print(
				f"seeded {args.orders:,} orders, {args.orders:,} order items, {sizes['customers']:,} customers "
				f"in {time.perf_counter() - started:.1f} s"
			)
		statements = workload(sizes, statements=args.statements)
		text = ";\n".join(statements) + ";\n"
		started = time.perf_counter()
		advice = advise(db, read_workload_text(text, f"{len(statements)} statements"), AdvisorSettings())
		seconds = time.perf_counter() - started
		report = advice.report
		w = report["workload"]
		print(
			f"\nadvisor: {w['statements']:,} statements ({w['analysed_statements']:,} analysed, {w['shapes']} shapes) "
			f"in {seconds:.1f} s (aim: under {AIM_SECONDS:.0f} s: {'met' if seconds < AIM_SECONDS else 'NOT met'})"
		)
		print("  phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in report["phases"].items()))
		print(
			f"  scratch: {report['scratch']['kind']} {report['scratch']['name']}, dropped: {report['scratch']['dropped']}"
		)
		print("\nsuggestions (proven on the sample):")
		for s in report["suggestions"]:
			ratios = ", ".join(f"{e['id']} {e['speedup']:.1f}x" for e in s["shapes"])
			print(
				f"  {s['name']} on {s['table']} ({', '.join(s['columns'])}): {s['share'] * 100:.1f}% of time; {ratios}"
			)
		print("\nshapes:")
		for sh in report["shapes"]:
			print(f"  {sh['id']:>4} {sh['count']:>4}x {sh['status']:<10} {sh['shape'][:110]}")
		if args.apply and advice.suggestions:
			started = time.perf_counter()
			rows = apply_advice(db, advice, user="benchmark", settings=AdvisorSettings())
			print(
				f"\napplied {len(rows)} suggestion(s) through the index manager in {time.perf_counter() - started:.1f} s"
			)
			dba = {parse_statement(t.format(customer="x", status="x", day="2024-01-01", day_end="2024-01-02",
			       warehouse="x", company="x", order="x", k=1, k3=1)).shape for t in DBA_SHAPES.values()}  # fmt: skip
			shape_of = {sh["id"]: sh for sh in report["shapes"]}
			print(
				f"  {'shape':>5}  {'p50 without ms':>14}  {'p50 with ms':>11}  {'speed-up':>8}  aim {AIM_SPEEDUP:.0f}x  index"
			)
			for a in rows:
				for e in a["shapes"]:
					ratio = e["speedup"]
					verdict = "met" if ratio and ratio >= AIM_SPEEDUP else "NOT met"
					mark = "" if shape_of[e["id"]]["shape"] in dba else " (not a DBA shape of the test)"
					at_least = ">=" if e.get("before_timed_out") else ""
					print(
						f"  {e['id']:>5}  {at_least + format(e['before_ms'], '.2f'):>14}  {e['after_ms']:>11.3f}  "
						f"{at_least + format(ratio, '.1f') + 'x':>8}  {verdict:<7}  {a['index']} ({a['action']}){mark}"
					)
	finally:
		db.close()
		if not args.keep:
			admin.sql(f"DROP DATABASE IF EXISTS `{args.database}`")
		admin.close()
	return 0


if __name__ == "__main__":
	sys.exit(main())
