"""scripts/database/create_sepa_indexes.py, run as a user would, on a real scratch database."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import db_settings

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "database" / "create_sepa_indexes.py"


def run(*args):
	s = db_settings()
	conn = ["-H", s["host"], "-P", str(s["port"]), "-u", s["user"], "-p", s["password"]]
	return subprocess.run(
		[sys.executable, str(SCRIPT), *conn, *args], capture_output=True, text=True, timeout=120
	)


def _indexes(db, table):
	rows = db.sql(
		"SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema=DATABASE() AND table_name=%s",
		(table,),
	)
	return {r[0] for r in rows}


@pytest.fixture
def target(scratch_databases):
	from verenigingen.performance.dataset import generate_dataset

	db = scratch_databases.create("script")
	generate_dataset(db, members=300, seed=3, progress=False)
	yield db
	db.rollback()
	db.close()


def test_dry_run_apply_and_rollback(target):
	name = target.database_name
	dry = run("--database", name, "--dry-run")
	assert dry.returncode == 0, dry.stderr
	assert "idx_payment_sepa_batch" in dry.stdout and "create" in dry.stdout
	assert "would run: ALTER TABLE `tabMember Payment` ADD INDEX `idx_payment_sepa_batch`" in dry.stdout
	assert "idx_payment_member_date" not in dry.stdout  # default catalog: sepa
	assert "idx_payment_sepa_batch" not in _indexes(target, "tabMember Payment")

	applied = run("--database", name, "--repeats", "2")
	assert applied.returncode == 0, applied.stderr
	assert "2 index(es) added" in applied.stdout and "p50 before ms" in applied.stdout
	assert "too small for a difference to show" in applied.stdout  # 300 members: no ratio printed
	assert "idx_payment_sepa_batch" in _indexes(target, "tabMember Payment")
	again = run("--database", name)
	assert again.returncode == 0 and "nothing to do" in again.stdout

	back = run("--database", name, "--rollback")
	assert back.returncode == 0, back.stderr
	assert back.stdout.count("dropped") == 2
	assert "idx_payment_sepa_batch" not in _indexes(target, "tabMember Payment")


def test_failures_exit_non_zero(target):
	target.ddl("ALTER TABLE `tabSEPA Mandate` ADD INDEX `idx_mandate_status_expiry` (`iban`)")
	conflict = run("--database", target.database_name)
	assert conflict.returncode == 1
	assert "conflict" in conflict.stdout and "nothing was changed" in conflict.stderr
	assert "idx_payment_sepa_batch" not in _indexes(target, "tabMember Payment")
	missing = run("--database", "vtest_no_such_database_here")
	assert missing.returncode == 2 and "cannot connect" in missing.stderr
	usage = run("--catalog", "fast", "--database", target.database_name)
	assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_an_open_transaction_stops_the_script_or_times_out_with_wait(target):
	from verenigingen.performance.db import PyMySQLDatabase

	from .lockwait import settled

	name = target.database_name
	holder = PyMySQLDatabase(**db_settings(name))
	try:
		holder.sql("SELECT COUNT(*) FROM `tabSEPA Mandate`")
		holder_id = holder.connection.thread_id()
		settled(target, holder_id, name, "tabSEPA Mandate")
		refused = run("--database", name, "--old-transaction-seconds", "0", "--repeats", "0")
		assert refused.returncode == 1
		assert "not starting the online ALTER TABLE" in refused.stderr
		assert f"connection {holder_id} (" in refused.stderr and "--wait" in refused.stderr
		waited = run("--database", name, "--wait", "--lock-wait-timeout", "1", "--repeats", "0")
		assert waited.returncode == 1
		assert "gave up after 1 s waiting for a metadata lock" in waited.stderr
		assert f"connection {holder_id} (" in waited.stderr
	finally:
		holder.rollback()
		holder.close()
	assert {"idx_payment_sepa_batch", "idx_mandate_status_expiry"}.isdisjoint(
		_indexes(target, "tabMember Payment") | _indexes(target, "tabSEPA Mandate")
	)
	usage = run("--database", name, "--lock-wait-timeout", "-1")
	assert usage.returncode == 2 and "--lock-wait-timeout" in usage.stderr


def test_a_database_without_the_apps_tables_is_refused(scratch_databases):
	empty = scratch_databases.create("no_app", with_tables=False)
	name = empty.database_name
	empty.close()
	for extra in ((), ("--dry-run",), ("--rollback",)):
		proc = run("-D", name, *extra)
		assert proc.returncode == 2, proc.stdout + proc.stderr
		assert proc.stderr.strip() == (
			f"error: database {name} has none of the app's tables (tabMember, tabMember Payment, "
			"tabSEPA Mandate ...): give the database of a site with verenigingen installed"
		)
		assert proc.stdout == ""


def test_site_outside_a_bench_is_one_line():
	proc = subprocess.run(
		[sys.executable, str(SCRIPT), "--site", "site1.local"], capture_output=True, text=True, timeout=60
	)
	assert proc.returncode == 2
	assert proc.stderr.startswith("error: --site needs Frappe") and proc.stderr.count("\n") == 1


def test_help_is_h_and_the_host_is_capital_h():
	proc = subprocess.run([sys.executable, str(SCRIPT), "-h"], capture_output=True, text=True, timeout=60)
	assert proc.returncode == 0
	assert "-H HOST, --host HOST" in proc.stdout and "(default: sepa)" in proc.stdout
