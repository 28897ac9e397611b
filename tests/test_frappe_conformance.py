"""Conformance: every behaviour of Frappe the shell relies on, pinned with the same assertions
against the test double (CI, no bench) and a real site (``--frappe-site SITE`` inside a bench).

Where they disagree the real site is right and the double is fixed. Each test leaves the site as it
found it (the ``frappe_site`` fixture's ledger removes committed rows, jobs and keys).
"""

import pickle
import types
import uuid

import pytest

pytestmark = pytest.mark.shell

ADMIN_ROLE = "Verenigingen Administrator"
JOBS = "verenigingen.tests.site_jobs"


def _unique(label: str) -> str:
	return f"vtest-{label}-{uuid.uuid4().hex[:8]}"


def _member(name: str, **values):
	"""A Member through its document, as Administrator."""
	import frappe

	user = frappe.session.user
	frappe.set_user("Administrator")
	try:
		doc = {"doctype": "Member", "member_id": name, "first_name": "Anna", "last_name": "Bakker", **values}
		return frappe.get_doc(doc).insert()
	finally:
		frappe.set_user(user)


# ---------------------------------------------------------------- frappe.db


def test_sql_values_left_out_none_tuple_dict_list(frappe_site):
	import pymysql

	import frappe

	assert frappe.db.sql("SELECT 1") == ((1,),)  # a tuple of tuples
	# PyMySQL 1.1.1 (v15's pin) raises TypeError; newer PyMySQL wraps it in ProgrammingError
	with pytest.raises((TypeError, pymysql.err.ProgrammingError), match="not all arguments converted"):
		frappe.db.sql("SELECT 1", None)  # an explicit None is one value: (None,)
	assert frappe.db.sql("SELECT %s", None) == ((None,),)
	assert frappe.db.sql("SELECT %s, %s", (1, "a")) == ((1, "a"),)
	assert frappe.db.sql("SELECT %s, %s", [2, "b"]) == ((2, "b"),)
	assert frappe.db.sql("SELECT %(x)s", {"x": 3}) == ((3,),)
	assert frappe.db.sql("SELECT %s", "word") == (("word",),)  # a lone value becomes a 1-tuple
	assert frappe.db.sql("SET @vtest = 1") == ()  # no result set


def test_sql_as_dict_and_value_types(frappe_site):
	import datetime

	import frappe

	[row] = frappe.db.sql("SELECT 1 AS one, 'x' AS letter", as_dict=True)
	assert row == {"one": 1, "letter": "x"} and row.one == 1 and row.missing is None  # frappe._dict
	assert frappe.db.sql("SELECT 1 FROM DUAL WHERE 1=0", as_dict=True) == []
	[(decimal, stamp, day)] = frappe.db.sql(
		"SELECT CAST(12.5 AS DECIMAL(21,9)), CAST('2025-01-02 03:04:05.5' AS DATETIME(6)), CAST('2025-01-02' AS DATE)"
	)
	assert type(decimal) is float and decimal == 12.5  # DECIMAL columns come back as float
	assert stamp == datetime.datetime(2025, 1, 2, 3, 4, 5, 500000)
	assert day == datetime.date(2025, 1, 2)


def test_get_singles_dict_holds_text(frappe_site):
	import frappe

	frappe.set_user("Administrator")
	settings = frappe.get_doc("Performance Settings")
	settings.activation_level = "3"
	settings.apdex_t_ms = 250
	settings.request_p95_alert_ms = 1500
	settings.save(ignore_permissions=True)
	values = frappe.db.get_singles_dict("Performance Settings")
	assert values["activation_level"] == "3"
	assert values["apdex_t_ms"] == "250"  # an Int field, stored and read back as text
	assert isinstance(values["request_p95_alert_ms"], str) and float(values["request_p95_alert_ms"]) == 1500
	assert all(v is None or isinstance(v, str) for v in values.values())


def test_after_commit_and_after_rollback_callbacks(frappe_site):
	import frappe

	ran = []
	frappe.db.after_commit.add(lambda: ran.append("commit 1"))
	frappe.db.after_rollback.add(lambda: ran.append("rollback 1"))
	frappe.db.rollback()  # runs the rollback callbacks and drops the commit ones
	frappe.db.commit()
	assert ran == ["rollback 1"]
	frappe.db.after_commit.add(lambda: ran.append("commit 2"))
	frappe.db.after_rollback.add(lambda: ran.append("rollback 2"))
	frappe.db.commit()  # runs the commit callbacks and drops the rollback ones
	frappe.db.rollback()
	frappe.db.commit()
	assert ran == ["rollback 1", "commit 2"]


def test_ddl_with_pending_writes_raises_and_sql_ddl_commits_first(frappe_site):
	import frappe

	insert = "INSERT INTO `tabMember` (`name`, `first_name`) VALUES (%s, 'Ddl')"
	ddl = "ALTER TABLE `tabMember` ADD INDEX `vtest_ddl_first_name` (`first_name`)"
	frappe.db.sql(insert, ("vtest-ddl-1",))
	with pytest.raises(frappe.ImplicitCommitError):
		frappe.db.sql(ddl)
	assert issubclass(frappe.ImplicitCommitError, frappe.ValidationError)
	frappe.db.rollback()  # the write was still pending: nothing was committed by the refused DDL
	assert not frappe.db.exists("Member", "vtest-ddl-1")
	frappe.db.sql(insert, ("vtest-ddl-2",))
	frappe.db.sql_ddl(ddl)  # commits, then runs the DDL
	frappe.db.rollback()
	assert frappe.db.exists("Member", "vtest-ddl-2")
	indexes = frappe.db.sql(
		"SELECT 1 FROM information_schema.statistics WHERE table_schema=DATABASE() "
		"AND table_name='tabMember' AND index_name='vtest_ddl_first_name'"
	)
	assert indexes


def test_a_transaction_reads_one_snapshot(frappe_site):
	"""REPEATABLE READ: from its first read a request sees one snapshot; a commit begins a new one."""
	import frappe

	_member("vtest-iso", first_name="Before")
	frappe.db.commit()
	[(level,)] = frappe.db.sql("SELECT @@tx_isolation")
	assert level == "REPEATABLE-READ"
	assert frappe.db.get_value("Member", "vtest-iso", "first_name") == "Before"
	other = frappe_site.other_connection()
	try:
		with other.cursor() as cur:
			cur.execute("UPDATE `tabMember` SET first_name='After' WHERE name='vtest-iso'")
	finally:
		other.close()
	assert frappe.db.get_value("Member", "vtest-iso", "first_name") == "Before"
	frappe.db.commit()
	assert frappe.db.get_value("Member", "vtest-iso", "first_name") == "After"


def test_format_naming_takes_the_shared_series_counter(frappe_site):
	"""``format:MPAY-{########}``: each braced part is parsed alone, so the counter is tabSeries' row
	"" (shared by every DocType named like this), incremented in the transaction."""
	import frappe

	_member("vtest-series")
	before = frappe.db.sql("SELECT current FROM `tabSeries` WHERE name=''")
	current = before[0][0] if before else 0
	frappe.set_user("Administrator")
	doc = frappe.get_doc(
		{"doctype": "Member Payment", "member": "vtest-series", "amount": 5, "posting_date": "2025-01-01"}
	).insert()
	assert doc.name == f"MPAY-{current + 1:08d}"
	assert frappe.db.sql("SELECT current FROM `tabSeries` WHERE name=''")[0][0] == current + 1


# ---------------------------------------------------------------- frappe.cache


def test_cache_wrapper_prefixes_and_pickles_only_in_its_own_methods(frappe_site, redis_server_client):
	import frappe

	raw = redis_server_client
	db_name = frappe.conf.db_name
	key = _unique("cache")
	prefixed = f"{db_name}|{key}".encode()
	try:
		assert frappe.cache.make_key(key) == prefixed
		assert (
			frappe.cache.make_key(key, user="u@example.org") == f"{db_name}|user:u@example.org:{key}".encode()
		)
		frappe.cache.set_value(key, {"a": 1})  # prefixed and pickled
		assert pickle.loads(raw.get(prefixed)) == {"a": 1}
		assert frappe.cache.get(key) is None  # an inherited method: neither prefix nor pickle
		assert frappe.cache.get_value(key) == {"a": 1}
		frappe.cache.hset(key + "-h", "f", [1, 2])  # prefixed and pickled
		assert pickle.loads(raw.hget(prefixed + b"-h", "f")) == [1, 2]
		assert frappe.cache.hgetall(key + "-h") == {b"f": [1, 2]}
		frappe.cache.rpush(key + "-l", "x")  # prefixed, not pickled
		assert raw.lrange(prefixed + b"-l", 0, -1) == [b"x"] == frappe.cache.lrange(key + "-l", 0, -1)
		frappe.cache.set(key, b"plain")  # inherited: the key as given, the value as given
		assert raw.get(key) == b"plain" and frappe.cache.incr(key + "-n") == 1 and raw.get(key + "-n") == b"1"
		frappe.cache.delete_value(key)
		assert raw.get(prefixed) is None and raw.get(key) == b"plain"
	finally:
		raw.delete(prefixed, prefixed + b"-h", prefixed + b"-l", key, key + "-n")


def test_clear_cache_deletes_the_sites_prefixed_keys_and_runs_the_hooks(frappe_site, redis_server_client):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.caching import site_cache
	from verenigingen.performance.keys import KeyBuilder

	raw = frappe_bridge.redis_client()
	key, other_site = _unique("clear"), f"vtest-other-site|{_unique('keep')}"
	app_key = KeyBuilder(frappe_site.namespace).key("conformance", "kept")
	try:
		frappe.cache.set_value(key, 1)
		raw.set(other_site, 1)
		raw.set(app_key, 1)
		generation = site_cache().generations.global_key()
		before = raw.get(generation)
		frappe.clear_cache()
		assert raw.get(f"{frappe.conf.db_name}|{key}") is None  # every "{db_name}|*" key goes
		assert frappe.cache.get_value(key) is None  # the request-local copy too
		assert raw.get(other_site) == b"1" and raw.get(app_key) == b"1"  # another site's, and the app's own
		assert raw.get(generation) != before  # the app's clear_cache hook ran: its cache is invalidated
	finally:
		raw.delete(other_site, app_key)


def test_clear_cache_of_a_user(frappe_site, redis_server_client):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.caching import site_cache

	raw = frappe_bridge.redis_client()
	mine, theirs = "vtest-mine@example.org", "vtest-theirs@example.org"
	generation = site_cache().generations.global_key()
	site_cache().invalidate_all()
	before = raw.get(generation)
	try:
		frappe.cache.hset("roles", mine, ["A"])
		frappe.cache.hset("roles", theirs, ["B"])
		frappe.cache.set_value("vtest-pref", 1, user=mine)
		frappe.clear_cache(user=mine)
		assert raw.hget(frappe.cache.make_key("roles"), mine) is None
		assert pickle.loads(raw.hget(frappe.cache.make_key("roles"), theirs)) == ["B"]
		assert raw.get(frappe.cache.make_key("vtest-pref", user=mine)) is None
		assert raw.get(generation) == before  # no clear_cache hooks for one user
	finally:
		frappe.cache.hdel("roles", theirs)


def test_saving_a_user_clears_every_cache(frappe_site, monkeypatch):
	"""v15: User.validate stores a default (ask_pass_update), which calls frappe.clear_cache() with
	no user: every app's clear_cache hook runs on every User save."""
	import frappe

	from verenigingen import caching

	calls = []
	monkeypatch.setattr(caching, "clear_all", lambda: calls.append("clear"))
	frappe.set_user("Administrator")
	frappe.flags.in_test = True  # as Frappe's own tests save Users: no gravatar job
	frappe.get_doc(
		{
			"doctype": "User",
			"email": "vtest-saved@example.org",
			"first_name": "Saved",
			"send_welcome_email": 0,
		}
	).insert(ignore_permissions=True)
	assert calls


# ---------------------------------------------------------------- frappe.enqueue and the worker


def _expected_job_id(given: str) -> str:
	"""v15 prefixes a job id with the site: ``{site}::{id}`` (the double on rq >= 2, which refuses ':',
	uses its own join; see its create_job_id)."""
	import rq.job

	import frappe
	from frappe.utils.background_jobs import create_job_id

	if getattr(rq.job, "JOB_ID_PATTERN", None) is None:
		assert create_job_id(given) == f"{frappe.local.site}::{given}"
	return create_job_id(given)


def _queued(queue: str) -> list:
	import frappe
	from frappe.utils.background_jobs import get_queue

	return [j for j in get_queue(queue).jobs if j.kwargs.get("site") == frappe.local.site]


def test_enqueue_puts_execute_job_on_the_benchs_queue(frappe_site):
	from rq.job import Job

	import frappe
	from frappe.utils.background_jobs import generate_qname

	frappe_site.login("vtest-enqueuer@example.org", [ADMIN_ROLE])
	given = _unique("job")
	job = frappe.enqueue(f"{JOBS}.whoami", queue="short", job_id=given, label="vtest-x")
	assert isinstance(job, Job)
	assert job.id == _expected_job_id(given) != given
	assert job.origin == generate_qname("short")
	assert job.func_name == "frappe.utils.background_jobs.execute_job"
	assert job.kwargs["site"] == frappe.local.site and job.kwargs["user"] == "vtest-enqueuer@example.org"
	assert job.kwargs["method"] == f"{JOBS}.whoami" and job.kwargs["kwargs"] == {"label": "vtest-x"}
	assert [j.id for j in _queued("short")] == [job.id]
	frappe.db.rollback()  # not enqueue_after_commit: the job stays queued whatever the request does
	assert [j.id for j in _queued("short")] == [job.id]


def test_enqueue_refuses_unknown_queues_and_dedupes_a_queued_id(frappe_site):
	import frappe

	with pytest.raises(frappe.ValidationError, match="Queue should be one of"):
		frappe.enqueue(f"{JOBS}.whoami", queue="vtest-nope", label="x")
	with pytest.raises(frappe.ValidationError, match="job_id"):
		frappe.enqueue(f"{JOBS}.whoami", deduplicate=True, label="x")
	given = _unique("dedupe")
	first = frappe.enqueue(f"{JOBS}.whoami", job_id=given, deduplicate=True, label="vtest-dedupe-1")
	assert first is not None
	assert frappe.enqueue(f"{JOBS}.whoami", job_id=given, deduplicate=True, label="vtest-dedupe-2") is None
	assert [j.id for j in _queued("default")] == [first.id]
	frappe_site.run_jobs()
	again = frappe.enqueue(f"{JOBS}.whoami", job_id=given, deduplicate=True, label="vtest-dedupe-3")
	assert again is not None and again.id == first.id  # a finished job's id is enqueued anew


def test_enqueue_after_commit(frappe_site):
	import frappe

	assert frappe.enqueue(f"{JOBS}.whoami", enqueue_after_commit=True, label="vtest-rolled-back") is None
	frappe.db.rollback()  # dropped with the transaction
	assert _queued("default") == []
	assert frappe.enqueue(f"{JOBS}.whoami", enqueue_after_commit=True, label="vtest-committed") is None
	assert _queued("default") == []
	frappe.db.commit()
	[job] = _queued("default")
	assert job.kwargs["kwargs"] == {"label": "vtest-committed"}


def test_the_worker_runs_a_job_as_its_user_and_commits(frappe_site):
	import frappe

	frappe_site.login("vtest-runner@example.org", [ADMIN_ROLE])
	job = frappe.enqueue(f"{JOBS}.whoami", label="vtest-ran")
	frappe_site.run_jobs()
	job.refresh()
	assert job.get_status() == "finished"
	assert job.return_value() == "vtest-runner@example.org"
	assert frappe.db.get_value("Member", "vtest-ran", "first_name") == "vtest-runner@example.org"


def test_the_worker_rolls_a_failed_job_back_logs_it_and_fails_it(frappe_site):
	import frappe

	job = frappe.enqueue(f"{JOBS}.site_record", label="vtest-broken-job", fail=True)
	frappe_site.run_jobs()
	job.refresh()
	assert job.get_status() == "failed"
	assert not frappe.db.exists("Member", "vtest-broken-job")  # the job's write was rolled back
	logs = frappe.db.sql(
		"SELECT error FROM `tabError Log` WHERE method=%s AND error LIKE %s",
		(f"{JOBS}.site_record", "%vtest-broken-job failed after writing%"),
	)
	assert len(logs) == 1  # the Error Log was committed after the rollback


def test_job_hooks_run_around_the_job(frappe_site):
	"""before_job and after_job run in the worker; after_job sees the exception in flight."""
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.performance.histogram import MetricStore

	frappe.enqueue(f"{JOBS}.whoami", label="vtest-hooked")
	frappe.enqueue(f"{JOBS}.site_record", label="vtest-hooked-fail", fail=True)
	frappe_site.run_jobs()
	store = MetricStore(frappe_bridge.redis_client(), frappe_site.namespace)
	histogram = store.window(["job_run:default"], 5)["job_run:default"]
	assert (histogram.count, histogram.errors) == (2, 1)


# ---------------------------------------------------------------- roles and permissions


def test_get_roles(frappe_site):
	import frappe

	frappe.set_user("Administrator")
	frappe.get_doc({"doctype": "Role", "role_name": "VTEST Website Role", "desk_access": 0}).insert(
		ignore_permissions=True
	)
	frappe.db.commit()
	assert frappe.get_roles("Guest") == ["Guest"]
	admin = set(frappe.get_roles("Administrator"))  # every Role of the site
	assert {"Administrator", "System Manager", "All", "Guest", "Desk User", ADMIN_ROLE} <= admin
	frappe_site.login("vtest-desk@example.org", ["Accounts User"])
	assert set(frappe.get_roles()) == {"Accounts User", "All", "Guest", "Desk User"}
	frappe_site.login("vtest-web@example.org", ["VTEST Website Role"])  # no desk access: no Desk User
	assert set(frappe.get_roles()) == {"VTEST Website Role", "All", "Guest"}


def test_get_users_with_role_leaves_administrator_and_disabled_users_out(frappe_site):
	import frappe
	from frappe.utils.user import get_users_with_role

	frappe.set_user("Administrator")
	frappe.get_doc({"doctype": "Role", "role_name": "VTEST Role", "desk_access": 1}).insert(
		ignore_permissions=True
	)
	frappe.db.commit()
	frappe_site.login("vtest-holder@example.org", ["VTEST Role"])
	frappe_site.login("vtest-gone@example.org", ["VTEST Role"])
	frappe.set_user("Administrator")
	assert "VTEST Role" in frappe.get_roles("Administrator")
	assert sorted(get_users_with_role("VTEST Role")) == ["vtest-gone@example.org", "vtest-holder@example.org"]
	assert "Administrator" not in get_users_with_role("System Manager")
	frappe.db.set_value("User", "vtest-gone@example.org", "enabled", 0)
	assert get_users_with_role("VTEST Role") == ["vtest-holder@example.org"]


def test_has_permission_by_role_document_and_user_permission(frappe_site):
	import frappe

	frappe.set_user("Administrator")
	for chapter in ("VTEST Allowed", "VTEST Other"):
		frappe.get_doc({"doctype": "Chapter", "chapter_name": chapter}).insert()
	_member("vtest-in", primary_chapter="VTEST Allowed")
	_member("vtest-out", primary_chapter="VTEST Other")
	frappe.db.commit()
	frappe_site.login("vtest-clerk@example.org", ["Accounts User"])
	assert frappe.has_permission("Member") is False
	with pytest.raises(frappe.PermissionError):
		frappe.has_permission("Member", throw=True)
	frappe_site.login("vtest-officer@example.org", [ADMIN_ROLE])
	assert frappe.has_permission("Member", doc="vtest-out") is True
	with pytest.raises(frappe.DoesNotExistError):
		frappe.has_permission("Member", doc="vtest-nobody")
	frappe.set_user("Administrator")
	frappe.get_doc(
		{"doctype": "User Permission", "user": "vtest-officer@example.org", "allow": "Chapter",
			"for_value": "VTEST Allowed"}
	).insert(ignore_permissions=True)  # fmt: skip
	frappe.db.commit()
	frappe.set_user("vtest-officer@example.org")
	assert frappe.has_permission("Member") is True  # no document: role only
	assert frappe.has_permission("Member", doc="vtest-in") is True
	assert frappe.has_permission("Member", doc=frappe.get_doc("Member", "vtest-out")) is False  # its Link
	assert frappe.has_permission("Chapter", doc="VTEST Other") is False  # the DocType itself
	with pytest.raises(frappe.PermissionError):
		frappe.has_permission("Member", doc="vtest-out", throw=True)
	frappe.set_user("Administrator")
	assert frappe.has_permission("Member", doc="vtest-out", user="Administrator") is True


def test_only_for(frappe_site):
	import frappe

	frappe_site.login("vtest-plain@example.org", ["Accounts User"])
	with pytest.raises(frappe.PermissionError):
		frappe.only_for("System Manager")
	assert frappe.only_for(["System Manager", "Accounts User"]) is None
	frappe.flags.in_test = True
	assert frappe.only_for("System Manager") is None  # steps aside in tests
	frappe.flags.in_test = False
	frappe.set_user("Administrator")
	assert frappe.only_for("Nobody Has This Role") is None  # and for Administrator


def test_rate_limit_counts_per_ip_inside_a_request_only(frappe_site):
	import frappe
	from frappe.rate_limiter import rate_limit

	calls = []

	@rate_limit(limit=2, seconds=60)
	def limited():
		calls.append(1)
		return len(calls)

	for _ in range(4):
		limited()  # outside a request: no limit
	cmd = _unique("rate")
	frappe.local.request = types.SimpleNamespace(method="POST")
	frappe.local.request_ip = "203.0.113.9"
	frappe.local.form_dict = frappe._dict(cmd=cmd)
	key = frappe.cache.make_key(f"rl:{cmd}:203.0.113.9")
	try:
		assert limited() == 5 and limited() == 6
		with pytest.raises(frappe.RateLimitExceededError):
			limited()
		assert issubclass(frappe.RateLimitExceededError, frappe.ValidationError)
		assert frappe.RateLimitExceededError.http_status_code == 429
		assert 0 < frappe.cache.ttl(key) <= 60 and int(frappe.cache.get(key)) == 3
	finally:
		del frappe.local.request
		frappe.cache.delete(key)


def test_log_error_survives_a_rollback(frappe_site):
	"""Error Log is a MyISAM table in v15: the row is written at once, outside the transaction."""
	import frappe

	title = _unique("logged")
	frappe.log_error(title, "what happened")
	assert frappe.db.sql("SELECT error FROM `tabError Log` WHERE method=%s", (title,)) == (
		("what happened",),
	)
	frappe.db.rollback()
	assert frappe.db.sql("SELECT error FROM `tabError Log` WHERE method=%s", (title,)) == (
		("what happened",),
	)
	other_title = _unique("swapped")
	frappe.log_error("Traceback line 1\nline 2", other_title)  # a multi-line title is taken as the traceback
	assert frappe.db.sql("SELECT error FROM `tabError Log` WHERE method=%s", (other_title,)) == (
		("Traceback line 1\nline 2",),
	)


def test_whitelisted_arguments_are_checked_in_requests_and_tests(frappe_site):
	import frappe

	from verenigingen.api.guard import admin_only

	def echo(count: int, label: str = "x", flag: bool = False) -> tuple:
		return count, label, flag

	checked = frappe.whitelist()(echo)
	assert checked in frappe.whitelisted
	assert checked(count="abc") == ("abc", "x", False)  # neither a request nor a test: not checked
	frappe.flags.in_test = True
	assert checked(count="5") == (5, "x", False)  # lax: "5" becomes 5
	assert checked(count=1, flag=1) == (1, "x", 1)  # bool also takes int
	with pytest.raises(
		frappe.FrappeTypeError, match="Argument 'count' should be of type 'int' but got 'str'"
	):
		checked(count="abc")
	with pytest.raises(frappe.FrappeTypeError, match="Argument 'label'"):
		checked(count=1, label=["a"])
	# Behind the app's guard (a *args/**kwargs wrapper), positional arguments go unchecked:
	# Frappe takes their names from the registered function's code object.
	frappe.set_user("Administrator")
	guarded = frappe.whitelist()(admin_only(echo))
	assert guarded("abc") == ("abc", "x", False)
	with pytest.raises(frappe.FrappeTypeError, match="Argument 'count'"):
		guarded(count="abc")


# ---------------------------------------------------------------- document events


@pytest.fixture
def recorded_events(frappe_site, monkeypatch):
	"""Controller methods of Member and the app's doc_events handler, recording what runs."""
	from verenigingen import events
	from verenigingen.verenigingen.doctype.member.member import Member

	seen = []
	for method in ("validate", "before_save", "on_update", "before_change", "on_change"):
		original = getattr(Member, method, None)

		def recorder(self, *args, _method=method, _original=original, **kwargs):
			seen.append(("controller", _method))
			if _original is not None:
				return _original(self, *args, **kwargs)

		monkeypatch.setattr(Member, method, recorder, raising=False)
	handler = events.on_document_change
	monkeypatch.setattr(
		events,
		"on_document_change",
		lambda doc, method=None, *a: (seen.append(("doc_events", method)), handler(doc, method, *a)),
	)
	return seen


def test_db_set_runs_on_change_only_and_set_value_runs_nothing(recorded_events):
	import frappe

	doc = _member("vtest-events")
	assert ("controller", "validate") in recorded_events and ("doc_events", "on_update") in recorded_events
	recorded_events.clear()
	frappe.set_user("Administrator")
	doc.db_set("first_name", "Set")
	# db_set runs before_change and on_change only (the app's doc_events handle on_change for it)
	assert recorded_events == [
		("controller", "before_change"),
		("controller", "on_change"),
		("doc_events", "on_change"),
	]
	assert frappe.db.get_value("Member", "vtest-events", "first_name") == "Set"
	recorded_events.clear()
	frappe.db.set_value("Member", "vtest-events", "first_name", "Value")
	assert recorded_events == []
	assert frappe.db.get_value("Member", "vtest-events", "first_name") == "Value"
