"""Whitelisted member profiling: why is one member's page slow?"""

import frappe
from frappe import _
from frappe.rate_limiter import rate_limit

from verenigingen import frappe_bridge
from verenigingen.api.guard import admin_only
from verenigingen.performance.defaults import API_RATE_LIMIT_EXPENSIVE, API_RATE_LIMIT_SECONDS
from verenigingen.performance.exceptions import MemberNotFoundError
from verenigingen.performance.profiler import profile_member


@frappe.whitelist()
@admin_only
@rate_limit(limit=API_RATE_LIMIT_EXPENSIVE, seconds=API_RATE_LIMIT_SECONDS)
def measure_member_performance(member: str) -> dict:
	"""Load the member's full picture under the query profiler; report queries, time, N+1 patterns,
	full scans and recommendations pointing at the index catalog."""
	if not member or not member.strip():
		frappe.throw(_("member must name a Member"), frappe.ValidationError)
	if not frappe.db.exists("Member", member):
		frappe.throw(_("Member {0} does not exist").format(member), frappe.DoesNotExistError)
	frappe.has_permission("Member", "read", doc=member, throw=True)
	try:
		return profile_member(frappe_bridge.database(), member)
	except MemberNotFoundError as exc:
		frappe.throw(str(exc), frappe.DoesNotExistError)
