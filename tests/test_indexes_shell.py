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


def test_apply_and_rollback_over_http_need_post(frappe_site):
	"""A GET is rolled back by Frappe and may be prefetched or repeated: DDL is asked for with POST."""
	import frappe

	from verenigingen.api.indexes import database_index_manager_api

	frappe.flags.in_test = True
	frappe_site.login("Administrator")

	class Request:
		method = "GET"

	frappe.local.request = Request()
	frappe.local.request_ip = "127.0.0.1"  # the rate limiter of the endpoint counts per IP in a request
	try:
		for action in ("apply", "rollback"):
			with pytest.raises(
				frappe.ValidationError, match=f"{action} changes the database: call it with POST"
			):
				database_index_manager_api(action=action, catalog_name="sepa")
		assert database_index_manager_api(action="plan", catalog_name="sepa")["items"] is not None
	finally:
		frappe.local.request = None
		frappe.local.request_ip = None


# ---------------------------------------------------------------- metadata locks in a site


def _second_connection(frappe_site):
	"""Another connection to the site's database (as a worker or a console would have)."""
	import frappe

	from verenigingen.performance.db import PyMySQLDatabase

	if frappe_site.is_double:
		return PyMySQLDatabase(**frappe.db._settings)
	conf = frappe.conf
	return PyMySQLDatabase(
		host=conf.db_host or "127.0.0.1",
		port=int(conf.db_port or 3306),
		user=conf.db_user or conf.db_name,
		password=conf.db_password,
		database=conf.db_name,
	)


def test_site_ddl_that_waits_for_a_lock_gives_up_and_names_the_holder(frappe_site):
	"""Conformance: Frappe raises QueryTimeoutError from PyMySQL's 1205; the bridge names the holder."""
	import frappe

	from verenigingen.performance.exceptions import MetadataLockTimeoutError
	from verenigingen.performance.locks import lock_wait_timeout, session_lock_wait_timeout

	from .lockwait import ends

	table = "tabVtest Lock Probe"
	frappe.db.sql_ddl(f"CREATE TABLE `{table}` (name varchar(140) primary key, v int) ENGINE=InnoDB")
	holder = _second_connection(frappe_site)
	try:
		holder.sql(f"SELECT COUNT(*) FROM `{table}`")
		before = session_lock_wait_timeout(_db())
		with pytest.raises(frappe.QueryTimeoutError) as raw:
			frappe.db.sql("SET SESSION lock_wait_timeout = 1")
			frappe.db.sql_ddl(f"ALTER TABLE `{table}` ADD INDEX `v` (`v`)")
		assert raw.value.__cause__.args[0] == 1205
		frappe.db.sql("SET SESSION lock_wait_timeout = %s", (before,))

		def bounded_ddl():
			with lock_wait_timeout(_db(), 1):
				_db().ddl(f"ALTER TABLE `{table}` ADD INDEX `v` (`v`)")

		error = ends(bounded_ddl, holder.rollback)
		assert isinstance(error, MetadataLockTimeoutError)
		assert table in str(error)
		if frappe_site.is_double:  # root may see every connection: the holder is named
			assert f"connection {holder.connection.thread_id()} (" in str(error)
		else:  # a site's own database user may not (no PROCESS privilege): the message says so
			assert "PROCESS privilege" in str(error)
		assert session_lock_wait_timeout(_db()) == before  # the site's session keeps its own setting
	finally:
		holder.rollback()
		holder.close()
		frappe.db.sql_ddl(f"DROP TABLE IF EXISTS `{table}`")


def test_site_config_sets_the_index_lock_waits_and_a_bad_value_names_the_key(frappe_site):
	import frappe

	# frappe.conf in memory only: a real site's site_config.json is not touched (the keys go below)
	from verenigingen import frappe_bridge
	from verenigingen.api.indexes import database_index_manager_api
	from verenigingen.performance.exceptions import InvalidLockWaitError

	frappe.conf["verenigingen_index_lock_wait_timeout"] = 5
	frappe.conf["verenigingen_index_old_transaction_seconds"] = 10
	manager = frappe_bridge.index_manager("Administrator")
	assert (manager.lock_wait_timeout, manager.old_transaction_seconds) == (5, 10)
	frappe.conf["verenigingen_index_lock_wait_timeout"] = "soon"
	with pytest.raises(InvalidLockWaitError, match="site config verenigingen_index_lock_wait_timeout"):
		frappe_bridge.index_manager("Administrator")
	frappe.flags.in_test = True
	frappe_site.login(*ADMIN)
	with pytest.raises(frappe.ValidationError, match="verenigingen_index_lock_wait_timeout"):
		database_index_manager_api(action="status")


def test_migrate_leaves_the_indexes_for_later_while_an_old_transaction_is_open(bare_site):
	"""A transaction open on the table: migrate defers the catalog instead of failing or hanging. Where
	the database user may see other connections (PROCESS: the double's root) the old transaction is
	named before any DDL; a Frappe site's own user may not, so there the bounded lock wait ends it."""
	import frappe

	from verenigingen.indexes import ensure_catalogs

	from .lockwait import settled

	frappe_site = bare_site

	def deferrals() -> int:
		return frappe.db.sql(
			"SELECT COUNT(*) FROM `tabError Log` WHERE `method` = 'verenigingen index catalog deferred'"
		)[0][0]

	before = deferrals()
	frappe.conf["verenigingen_index_old_transaction_seconds"] = 0
	frappe.conf["verenigingen_index_lock_wait_timeout"] = 1
	holder = _second_connection(frappe_site)
	try:
		holder.sql("SELECT COUNT(*) FROM `tabMember Payment`")
		holder_id = holder.connection.thread_id()
		if frappe_site.is_double:
			settled(_db(), holder_id, frappe.db.cur_db_name, "tabMember Payment")
		report = ensure_catalogs()
		assert "tabMember Payment" not in " ".join(report["created"])
		assert report["deferred"], report
		if frappe_site.is_double:
			assert report["created"] == [] and len(report["missing"]) == 8
			assert "not starting the online ALTER TABLE" in report["deferred"]
			assert f"connection {holder_id} (" in report["deferred"]
		assert deferrals() == before + 1
		assert "idx_payment_member_date" not in _index_names("tabMember Payment")
	finally:
		holder.rollback()
		holder.close()
	frappe.conf["verenigingen_index_old_transaction_seconds"] = 60
	frappe.conf.pop("verenigingen_index_lock_wait_timeout", None)
	assert "idx_payment_member_date" in ensure_catalogs()["created"]
	frappe.conf.pop("verenigingen_index_old_transaction_seconds", None)
