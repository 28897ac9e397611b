"""python -m verenigingen.showcase: seed a demo database and show the performance layer at work.

Every step runs in this order (--steps picks some of them):

{steps}

What the steps measure is saved after each one in reports/showcase-results.json. A run that
does not seed reads the last saved results of its database for the steps it skips, so
--steps report alone rewrites the report of the last full run; without saved results the
report step refuses rather than write an empty report. Steps other than seed need a
database an earlier run seeded. Redis and MariaDB are both checked before anything is created.

Exit status: 0 done, 2 bad input, a service that cannot be reached, or a step that cannot run.
"""

import argparse
import importlib
import sys
import time

from verenigingen.performance.commandline import (
	EXIT_USAGE,
	UsageError,
	app_tables,
	database_exists,
	database_server,
	one_line,
	redis_client,
)
from verenigingen.performance.db import PyMySQLDatabase, validate_identifier
from verenigingen.performance.defaults import DATASET_SEED, DEMO_MEMBERS
from verenigingen.performance.environment import add_connection_arguments
from verenigingen.performance.exceptions import PerformanceError

from . import STEP_HELP, STEPS
from .env import ShowcaseEnv
from .results import RESULTS_FILE, load_results, save_results

PROG = "python -m verenigingen.showcase"


def _doc() -> str:
	return __doc__.format(steps="\n".join(f"  {name:<16} {STEP_HELP[name]}" for name, _ in STEPS))


def parse_args(argv=None) -> argparse.Namespace:
	p = argparse.ArgumentParser(
		prog=PROG, description=_doc(), formatter_class=argparse.RawDescriptionHelpFormatter
	)
	p.add_argument("--members", type=int, default=DEMO_MEMBERS, help="members to seed (default: %(default)s)")
	p.add_argument("--seed", type=int, default=DATASET_SEED, help="generator seed (default: %(default)s)")
	p.add_argument(
		"--database",
		default="verenigingen_demo",
		help="demo database: the seed step creates it, later runs reuse it (default: %(default)s)",
	)
	add_connection_arguments(p)
	p.add_argument(
		"--steps",
		default=",".join(name for name, _ in STEPS),
		help="comma-separated steps to run, in the order above whatever the order given (default: all)",
	)
	args = p.parse_args(argv)
	if args.members < 1:
		p.error("--members must be at least 1")
	known = {name for name, _ in STEPS}
	unknown = [s for s in args.steps.split(",") if s not in known]
	if unknown:
		p.error(f"unknown step(s) {', '.join(unknown)}; known: {', '.join(n for n, _ in STEPS)}")
	try:
		validate_identifier(args.database, "database")
	except PerformanceError as exc:
		p.error(str(exc))
	return args


def _check_seeded(server, settings: dict, name: str) -> None:
	"""Steps other than seed read the demo data: the database must exist and hold a seeded association."""
	hint = f"run the seed step first ({PROG} --database {name} --steps seed, or without --steps)"
	if not database_exists(server, name):
		raise UsageError(f"database {name} does not exist: {hint}")
	db = PyMySQLDatabase(**settings, database=name)
	try:
		if len(app_tables(db)) < 5 or not db.sql("SELECT COUNT(*) FROM `tabMember`")[0][0]:
			raise UsageError(f"database {name} has not been seeded (no members): {hint}")
	finally:
		db.close()


def main(argv=None) -> int:
	args = parse_args(argv)
	try:
		return _run(args)
	except PerformanceError as exc:
		print(f"error: {one_line(exc)}", file=sys.stderr)
		return EXIT_USAGE
	except Exception as exc:  # a service failing mid-run (Redis, MariaDB, RQ): one line, not a traceback
		if type(exc).__module__.split(".")[0] not in ("redis", "pymysql", "rq"):
			raise
		print(f"error: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
		return EXIT_USAGE


def _run(args) -> int:
	wanted = args.steps.split(",")
	needs_db = [s for s in wanted if s != "report"]
	# Every service first: nothing is created while one of them is missing.
	client = redis_client(args.redis_host, args.redis_port)
	server_settings = dict(host=args.host, port=args.port, user=args.user, password=args.password)
	server = database_server(**server_settings)
	try:
		if "seed" in wanted:
			server.sql(
				f"CREATE DATABASE IF NOT EXISTS `{args.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
			)
		elif needs_db:
			_check_seeded(server, server_settings, args.database)
	finally:
		server.close()
	results, saved_at = ({}, None) if "seed" in wanted else load_results(args.database)
	if "report" in wanted and not _has_measurements(results, wanted):
		raise UsageError(
			f"the report step needs what the other steps measured, and {RESULTS_FILE} holds no results for "
			f"database {args.database}: run them first ({PROG} --database {args.database}, or add the steps "
			"to --steps)"
		)
	db = PyMySQLDatabase(**server_settings, database=args.database) if needs_db else None
	dataset = results.get("dataset", {})
	env = ShowcaseEnv(
		db=db, redis=client, namespace=f"{args.database}-showcase",
		members=args.members if "seed" in wanted else dataset.get("members", args.members),
		seed=args.seed if "seed" in wanted else dataset.get("seed", args.seed),
		db_settings={**server_settings, "database": args.database},
		redis_settings=dict(host=args.redis_host, port=args.redis_port), results=results,
	)  # fmt: skip
	if saved_at:
		env.line(f"(the steps not run now are reported from the run saved at {saved_at} in {RESULTS_FILE})")
	started = time.perf_counter()
	if any(name != "report" for name in wanted):
		env.start_fresh()  # a rerun measures that run only
	try:
		for name, target in STEPS:
			if name not in wanted:
				continue
			module, func = target.split(":")
			step_started = time.perf_counter()
			getattr(importlib.import_module(module), func)(env)
			env.step_done(name, time.perf_counter() - step_started)
			save_results(args.database, env.results)
	finally:
		if db is not None:
			db.close()
		client.close()
	env.heading(f"Done in {time.perf_counter() - started:.1f} s")
	return 0


_MEASURED = ("baselines", "indexes", "requests", "cache", "jobs", "monitoring", "readiness")


def _has_measurements(results: dict, wanted: list[str]) -> bool:
	"""Will the report have something to show: the dataset and at least one step's figures,
	saved or measured in this run?"""
	will_seed = "seed" in wanted
	will_measure = any(s in wanted for s in ("baseline_before", "indexes", "baseline_after", "requests", "cache", "jobs",
		"monitoring", "readiness"))  # fmt: skip
	has_dataset = will_seed or "dataset" in results
	return has_dataset and (will_measure or any(k in results for k in _MEASURED))


if __name__ == "__main__":
	sys.exit(main())
