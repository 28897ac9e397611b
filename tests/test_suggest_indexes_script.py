"""scripts/database/suggest_indexes.py, run as a user would, on real scratch databases."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.advisor_schema import DBA_SHAPES, seed, workload
from tests.conftest import db_settings
from verenigingen.performance.indexes import ChangeLog, IndexManager

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "database" / "suggest_indexes.py"


def run(*args, user=None, password=None):
	s = db_settings()
	conn = [
		"-H",
		s["host"],
		"-P",
		str(s["port"]),
		"-u",
		user or s["user"],
		"-p",
		s["password"] if password is None else password,
	]
	return subprocess.run(
		[sys.executable, str(SCRIPT), *conn, "--quiet", *args], capture_output=True, text=True, timeout=300
	)


def _indexes(db, table):
	rows = db.sql(
		"SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema=DATABASE() AND table_name=%s",
		(table,),
	)
	return {r[0] for r in rows}


def _leftovers(db) -> tuple[set, set]:
	schemas = {
		r[0]
		for r in db.sql(
			"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'vadv\\_scratch\\_%'"
		)
	}
	tables = {
		r[0]
		for r in db.sql(
			"SELECT table_name FROM information_schema.tables WHERE table_schema=DATABASE() AND table_name LIKE '\\_vadv\\_%'"
		)
	}
	return schemas, tables


@pytest.fixture
def small_shop(scratch_databases, tmp_path):
	"""8,000 orders (a few seconds to prove) and a workload file of one shape."""
	db = scratch_databases.create("advcli", with_tables=False)
	sizes = seed(db, orders=8_000, items=3_000, customers=800, countries=20)
	path = tmp_path / "workload.sql"
	path.write_text(
		"\n".join(DBA_SHAPES["customer orders"].format(customer=f"CUST-{k:06d}") for k in range(12)) + "\n"
	)
	yield db, path, sizes
	db.rollback()
	db.close()


@pytest.fixture
def database_user(scratch_databases):
	"""A MariaDB user of this test (dropped afterwards); call with the GRANT to give it."""
	admin = scratch_databases.admin
	name = f"vtest_adv_{uuid.uuid4().hex[:8]}"
	hosts = ("localhost", "127.0.0.1", "%")

	def make(grant: str | None):
		for host in hosts:
			admin.sql(f"CREATE USER '{name}'@'{host}' IDENTIFIED BY 'pw'")
			if grant:
				admin.sql(grant.format(user=f"'{name}'@'{host}'"))
		return name

	yield make
	for host in hosts:
		admin.sql(f"DROP USER IF EXISTS '{name}'@'{host}'")


@pytest.mark.slow
def test_apply_adds_the_suggestions_through_the_index_manager(scratch_databases, tmp_path):
	db = scratch_databases.create("advapply", with_tables=False)
	sizes = seed(db, orders=20_000, items=24_000, customers=2_000, countries=50)
	path = tmp_path / "workload.sql"
	statements = [s for s in workload(sizes, statements=70, broken=False) if "Country" not in s]
	path.write_text(";\n".join(statements) + ";\n")
	before = _indexes(db, "tabAdv Order") | _indexes(db, "tabAdv Order Item")
	result = run(
		"-D",
		db.database_name,
		"--workload",
		str(path),
		"--apply",
		"--format",
		"json",
		"--runs",
		"4",
		"--repeats",
		"3",
	)
	assert result.returncode == 0, result.stderr
	report = json.loads(result.stdout)
	assert report["suggestions"] and "apply_error" not in report
	applied = report["applied"]
	assert {a["action"] for a in applied} == {"created"}
	after = _indexes(db, "tabAdv Order") | _indexes(db, "tabAdv Order Item")
	assert after - before == {a["index"] for a in applied}
	for a in applied:
		assert a["log"] and a["ddl"].endswith("ALGORITHM=INPLACE, LOCK=NONE")
		for shape in a["shapes"]:
			assert shape["after_ms"] < shape["before_ms"], (a["index"], shape)
	log = {e.index_name: e for e in ChangeLog(db).entries()}
	assert set(log) == {a["index"] for a in applied}
	assert {e.catalog for e in log.values()} == {"advisor"} and {e.outcome for e in log.values()} == {
		"Success"
	}
	# the manager's rollback takes them away again, by its change log
	undone = IndexManager(db).rollback()
	assert {o.index for o in undone if o.action == "dropped"} == {a["index"] for a in applied}
	assert _indexes(db, "tabAdv Order") | _indexes(db, "tabAdv Order Item") == before
	assert _leftovers(db) == (set(), set())


def test_text_report_and_a_user_who_may_only_use_the_site_database(small_shop, database_user):
	db, path, _ = small_shop
	text = run("-D", db.database_name, "--workload", str(path), "--runs", "3")
	assert text.returncode == 0, text.stderr
	assert "Index advisor for" in text.stdout and "ADD INDEX `idx_adv_customer" in text.stdout
	assert "scratch database vadv_scratch_" in text.stdout and ": dropped" in text.stdout
	# A Frappe site's database user has every right on its own database and none elsewhere: the
	# copies are then tables of the site's database, dropped afterwards.
	user = database_user(f"GRANT ALL PRIVILEGES ON `{db.database_name}`.* TO {{user}}")
	site = run(
		"-D",
		db.database_name,
		"--workload",
		str(path),
		"--runs",
		"3",
		"--format",
		"json",
		user=user,
		password="pw",
	)
	assert site.returncode == 0, site.stderr
	report = json.loads(site.stdout)
	assert report["scratch"]["kind"] == "tables" and report["scratch"]["dropped"]
	assert "may not create a scratch database" in report["scratch"]["why_not_a_database"]
	assert report["suggestions"][0]["columns"][0] == "customer"
	assert _leftovers(db) == (set(), set())


def test_a_user_without_rights_gets_one_line_and_exit_2(small_shop, database_user):
	db, path, _ = small_shop
	nobody = database_user(None)
	denied = run("-D", db.database_name, "--workload", str(path), user=nobody, password="pw")
	assert denied.returncode == 2
	assert denied.stderr.count("\n") == 1 and denied.stderr.startswith("error: cannot connect to MariaDB")
	assert "Access denied" in denied.stderr


def test_a_read_only_user_is_told_what_is_missing_and_nothing_is_left(small_shop, database_user):
	db, path, _ = small_shop
	reader = database_user(f"GRANT SELECT ON `{db.database_name}`.* TO {{user}}")
	result = run("-D", db.database_name, "--workload", str(path), user=reader, password="pw")
	assert result.returncode == 2, result.stdout
	assert result.stderr.count("\n") == 1
	assert result.stderr.startswith("error: the database user may not create scratch tables in")
	assert _leftovers(db) == (set(), set())


def test_unreachable_server_missing_database_and_bad_usage(small_shop, tmp_path):
	db, path, _ = small_shop
	s = db_settings()
	down = subprocess.run(
		[
			sys.executable,
			str(SCRIPT),
			"-H",
			s["host"],
			"-P",
			"1",
			"-u",
			s["user"],
			"-D",
			"x",
			"--workload",
			str(path),
		],
		capture_output=True,
		text=True,
		timeout=60,
	)
	assert (
		down.returncode == 2 and down.stderr.count("\n") == 1 and "cannot connect to MariaDB" in down.stderr
	)
	missing = run("-D", "vtest_no_such_database_here", "--workload", str(path))
	assert missing.returncode == 2 and missing.stderr.count("\n") == 1
	assert "Unknown database 'vtest_no_such_database_here'" in missing.stderr
	nofile = run("-D", db.database_name, "--workload", str(tmp_path / "nope.sql"))
	assert nofile.returncode == 2 and "cannot read workload file" in nofile.stderr
	both = run("-D", db.database_name, "--workload", str(path), "--slow-log")
	assert both.returncode == 2 and "not allowed with argument" in both.stderr
	neither = run("-D", db.database_name)
	assert (
		neither.returncode == 2 and "one of the arguments --workload --slow-log is required" in neither.stderr
	)
	since = run("-D", db.database_name, "--workload", str(path), "--since", "5")
	assert since.returncode == 2 and "--since goes with --slow-log" in since.stderr


def test_slow_log_that_is_off_is_explained_not_switched_on(small_shop):
	db, _, _ = small_shop
	settings = db.sql("SELECT @@global.log_output, @@global.slow_query_log")[0]
	if "TABLE" in str(settings[0]).upper() and int(settings[1]):
		pytest.skip("this server writes its slow log to mysql.slow_log")
	result = run("-D", db.database_name, "--slow-log", "--since", "60")
	assert result.returncode == 2
	assert (
		"SET GLOBAL slow_query_log=ON" in result.stderr and "never changes server settings" in result.stderr
	)
	assert db.sql("SELECT @@global.log_output, @@global.slow_query_log")[0] == settings


def test_a_workload_of_only_broken_statements_reports_them(small_shop, tmp_path):
	db, _, _ = small_shop
	path = tmp_path / "broken.sql"
	path.write_text("SELECT FROM;\nSELECT a FROM `tabAdv Order` WHERE (b = 1;\nDELETE FROM x;\n")
	result = run("-D", db.database_name, "--workload", str(path), "--format", "json")
	assert result.returncode == 0, result.stderr
	report = json.loads(result.stdout)
	assert report["suggestions"] == [] and report["workload"]["analysed_statements"] == 0
	kinds = [(p["kind"], p["statement"]) for p in report["workload"]["problems"]]
	assert ("malformed", 1) in kinds and ("malformed", 2) in kinds
	assert report["scratch"]["kind"] is None  # nothing to prove: no scratch space was made
