"""Whitelisted member profiling: why is one member's page slow?

It profiles what a user's browser really makes the site run for a member: the desk's Member form
load (``frappe.desk.form.load.getdoc``: the document, its permissions, onload, docinfo and link
titles) and the member read model the app's API serves, by recording every ``frappe.db.sql``
call. Any N+1 or full scan it reports is one the site really runs."""

import time

import frappe
from frappe import _
from frappe.rate_limiter import rate_limit

from verenigingen import frappe_bridge
from verenigingen.api.guard import admin_only
from verenigingen.performance.defaults import API_RATE_LIMIT_EXPENSIVE, API_RATE_LIMIT_SECONDS
from verenigingen.performance.exceptions import MemberNotFoundError
from verenigingen.performance.profiler import analyze
from verenigingen.performance.summaries import member_summary


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
	from frappe.desk.form.load import getdoc

	db = frappe_bridge.database()
	docs = frappe.response.get("docs")
	started = time.perf_counter()
	with frappe_bridge.recording_queries() as form_queries:
		getdoc("Member", member)  # the desk's form load, as the browser asks for it
	with frappe_bridge.recording_queries() as model_queries:
		summary = member_summary(db, member)  # what get_member_summary serves
	wall = time.perf_counter() - started
	frappe.response["docs"] = docs  # getdoc appends the document to the response: not ours to send
	if summary is None:
		frappe.throw(str(MemberNotFoundError(f"Member {member!r} does not exist")), frappe.DoesNotExistError)
	report = analyze(db, [*form_queries, *model_queries], wall_seconds=wall)
	report.update(
		member=member,
		profiled=["frappe.desk.form.load.getdoc", "member_summary"],
		queries_by_part={"form_load": len(form_queries), "member_summary": len(model_queries)},
		summary=summary,
	)
	return report
