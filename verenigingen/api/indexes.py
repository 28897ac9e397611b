"""Whitelisted database index manager: status, plan, apply, rollback, redundant indexes.

Index DDL never runs in the web request: ``apply`` and ``rollback`` submit
:func:`run_index_job` to the app's job coordinator (priority ``bulk``, which bench workers
run from the ``long`` queue) and return the job's id.
"""

import uuid

import frappe
from frappe import _
from frappe.rate_limiter import rate_limit

from verenigingen import frappe_bridge
from verenigingen.api.guard import admin_only
from verenigingen.performance.defaults import (
	INDEX_API_RATE_LIMIT,
	INDEX_API_RATE_WINDOW,
	INDEX_AUTO_APPLY_CONFIG_KEY,
)
from verenigingen.performance.exceptions import PerformanceError
from verenigingen.performance.indexes import IndexManager, catalog
from verenigingen.performance.jobs import RetryPolicy

ACTIONS = ("status", "plan", "apply", "rollback", "redundant")
JOB_METHOD = "verenigingen.api.indexes.run_index_job"
JOB_PRIORITY = "bulk"  # heavy maintenance work: the coordinator's smallest cap, the long queue
JOB_TIMEOUT = 4 * 3600  # seconds: an index on a very large table may take hours
JOB_RETRY = RetryPolicy(max_retries=0, first_interval=0)  # a failed apply has undone itself; a person decides


def _names(text: str | None) -> list[str] | None:
	"""A comma-separated list from the request, or None."""
	if text is None or not text.strip():
		return None
	return [n.strip() for n in text.split(",") if n.strip()]


def _manager() -> IndexManager:
	return IndexManager(frappe_bridge.database(), user=frappe.session.user)


def _submit(action: str, **kwargs) -> str:
	"""Submit the DDL job through the job coordinator; return its id. The job runs as, and records,
	who asked; it is submitted when the request commits (frappe_bridge.submit_job)."""
	return frappe_bridge.submit_job(
		JOB_METHOD,
		{"action": action, "user": frappe.session.user, **kwargs},
		priority=JOB_PRIORITY,
		job_id=f"verenigingen-index-{action}-{uuid.uuid4().hex[:12]}",
		timeout=JOB_TIMEOUT,
		retry=JOB_RETRY,
	)


@frappe.whitelist()
@admin_only
@rate_limit(limit=INDEX_API_RATE_LIMIT, seconds=INDEX_API_RATE_WINDOW)
def database_index_manager_api(
	action: str,
	catalog_name: str = "all",
	index_names: str | None = None,
	doctypes: str | None = None,
	allow_locking: bool = False,
) -> dict:
	"""``status``, ``plan``, ``apply`` (returns the background job's id), ``rollback`` (likewise;
	``index_names`` limits it, comma-separated), ``redundant`` (``doctypes`` limits it)."""
	if action not in ACTIONS:
		frappe.throw(
			_("action must be one of {0}, got {1!r}").format(", ".join(ACTIONS), action),
			frappe.ValidationError,
		)
	request = getattr(frappe.local, "request", None)
	if action in ("apply", "rollback") and request is not None and request.method != "POST":
		frappe.throw(
			_("{0} changes the database: call it with POST, not {1}").format(action, request.method),
			frappe.ValidationError,
		)
	try:
		specs = catalog(catalog_name)
		manager = _manager()
		if action == "status":
			status = manager.status(specs)
			status["auto_apply"] = bool(frappe_bridge.site_config(INDEX_AUTO_APPLY_CONFIG_KEY, True))
			return status
		if action == "redundant":
			found = manager.find_redundant(_names(doctypes))
			return {
				"redundant": [r.as_dict() for r in found],
				"bytes": sum(r.size_bytes or 0 for r in found),
			}
		plan = manager.plan(specs)
		if action == "plan":
			return plan.as_dict()
		if action == "apply":
			if plan.problems:
				frappe.throw(
					_("the plan has problems, nothing was changed: {0}").format(
						"; ".join(p.reason for p in plan.problems)
					),
					frappe.ValidationError,
				)
			if not plan.to_create:
				return {
					"job_id": None,
					"reason": "every index of the catalog is present",
					"plan": plan.as_dict(),
				}
			job_id = _submit("apply", catalog_name=catalog_name, allow_locking=bool(allow_locking))
			return {"job_id": job_id, "plan": plan.as_dict()}
		names = _names(index_names)
		would = manager.rollback(names, dry_run=True)
		if not any(o.action == "would drop" for o in would):
			return {"job_id": None, "reason": "no index created by this tool is left to drop"}
		return {"job_id": _submit("rollback", index_names=names), "would": [o.as_dict() for o in would]}
	except PerformanceError as exc:
		frappe.throw(str(exc), frappe.ValidationError)


def run_index_job(
	action: str,
	user: str,
	catalog_name: str = "all",
	allow_locking: bool = False,
	index_names: list | None = None,
) -> list[dict]:
	"""The background job behind ``apply`` and ``rollback``: runs the DDL in a worker, never a request.
	``user`` is who asked; the change log records them."""
	if frappe_bridge.in_web_request():
		frappe.throw(_("index DDL runs in a background job, not in a web request"), frappe.ValidationError)
	manager = IndexManager(frappe_bridge.database(), user=user)
	frappe.db.commit()  # the job starts with a clean transaction: DDL never follows pending writes
	if action == "apply":
		outcomes = manager.apply(manager.plan(catalog(catalog_name)), allow_locking=allow_locking)
	elif action == "rollback":
		outcomes = manager.rollback(index_names)
	else:
		raise ValueError(f"run_index_job: action must be apply or rollback, got {action!r}")
	return [o.as_dict() for o in outcomes]
