"""Job functions the shell tests enqueue on a site. They live in the app package because a bench
worker imports a job by dotted path, and a top-level ``tests`` package may be another library's."""

import frappe

from verenigingen import frappe_bridge
from verenigingen.performance.keys import KeyBuilder


def order_key() -> str:
	"""The list the jobs append their labels to, under the site's namespace."""
	return KeyBuilder(frappe_bridge.namespace()).key("jobtest", "order")


def site_record(label: str, fail: bool = False) -> None:
	"""Append ``label`` to the site's ``jobtest`` order list and write a Member row named ``label``
	(to see commits and rollbacks); ``fail`` raises after the write."""
	frappe_bridge.redis_client().rpush(order_key(), label)
	frappe.db.sql("INSERT INTO `tabMember` (`name`) VALUES (%s)", (label,))
	if fail:
		raise RuntimeError(f"{label} failed after writing")


def whoami(label: str) -> str:
	"""Write a Member row named ``label`` whose first name is the user the job runs as; return it."""
	user = frappe.session.user
	frappe.db.sql("INSERT INTO `tabMember` (`name`, `first_name`) VALUES (%s, %s)", (label, user))
	return user


def site_submit(label: str, fail: bool = False) -> None:
	"""Submit ``whoami`` as job ``label`` through the bridge (as the job's user, in step with the
	job's transaction), then fail if told to."""
	frappe_bridge.submit_job(f"{__name__}.whoami", {"label": label}, job_id=label)
	if fail:
		raise RuntimeError(f"{label}: the submitting job failed")
