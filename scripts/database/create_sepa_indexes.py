#!/usr/bin/env python3
"""Add (or roll back) the verenigingen index catalogs on a MariaDB database, measured before and after.

Standalone, on a site's database::

    python scripts/database/create_sepa_indexes.py -H 127.0.0.1 -u root -D mysite_db --catalog all

or inside a bench (from frappe-bench/, with the bench's Python)::

    ./env/bin/python apps/verenigingen/scripts/database/create_sepa_indexes.py --site mysite.local

Prints the plan as a table, a progress bar while the DDL runs, and a before/after table.
Transactions open for --old-transaction-seconds on the database stop the DDL before it starts
(they would hold it up, and every query on the table behind it) unless --wait is given; each DDL
waits at most --lock-wait-timeout seconds for its metadata lock and then names the connection
holding it.
Exit status: 0 done, 1 the plan or the DDL failed (nothing half-done is left), 2 bad usage, no
connection, or a database without the app's tables.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from verenigingen.performance.commandline import EXIT_USAGE, UsageError, app_tables, one_line
from verenigingen.performance.defaults import (
	INDEX_APPLY_MEASURE_REPEATS,
	INDEX_LOCK_WAIT_TIMEOUT,
	INDEX_OLD_TRANSACTION_SECONDS,
)
from verenigingen.performance.environment import add_connection_arguments
from verenigingen.performance.exceptions import DatabaseConnectionError, PerformanceError
from verenigingen.performance.indexes import IndexManager, catalog, compare
from verenigingen.performance.progress import ProgressBar
from verenigingen.performance.texttable import render_table


def parse_args(argv=None) -> argparse.Namespace:
	p = argparse.ArgumentParser(
		prog="create_sepa_indexes.py",
		description=__doc__,
		formatter_class=argparse.RawDescriptionHelpFormatter,
	)
	p.add_argument("-D", "--database", help="the site's database (standalone use)")
	p.add_argument("--site", help="a bench site (run from frappe-bench/ or give --sites-path)")
	p.add_argument(
		"--sites-path",
		default=None,
		help="the bench's sites folder (default: ./sites, or the one beside the app)",
	)
	p.add_argument(
		"--catalog",
		choices=("sepa", "performance", "monitoring", "all"),
		default="sepa",
		help="which indexes (default: %(default)s)",
	)
	p.add_argument("--dry-run", action="store_true", help="print the plan and the DDL; change nothing")
	p.add_argument("--rollback", action="store_true", help="drop the indexes this tool created (per its log)")
	p.add_argument(
		"--allow-locking", action="store_true", help="allow DDL that locks the table if online is impossible"
	)
	p.add_argument(
		"--repeats",
		type=int,
		default=INDEX_APPLY_MEASURE_REPEATS,
		help="probe runs before and after (0: skip; default: %(default)s)",
	)
	p.add_argument(
		"--as-user", default="Administrator", help="who the change log records (default: %(default)s)"
	)
	p.add_argument(
		"--lock-wait-timeout",
		type=float,
		default=INDEX_LOCK_WAIT_TIMEOUT,
		help="seconds each DDL waits for a metadata lock (default: %(default)s)",
	)
	p.add_argument(
		"--old-transaction-seconds",
		type=float,
		default=INDEX_OLD_TRANSACTION_SECONDS,
		help="transactions open this long stop the DDL unless --wait (default: %(default)s)",
	)
	p.add_argument(
		"--wait", action="store_true", help="go ahead despite old transactions (waiting up to the timeout)"
	)
	add_connection_arguments(p, redis=False)
	args = p.parse_args(argv)
	if bool(args.site) == bool(args.database):
		p.error("give either --database (standalone) or --site (inside a bench)")
	if args.repeats < 0:
		p.error("--repeats must be 0 or more")
	if args.lock_wait_timeout < 0 or args.old_transaction_seconds < 0:
		p.error("--lock-wait-timeout and --old-transaction-seconds must be 0 or more")
	return args


def _ms(value) -> str:
	return "-" if value is None else f"{value:.2f}"


def result_rows(outcomes) -> list[list]:
	rows = []
	for o in outcomes:
		if o.before is None and o.after is None:
			continue
		cmp = compare(o.before, o.after)
		verdict = f"{cmp['speedup']:.1f}x" if cmp["speedup"] is not None else cmp["note"]
		rows.append(
			[
				o.index,
				f"{(o.after or o.before).table_rows:,}",
				_ms(o.before and o.before.p50_ms),
				_ms(o.after and o.after.p50_ms),
				f"{(o.before and o.before.access_type) or '-'} -> {(o.after and o.after.access_type) or '-'}",
				(o.after and o.after.key) or "-",
				verdict,
			]
		)
	return rows


def connect(args):
	"""The database handle: PyMySQL standalone, frappe.db of the site inside a bench."""
	if args.database:
		from verenigingen.performance.db import PyMySQLDatabase

		db = PyMySQLDatabase(args.host, args.port, args.user, args.password, args.database)
		if not app_tables(db):
			db.close()
			raise UsageError(
				f"database {args.database} has none of the app's tables (tabMember, tabMember Payment, "
				"tabSEPA Mandate ...): give the database of a site with verenigingen installed"
			)
		return db, None
	from verenigingen.sites import open_site

	frappe = open_site(args.site, args.sites_path)
	from verenigingen import frappe_bridge

	return frappe_bridge.database(), frappe


def main(argv=None) -> int:
	args = parse_args(argv)
	try:
		db, frappe_module = connect(args)
	except (DatabaseConnectionError, UsageError) as exc:
		print(f"error: {one_line(exc)}", file=sys.stderr)
		return EXIT_USAGE
	try:
		return run(args, db)
	except PerformanceError as exc:
		print(f"\nerror: {exc}", file=sys.stderr)
		return 1
	finally:
		if frappe_module is not None:
			frappe_module.destroy()
		else:
			db.close()


def run(args, db) -> int:
	manager = IndexManager(
		db,
		user=args.as_user,
		lock_wait_timeout=args.lock_wait_timeout,
		old_transaction_seconds=args.old_transaction_seconds,
	)
	if args.rollback:
		outcomes = manager.rollback(dry_run=args.dry_run, wait_for_transactions=args.wait)
		print(
			render_table(
				["index", "table", "action", "reason"],
				[[o.index, o.table, o.action, o.reason] for o in outcomes],
			)
			if outcomes
			else "nothing of this tool's to roll back"
		)
		return 0
	specs = catalog(args.catalog)
	plan = manager.plan(specs)
	print(f"Index plan for {db.database_name} (catalog {args.catalog})")
	print(
		render_table(
			["index", "table", "columns", "action", "reason"],
			[[i.spec.name, i.spec.table, ", ".join(i.spec.columns), i.action, i.reason] for i in plan.items],
		)
	)
	if plan.problems:
		print(f"\nerror: {len(plan.problems)} problem(s) in the plan; nothing was changed", file=sys.stderr)
		return 1
	if args.dry_run:
		for item in plan.to_create:
			print(f"would run: {item.ddl};")
		return 0
	if not plan.to_create:
		print("\nevery index is present; nothing to do")
		return 0
	steps = len(plan.to_create)
	bar = ProgressBar(steps * 100, "adding indexes")
	position = {"done": 0}

	def progress(step: int, total: int, fraction: float, label: str) -> None:
		target = step * 100 + int(fraction * 100)
		if target > position["done"]:
			bar.update(target - position["done"])
			position["done"] = target
		bar.label = f"adding {label}"

	try:
		outcomes = manager.apply(
			plan,
			allow_locking=args.allow_locking,
			progress=progress,
			measure_repeats=args.repeats,
			wait_for_transactions=args.wait,
		)
	finally:
		bar.close()
	created = [o for o in outcomes if o.action == "created"]
	print(
		f"\n{len(created)} index(es) added"
		+ (
			f" ({sum(1 for o in created if o.locking)} with locking)"
			if any(o.locking for o in created)
			else ""
		)
	)
	rows = result_rows(created)
	if rows:
		print(
			render_table(
				["index", "rows", "p50 before ms", "p50 after ms", "access", "key after", "speed-up"], rows
			)
		)
	return 0


if __name__ == "__main__":
	sys.exit(main())
