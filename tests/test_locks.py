"""Nothing waits forever on a metadata lock: DDL gives up within its timeout and names the holder."""

import math

import pymysql
import pytest

from verenigingen.performance import locks
from verenigingen.performance.db import PyMySQLDatabase, drop_database
from verenigingen.performance.defaults import DB_LOCK_WAIT_TIMEOUT
from verenigingen.performance.exceptions import (
	IndexApplyError,
	InvalidIdentifierError,
	InvalidLockWaitError,
	MetadataLockTimeoutError,
	OpenTransactionsError,
)
from verenigingen.performance.indexes import ChangeLog, IndexManager
from verenigingen.performance.indexes.catalog import MANDATE_EXPIRY, PAYMENT_HISTORY

from .conftest import db_settings
from .lockwait import ends, settled, until

TIMEOUT = 2  # seconds the DDL in these tests waits for a lock


def _holder(database: str, table: str = "tabMember"):
	"""A second connection left in an open transaction after reading ``table`` (as an idle handle is)."""
	holder = PyMySQLDatabase(**db_settings(database))
	holder.sql(f"SELECT COUNT(*) FROM `{table}`")
	return holder


def _indexes(db, table):
	return {r[2] for r in db.sql(f"SHOW INDEX FROM `{table}`")}  # Key_name


def _exists(admin, name) -> bool:
	return bool(admin.sql("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,)))


@pytest.fixture
def admin():
	handle = PyMySQLDatabase(**db_settings(), autocommit=True)
	yield handle
	handle.close()


# ---------------------------------------------------------------- cleanup drops


def test_a_cleanup_drop_gives_up_within_its_timeout_and_names_the_open_transaction(scratch_databases, admin):
	db = scratch_databases.create("drop_victim")
	name = db.database_name
	db.close()
	holder = _holder(name)
	holder_id = holder.connection.thread_id()
	try:
		error = ends(lambda: drop_database(admin, name, timeout=TIMEOUT), holder.rollback)
		assert isinstance(error, MetadataLockTimeoutError)
		message = str(error)
		assert f"DROP DATABASE IF EXISTS `{name}` gave up after {TIMEOUT} s" in message
		assert f"connection {holder_id} (" in message and "transaction open for" in message
		assert holder_id in [h.connection_id for h in error.holders]
		assert _exists(admin, name)  # nothing was dropped
		# The admin connection is usable and keeps its own setting afterwards.
		assert locks.session_lock_wait_timeout(admin) == DB_LOCK_WAIT_TIMEOUT
	finally:
		holder.rollback()
		holder.close()
	drop_database(admin, name, timeout=TIMEOUT)  # the holder is gone: the drop goes through
	assert not _exists(admin, name)


def test_the_exact_holder_comes_from_metadata_lock_info_where_the_plugin_is_loaded(scratch_databases, admin):
	db = scratch_databases.create("mdl_info")
	name = db.database_name
	db.close()
	holder = _holder(name, "tabSEPA Mandate")
	holder_id = holder.connection.thread_id()
	try:
		settled(admin, holder_id, name, "tabSEPA Mandate")
		found = locks.find_lock_holders(admin, name, "tabSEPA Mandate")
		other_table = locks.find_lock_holders(admin, name, "tabChapter")
	finally:
		holder.rollback()
		holder.close()
	[mine] = [h for h in found.holders if h.db == name]
	assert mine.connection_id == holder_id
	if locks.metadata_lock_info_loaded(admin):
		assert found.exact and mine.locks == (f"MDL_SHARED_READ on {name}.tabSEPA Mandate",)
		assert "from METADATA_LOCK_INFO" in found.describe()
		assert other_table.holders == ()  # it holds nothing on that table
	else:
		assert not found.exact and "METADATA_LOCK_INFO is not loaded" in found.describe()
		assert mine.transaction_seconds is not None and mine.command == "Sleep"


def test_the_harness_sees_a_connection_of_this_run_until_it_is_closed(scratch_databases):
	before = {r["ID"] for r in scratch_databases.our_connections()}  # the session's own handles
	db = scratch_databases.create("leak_probe")
	thread_id = db.connection.thread_id()
	assert thread_id in {r["ID"] for r in scratch_databases.our_connections()}
	no_db = PyMySQLDatabase(**db_settings())  # no database: found as a connection of this process
	assert no_db.connection.thread_id() in {r["ID"] for r in scratch_databases.our_connections()}
	db.close()
	no_db.close()
	assert scratch_databases.leftover_connections(before) == []


# ---------------------------------------------------------------- the index manager


@pytest.fixture
def index_db(scratch_databases):
	handle = scratch_databases.create("lock_idx")
	yield handle
	handle.rollback()
	handle.close()


def test_an_index_apply_gives_up_within_its_timeout_names_the_holder_and_changes_nothing(index_db):
	holder = _holder(index_db.database_name, "tabSEPA Mandate")
	holder_id = holder.connection.thread_id()
	manager = IndexManager(index_db, lock_wait_timeout=TIMEOUT)
	plan = manager.plan([PAYMENT_HISTORY, MANDATE_EXPIRY])
	try:
		error = ends(lambda: manager.apply(plan, measure_repeats=0), holder.rollback)
	finally:
		holder.rollback()
		holder.close()
	assert isinstance(error, IndexApplyError) and isinstance(error.__cause__, MetadataLockTimeoutError)
	message = str(error)
	assert "idx_mandate_status_expiry" in message and f"gave up after {TIMEOUT} s" in message
	assert f"connection {holder_id} (" in message
	assert "1 index(es) added earlier in this apply were dropped again" in message
	assert "idx_payment_member_date" not in _indexes(index_db, "tabMember Payment")
	assert "idx_mandate_status_expiry" not in _indexes(index_db, "tabSEPA Mandate")
	[failed] = [e for e in ChangeLog(index_db).entries() if e.outcome == "Failed"]
	assert f"connection {holder_id} (" in failed.error
	assert locks.session_lock_wait_timeout(index_db) == DB_LOCK_WAIT_TIMEOUT  # the session's own again


def test_old_transactions_stop_an_online_alter_before_it_starts_unless_told_to_wait(
	index_db, scratch_databases
):
	holder = _holder(index_db.database_name, "tabMember Payment")
	holder_id = holder.connection.thread_id()
	elsewhere = scratch_databases.create("lock_elsewhere")
	try:
		manager = IndexManager(index_db, lock_wait_timeout=TIMEOUT, old_transaction_seconds=0)
		plan = manager.plan([PAYMENT_HISTORY])
		open_ids = lambda: [h.connection_id for h in manager.open_transactions(["tabMember Payment"])]  # noqa: E731
		settled(index_db, holder_id, index_db.database_name, "tabMember Payment")
		assert open_ids() == [holder_id]
		with pytest.raises(OpenTransactionsError) as refused:
			manager.apply(plan, measure_repeats=0)
		message = str(refused.value)
		assert "not starting the online ALTER TABLE of tabMember Payment" in message
		assert f"connection {holder_id} (" in message and "wait_for_transactions=True" in message
		assert ChangeLog(index_db).entries() == []  # refused before any DDL: nothing to log
		# Told to wait, it waits, but no longer than its lock wait timeout.
		error = ends(
			lambda: manager.apply(plan, measure_repeats=0, wait_for_transactions=True), holder.rollback
		)
		assert isinstance(error, IndexApplyError) and f"connection {holder_id} (" in str(error)
		assert "idx_payment_member_date" not in _indexes(index_db, "tabMember Payment")
		# A transaction on another database is not in the way.
		holder.rollback()
		elsewhere.sql("SELECT COUNT(*) FROM `tabMember Payment`")
		until(lambda: not open_ids(), "the holder's transaction is gone")
		[created] = manager.apply(plan, measure_repeats=0)
		assert created.action == "created"
	finally:
		holder.close()
		elsewhere.rollback()
		elsewhere.close()


def test_rollback_checks_old_transactions_too(index_db):
	manager = IndexManager(index_db, lock_wait_timeout=TIMEOUT, old_transaction_seconds=0)
	manager.apply(manager.plan([PAYMENT_HISTORY]), measure_repeats=0)
	holder = _holder(index_db.database_name, "tabMember Payment")
	settled(index_db, holder.connection.thread_id(), index_db.database_name, "tabMember Payment")
	try:
		with pytest.raises(OpenTransactionsError, match="not starting the DROP INDEX on tabMember Payment"):
			manager.rollback()
	finally:
		holder.rollback()
		holder.close()
	assert "idx_payment_member_date" in _indexes(index_db, "tabMember Payment")
	until(lambda: not manager.open_transactions(["tabMember Payment"]), "the holder's transaction is gone")
	assert [o.action for o in manager.rollback()] == ["dropped"]


# ---------------------------------------------------------------- settings and parsing


def test_a_standalone_handle_waits_at_most_its_own_lock_wait_timeout():
	with PyMySQLDatabase(**db_settings()) as db:
		assert locks.session_lock_wait_timeout(db) == DB_LOCK_WAIT_TIMEOUT
		with db.clone() as clone:
			assert locks.session_lock_wait_timeout(clone) == DB_LOCK_WAIT_TIMEOUT
		with locks.lock_wait_timeout(db, 1.2):
			assert locks.session_lock_wait_timeout(db) == 2  # whole seconds, rounded up
		assert locks.session_lock_wait_timeout(db) == DB_LOCK_WAIT_TIMEOUT
	with PyMySQLDatabase(**db_settings(), lock_wait_timeout=7) as db:
		assert locks.session_lock_wait_timeout(db) == 7


@pytest.mark.parametrize("bad", [-1, "30", math.nan, math.inf, True, None])
def test_a_bad_timeout_is_refused_naming_the_setting(bad):
	with pytest.raises(InvalidLockWaitError, match="lock_wait_timeout must be a number of seconds"):
		locks.seconds_value(bad)
	if bad is not None:
		with pytest.raises(InvalidLockWaitError, match="old_transaction_seconds"):
			IndexManager(object(), old_transaction_seconds=bad)


def test_drop_database_refuses_an_unsafe_name(admin):
	with pytest.raises(InvalidIdentifierError, match="database"):
		drop_database(admin, "x`; DROP DATABASE mysql; --")


@pytest.mark.parametrize(
	("statement", "target"),
	[
		("DROP DATABASE IF EXISTS `vtest_a`", ("vtest_a", None)),
		(
			"ALTER TABLE `tabMember Payment` ADD INDEX `i` (`member`), ALGORITHM=INPLACE",
			(None, "tabMember Payment"),
		),
		("alter table db1.t add index i (v)", ("db1", "t")),
		("DROP TABLE `d`.`tabMember`", ("d", "tabMember")),
		("CREATE UNIQUE INDEX `u` ON `tabMember` (`email`)", (None, "tabMember")),
		("TRUNCATE TABLE `tabChapter`", (None, "tabChapter")),
		("SELECT 1", (None, None)),
	],
)
def test_the_ddl_target_is_read_from_the_statement(statement, target):
	assert locks.ddl_target(statement) == target


def test_a_lock_wait_timeout_is_recognised_through_wrappers():
	class QueryTimeoutError(Exception):  # frappe's, which wraps PyMySQL's error
		pass

	cause = pymysql.err.OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction")
	try:
		try:
			raise cause
		except pymysql.err.OperationalError as e:
			raise QueryTimeoutError(e) from e
	except QueryTimeoutError as wrapped:
		assert locks.is_lock_wait_timeout(wrapped)
	assert not locks.is_lock_wait_timeout(pymysql.err.OperationalError(1213, "Deadlock found"))
	assert not locks.is_lock_wait_timeout(ValueError(True))
