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
