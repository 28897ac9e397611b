"""The index manager's shell: the admin-only API, its background job, the migrate hook.

Most tests start from a site without the catalog's indexes (``bare_site``)."""

import json

import pytest

from verenigingen.performance.indexes import ChangeLog, IndexSpec

pytestmark = pytest.mark.shell

ADMIN = ("v.admin@example.org", ("Verenigingen Administrator",))


def _db():
	from verenigingen import frappe_bridge

	return frappe_bridge.database()


def _index_names(table):
	import frappe

	rows = frappe.db.sql(
		"SELECT index_name FROM information_schema.statistics WHERE table_schema=DATABASE() AND table_name=%s",
		(table,),
	)
	return {r[0] for r in rows}


def _site_jobs() -> list:
	"""The RQ jobs of this site waiting on the bench's queues."""
	import frappe
	from frappe.utils.background_jobs import get_queue, get_queue_list

	return [
		j for q in get_queue_list() for j in get_queue(q).jobs if j.kwargs.get("site") == frappe.local.site
	]


@pytest.mark.parametrize("action", ["status", "plan", "apply", "rollback", "redundant"])
@pytest.mark.parametrize(
	("user", "roles"),
	[("Guest", ()), ("desk@example.org", ("Desk User",)), ("acc@example.org", ("Accounts User",))],
)
def test_non_admins_are_refused_every_action(frappe_site, user, roles, action):
	import frappe

	from verenigingen.api.indexes import database_index_manager_api

	frappe.flags.in_test = True
	frappe_site.login(user, roles)
	before, jobs = _index_names("tabMember Payment"), len(_site_jobs())
	with pytest.raises(frappe.PermissionError):
		database_index_manager_api(action=action)
	assert len(_site_jobs()) == jobs
	assert _index_names("tabMember Payment") == before


def test_status_plan_and_bad_input(bare_site):
	import frappe

	from verenigingen.api.indexes import database_index_manager_api

	frappe.flags.in_test = True
	bare_site.login(*ADMIN)
	status = database_index_manager_api(action="status")
	json.dumps(status)  # plain data
	assert status["healthy"] is False and status["auto_apply"] is True
	assert status["counts"] == {"missing": 8, "not applicable": 2}
	plan = database_index_manager_api(action="plan", catalog_name="sepa")
	assert [i["action"] for i in plan["items"]] == ["create", "create"]
	with pytest.raises(frappe.ValidationError, match="action must be one of status, plan, apply"):
		database_index_manager_api(action="drop everything")
	with pytest.raises(frappe.ValidationError, match="unknown index catalog 'x'"):
		database_index_manager_api(action="plan", catalog_name="x")
	with pytest.raises(frappe.FrappeTypeError):
		database_index_manager_api(action=["status"])


def test_apply_goes_to_a_background_job_and_the_job_adds_the_indexes(bare_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.indexes import JOB_METHOD, database_index_manager_api, run_index_job

	frappe.flags.in_test = True
	bare_site.login(*ADMIN)
	coordinator = frappe_bridge.job_coordinator()
	coordinator.load_controller = None  # admission by cap only, whatever this machine's load
	logged_before = {e.name for e in ChangeLog(_db()).entries()}
	result = database_index_manager_api(action="apply", catalog_name="sepa")
	assert result["job_id"].startswith("verenigingen-index-apply-")
	[call] = _site_jobs()  # submitted through the job coordinator, onto the long queue
	assert call.kwargs["method"] == "verenigingen.jobs.run_job" and call.origin.endswith(":long")
	assert call.kwargs["user"] == ADMIN[0]
	job = coordinator.status(result["job_id"])
	assert job["method"] == JOB_METHOD and job["priority"] == "bulk"
	# Nothing ran in the request.
	assert "idx_payment_sepa_batch" not in _index_names("tabMember Payment")
	# In a request the job function itself refuses.
	frappe.local.request = object()
	try:
		with pytest.raises(frappe.ValidationError, match="background job"):
			run_index_job(action="apply", user=ADMIN[0], catalog_name="sepa")
	finally:
		del frappe.local.request
	bare_site.run_jobs()  # a worker runs it; the change log names who asked
	assert coordinator.status(result["job_id"])["status"] == "finished"
	assert "idx_payment_sepa_batch" in _index_names("tabMember Payment")
	assert "idx_mandate_status_expiry" in _index_names("tabSEPA Mandate")
	logged = [e for e in ChangeLog(_db()).entries() if e.name not in logged_before]
	assert {(e.index_name, e.action, e.performed_by) for e in logged} == {
		("idx_payment_sepa_batch", "Apply", ADMIN[0]), ("idx_mandate_status_expiry", "Apply", ADMIN[0]),
	}  # fmt: skip
	# Everything present: nothing is submitted.
	again = database_index_manager_api(action="apply", catalog_name="sepa")
	assert again["job_id"] is None and _site_jobs() == []

	rb = database_index_manager_api(action="rollback", index_names="idx_payment_sepa_batch")
	assert rb["job_id"].startswith("verenigingen-index-rollback-")
	assert "idx_payment_sepa_batch" in _index_names("tabMember Payment")
	bare_site.run_jobs()
	assert coordinator.status(rb["job_id"])["status"] == "finished"
	assert "idx_payment_sepa_batch" not in _index_names("tabMember Payment")
	assert "idx_mandate_status_expiry" in _index_names("tabSEPA Mandate")


def test_redundant_reports_without_dropping(bare_site):
	import frappe

	from verenigingen.api.indexes import database_index_manager_api

	frappe.db.sql_ddl("ALTER TABLE `tabMember` ADD INDEX `dup_member_id` (`member_id`)")
	frappe.flags.in_test = True
	bare_site.login(*ADMIN)
	found = database_index_manager_api(action="redundant", doctypes="Member")
	assert [r["index"] for r in found["redundant"]] == ["dup_member_id"]
	assert found["redundant"][0]["drop_sql"] == "ALTER TABLE `tabMember` DROP INDEX `dup_member_id`"
	assert "dup_member_id" in _index_names("tabMember")
	with pytest.raises(frappe.ValidationError, match="no table"):
		database_index_manager_api(action="redundant", doctypes="Nope")


def test_migrate_hook_is_idempotent_and_can_be_turned_off(bare_site):
	import frappe

	from verenigingen.indexes import after_migrate, ensure_catalogs

	logged_before = len(ChangeLog(_db()).entries())
	frappe.conf["verenigingen_auto_index"] = 0
	report = ensure_catalogs()
	assert report["auto_apply"] is False and len(report["missing"]) == 8 and report["created"] == []
	assert "idx_payment_member_date" not in _index_names("tabMember Payment")
	frappe.conf["verenigingen_auto_index"] = 1
	after_migrate()
	assert "idx_payment_member_date" in _index_names("tabMember Payment")
	logged = len(ChangeLog(_db()).entries())
	assert logged - logged_before == 8
	second = ensure_catalogs()
	assert second["missing"] == [] and second["created"] == []
	assert len(ChangeLog(_db()).entries()) == logged  # cheap and idempotent: nothing new


def test_single_column_specs_of_other_apps_get_a_search_index_property_setter(frappe_site):
	import frappe

	from verenigingen.indexes import ensure_catalogs

	if not frappe.db.table_exists("ToDo"):  # Frappe's ToDo, as far as this test needs it
		frappe.db.sql_ddl(
			"CREATE TABLE `tabToDo` (name varchar(140) primary key, priority varchar(140)) ENGINE=InnoDB"
		)
	spec = IndexSpec("vtest_todo_priority", "ToDo", ("priority",), "to-dos of a priority", app="frappe")
	absent = IndexSpec("territory", "Territory Thing", ("territory",), "not installed here", app="erpnext")
	report = ensure_catalogs([spec, absent])
	assert report["property_setters"] == ["ToDo-priority-search_index"]
	setter = frappe.get_doc("Property Setter", "ToDo-priority-search_index")
	assert (setter.doc_type, setter.field_name, setter.property, setter.value) == (
		"ToDo", "priority", "search_index", "1",
	)  # fmt: skip
	assert "vtest_todo_priority" in _index_names("tabToDo")
	assert ensure_catalogs([spec, absent])["property_setters"] == []  # once
