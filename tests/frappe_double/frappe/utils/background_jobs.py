"""frappe.utils.background_jobs: queue naming and the RQ connection, as v15 defines them."""

import frappe

DEFAULT_QUEUES = ("short", "default", "long")


def get_bench_id() -> str:
	"""v15 names queues after the bench (``bench_id`` of the common config)."""
	return frappe.conf.get("bench_id") or frappe.local.site


def generate_qname(qtype: str) -> str:
	"""v15: ``{bench_id}:{qtype}``; unknown queue types are refused."""
	if qtype not in frappe._double.queues:
		raise ValueError(f"Unknown queue type {qtype}")
	return f"{get_bench_id()}:{qtype}"


def get_queue_list(queue_list=None, build_queue_name=False) -> list[str]:
	queues = list(queue_list or sorted(frappe._double.queues))
	return [generate_qname(q) for q in queues] if build_queue_name else queues


def get_redis_conn(username=None, password=None):
	"""The queue Redis: the double uses the test's Redis client."""
	return frappe.cache


def execute_job(site, method, event, job_name, kwargs, user=None, is_async=True, retry=0):
	"""frappe.utils.background_jobs.execute_job (v15), run in the test's process: as the enqueuing
	``user``, with ``frappe.local.job`` set and the ``before_job``/``after_job`` hooks around the call;
	commit when it returns; on an exception roll back, log an Error Log titled with the method,
	commit and re-raise (so RQ would mark the job failed). Not mirrored: the worker's own
	init/connect/destroy (the double keeps the test's connection and gives the session back to
	the caller afterwards) and the retries after a deadlock."""
	from frappe.utils import CallbackManager

	caller = frappe.session.user
	if user:
		frappe.set_user(user)
	if isinstance(method, str):
		method_name = method
		method = frappe.get_attr(method)
	else:
		method_name = f"{method.__module__}.{method.__qualname__}"
	frappe.local.job = frappe._dict(
		site=site, method=method_name, job_name=job_name, kwargs=kwargs, user=user,
		after_job=CallbackManager(),
	)  # fmt: skip
	for path in frappe.get_hooks("before_job"):
		frappe.get_attr(path)(method=method_name, kwargs=kwargs, transaction_type="job")
	retval = None
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
		for path in frappe.get_hooks("after_job"):
			frappe.get_attr(path)(method=method_name, kwargs=kwargs, result=retval)
		frappe.local.job.after_job.run()
		del frappe.local.job
		frappe.set_user(caller)
