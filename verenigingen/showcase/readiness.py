"""Showcase step: the readiness validator on the demo database, Redis and a local worker."""

from verenigingen.performance.readiness import ReadinessInputs, validate_readiness

from .env import ShowcaseEnv


def run(env: ShowcaseEnv) -> None:
	from verenigingen.performance import baselines as bl
	from verenigingen.performance.jobs import JobCoordinator, RQEnqueuer, prefixed_queues, worker_queue_names

	env.heading("Readiness of the performance layer")
	queues = prefixed_queues(f"{env.namespace}-readiness-")
	coordinator = JobCoordinator(env.redis, env.namespace, RQEnqueuer(env.redis), queues=queues)
	files = env.results.get("baselines_files", {})
	with bl.LocalWorkers(env.redis, env.redis_settings, worker_queue_names(queues), 1):
		coordinator.reconcile()
		report = validate_readiness(
			ReadinessInputs(
				db=env.db, redis=env.redis, namespace=env.namespace, coordinator=coordinator,
				baselines_path=files.get("after") or files.get("before"),
			)
		)  # fmt: skip
	env.results["readiness"] = report
	env.table(
		["component", "status", "weight", "recommendation"],
		[[c["component"], c["status"], report["weights"][c["component"]], c["recommendation"] or "-"]
			for c in report["components"]],
	)  # fmt: skip
	counts = ", ".join(f"{n} {status}" for status, n in report["counts"].items())
	env.line(f"readiness score {report['score']:.1f} / 100 ({counts})")
