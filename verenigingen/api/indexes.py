"""Whitelisted database index manager: status, plan, apply, rollback, redundant indexes, and the
index advisor's ``suggest``.

Index DDL never runs in the web request: ``apply`` and ``rollback`` submit
:func:`run_index_job` to the app's job coordinator (priority ``bulk``, which bench workers
run from the ``long`` queue) and return the job's id. ``suggest`` submits :func:`run_advisor_job`
the same way; the report it stores is read back with :func:`get_index_advice`.
"""

import uuid

import frappe
from frappe import _
from frappe.rate_limiter import rate_limit

from verenigingen import frappe_bridge
from verenigingen.api.guard import admin_only
from verenigingen.performance.defaults import (
	ADVISOR_MAX_SUGGESTIONS,
	ADVISOR_WORKLOAD_MAX_BYTES,
	INDEX_API_RATE_LIMIT,
	INDEX_API_RATE_WINDOW,
	INDEX_AUTO_APPLY_CONFIG_KEY,
)
from verenigingen.performance.exceptions import PerformanceError
from verenigingen.performance.indexes import IndexManager, catalog
from verenigingen.performance.jobs import RetryPolicy

ACTIONS = ("status", "plan", "apply", "rollback", "redundant", "suggest")
JOB_METHOD = "verenigingen.api.indexes.run_index_job"
ADVISOR_JOB_METHOD = "verenigingen.api.indexes.run_advisor_job"
JOB_PRIORITY = "bulk"  # heavy maintenance work: the coordinator's smallest cap, the long queue
JOB_TIMEOUT = 4 * 3600  # seconds: an index on a very large table may take hours
JOB_RETRY = RetryPolicy(max_retries=0, first_interval=0)  # a failed apply has undone itself; a person decides


def _names(text: str | None) -> list[str] | None:
	"""A comma-separated list from the request, or None."""
	if text is None or not text.strip():
		return None
	return [n.strip() for n in text.split(",") if n.strip()]


def _manager() -> IndexManager:
	return frappe_bridge.index_manager(frappe.session.user)


def _submit(action: str, *, method: str = JOB_METHOD, job_id: str | None = None, **kwargs) -> str:
	"""Submit the DDL job through the job coordinator; return its id. The job runs as, and records,
	who asked; it is submitted when the request commits (frappe_bridge.submit_job)."""
	if method == JOB_METHOD:
		kwargs["action"] = action
	return frappe_bridge.submit_job(
		method,
		{"user": frappe.session.user, **kwargs},
		priority=JOB_PRIORITY,
		job_id=job_id or f"verenigingen-index-{action}-{uuid.uuid4().hex[:12]}",
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
	wait_for_transactions: bool = False,
	workload: str | None = None,
	since_minutes: int | None = None,
	max_suggestions: int = ADVISOR_MAX_SUGGESTIONS,
) -> dict:
	"""``status``, ``plan``, ``apply`` (returns the background job's id), ``rollback`` (likewise;
	``index_names`` limits it, comma-separated), ``redundant`` (``doctypes`` limits it), ``suggest``
	(the index advisor, as a background job: over ``workload``, SQL statements one per line or
	separated by ``;``, or else over the site's slow log of the last ``since_minutes``).
	The job refuses to start its DDL while transactions older than the site's threshold are open
	on the database, unless ``wait_for_transactions`` (then it waits up to the lock wait timeout)."""
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
		if action == "suggest":
			return _suggest(workload, since_minutes, max_suggestions)
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
			job_id = _submit(
				"apply",
				catalog_name=catalog_name,
				allow_locking=bool(allow_locking),
				wait_for_transactions=bool(wait_for_transactions),
			)
			return {"job_id": job_id, "plan": plan.as_dict()}
		names = _names(index_names)
		would = manager.rollback(names, dry_run=True)
		if not any(o.action == "would drop" for o in would):
			return {"job_id": None, "reason": "no index created by this tool is left to drop"}
		job_id = _submit("rollback", index_names=names, wait_for_transactions=bool(wait_for_transactions))
		return {"job_id": job_id, "would": [o.as_dict() for o in would]}
	except PerformanceError as exc:
		frappe.throw(str(exc), frappe.ValidationError)


def run_index_job(
	action: str,
	user: str,
	catalog_name: str = "all",
	allow_locking: bool = False,
	index_names: list | None = None,
	wait_for_transactions: bool = False,
) -> list[dict]:
	"""The background job behind ``apply`` and ``rollback``: runs the DDL in a worker, never a request.
	``user`` is who asked; the change log records them."""
	if frappe_bridge.in_web_request():
		frappe.throw(_("index DDL runs in a background job, not in a web request"), frappe.ValidationError)
	manager = frappe_bridge.index_manager(user)
	frappe.db.commit()  # the job starts with a clean transaction: DDL never follows pending writes
	if action == "apply":
		outcomes = manager.apply(
			manager.plan(catalog(catalog_name)),
			allow_locking=allow_locking,
			wait_for_transactions=wait_for_transactions,
		)
	elif action == "rollback":
		outcomes = manager.rollback(index_names, wait_for_transactions=wait_for_transactions)
	else:
		raise ValueError(f"run_index_job: action must be apply or rollback, got {action!r}")
	return [o.as_dict() for o in outcomes]


# ---------------------------------------------------------------- the index advisor


def _suggest(workload: str | None, since_minutes: int | None, max_suggestions: int) -> dict:
	"""Check what can be checked in the request, then submit the advisor's job."""
	from verenigingen.performance.indexes.advisor import read_workload_text, slow_log_access

	if (
		not isinstance(max_suggestions, int)
		or isinstance(max_suggestions, bool)
		or not 1 <= max_suggestions <= 100
	):
		frappe.throw(_("max_suggestions must be a whole number from 1 to 100"), frappe.ValidationError)
	if since_minutes is not None and (not isinstance(since_minutes, int) or since_minutes < 1):
		frappe.throw(_("since_minutes must be a positive whole number of minutes"), frappe.ValidationError)
	if workload is not None and workload.strip():
		if len(workload.encode()) > ADVISOR_WORKLOAD_MAX_BYTES:
			frappe.throw(
				_("the workload is larger than {0} bytes: pass fewer statements").format(
					ADVISOR_WORKLOAD_MAX_BYTES
				),
				frappe.ValidationError,
			)
		parsed = read_workload_text(workload, "workload")
		if not parsed.shapes:
			frappe.throw(
				_("the workload holds no SELECT statement the advisor can analyse: {0}").format(
					"; ".join(p.describe() for p in parsed.problems[:5]) or _("it is empty")
				),
				frappe.ValidationError,
			)
		source = {"workload_statements": parsed.statements}
	else:
		workload = None
		denied = slow_log_access(frappe_bridge.database())
		if denied:
			frappe.throw(_("cannot read the site's slow log: {0}").format(denied), frappe.ValidationError)
		source = {"slow_log_minutes": since_minutes}
	job_id = f"verenigingen-index-suggest-{uuid.uuid4().hex[:12]}"
	_submit(
		"suggest",
		method=ADVISOR_JOB_METHOD,
		job_id=job_id,
		workload=workload,
		since_minutes=since_minutes,
		max_suggestions=max_suggestions,
		report_id=job_id,
	)
	return {"job_id": job_id, **source}


def _advice_store():
	from verenigingen.performance.indexes.advisor.store import AdviceStore

	return AdviceStore(frappe_bridge.redis_client(), frappe_bridge.namespace())


def run_advisor_job(
	user: str,
	report_id: str,
	workload: str | None = None,
	since_minutes: int | None = None,
	max_suggestions: int = ADVISOR_MAX_SUGGESTIONS,
) -> dict:
	"""The background job behind ``suggest``: read the workload (or the slow log), advise, store
	the report for :func:`get_index_advice`. It reads the site's tables and builds its scratch
	copies; it changes no index of the site."""
	from verenigingen.performance.indexes.advisor import (
		AdvisorSettings,
		advise,
		read_slow_log,
		read_workload_text,
	)

	if frappe_bridge.in_web_request():
		frappe.throw(
			_("the index advisor runs in a background job, not in a web request"), frappe.ValidationError
		)
	db = frappe_bridge.database()
	frappe.db.commit()  # start from a clean transaction: the scratch copies are built with DDL
	source = read_workload_text(workload, "workload") if workload else read_slow_log(db, since_minutes)
	advice = advise(db, source, AdvisorSettings(max_suggestions=int(max_suggestions)))
	advice.report["requested_by"] = user
	advice.report["job_id"] = report_id
	_advice_store().save(advice.report, report_id)
	return {
		"suggestions": len(advice.report["suggestions"]),
		"shapes": advice.report["workload"]["shapes"],
		"seconds": advice.report["seconds"],
	}


@frappe.whitelist()
@admin_only
def get_index_advice(job_id: str | None = None) -> dict:
	"""The index advisor's latest report on this site (or that of ``job_id``); ``report`` is None
	if there is none (yet)."""
	store = _advice_store()
	return {"report": store.for_job(job_id) if job_id else store.latest()}
