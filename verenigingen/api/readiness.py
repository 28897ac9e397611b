"""Whitelisted readiness check: is every component of the performance layer working on this site?"""

import frappe
from frappe.rate_limiter import rate_limit

from verenigingen import frappe_bridge
from verenigingen.api.guard import admin_only
from verenigingen.performance.defaults import API_RATE_LIMIT_EXPENSIVE, API_RATE_LIMIT_SECONDS
from verenigingen.performance.readiness import ReadinessInputs, validate_readiness

BASELINES_CONFIG_KEY = "verenigingen_baselines_path"  # site config: where this site's baselines live
BASELINES_FILE = "verenigingen_baselines.json"  # default: in the site's private folder


def baselines_path() -> str:
	"""The baselines measured on this site: the site config key, else a file in the site's private
	folder. Never the file committed with the app, which was measured on another machine."""
	return frappe_bridge.site_config(BASELINES_CONFIG_KEY) or frappe.get_site_path("private", BASELINES_FILE)


def _jobs() -> tuple:
	"""The site's job coordinator and the RQ queue names its priorities map to, as bench workers
	listen on them (called inside the jobs probe, so a failure is reported there)."""
	coordinator = frappe_bridge.job_coordinator()
	_connection, qnames = frappe_bridge.rq_queues()
	return coordinator, [qnames.get(q, q) for q in coordinator.queues.values()]


@frappe.whitelist()
@admin_only
@rate_limit(limit=API_RATE_LIMIT_EXPENSIVE, seconds=API_RATE_LIMIT_SECONDS)
def validate_performance_infrastructure() -> dict:
	"""Probe the cache, invalidation, job coordinator, database, monitoring, API security and
	baselines for real; return each one's status, evidence and recommendation, and the score."""
	inputs = ReadinessInputs(
		db=frappe_bridge.database(),
		redis=frappe_bridge.redis_client(),
		namespace=frappe_bridge.namespace(),
		jobs_factory=_jobs,
		baselines_path=baselines_path(),
	)
	return validate_readiness(inputs)
