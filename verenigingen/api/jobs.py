"""Whitelisted views of the priority job coordinator: queue status, one job's status, cancel."""

from contextlib import contextmanager

import frappe

from verenigingen import frappe_bridge
from verenigingen.api.guard import admin_only
from verenigingen.performance.exceptions import InvalidJobError, NoSuchJobError


@frappe.whitelist()
@admin_only
def get_queue_status() -> dict:
	"""Per priority: caps, slots in use, counts by status, oldest wait, p50/p95 wait and run time,
	throughput; and the load controller's state and recent cap changes."""
	return frappe_bridge.job_coordinator().queue_status()


@frappe.whitelist()
@admin_only
def get_job_status(job_id: str) -> dict:
	"""One job's record: status, attempts, times, worker, error."""
	with _job_errors():
		return frappe_bridge.job_coordinator().status(job_id)


@frappe.whitelist(methods=["POST"])
@admin_only
def cancel_job(job_id: str) -> dict:
	"""Cancel a job: a waiting one is removed, a running one's worker is asked to stop."""
	with _job_errors():
		return frappe_bridge.job_coordinator().cancel(job_id)


@contextmanager
def _job_errors():
	"""The coordinator's errors as Frappe's: a malformed id is a ValidationError (417), an unknown
	one a DoesNotExistError (404), each with the coordinator's message."""
	try:
		yield
	except InvalidJobError as exc:
		frappe.throw(str(exc), frappe.ValidationError)
	except NoSuchJobError as exc:
		frappe.throw(str(exc), frappe.DoesNotExistError)
