"""The job coordinator inside a Frappe site: the runner bench workers execute for every admitted
attempt, and the per-minute scheduler entry."""

from verenigingen import frappe_bridge
from verenigingen.performance.jobs import run_attempt


def run_job(namespace: str, coordinated_job: str, attempt_token: str, priority: str) -> str:
	"""Run one admitted attempt (enqueued by the coordinator through ``frappe.enqueue``), and the
	next admitted ones the runner takes on; each attempt's writes are committed when it finished
	and rolled back otherwise, so a failed attempt leaves nothing behind."""
	site = frappe_bridge.namespace()
	if namespace != site:
		raise ValueError(f"job {coordinated_job} was submitted on {namespace!r} but runs on site {site!r}")
	return run_attempt(
		frappe_bridge.job_coordinator(background=True),
		coordinated_job,
		attempt_token,
		priority,
		after_attempt=_end_transaction,
	)


def _end_transaction(status: str) -> None:
	db = frappe_bridge.database()
	if status == "finished":
		db.commit()
	else:
		db.rollback()


AUTOMATIC_ACTIONS_LEVEL = 4  # Performance Settings activation level that allows load-driven caps


def reconcile() -> dict:
	"""Every minute: reap expired leases, move due retries back, dispatch; and, at activation level
	4 (automatic actions) of Performance Settings, lower or restore caps by load. Below level 4 any
	cap load control had lowered is put back, so switching the level down never leaves caps low."""
	automatic = frappe_bridge.monitoring_settings().activation_level >= AUTOMATIC_ACTIONS_LEVEL
	coordinator = frappe_bridge.job_coordinator(load_control=automatic, background=True)
	restored = {} if automatic else coordinator.restore_caps("automatic actions off (activation level < 4)")
	result = coordinator.reconcile()
	result["load_control"] = "on" if automatic else "off"
	if restored:
		result["restored_caps"] = restored
	return result
