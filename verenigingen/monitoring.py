"""Monitoring's Frappe shell: request and job hooks, the scheduled snapshot and purge.

The hooks only time and hand the samples to the core (request samples are gathered per process
and written in one pipelined call per batch; one Redis call per job);
they never raise into the request or the job they measure (Frappe already catches
``after_request`` errors; an ``after_job`` error would replace the job's own outcome).
"""

import sys
import time

import frappe
from frappe import _

from verenigingen import frappe_bridge as bridge
from verenigingen.performance.monitoring import endpoint_name as core_endpoint_name
from verenigingen.performance.monitoring import job_samples, request_samples
from verenigingen.performance.samples import SampleBuffer

_REQUEST_STARTED = "verenigingen_request_started"
_REQUEST_BUFFERS: dict[str, SampleBuffer] = {}  # site -> this process's unwritten request samples
_JOB_STARTED = "verenigingen_job_started"


def endpoint_name(request) -> str:
	"""A bounded name for the request's endpoint (see ``performance.monitoring.endpoint_name``)."""
	return core_endpoint_name(getattr(request, "path", None))


def before_request() -> None:
	setattr(frappe.local, _REQUEST_STARTED, time.perf_counter())


def after_request(response=None, request=None) -> None:
	started = getattr(frappe.local, _REQUEST_STARTED, None)
	if started is None:
		return
	setattr(frappe.local, _REQUEST_STARTED, None)
	duration_ms = (time.perf_counter() - started) * 1000
	status = getattr(response, "status_code", None)
	request = request if request is not None else getattr(frappe.local, "request", None)
	request_buffer().add(bridge.metric_store(), request_samples(endpoint_name(request), duration_ms, status))


def request_buffer() -> SampleBuffer:
	"""This process's buffer of request samples for the current site (one per site: a bench
	process serves several). Requests append to it; one in MONITORING_BUFFER_SAMPLES, or the
	first after MONITORING_BUFFER_SECONDS, writes the lot in one pipelined Redis call."""
	site = bridge.namespace()
	buffer = _REQUEST_BUFFERS.get(site)
	if buffer is None:
		buffer = _REQUEST_BUFFERS.setdefault(site, SampleBuffer())
	return buffer


def flush_request_samples() -> int:
	"""Write this process's buffered request samples of the current site now (before reading)."""
	return request_buffer().flush(bridge.metric_store())


def before_job(method=None, kwargs=None, transaction_type=None) -> None:
	if method == bridge.JOB_RUNNER:
		return  # the coordinator's runner records each attempt it runs itself (record_job)
	setattr(frappe.local, _JOB_STARTED, time.perf_counter())


def after_job(method=None, kwargs=None, result=None) -> None:
	"""Frappe calls this in ``execute_job``'s ``finally``: an exception in flight means the job failed.

	The coordinator's runner (``verenigingen.jobs.run_job``) is not sampled here: it records one
	sample per attempt it runs (chained ones too), with the attempt's own run time and outcome."""
	started = getattr(frappe.local, _JOB_STARTED, None)
	if started is None or method == bridge.JOB_RUNNER:
		return
	setattr(frappe.local, _JOB_STARTED, None)
	failed = sys.exc_info()[0] is not None
	run_ms = (time.perf_counter() - started) * 1000
	queue, wait_ms = bridge.current_job_wait()
	if not record_job(queue, run_ms, wait_ms, failed):
		# execute_job has already committed (or rolled back) the job's transaction: commit the row
		frappe.db.commit()


def record_job(queue: str, run_ms: float, wait_ms: float | None, failed: bool) -> bool:
	"""One job sample (``job_run:<queue>``, an error when ``failed``; ``job_wait:<queue>``).
	Never raises into the job it measures: if it cannot record, it adds an Error Log row (in the open
	transaction, for the caller to commit) and returns False."""
	try:
		bridge.metric_store().record(job_samples(queue, run_ms, wait_ms, failed))
	except Exception:  # must not replace the job's outcome; logged with its traceback
		frappe.log_error(title=_("Performance monitoring could not record a job"))
		return False
	return True


def snapshot() -> dict:
	"""Store a Performance Snapshot now and, from activation level 3, evaluate alerts and notify.
	Also puts the activation level back where the request hook reads it (a Redis restart loses it).
	Returns the core's result: the snapshot's name, the summary it stored and the alert changes
	(or why nothing was stored)."""
	settings = bridge.monitoring_settings()
	bridge.publish_activation_level(settings.activation_level)
	result = bridge.monitor(settings).snapshot()
	for alert in (result.get("alerts") or {}).get("opened", []):
		notify_alert(alert)
	return result


def take_snapshot() -> dict:
	"""Scheduled every five minutes: :func:`snapshot`, answering only the name (or why none)."""
	result = snapshot()
	return {"name": result.get("name"), "skipped": result.get("skipped")}


def purge_snapshots() -> int:
	"""Scheduled daily: delete snapshots older than the retention."""
	return bridge.monitor().purge()


def publish_activation_level() -> None:
	"""``clear_cache`` and ``after_migrate`` hook: store the Performance Settings activation level
	where the request hook's single Redis call reads it (so monitoring switched off stays off)."""
	bridge.publish_activation_level(bridge.monitoring_settings().activation_level)


def alert_recipients() -> list[str]:
	"""Every enabled user with an admin role, and Administrator, whom Frappe's
	``get_users_with_role`` leaves out although it holds every role."""
	return sorted(set(bridge.users_with_roles(bridge.admin_roles())) | {"Administrator"})


def notify_alert(alert: dict) -> None:
	"""A desk notification (Notification Log) for every administrator of the app."""
	subject = _("Performance alert: {0}").format(alert["message"])
	for user in alert_recipients():
		frappe.get_doc(
			{
				"doctype": "Notification Log",
				"for_user": user,
				"type": "Alert",
				"subject": subject,
				"document_type": "Performance Alert",
				"document_name": alert["name"],
			}
		).insert(ignore_permissions=True)
