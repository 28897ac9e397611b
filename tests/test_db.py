import pytest

from verenigingen.performance.db import PyMySQLDatabase, quote_identifier, table_name
from verenigingen.performance.exceptions import DatabaseConnectionError, InvalidIdentifierError

from .conftest import db_settings


def test_values_travel_as_parameters(db):
	hostile = "x'); DROP TABLE `tabMember`; --"
	assert db.sql("SELECT %s", (hostile,))[0][0] == hostile
	assert db.sql("SELECT %(v)s AS v", {"v": 3}, as_dict=True) == [{"v": 3}]


@pytest.mark.parametrize("bad", ["a`b", "a;b", "", " lead", "x" * 65, "tab-x", None])
def test_identifiers_are_validated(bad):
	with pytest.raises(InvalidIdentifierError):
		quote_identifier(bad)


def test_table_name_follows_frappe():
	assert table_name("Member Payment") == "tabMember Payment"
	assert quote_identifier(table_name("SEPA Mandate")) == "`tabSEPA Mandate`"


def test_ddl_commits_pending_work_first(scratch_databases):
	db = scratch_databases.create("ddl")
	db.sql("INSERT INTO `tabChapter` (name, chapter_name) VALUES ('A', 'A')")
	db.ddl("CREATE TABLE `tmp_x` (id int)")
	other = db.clone()
	assert other.sql("SELECT COUNT(*) FROM `tabChapter`")[0][0] == 1
	other.close()


def test_unreachable_server_gives_a_clear_error():
	settings = db_settings()
	settings["port"] = 1
	with pytest.raises(DatabaseConnectionError, match="cannot connect to MariaDB at root@"):
		PyMySQLDatabase(**settings, connect_timeout=2)


def test_the_handle_knows_whether_its_transaction_holds_writes(db, scratch_databases):
	assert not db.pending_writes()
	db.sql("SELECT COUNT(*) FROM `tabChapter`")
	db.sql("SET @marker = 1")
	assert not db.pending_writes()  # reads and session settings write nothing
	db.sql("INSERT INTO `tabChapter` (name, chapter_name) VALUES ('W', 'W')")
	assert db.pending_writes()
	db.rollback()
	assert not db.pending_writes()
	db.sql("UPDATE `tabChapter` SET chapter_name = 'x' WHERE name = 'nothing'")
	db.sql("COMMIT")
	assert not db.pending_writes()
	with scratch_databases.create("autocommit_writes", autocommit=True) as auto:
		auto.sql("INSERT INTO `tabChapter` (name, chapter_name) VALUES ('A', 'A')")
		assert not auto.pending_writes()  # committed as it ran
