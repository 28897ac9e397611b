#!/usr/bin/env python3
"""Measure the baseline suite, print it, and write it to --output FILE; or compare against one.

Standalone, on a seeded database (created and seeded with --members N unless --reuse finds it
seeded at that size):

    python scripts/performance/establish_baselines.py --members 2000 --output reports/baselines.json

The committed reference (100,000 members, seed 42):

    python scripts/performance/establish_baselines.py --members 100000 --seed 42 --apply-indexes \\
        --output performance_baselines.json --report performance_baselines.txt

Inside a bench (from frappe-bench/, with the bench's Python), on a site's own data and Redis:

    ./env/bin/python apps/verenigingen/scripts/performance/establish_baselines.py --site SITE --output b.json

Comparing (exit status 0: no regression, 1: regression, 2: an error or bad input):

    python scripts/performance/establish_baselines.py --reuse --compare performance_baselines.json
    python scripts/performance/establish_baselines.py --compare OLD.json --against NEW.json

Nothing is written without --output. Writing over a baselines file measured on another dataset
(members, seed or site) needs --force. Output paths and every service are checked before
anything is created or measured.
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
	sys.path.insert(0, str(ROOT))

from verenigingen.performance import baselines as bl  # noqa: E402
from verenigingen.performance.commandline import (  # noqa: E402
	EXIT_USAGE,
	UsageError,
	one_line,
	writable_file,
)
from verenigingen.performance.defaults import (  # noqa: E402
	BASELINE_MIN_TOLERANCE,
	BASELINE_ROUNDS,
	BASELINE_RUNS,
	BASELINE_WARMUP,
	BENCHMARK_MEMBERS,
	DATASET_SEED,
)
from verenigingen.performance.environment import add_connection_arguments  # noqa: E402
from verenigingen.performance.exceptions import BaselineFileError, PerformanceError  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
	p = argparse.ArgumentParser(
		prog="establish_baselines.py",
		description=__doc__,
		formatter_class=argparse.RawDescriptionHelpFormatter,
	)
	p.add_argument(
		"--members",
		type=int,
		default=BENCHMARK_MEMBERS,
		help="members of the seeded dataset (default: %(default)s)",
	)
	p.add_argument(
		"--seed", type=int, default=DATASET_SEED, help="dataset generator seed (default: %(default)s)"
	)
	p.add_argument(
		"--database",
		default="verenigingen_baselines",
		help="standalone database, created if missing (default: %(default)s)",
	)
	p.add_argument(
		"--reuse", action="store_true", help="keep the database's data if it has --members members"
	)
	add_connection_arguments(p)
	p.add_argument(
		"--no-redis", action="store_true", help="measure without Redis (cache operations not measured)"
	)
	p.add_argument("--site", help="run inside a bench on this site's database and Redis")
	p.add_argument(
		"--sites-path", help="with --site: the bench's sites folder (default: ./sites, or beside the app)"
	)
	p.add_argument("--workers", type=int, default=1, help="RQ workers to start for the job round trip "
		"(standalone; 0: not measured; default: %(default)s)")  # fmt: skip
	p.add_argument("--apply-indexes", action="store_true", help="apply the index catalogs before measuring")
	p.add_argument(
		"--runs", type=int, default=BASELINE_RUNS, help="timed runs per operation (default: %(default)s)"
	)
	p.add_argument(
		"--warmup", type=int, default=BASELINE_WARMUP, help="untimed runs first (default: %(default)s)"
	)
	p.add_argument(
		"--rounds",
		type=int,
		default=BASELINE_ROUNDS,
		help="rounds the runs are split into, for the noise (default: %(default)s)",
	)
	p.add_argument(
		"--operations", help=f"comma-separated subset of: {', '.join(bl.OPERATION_NAMES)} (default: all)"
	)
	p.add_argument("--output", metavar="FILE", help="write the baselines to FILE (default: not written)")
	p.add_argument(
		"--force", action="store_true", help="let --output replace a baselines file of another dataset"
	)
	p.add_argument("--report", metavar="FILE", help="also write the readable report to FILE")
	p.add_argument(
		"--compare", metavar="FILE", help="compare this run (or --against) with the baselines FILE"
	)
	p.add_argument(
		"--against", metavar="FILE", help="with --compare: compare FILE's figures instead of measuring"
	)
	p.add_argument(
		"--tolerance",
		type=float,
		default=BASELINE_MIN_TOLERANCE,
		help="minimum regression tolerance (default: %(default)s)",
	)
	args = p.parse_args(argv)
	if args.members < 1:
		p.error("--members must be at least 1")
	if args.runs < args.rounds or args.rounds < 1 or args.warmup < 0:
		p.error("need --runs >= --rounds >= 1 and --warmup >= 0")
	if args.against and not args.compare:
		p.error("--against needs --compare")
	if args.against and args.output:
		p.error("--against compares two files: nothing is measured for --output to write")
	if args.operations:
		unknown = [o for o in args.operations.split(",") if o not in bl.OPERATION_NAMES]
		if unknown:
			p.error(f"unknown operation(s) {', '.join(unknown)}; known: {', '.join(bl.OPERATION_NAMES)}")
	return args


def _dataset_of_run(args) -> dict:
	"""What identifies the data this run measures, known before measuring."""
	if args.site:
		return {"site": args.site}
	return {"members": args.members, "seed": args.seed}


def check_outputs(args) -> None:
	"""Before anything is measured: every output path can be written, and --output does not replace
	a baselines file of another dataset without --force."""
	if args.report:
		writable_file(args.report, "--report")
	if not args.output:
		return
	target = writable_file(args.output, "--output")
	if not target.exists() or args.force:
		return
	try:
		existing = bl.load_baselines(target)
	except BaselineFileError:
		raise UsageError(
			f"--output {args.output} exists and is not a baselines file; choose another path or pass --force"
		) from None
	theirs = existing["environment"].get("dataset", {})
	ours = _dataset_of_run(args)
	differs = {k: (theirs.get(k), v) for k, v in ours.items() if theirs.get(k) != v}
	if differs:
		what = ", ".join(f"{k} {a} there, {b} here" for k, (a, b) in differs.items())
		raise UsageError(
			f"--output {args.output} holds baselines of another dataset ({what}); pass --force to replace it"
		)


def _standalone(args):
	from verenigingen.performance.commandline import (
		database_exists,
		database_server,
		redis_client,
	)
	from verenigingen.performance.dataset import generate_dataset
	from verenigingen.performance.db import PyMySQLDatabase, validate_identifier
	from verenigingen.performance.schema import create_app_tables

	try:
		validate_identifier(args.database, "database")
	except PerformanceError as exc:
		raise UsageError(f"--database: {exc}") from None
	# Every service first: nothing is created while one of them is missing.
	client = None if args.no_redis else redis_client(args.redis_host, args.redis_port)
	server = dict(host=args.host, port=args.port, user=args.user, password=args.password)
	admin = database_server(**server)
	try:
		if args.reuse and not database_exists(admin, args.database):
			print(f"--reuse: {args.database} does not exist yet; creating it", file=sys.stderr)
		admin.sql(
			f"CREATE DATABASE IF NOT EXISTS `{args.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
		)
	finally:
		admin.close()
	db = PyMySQLDatabase(**server, database=args.database)
	_CLEANUP.append(db.close)  # closed when main() ends, however it ends: no transaction left open
	create_app_tables(db)
	have = db.sql("SELECT COUNT(*) FROM `tabMember`")[0][0]
	if not (args.reuse and have == args.members):
		print(f"seeding {args.members:,} members (seed {args.seed}) into {args.database}", file=sys.stderr)
		generate_dataset(db, members=args.members, seed=args.seed)
	if args.apply_indexes:
		from verenigingen.performance.indexes import IndexManager, catalog

		manager = IndexManager(db)
		manager.apply(manager.plan(catalog("all")))
	namespace = f"{args.database}-baselines" if client is not None else None
	suite = bl.Suite(db, client, namespace)
	if client is not None and args.workers > 0:
		suite.job_round_trip = _job_round_trip(args, client, namespace)
	return suite, {"members": args.members, "seed": args.seed, "database": args.database}


_CLEANUP: list = []


def _job_round_trip(args, client, namespace):
	"""A coordinator on queues of this run alone, with --workers RQ worker processes on them."""
	from verenigingen.performance.jobs import JobCoordinator, RQEnqueuer, prefixed_queues, worker_queue_names

	queues = prefixed_queues(f"{namespace}-")
	workers = bl.LocalWorkers(
		client, {"host": args.redis_host, "port": args.redis_port}, worker_queue_names(queues), args.workers
	)
	workers.__enter__()
	_CLEANUP.append(workers.__exit__)
	coordinator = JobCoordinator(client, namespace, RQEnqueuer(client), queues=queues, load_controller=None)
	return bl.coordinator_round_trip(coordinator)


def _in_site(args):
	from verenigingen.sites import open_site

	# the file arguments keep naming files relative to the folder the script was started in
	for name in ("output", "report", "compare", "against"):
		if getattr(args, name):
			setattr(args, name, os.path.abspath(getattr(args, name)))
	frappe = open_site(args.site, args.sites_path)
	_CLEANUP.append(frappe.destroy)  # closes frappe.db when main() ends

	from verenigingen import frappe_bridge

	suite = bl.Suite(
		frappe_bridge.database(), frappe_bridge.redis_client(background=True), frappe_bridge.namespace()
	)
	return suite, {"site": args.site}


def main(argv=None) -> int:
	args = parse_args(argv)
	try:
		return _run(args)
	except (PerformanceError, OSError) as exc:
		print(f"error: {one_line(exc)}", file=sys.stderr)
		return EXIT_USAGE
	except Exception as exc:  # a service failing mid-run (Redis, MariaDB): one line, not a traceback
		if type(exc).__module__.split(".")[0] not in ("redis", "pymysql", "rq"):
			raise
		print(f"error: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
		return EXIT_USAGE
	finally:
		while _CLEANUP:
			_CLEANUP.pop()()


def _run(args) -> int:
	baseline = bl.load_baselines(args.compare) if args.compare else None
	if args.against:
		current = bl.load_baselines(args.against)
		suite = None
	else:
		check_outputs(args)
		suite, dataset = _in_site(args) if args.site else _standalone(args)
		ops = bl.OPERATIONS
		if args.operations:
			wanted = args.operations.split(",")
			ops = tuple(o for o in bl.OPERATIONS if o.name in wanted)
		current = bl.establish_baselines(
			suite, operations=ops, runs=args.runs, warmup=args.warmup, rounds=args.rounds, dataset=dataset,
			progress=lambda name: print(f"measuring {name}", file=sys.stderr),
		)  # fmt: skip
		if args.output:
			bl.write_baselines(current, args.output)
			print(f"wrote {args.output}", file=sys.stderr)
		else:
			print("(not written: pass --output FILE to keep these baselines)", file=sys.stderr)
	report = bl.format_report(current)
	print(report)
	if args.report:
		Path(args.report).write_text(report + "\n", encoding="utf-8")
	if baseline is None:
		return 0
	result = bl.compare_baselines(baseline, current, min_tolerance=args.tolerance)
	print()
	print(bl.format_comparison(result))
	if suite is not None and suite.redis is not None and suite.namespace:
		bl.record_comparison(suite.redis, suite.namespace, result)
	return 0 if result["ok"] else 1


if __name__ == "__main__":
	sys.exit(main())
