#!/usr/bin/env python3
"""Suggest indexes from a real workload, each proven on a scratch copy before it is proposed.

Standalone, with the mysql client's connection options (``-h`` works as well as ``-H``)::

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

from verenigingen.performance.defaults import (
	ADVISOR_MAX_SUGGESTIONS,
	ADVISOR_MIN_TABLE_ROWS,
	ADVISOR_RUNS,
	ADVISOR_SAMPLE_ROWS,
	INDEX_APPLY_MEASURE_REPEATS,
)
from verenigingen.performance.environment import database_settings
from verenigingen.performance.exceptions import (
	AdvisorPrivilegeError,
	DatabaseConnectionError,
	InvalidIdentifierError,
	PerformanceError,
	WorkloadSourceError,
)

_DB = database_settings()  # defaults of the connection options


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
	p = argparse.ArgumentParser(prog="suggest_indexes.py", description=__doc__.split("\n")[0], add_help=False)
	p.add_argument("--help", action="help", help="show this help and exit")
	p.add_argument("-H", "-h", "--host", default=_DB["host"], help="MariaDB host")
	p.add_argument("-P", "--port", type=int, default=_DB["port"], help="MariaDB port")
	p.add_argument("-u", "--user", default=_DB["user"], help="MariaDB user")
	p.add_argument("-p", "--password", default=_DB["password"], help="MariaDB password")
	p.add_argument("-D", "--database", help="the site's database (standalone use)")
	p.add_argument("--site", help="a bench site (run from frappe-bench/ or give --sites-path)")
	p.add_argument("--sites-path", default=None, help="the bench's sites folder (default: ./sites)")
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
	p.add_argument("--max-suggestions", type=_positive, default=ADVISOR_MAX_SUGGESTIONS, metavar="N")
	p.add_argument(
		"--sample-rows", type=_positive, default=ADVISOR_SAMPLE_ROWS, help="rows per scratch copy at most"
	)
	p.add_argument(
		"--min-rows", type=_not_negative, default=ADVISOR_MIN_TABLE_ROWS, help="smaller tables get no index"
	)
	p.add_argument(
		"--runs", type=_positive, default=ADVISOR_RUNS, help="timed runs per shape and setting (p50)"
	)
	p.add_argument(
		"--repeats",
		type=_not_negative,
		default=INDEX_APPLY_MEASURE_REPEATS,
		help="with --apply: probe runs the manager logs",
	)
	p.add_argument("--seed", type=int, default=0, help="seed of the sample and of the drawn parameter values")
	p.add_argument("--as-user", default="Administrator", help="with --apply: who the change log records")
	p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
	args = p.parse_args(argv)
	if bool(args.site) == bool(args.database):
		p.error("give either --database/-D (standalone) or --site (inside a bench)")
	if args.since is not None and not args.slow_log:
		p.error("--since goes with --slow-log")
	if args.allow_locking and not args.apply:
		p.error("--allow-locking goes with --apply")
	return args


def connect(args):
	"""The database handle: PyMySQL standalone, frappe.db of the site inside a bench."""
	if args.database:
		from verenigingen.performance.db import PyMySQLDatabase

		return PyMySQLDatabase(args.host, args.port, args.user, args.password, args.database), None
	import frappe

	sites_path = args.sites_path or ("sites" if Path("sites").is_dir() else ".")
	frappe.init(site=args.site, sites_path=sites_path)
	frappe.connect()
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
			print(f"error: {exc}", file=sys.stderr)
			return 2
	try:
		db, frappe_module = connect(args)
	except DatabaseConnectionError as exc:
		print(f"error: {exc}", file=sys.stderr)
		return 2
	try:
		return run(args, db, workload)
	except (AdvisorPrivilegeError, WorkloadSourceError, InvalidIdentifierError) as exc:
		print(f"error: {exc}", file=sys.stderr)
		return 2
	except PerformanceError as exc:
		print(f"error: {exc}", file=sys.stderr)
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
			apply_advice(
				db,
				advice,
				user=args.as_user,
				settings=settings,
				allow_locking=args.allow_locking,
				measure_repeats=args.repeats,
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
