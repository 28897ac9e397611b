"""The job coordinator inside a Frappe site: the runner bench workers execute for every admitted
attempt, and the per-minute scheduler entry."""

import frappe

from verenigingen import frappe_bridge
from verenigingen import monitoring as site_monitoring
from verenigingen.performance.jobs import Attempt, run_attempt

ERROR_TITLE_MAX = 140  # Error Log's ``method`` (its title) is a Data field: varchar(140)


def run_job(namespace: str, coordinated_job: str, attempt_token: str, priority: str) -> str:
	"""Run one admitted attempt (enqueued by the coordinator through ``frappe.enqueue``), and the
	next admitted ones the runner takes on.

	Each attempt runs as the user who submitted its job (whoever's call freed the slot and
	enqueued this RQ job); its writes are committed when it finished and rolled back otherwise. A
	failed attempt leaves a committed Error Log row (its method, job id and traceback), and every
	attempt is one job sample of monitoring (failed or not). The RQ job itself ends OK and returns
	the first attempt's job status: raising would make Frappe's execute_job log a second Error
	Log under the runner's name, and chained attempts could not be reported that way at all."""
	site = frappe_bridge.namespace()
	if namespace != site:
		raise ValueError(f"job {coordinated_job} was submitted on {namespace!r} but runs on site {site!r}")
	coordinator = frappe_bridge.job_coordinator(background=True)
	attempts = _SiteAttempts(coordinator.queues)
	try:
		return run_attempt(
			coordinator,
			coordinated_job,
			attempt_token,
			priority,
			before_attempt=attempts.before,
			after_attempt=attempts.after,
		)
	finally:
		frappe.set_user(attempts.runner_user)


class _SiteAttempts:
	"""What a bench runner does around each attempt: whom it runs as, how its transaction ends, how
	a failure is reported."""

	def __init__(self, queues):
		self.queues = queues  # priority -> the bench queue its RQ jobs go to
		self.runner_user = frappe.session.user  # the RQ job's user: whoever enqueued it

	def before(self, attempt: Attempt) -> None:
		# a job recorded without a user (submitted outside a site) runs as the RQ job's user
		frappe.set_user(attempt.user or self.runner_user)

	def after(self, attempt: Attempt) -> None:
		try:
			logged = False  # Error Log rows added after the attempt's transaction ended
			if attempt.status == "finished":
				frappe.db.commit()
			else:
				frappe.db.rollback()  # the attempt's writes, and any submit it made, are undone
				if attempt.failed:
					_log_failure(attempt)
					logged = True
			if attempt.ran:
				wait_ms = attempt.wait_seconds * 1000 if attempt.wait_seconds is not None else None
				run_ms = (attempt.run_seconds or 0.0) * 1000
				queue = self.queues[attempt.priority]
				if not site_monitoring.record_job(queue, run_ms, wait_ms, attempt.failed):
					logged = True
			if logged:
				frappe.db.commit()  # the Error Log rows only: the attempt's own writes are gone
		finally:
			frappe.set_user(self.runner_user)


def _log_failure(attempt: Attempt) -> None:
	"""An Error Log row for a failed attempt (in the open transaction: the caller commits it)."""
	title = f"verenigingen job {attempt.method} failed"
	if len(title) > ERROR_TITLE_MAX:
		title = title[: ERROR_TITLE_MAX - 3] + "..."
	retry = " (it will be retried)" if attempt.status == "delayed" else ""
	message = (
		f"job {attempt.job_id}, attempt {attempt.number}, priority {attempt.priority.value}, "
		f"submitted by {attempt.user or 'nobody recorded'}: {attempt.error}{retry}\n\n"
		f"{attempt.traceback or attempt.error}"
	)
	frappe.log_error(title=title, message=message, reference_name=attempt.job_id)


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
