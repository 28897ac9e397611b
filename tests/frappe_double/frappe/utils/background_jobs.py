"""frappe.utils.background_jobs: enqueue onto real RQ queues and the job runner a worker executes,
as Frappe v15 defines them, on the double's queue Redis.

``enqueue`` puts ``execute_job`` on the queue ``{bench_id}:{queue}`` with the job id
``{site}::{job_id}``, exactly the call shape of Frappe's; a worker (``frappe._double.run_worker``:
rq's SimpleWorker, in this process) runs it. ``execute_job`` connects to the site afresh (its own
database connection and session, as a worker's ``frappe.init`` + ``frappe.connect`` do), runs the
method as the user who enqueued it, commits on success, and on an exception rolls back, inserts an
Error Log, commits that, and re-raises so RQ marks the job failed. Frappe's retry of deadlocked jobs
is not reproduced.
"""

import os
import re
from uuid import uuid4

import frappe
from frappe.utils import CallbackManager

RQ_JOB_FAILURE_TTL = 7 * 24 * 60 * 60
RQ_RESULTS_TTL = 10 * 60


def get_queues_timeout() -> dict:
	"""Queue types and their default timeouts (v15: short and default 300 s, long 1500 s)."""
	return {"short": 300, "default": 300, "long": 1500}


def get_bench_id() -> str:
	"""v15 names queues after the bench (``bench_id``, else the bench path); the double's bench is
	the site the test connected, so every test has queues of its own."""
	return frappe.conf.get("bench_id") or frappe.local.site


def validate_queue(queue, default_queue_list=None):
	default_queue_list = default_queue_list or list(get_queues_timeout())
	if queue not in default_queue_list:
		frappe.throw(frappe._("Queue should be one of {0}").format(", ".join(default_queue_list)))


def generate_qname(qtype: str) -> str:
	"""v15: ``{bench_id}:{qtype}`` (no check here, as in Frappe)."""
	if isinstance(qtype, list):
		qtype = ",".join(qtype)
	return f"{get_bench_id()}:{qtype}"


def get_queue_list(queue_list=None, build_queue_name=False) -> list[str]:
	default_queue_list = list(get_queues_timeout())
	if queue_list:
		if isinstance(queue_list, str):
			queue_list = [queue_list]
		for queue in queue_list:
			validate_queue(queue, default_queue_list)
	else:
		queue_list = default_queue_list
	return [generate_qname(q) for q in queue_list] if build_queue_name else queue_list


def get_redis_conn(username=None, password=None):
	"""The queue Redis: a plain redis-py client (never the prefixing cache wrapper)."""
	return frappe._double.queue_redis()


def get_queue(qtype, is_async=True):
	from rq import Queue

	validate_queue(qtype)
	return Queue(generate_qname(qtype), connection=get_redis_conn(), is_async=is_async)


def create_job_id(job_id: str | None = None) -> str:
	"""v15 namespaces job ids to the site: ``{site}::{job_id}`` (a uuid when none is given).

	rq 2.x refuses any id character but letters, digits, ``_`` and ``-``; under it (v15 pins rq
	1.15, so this is the double outside Frappe's pins) the parts are joined with ``--`` and every
	other character becomes ``-``."""
	site, job_id = frappe.local.site, str(job_id or uuid4())
	if _RQ_ID_PATTERN is None:
		return f"{site}::{job_id}"
	return "--".join(_RQ_UNSAFE.sub("-", part) for part in (site, job_id))


def _rq_id_pattern():
	import rq.job

	return getattr(rq.job, "JOB_ID_PATTERN", None)


_RQ_ID_PATTERN = _rq_id_pattern()
_RQ_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def get_job(job_id: str):
	from rq.exceptions import NoSuchJobError
	from rq.job import Job

	try:
		return Job.fetch(create_job_id(job_id), connection=get_redis_conn())
	except NoSuchJobError:
		return None


def get_job_status(job_id: str):
	job = get_job(job_id)
	return job.get_status() if job else None


def is_job_enqueued(job_id: str) -> bool:
	return get_job_status(job_id) in ("queued", "started")


def enqueue(
	method,
	queue="default",
	timeout=None,
	event=None,
	is_async=True,
	job_name=None,
	now=False,
	enqueue_after_commit=False,
	*,
	on_success=None,
	on_failure=None,
	at_front=False,
	job_id=None,
	deduplicate=False,
	**kwargs,
):
	"""frappe.enqueue (v15): returns the RQ job, or None for a deduplicated id that is queued or
	started, and None with ``enqueue_after_commit`` (the job is enqueued when the transaction
	commits and dropped if it rolls back)."""
	if deduplicate:
		if not job_id:
			frappe.throw(frappe._("`job_id` paramater is required for deduplication."))
		job = get_job(job_id)
		if job and job.get_status() in ("queued", "started"):
			return None
		if job:
			job.delete()
	job_id = create_job_id(job_id)
	if now or (not is_async and not frappe.flags.in_test):
		return frappe.call(method, **kwargs)
	q = get_queue(queue, is_async=is_async)
	timeout = timeout or get_queues_timeout().get(queue) or 300
	method_name = method if isinstance(method, str) else f"{method.__module__}.{method.__qualname__}"
	queue_args = {
		"site": frappe.local.site,
		"user": frappe.session.user,
		"method": method,
		"event": event,
		"job_name": job_name or method_name,
		"is_async": is_async,
		"kwargs": kwargs,
	}

	def enqueue_call():
		return q.enqueue_call(
			"frappe.utils.background_jobs.execute_job",
			timeout=timeout,
			kwargs=queue_args,
			at_front=at_front,
			failure_ttl=RQ_JOB_FAILURE_TTL,
			result_ttl=RQ_RESULTS_TTL,
			job_id=job_id,
		)

	if enqueue_after_commit:
		frappe.db.after_commit.add(enqueue_call)
		return None
	return enqueue_call()


def execute_job(site, method, event, job_name, kwargs, user=None, is_async=True, retry=0):
	"""What a worker runs for every job (v15 ``execute_job``)."""
	retval = None
	if is_async:
		frappe._double.job_connect(site)
		if os.environ.get("CI"):
			frappe.flags.in_test = True
		if user:
			frappe.set_user(user)
	try:
		if isinstance(method, str):
			method_name = method
			method = frappe.get_attr(method)
		else:
			method_name = f"{method.__module__}.{method.__qualname__}"
		frappe.local.job = frappe._dict(
			site=site, method=method_name, job_name=job_name, kwargs=kwargs, user=user,
			after_job=CallbackManager(),
		)  # fmt: skip
		for hook in frappe.get_hooks("before_job"):
			frappe.call(hook, method=method_name, kwargs=kwargs, transaction_type="job")
		try:
			retval = method(**kwargs)
		except Exception:
			frappe.db.rollback()
			frappe.log_error(title=method_name)
			frappe.db.commit()
			raise
		else:
			frappe.db.commit()
			return retval
		finally:
			for hook in frappe.get_hooks("after_job"):
				frappe.call(hook, method=method_name, kwargs=kwargs, result=retval)
			frappe.local.job.after_job.run()
	finally:
		if is_async:
			frappe._double.job_disconnect()
