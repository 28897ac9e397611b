#!/usr/bin/env python3
"""Suggest indexes from a real workload, each proven on a scratch copy before it is proposed.

Standalone, with the connection options every tool of the app shares (``-h`` is help)::

    python scripts/database/suggest_indexes.py -H 127.0.0.1 -P 3306 -u root -p '' -D mysite_db \\
        --workload statements.sql [--format json] [--apply] [--max-suggestions 5]
    python scripts/database/suggest_indexes.py -D mysite_db --slow-log --since 1440

or inside a bench (from ``frappe-bench/``)::

    python apps/verenigingen/scripts/database/suggest_indexes.py --site mysite.local --slow-log

The workload is a file of SQL statements (one per line, or separated by ``;``) or MariaDB's slow
query log read from ``mysql.slow_log`` (the tool explains how to turn it on; it never changes a
server setting itself). ``--apply`` adds the suggestions through the index manager (online DDL,
the change log, ``create_sepa_indexes.py --rollback`` undoes them) and times every shape they
serve on the full tables before and after.

Exit status: 0 done, 1 applying failed (what it had added was dropped again), 2 bad usage, no
connection, no such database, missing rights, or an unreadable workload.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from verenigingen.performance.commandline import EXIT_USAGE, UsageError, one_line
from verenigingen.performance.defaults import (
	ADVISOR_MAX_SUGGESTIONS,
	ADVISOR_MIN_TABLE_ROWS,
	ADVISOR_RUNS,
	ADVISOR_SAMPLE_ROWS,
	INDEX_APPLY_MEASURE_REPEATS,
	INDEX_LOCK_WAIT_TIMEOUT,
	INDEX_OLD_TRANSACTION_SECONDS,
)
from verenigingen.performance.environment import add_connection_arguments
from verenigingen.performance.exceptions import (
	AdvisorPrivilegeError,
	DatabaseConnectionError,
	InvalidIdentifierError,
	PerformanceError,
	WorkloadSourceError,
)


def _positive(text: str) -> int:
	try:
		value = int(text)
	except ValueError:
		raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
	if value < 1:
		raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
	return value


def _not_negative(text: str) -> int:
	try:
		value = int(text)
	except ValueError:
		raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
	if value < 0:
		raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
	return value


def parse_args(argv=None) -> argparse.Namespace:
	p = argparse.ArgumentParser(
		prog="suggest_indexes.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	p.add_argument("-D", "--database", help="the site's database (standalone use)")
	p.add_argument("--site", help="a bench site (run from frappe-bench/ or give --sites-path)")
	p.add_argument(
		"--sites-path",
		default=None,
		help="the bench's sites folder (default: ./sites, or the one beside the app)",
	)
	source = p.add_mutually_exclusive_group(required=True)
	source.add_argument("--workload", metavar="FILE", help="SQL statements, one per line or separated by ;")
	source.add_argument(
		"--slow-log", action="store_true", help="read mysql.slow_log (log_output must include TABLE)"
	)
	p.add_argument(
		"--since", type=_positive, metavar="MINUTES", help="with --slow-log: only the last MINUTES"
	)
	p.add_argument("--format", choices=("text", "json"), default="text")
	p.add_argument("--apply", action="store_true", help="add the suggestions through the index manager")
	p.add_argument(
		"--allow-locking", action="store_true", help="with --apply: allow locking DDL if online is impossible"
	)
	p.add_argument(
		"--max-suggestions",
		type=_positive,
		default=ADVISOR_MAX_SUGGESTIONS,
		metavar="N",
		help="(default: %(default)s)",
	)
	p.add_argument(
		"--sample-rows",
		type=_positive,
		default=ADVISOR_SAMPLE_ROWS,
		help="rows per scratch copy at most (default: %(default)s)",
	)
	p.add_argument(
		"--min-rows",
		type=_not_negative,
		default=ADVISOR_MIN_TABLE_ROWS,
		help="smaller tables get no index (default: %(default)s)",
	)
	p.add_argument(
		"--runs",
		type=_positive,
		default=ADVISOR_RUNS,
		help="timed runs per shape and setting (default: %(default)s)",
	)
	p.add_argument(
		"--repeats",
		type=_not_negative,
		default=INDEX_APPLY_MEASURE_REPEATS,
		help="with --apply: probe runs the manager logs (default: %(default)s)",
	)
	p.add_argument(
		"--lock-wait-timeout",
		type=float,
		default=INDEX_LOCK_WAIT_TIMEOUT,
		help="with --apply: seconds each DDL waits for a metadata lock (default: %(default)s)",
	)
	p.add_argument(
		"--old-transaction-seconds",
		type=float,
		default=INDEX_OLD_TRANSACTION_SECONDS,
		help="with --apply: transactions open this long stop the DDL unless --wait (default: %(default)s)",
	)
	p.add_argument("--wait", action="store_true", help="with --apply: go ahead despite old transactions")
	p.add_argument("--seed", type=int, default=0, help="seed of the sample and of the drawn parameter values")
	p.add_argument("--as-user", default="Administrator", help="with --apply: who the change log records")
	p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
	add_connection_arguments(p, redis=False)
	args = p.parse_args(argv)
	if bool(args.site) == bool(args.database):
		p.error("give either --database/-D (standalone) or --site (inside a bench)")
	if args.since is not None and not args.slow_log:
		p.error("--since goes with --slow-log")
	if (args.allow_locking or args.wait) and not args.apply:
		p.error("--allow-locking and --wait go with --apply")
	if args.lock_wait_timeout < 0 or args.old_transaction_seconds < 0:
		p.error("--lock-wait-timeout and --old-transaction-seconds must be 0 or more")
	return args


def connect(args):
	"""The database handle: PyMySQL standalone, frappe.db of the site inside a bench."""
	if args.database:
		from verenigingen.performance.db import PyMySQLDatabase

		return PyMySQLDatabase(args.host, args.port, args.user, args.password, args.database), None
	from verenigingen.sites import open_site

	frappe = open_site(args.site, args.sites_path)
	from verenigingen import frappe_bridge

	return frappe_bridge.database(), frappe


def main(argv=None) -> int:
	args = parse_args(argv)
	from verenigingen.performance.indexes.advisor import read_workload_file

	workload = None
	if args.workload:
		try:
			workload = read_workload_file(args.workload, seed=args.seed)
		except WorkloadSourceError as exc:
			print(f"error: {one_line(exc)}", file=sys.stderr)
			return EXIT_USAGE
	try:
		db, frappe_module = connect(args)
	except (DatabaseConnectionError, UsageError) as exc:
		print(f"error: {one_line(exc)}", file=sys.stderr)
		return EXIT_USAGE
	try:
		return run(args, db, workload)
	except (AdvisorPrivilegeError, WorkloadSourceError, InvalidIdentifierError, UsageError) as exc:
		print(f"error: {one_line(exc)}", file=sys.stderr)
		return EXIT_USAGE
	except PerformanceError as exc:
		print(f"error: {one_line(exc)}", file=sys.stderr)
		return 1
	finally:
		if frappe_module is not None:
			frappe_module.destroy()
		else:
			db.close()


def run(args, db, workload) -> int:
	from verenigingen.performance.indexes.advisor import (
		AdvisorSettings,
		advise,
		apply_advice,
		read_slow_log,
		render_text,
	)

	def say(message: str) -> None:
		if not args.quiet:
			print(f"... {message}", file=sys.stderr, flush=True)

	if workload is None:
		workload = read_slow_log(db, args.since, seed=args.seed)
	settings = AdvisorSettings(
		sample_rows=args.sample_rows,
		min_rows=args.min_rows,
		runs=args.runs,
		max_suggestions=args.max_suggestions,
		seed=args.seed,
	)
	advice = advise(db, workload, settings, progress=say)
	status = 0
	if args.apply and advice.suggestions:
		say(f"applying {len(advice.suggestions)} suggestion(s) through the index manager")
		try:
			from verenigingen.performance.indexes import IndexManager

			manager = IndexManager(
				db,
				user=args.as_user,
				lock_wait_timeout=args.lock_wait_timeout,
				old_transaction_seconds=args.old_transaction_seconds,
			)
			apply_advice(
				db,
				advice,
				manager=manager,
				settings=settings,
				allow_locking=args.allow_locking,
				measure_repeats=args.repeats,
				wait_for_transactions=args.wait,
			)
		except PerformanceError as exc:
			advice.report["apply_error"] = str(exc)
			status = 1
	if args.format == "json":
		print(json.dumps(advice.report, indent=1, default=str))
	else:
		print(render_text(advice.report))
		if args.apply and not advice.suggestions:
			print("\nnothing to apply")
	if status:
		print(f"\nerror: applying failed: {advice.report['apply_error']}", file=sys.stderr)
	return status


if __name__ == "__main__":
	sys.exit(main())
