"""The index advisor in a site: the admin API's ``suggest`` action, its background job, the report."""

import json

import pytest

pytestmark = pytest.mark.shell

ADMIN = ("v.admin@example.org", ("Verenigingen Administrator",))
ORDERS = 6_000


def _seed_orders(frappe):
	"""A made-up table in the site's database, big enough to be worth an index."""
	frappe.db.sql_ddl(
		"CREATE TABLE `tabAdv Order` (`name` varchar(140) NOT NULL PRIMARY KEY, `customer` varchar(140), "
		"`status` varchar(140), `remarks` text) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	)
	rows = [
		(f"ORD-{k:06d}", f"CUST-{k % 600:04d}", ("Open", "Paid")[k % 2], "x" * 200) for k in range(ORDERS)
	]
	for start in range(0, len(rows), 1000):
		chunk = rows[start : start + 1000]
		frappe.db.sql(
			"INSERT INTO `tabAdv Order` VALUES " + ", ".join(["(%s, %s, %s, %s)"] * len(chunk)),
			tuple(v for row in chunk for v in row),
		)
	frappe.db.commit()


def _queued() -> list:
	"""The RQ jobs of this site waiting on the bench's queues (what frappe.enqueue put there)."""
	import frappe
	from frappe.utils.background_jobs import get_queue, get_queue_list

	return [
		j for q in get_queue_list() for j in get_queue(q).jobs if j.kwargs.get("site") == frappe.local.site
	]


def _index_names(frappe, table):
	rows = frappe.db.sql(
		"SELECT index_name FROM information_schema.statistics WHERE table_schema=DATABASE() AND table_name=%s",
		(table,),
	)
	return {r[0] for r in rows}


@pytest.mark.parametrize(
	("user", "roles"),
	[("Guest", ()), ("desk@example.org", ("Desk User",)), ("acc@example.org", ("Accounts User",))],
)
def test_non_admins_may_neither_ask_nor_read(frappe_site, user, roles):
	import frappe

	from verenigingen.api.indexes import database_index_manager_api, get_index_advice

	frappe.flags.in_test = True
	frappe_site.login(user, roles)
	with pytest.raises(frappe.PermissionError):
		database_index_manager_api(
			action="suggest", workload="SELECT name FROM `tabMember` WHERE email = 'x'"
		)
	with pytest.raises(frappe.PermissionError):
		get_index_advice()
	assert _queued() == []


def test_suggest_runs_as_a_background_job_and_stores_its_report(frappe_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.indexes import (
		ADVISOR_JOB_METHOD,
		database_index_manager_api,
		get_index_advice,
		run_advisor_job,
	)

	frappe.flags.in_test = True
	_seed_orders(frappe)
	frappe_site.login(*ADMIN)
	coordinator = frappe_bridge.job_coordinator()
	coordinator.load_controller = None  # admission by cap only, whatever this machine's load
	assert get_index_advice() == {"report": None}
	workload = "\n".join(
		f"SELECT name, status FROM `tabAdv Order` WHERE customer = 'CUST-{k:04d}'" for k in range(20)
	)
	result = database_index_manager_api(action="suggest", workload=workload + "\nSELECT FROM nowhere")
	assert result["job_id"].startswith("verenigingen-index-suggest-") and result["workload_statements"] == 21
	[call] = _queued()
	assert call.kwargs["method"] == "verenigingen.jobs.run_job" and call.origin.endswith(":long")
	job = coordinator.status(result["job_id"])
	assert job["method"] == ADVISOR_JOB_METHOD and job["priority"] == "bulk"
	assert get_index_advice() == {"report": None}  # nothing ran in the request
	frappe.local.request = object()
	try:
		with pytest.raises(frappe.ValidationError, match="background job"):
			run_advisor_job(user=ADMIN[0], report_id="x", workload=workload)
	finally:
		del frappe.local.request
	frappe_site.run_jobs()  # a bench worker runs it
	status = coordinator.status(result["job_id"])
	assert status["status"] == "finished", status.get("traceback") or status.get("error")
	frappe_site.login(*ADMIN)
	report = get_index_advice()["report"]
	assert report == get_index_advice(job_id=result["job_id"])["report"]
	json.dumps(report)
	assert report["requested_by"] == ADMIN[0] and report["job_id"] == result["job_id"]
	[suggestion] = report["suggestions"]
	assert suggestion["table"] == "tabAdv Order" and suggestion["columns"][0] == "customer"
	assert any(p["kind"] == "malformed" for p in report["workload"]["problems"])
	assert report["scratch"]["dropped"]
	# suggesting changes no index of the site
	assert _index_names(frappe, "tabAdv Order") == {"PRIMARY"}


def test_bad_requests_are_refused_in_the_request(frappe_site):
	import frappe

	from verenigingen.api.indexes import database_index_manager_api

	frappe.flags.in_test = True
	frappe_site.login(*ADMIN)
	with pytest.raises(frappe.ValidationError, match="no SELECT statement the advisor can analyse"):
		database_index_manager_api(action="suggest", workload="UPDATE t SET a = 1;\nSELEC x FROM y;")
	with pytest.raises(frappe.ValidationError, match="max_suggestions must be"):
		database_index_manager_api(
			action="suggest", workload="SELECT a FROM t WHERE b = 1", max_suggestions=0
		)
	with pytest.raises(frappe.ValidationError, match="since_minutes must be"):
		database_index_manager_api(action="suggest", since_minutes=0)
	with pytest.raises(frappe.ValidationError, match="larger than"):
		database_index_manager_api(action="suggest", workload="SELECT a FROM t WHERE b = 1;\n" * 200_000)
	with pytest.raises(frappe.FrappeTypeError):
		database_index_manager_api(action="suggest", since_minutes="lots")
	assert _queued() == []


def test_the_slow_log_job_fails_with_the_servers_reason(frappe_site):
	"""Without a workload the job reads the slow log; on a server that does not write it to a table
	the job fails, saying how a DBA would turn it on (it never does so itself)."""
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.indexes import database_index_manager_api

	settings = frappe.db.sql("SELECT @@global.log_output, @@global.slow_query_log")[0]
	if "TABLE" in str(settings[0]).upper() and int(settings[1]):
		pytest.skip("this server writes its slow log to mysql.slow_log")
	frappe.flags.in_test = True
	frappe_site.login(*ADMIN)
	coordinator = frappe_bridge.job_coordinator()
	coordinator.load_controller = None
	if not frappe_site.is_double:
		# a Frappe site's own database user may not read mysql.slow_log: refused in the request
		with pytest.raises(frappe.ValidationError, match="cannot read the site's slow log"):
			database_index_manager_api(action="suggest", since_minutes=60)
		assert _queued() == []
		return
	result = database_index_manager_api(action="suggest", since_minutes=60)
	assert result["slow_log_minutes"] == 60
	frappe_site.run_jobs()
	job = coordinator.status(result["job_id"])
	assert job["status"] == "failed" and "SET GLOBAL slow_query_log=ON" in job["error"]
	assert frappe.db.sql("SELECT @@global.log_output, @@global.slow_query_log")[0] == settings


def test_the_dashboard_calls_endpoints_that_exist_and_are_guarded():
	import re
	from pathlib import Path

	js = (
		Path(__file__).resolve().parents[1]
		/ "verenigingen/verenigingen/page/performance_dashboard/performance_dashboard.js"
	).read_text()
	methods = set(re.findall(r'frappe\.xcall\(\s*"([\w.]+)"', js))
	assert {
		"verenigingen.api.indexes.get_index_advice",
		"verenigingen.api.indexes.database_index_manager_api",
	} <= methods
	import importlib

	for method in methods:
		module, _, name = method.rpartition(".")
		fn = getattr(importlib.import_module(module), name)
		assert getattr(fn, "__verenigingen_guard__", None), method
