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
