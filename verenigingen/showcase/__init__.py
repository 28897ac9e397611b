"""The README's main job: the whole layer at work on a seeded demo database.

Run it with ``python -m verenigingen.showcase``. Each step lives in its own module of this
package as ``run(env)``; STEPS lists them in the order they run.
"""

# (name, "module:function") in running order; each subsystem adds its own step.
STEPS: list[tuple[str, str]] = [
	("seed", "verenigingen.showcase.seed:run"),
	("baseline_before", "verenigingen.showcase.baselines:before"),
	("indexes", "verenigingen.showcase.indexes:run"),
	("baseline_after", "verenigingen.showcase.baselines:after"),
	("requests", "verenigingen.showcase.requests:run"),  # real HTTP; its requests feed the monitoring score
	("cache", "verenigingen.showcase.cache:run"),
	("jobs", "verenigingen.showcase.jobs:run"),
	("monitoring", "verenigingen.showcase.monitoring:run"),
	("readiness", "verenigingen.showcase.readiness:run"),
	("report", "verenigingen.showcase.report:run"),  # keep last: it reports what every step measured
]

# One line per step for --help and the README.
STEP_HELP: dict[str, str] = {
	"seed": "create the demo database's tables and generate --members members (drops what was there)",
	"baseline_before": "the baseline suite before the index catalogs (reports/baselines_before.json)",
	"indexes": "measure every index probe, add the catalogs online, measure again",
	"baseline_after": "the baseline suite after the index catalogs, and the ratio to before",
	"requests": "the member summary and payment history over real HTTP: no indexes / indexes / cache",
	"cache": "the security-aware cache: misses, hits, per-user entries, an invalidation",
	"jobs": "a mixed batch of jobs through the priority coordinator and a local RQ worker",
	"monitoring": "the performance score, its components and the bottlenecks; a stored snapshot",
	"readiness": "the readiness check: six components of the site, and the code audit apart",
	"report": "reports/showcase.html from what the steps measured (this run's or the last saved)",
}
