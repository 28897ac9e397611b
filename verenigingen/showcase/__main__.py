"""``python -m verenigingen.showcase``: seed a demo database and run every showcase step."""

import argparse
import importlib
import sys
import time

from verenigingen.performance.db import PyMySQLDatabase, validate_identifier
from verenigingen.performance.defaults import DATASET_SEED, DEMO_MEMBERS
from verenigingen.performance.environment import add_connection_arguments
from verenigingen.performance.exceptions import PerformanceError

from . import STEPS
from .env import ShowcaseEnv


def parse_args(argv=None) -> argparse.Namespace:
	p = argparse.ArgumentParser(prog="python -m verenigingen.showcase", description=__doc__)
	p.add_argument(
		"--members", type=int, default=DEMO_MEMBERS, help=f"members to seed (default {DEMO_MEMBERS:,})"
	)
	p.add_argument("--seed", type=int, default=DATASET_SEED, help="generator seed")
	p.add_argument("--database", default="verenigingen_demo", help="demo database (created, then reused)")
	add_connection_arguments(p)
	p.add_argument(
		"--steps", default=",".join(name for name, _ in STEPS), help="comma-separated steps to run"
	)
	args = p.parse_args(argv)
	if args.members < 1:
		p.error("--members must be at least 1")
	known = {name for name, _ in STEPS}
	unknown = [s for s in args.steps.split(",") if s not in known]
	if unknown:
		p.error(f"unknown step(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
	try:
		validate_identifier(args.database, "database")
	except PerformanceError as exc:
		p.error(str(exc))
	return args


def main(argv=None) -> int:
	import redis

	args = parse_args(argv)
	server = dict(host=args.host, port=args.port, user=args.user, password=args.password)
	try:
		admin = PyMySQLDatabase(**server, autocommit=True)
		admin.sql(
			f"CREATE DATABASE IF NOT EXISTS `{args.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
		)
		admin.close()
		db = PyMySQLDatabase(**server, database=args.database)
	except PerformanceError as exc:
		print(f"error: {exc}", file=sys.stderr)
		return 2
	redis_settings = dict(host=args.redis_host, port=args.redis_port)
	client = redis.Redis(**redis_settings, socket_timeout=10)
	try:
		client.ping()
	except redis.ConnectionError as exc:
		print(f"error: Redis is not reachable at {args.redis_host}:{args.redis_port}: {exc}", file=sys.stderr)
		return 2
	env = ShowcaseEnv(
		db=db, redis=client, namespace=f"{args.database}-showcase", members=args.members, seed=args.seed,
		db_settings={**server, "database": args.database}, redis_settings=redis_settings,
	)  # fmt: skip
	wanted = args.steps.split(",")
	started = time.perf_counter()
	if any(name != "report" for name in wanted):
		env.start_fresh()  # a rerun measures that run only
	for name, target in STEPS:
		if name not in wanted:
			continue
		module, func = target.split(":")
		step_started = time.perf_counter()
		getattr(importlib.import_module(module), func)(env)
		env.step_done(name, time.perf_counter() - step_started)
	env.heading(f"Done in {time.perf_counter() - started:.1f} s")
	db.close()
	return 0


if __name__ == "__main__":
	sys.exit(main())
