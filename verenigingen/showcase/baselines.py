"""Showcase steps: the baseline suite before the index catalogs, and again after them.

``before`` runs right after seeding (no catalog indexes yet). ``after`` runs later: it applies
the catalogs itself when an earlier step has not (the index manager skips what is present), then
measures again and prints each operation's ratio. The job round trip runs through the job
coordinator and one local RQ worker of the demo's own queues.
"""

from pathlib import Path

from verenigingen.performance import baselines as bl
from verenigingen.performance.defaults import BASELINE_MIN_TOLERANCE

from .env import ShowcaseEnv

RUNS = 30  # timed runs per operation in the main job (the committed reference uses the defaults)
WARMUP = 3
ROUNDS = 3
REPORT_DIR = Path("reports")


def _measure(env: ShowcaseEnv, label: str) -> dict:
	from verenigingen.performance.jobs import JobCoordinator, RQEnqueuer, prefixed_queues, worker_queue_names

	queues = prefixed_queues(f"{env.namespace}-baselines-")
	suite = bl.Suite(env.db, env.redis, env.namespace)
	coordinator = JobCoordinator(
		env.redis, env.namespace, RQEnqueuer(env.redis), queues=queues, load_controller=None
	)
	suite.job_round_trip = bl.coordinator_round_trip(coordinator)
	with bl.LocalWorkers(env.redis, env.redis_settings, worker_queue_names(queues), 1):
		data = bl.establish_baselines(
			suite, runs=RUNS, warmup=WARMUP, rounds=ROUNDS, dataset={"seed": env.seed},
			progress=lambda name: env.out.write(f"  measuring {name} ({label})\n"),
		)  # fmt: skip
	REPORT_DIR.mkdir(exist_ok=True)
	path = bl.write_baselines(data, REPORT_DIR / f"baselines_{label}.json")
	env.results.setdefault("baselines", {})[label] = data
	env.results.setdefault("baselines_files", {})[label] = str(path)
	return data


def before(env: ShowcaseEnv) -> None:
	env.heading("Baseline before the index catalogs")
	data = _measure(env, "before")
	env.line(bl.format_report(data))


def after(env: ShowcaseEnv) -> None:
	from verenigingen.performance.indexes import IndexManager, catalog

	env.heading("Baseline after the index catalogs")
	manager = IndexManager(env.db)
	plan = manager.plan(catalog("all"))
	manager.apply(plan)
	data = _measure(env, "after")
	env.line(bl.format_report(data))
	previous = env.results.get("baselines", {}).get("before")
	if previous:
		result = bl.compare_baselines(previous, data, min_tolerance=BASELINE_MIN_TOLERANCE)
		env.results["baselines_compare"] = result
		env.line()
		env.line("after / before (a ratio below 1 is faster):")
		env.line(bl.format_comparison(result))
		# Not recorded as the site's "last compare": before/after the catalogs is a demonstration,
		# not a regression check against a reference (cache and job timings are noise here).
