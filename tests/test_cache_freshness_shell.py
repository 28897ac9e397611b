"""No stale value after the writer's commit, in the Frappe shell (the double on real MariaDB and
Redis, or a real site with --frappe-site):

* a miss is computed on a snapshot newer than the tokens it is stored under (REPEATABLE READ);
* ``doc.db_set`` (which fires only on_change) invalidates; a save's events cost one outbox row;
* a commit whose invalidation could not reach Redis, in a process that then dies, is applied
  by the per-minute sweeper;
* ``verenigingen.caching.invalidate`` covers writes that fire no events.
"""

import pytest

pytestmark = pytest.mark.shell

OUTBOX = "tabCache Invalidation"


@pytest.fixture
def site(frappe_site):
	"""A site with one committed member and a cached function reading its status."""
	import frappe

	from verenigingen.caching import secure_cache

	frappe.set_user("Administrator")
	frappe.get_doc(
		{
			"doctype": "Member",
			"member_id": "M1",
			"first_name": "Anna",
			"last_name": "Bakker",
			"status": "Active",
		}
	).insert()
	frappe.db.commit()
	from verenigingen.caching import sweep_invalidations

	sweep_invalidations()  # the insert's outbox row: start from an empty outbox
	calls = []

	@secure_cache(level="MEMBER_DATA", depends_on=[("Member", ["status"])], name="test.fresh.member_status")
	def member_status(member: str) -> str:
		calls.append(member)
		return frappe.db.get_value("Member", member, "status")

	frappe_site.member_status = member_status
	frappe_site.calls = calls
	yield frappe_site
	frappe.db.rollback()
	frappe.db.sql("DELETE FROM `tabMember` WHERE name = 'M1'")
	frappe.db.commit()
	if bridge_outbox_ready():
		sweep_invalidations()  # apply and delete what the test left, as the scheduled job would


def bridge_outbox_ready() -> bool:
	from verenigingen import frappe_bridge

	return frappe_bridge.outbox_ready()


def second_connection():
	"""Another process's connection to the site's database."""
	import frappe

	from tests.conftest import db_settings
	from verenigingen.performance.db import PyMySQLDatabase

	if getattr(frappe, "IS_TEST_DOUBLE", False):
		return PyMySQLDatabase(**db_settings(frappe.db.cur_db_name))
	conf = frappe.conf
	return PyMySQLDatabase(
		host=conf.db_host or "127.0.0.1", port=int(conf.db_port or 3306), user=conf.db_user or conf.db_name,
		password=conf.db_password, database=frappe.db.cur_db_name,
	)  # fmt: skip


def outbox_rows() -> list:
	import frappe

	return [tuple(r) for r in frappe.db.sql(f"SELECT name, payload FROM `{OUTBOX}`")]


def token(key):
	from verenigingen import frappe_bridge

	return frappe_bridge.redis_client().get(key)


# ---------------------------------------------------------------- (a) REPEATABLE READ


def test_a_miss_is_computed_on_a_snapshot_newer_than_its_tokens(site):
	import frappe

	from verenigingen.caching import site_cache

	frappe.db.rollback()
	assert frappe.db.get_value("Member", "M1", "status") == "Active"  # the request's snapshot begins
	ran = []
	frappe.db.after_commit.add(lambda: ran.append("after_commit"))  # the request's own, for its commit
	other = second_connection()
	other.sql("UPDATE `tabMember` SET status = 'Suspended' WHERE name = 'M1'")
	other.commit()  # another process commits ...
	site_cache().invalidate_doctype("Member", ["status"])  # ... and invalidates after its commit
	other.close()
	assert site.member_status("M1") == "Suspended"  # not the request's old snapshot
	assert ran == []  # the snapshot was renewed without running the request's commit callbacks
	frappe.db.commit()
	assert ran == ["after_commit"]
	assert site.member_status("M1") == "Suspended" and len(site.calls) == 1  # stored, a hit now


def test_a_request_with_pending_writes_computes_but_does_not_store(site):
	import frappe

	frappe.db.sql("UPDATE `tabMember` SET status = 'Suspended' WHERE name = 'M1'")  # not committed
	assert site.member_status("M1") == "Suspended"  # its own write, computed ...
	assert site.member_status.cache_info()["bypasses"] == 1  # ... and not stored for anyone
	other = second_connection()
	assert other.sql("SELECT status FROM `tabMember` WHERE name = 'M1'")[0][0] == "Active"  # still pending
	other.close()
	frappe.db.rollback()
	assert site.member_status("M1") == "Active" and len(site.calls) == 2


# ---------------------------------------------------------------- (b) db_set and on_change


def test_db_set_fires_on_change_only(site, monkeypatch):
	"""Pins Frappe's behaviour the hooks rely on: db_set fires on_change (not on_update); a save both."""
	import frappe

	import verenigingen.events as events

	seen = []
	real = events.on_document_change
	monkeypatch.setattr(
		events,
		"on_document_change",
		lambda doc, method=None, *a: seen.append(method) or real(doc, method, *a),
	)
	doc = frappe.get_doc("Member", "M1")
	doc.db_set("status", "Suspended")
	assert [m for m in seen if m in ("on_update", "on_change")] == ["on_change"]
	seen.clear()
	doc = frappe.get_doc("Member", "M1")
	doc.first_name = "Anne"
	doc.save()
	assert "on_update" in seen and "on_change" in seen
	frappe.db.rollback()


def test_db_set_invalidates_after_commit(site):
	import frappe

	from verenigingen.caching import site_cache

	assert site.member_status("M1") == "Active"
	key = site_cache().generations.field_key("Member", "status")
	before = token(key)
	frappe.get_doc("Member", "M1").db_set("status", "Suspended")
	assert token(key) == before  # not before the commit
	frappe.db.commit()
	assert token(key) != before
	assert site.member_status("M1") == "Suspended"


def test_db_set_of_another_field_leaves_the_entry_valid(site):
	import frappe

	assert site.member_status("M1") == "Active"
	frappe.get_doc("Member", "M1").db_set("first_name", "Anne")
	frappe.db.commit()
	assert site.member_status("M1") == "Active" and len(site.calls) == 1


def test_a_save_costs_one_outbox_row_and_one_after_commit_step(site):
	import frappe

	queries_before = len(frappe.db.queries) if site.is_double else 0
	doc = frappe.get_doc("Member", "M1")
	doc.status = "Suspended"
	doc.save()  # on_update and on_change
	doc.db_set("status", "Suspended")  # on_change again, nothing new
	(row,) = outbox_rows()
	ours = [
		f
		for f in frappe.db.after_commit._functions
		if "verenigingen" in getattr(getattr(f, "func", f), "__module__", "")
	]
	assert len(ours) == 1  # Frappe queues its own (document cache) callbacks beside it on a real site
	from verenigingen.performance.invalidation import InvalidationBatch

	doctypes = InvalidationBatch.from_json(row[1]).doctypes
	assert doctypes["Member"] == frozenset({"status"})  # (a real site also records the Version it wrote)
	assert set(doctypes) <= {"Member", "Version"}
	if site.is_double:
		upserts = [q for q in frappe.db.queries[queries_before:] if q.startswith(f"INSERT INTO `{OUTBOX}`")]
		assert len(upserts) == 1
	frappe.db.commit()
	assert site.member_status("M1") == "Suspended"


def test_a_child_row_change_invalidates_its_parent_field(frappe_site):
	import frappe

	from verenigingen.events import change_batch

	row = frappe.get_doc(
		{"doctype": "Chapter Member", "name": "r1", "parent": "Utrecht", "parenttype": "Chapter",
			"parentfield": "members", "member": "M1"}
	)  # fmt: skip
	batch = change_batch(row, "on_change")
	assert batch.doctypes["Chapter"] == {"members"} and "Chapter Member" in batch.doctypes
	has_role = frappe.get_doc(
		{
			"doctype": "Has Role",
			"name": "h1",
			"parent": "a@example.org",
			"parenttype": "User",
			"role": "Blogger",
		}
	)
	assert change_batch(has_role, "on_trash").users == {"a@example.org"}


# ---------------------------------------------------------------- (c) the outbox


def test_rolled_back_changes_leave_no_outbox_row(site):
	import frappe

	frappe.get_doc("Member", "M1").db_set("status", "Suspended")
	assert len(outbox_rows()) == 1  # in the transaction
	frappe.db.rollback()
	assert outbox_rows() == [] and len(frappe.db.after_commit._functions) == 0


def test_applied_after_commit_then_the_sweeper_only_deletes_the_row(site):
	import frappe

	from verenigingen.caching import site_cache, site_outbox, sweep_invalidations

	frappe.get_doc("Member", "M1").db_set("status", "Suspended")
	((oid, _payload),) = outbox_rows()
	frappe.db.commit()
	assert token(site_outbox().marker_key(oid)) == b"1"
	key = site_cache().generations.field_key("Member", "status")
	before = token(key)
	result = sweep_invalidations()
	assert (result["rows"], result["already_applied"], result["applied"]) == (1, 1, 0)
	assert token(key) == before and outbox_rows() == []


def test_an_invalidation_that_missed_redis_in_a_dead_process_is_swept(site):
	"""Redis unreachable during the change; the process's memory is lost; Redis back; the
	per-minute sweeper applies the committed outbox row: no stale value after it."""
	import frappe
	from frappe.utils.redis_wrapper import RedisWrapper

	from tests.test_outbox import unreachable_redis
	from verenigingen import caching
	from verenigingen.caching import sweep_invalidations

	assert site.member_status("M1") == "Active"
	healthy = frappe.cache
	frappe.cache = RedisWrapper(connection_pool=unreachable_redis().connection_pool)  # as Frappe has it
	try:
		doc = frappe.get_doc("Member", "M1")
		doc.status = "Suspended"
		doc.save()
		frappe.db.commit()  # the after-commit step cannot reach Redis
	finally:
		frappe.cache = healthy
	caching._sites.clear()  # the work horse exits: whatever it kept in memory is gone
	assert len(outbox_rows()) == 1
	assert site.member_status("M1") == "Active"  # stale until the sweeper runs
	result = sweep_invalidations()
	assert (result["applied"], result["rows"]) == (1, 1)
	frappe.db.commit()
	assert site.member_status("M1") == "Suspended" and outbox_rows() == []


def test_without_the_outbox_table_changes_still_invalidate_after_commit(site):
	import frappe

	from verenigingen.caching import sweep_invalidations

	assert site.member_status("M1") == "Active"
	from verenigingen import frappe_bridge

	# as during install, before the DocType sync: the table is moved aside (and back afterwards)
	frappe.db.sql_ddl(f"RENAME TABLE `{OUTBOX}` TO `{OUTBOX}__aside`")
	frappe_bridge._OUTBOX_SITES.clear()  # ... in a process that has not seen the table yet
	try:
		frappe.get_doc("Member", "M1").db_set("status", "Suspended")
		frappe.db.commit()
		assert site.member_status("M1") == "Suspended"
		assert sweep_invalidations() == {"rows": 0, "skipped": "no outbox table"}
	finally:
		frappe.db.commit()
		frappe.db.sql_ddl(f"RENAME TABLE `{OUTBOX}__aside` TO `{OUTBOX}`")


# ---------------------------------------------------------------- by hand


def test_invalidate_by_hand_after_a_write_without_events(site):
	import frappe

	from verenigingen.caching import invalidate, site_cache

	assert site.member_status("M1") == "Active"
	key = site_cache().generations.field_key("Member", "status")
	before = token(key)
	frappe.db.set_value("Member", "M1", "status", "Suspended")  # no doc_events
	invalidate("Member", ["status"])
	assert token(key) == before
	frappe.db.rollback()  # rolled back: nothing to invalidate
	assert token(key) == before and outbox_rows() == []
	frappe.db.sql("UPDATE `tabMember` SET status = 'Suspended' WHERE name = 'M1'")
	invalidate("Member", ["status"])
	assert len(outbox_rows()) == 1
	frappe.db.commit()
	assert token(key) != before
	assert site.member_status("M1") == "Suspended"


def test_invalidate_rejects_bad_input(site):
	from verenigingen.caching import invalidate
	from verenigingen.performance.exceptions import InvalidCacheArgumentError

	with pytest.raises(InvalidCacheArgumentError, match="doctype must be a non-empty string"):
		invalidate("")
	with pytest.raises(InvalidCacheArgumentError, match="changed field of 'Member'"):
		invalidate("Member", [""])


def test_hooks_wire_on_change_and_the_sweeper():
	from verenigingen import hooks

	assert hooks.doc_events["*"]["on_change"] == "verenigingen.events.on_document_change"
	assert "verenigingen.caching.sweep_invalidations" in hooks.scheduler_events["cron"]["* * * * *"]
