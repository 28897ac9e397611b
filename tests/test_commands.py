"""The bench commands (``verenigingen/commands``), run through click against the frappe test double.

They are invoked as Frappe's bench helper invokes an app's commands: ``ctx.obj`` carries the
site(s) of ``--site`` (``frappe.utils.bench_helper.app_group``). The same commands run through
``bench`` on a real site in tests/test_commands_bench.py.
"""

import importlib
import json
import os
import signal
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from .field_validator.paths import FIXTURE_APP

pytestmark = pytest.mark.shell


def _runner() -> CliRunner:
	try:
		return CliRunner(mix_stderr=False)  # click 8.1 (Frappe v15's pin)
	except TypeError:
		return CliRunner()  # click 8.2+: stderr is always kept apart


def invoke(args, sites=None):
	"""Run ``bench --site SITE verenigingen ARGS`` in-process; ``sites`` as bench_helper passes them."""
	import frappe

	from verenigingen.commands import verenigingen

	if sites is None:
		sites = [frappe.local.site]
	obj = {"sites": sites, "force": False, "verbose": False, "profile": False}
	return _runner().invoke(verenigingen, [str(a) for a in args], obj=obj, catch_exceptions=False)


def one_line_error(result, code: int = 1, *, after_progress: bool = False) -> str:
	"""The error: one line on stderr (after the progress lines of long work, if ``after_progress``)."""
	assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
	lines = result.stderr.strip().splitlines()
	if after_progress:
		assert [line for line in lines if line.startswith("Error:")] == lines[-1:], result.stderr
	else:
		assert len(lines) == 1, result.stderr
	return lines[-1]


def as_json(result):
	assert result.exit_code == 0, (result.stdout, result.stderr)
	return json.loads(result.stdout)


def roundtrip(data):
	"""Data as the API's JSON response carries it."""
	from verenigingen.commands.base import _json_default

	return json.loads(json.dumps(data, default=_json_default))


@pytest.fixture
def site(frappe_site):
	if not frappe_site.is_double:
		pytest.skip("on a real site the commands are run through bench: tests/test_commands_bench.py")
	return frappe_site


@pytest.fixture
def seeded(site):
	"""The double's site database with a small generated association, and fresh table statistics."""
	import frappe

	from tests.conftest import db_settings
	from verenigingen.performance.dataset import generate_dataset
	from verenigingen.performance.db import PyMySQLDatabase

	handle = PyMySQLDatabase(**db_settings(frappe.db.cur_db_name))
	generate_dataset(handle, members=60, seed=5, progress=False)
	for table in ("tabMember", "tabMember Payment", "tabSEPA Mandate"):
		handle.sql(f"ANALYZE TABLE `{table}`")
	handle.commit()
	handle.close()
	return site


def _indexes(table: str) -> set:
	import frappe

	rows = frappe.db.sql(
		"SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema=DATABASE() AND table_name=%s",
		(table,),
	)
	frappe.db.commit()
	return {r[0] for r in rows}


def _claims() -> set:
	from verenigingen import frappe_bridge
	from verenigingen.performance.indexes import ChangeLog

	return {(e.table_name, e.index_name) for e in ChangeLog(frappe_bridge.database()).tool_created()}


# ---------------------------------------------------------------- discovery and the site context


def test_bench_finds_one_verenigingen_group_with_every_command():
	module = importlib.import_module("verenigingen.commands")
	found = {c.name: c for c in module.commands}  # what frappe.utils.bench_helper.get_app_commands builds
	assert list(found) == ["verenigingen"]
	group = found["verenigingen"]
	assert set(group.commands) == {
		"indexes",
		"cache",
		"jobs",
		"monitoring",
		"readiness",
		"baselines",
		"fieldcheck",
	}
	assert set(group.commands["indexes"].commands) == {
		"status",
		"plan",
		"apply",
		"rollback",
		"redundant",
		"suggest",
	}
	assert set(group.commands["cache"].commands) == {"stats", "clear"}
	assert set(group.commands["jobs"].commands) == {"status", "cancel", "reconcile"}
	assert set(group.commands["monitoring"].commands) == {"summary", "snapshot"}


def test_a_command_runs_in_its_site_as_administrator_commits_and_destroys(site, monkeypatch):
	import frappe

	commits = []
	real_commit = frappe.db.commit
	monkeypatch.setattr(frappe.db, "commit", lambda: (commits.append(frappe.session.user), real_commit())[1])
	frappe.set_user("Guest")
	result = invoke(["cache", "stats"])
	assert result.exit_code == 0, result.stderr
	ns = frappe.local.site
	assert frappe._double.lifecycle == [("init", ns), ("connect", None), ("destroy", ns)]
	assert commits == ["Administrator"]  # committed once, at the end, as Administrator

	commits.clear()
	frappe._double.lifecycle.clear()
	failed = invoke(["jobs", "status", "no-such-job"])
	assert one_line_error(failed) == "Error: no job 'no-such-job' (never submitted, or its record expired)"
	assert frappe._double.lifecycle[-1] == ("destroy", ns) and commits == []  # destroyed, not committed


def test_unknown_missing_or_several_sites_are_one_line_errors(site):
	import frappe

	unknown = invoke(["readiness"], sites=["nope.localhost"])
	assert one_line_error(unknown) == "Error: site 'nope.localhost' does not exist in this bench"
	assert frappe._double.lifecycle == [("init", "nope.localhost"), ("destroy", frappe.local.site)]
	none = invoke(["cache", "stats"], sites=[])
	assert "no site given: use bench --site SITE" in one_line_error(none)
	several = invoke(["cache", "stats"], sites=["a.localhost", "b.localhost"])
	assert "one site at a time, got 2: a.localhost, b.localhost" in one_line_error(several)


def test_usage_errors_are_one_line_with_exit_status_2(site):
	assert one_line_error(invoke(["indexes", "drop-all"]), 2) == "Error: No such command 'drop-all'."
	assert one_line_error(invoke(["jobs", "cancel"]), 2) == "Error: Missing argument 'JOB_ID'."
	assert "'--repeats'" in one_line_error(invoke(["indexes", "apply", "--repeats", "-1"]), 2)


def test_verdicts_in_words():
	from verenigingen.commands.output import size, speedup

	assert speedup(417.2) == "417x faster"
	assert speedup(2.04) == "2.0x faster"
	assert speedup(0.5) == "2.0x slower"
	assert speedup(1.02) == "no difference"
	assert speedup(None) == "not measured"
	assert size(3 * 1024 * 1024) == "3.0 MiB"


# ---------------------------------------------------------------- indexes


def test_indexes_status_and_plan_show_the_api_data(site):
	from verenigingen.api.indexes import database_index_manager_api

	site.login("Administrator")
	assert as_json(invoke(["indexes", "status", "--json"])) == roundtrip(database_index_manager_api("status"))
	status = invoke(["indexes", "status"])
	assert "idx_payment_sepa_batch" in status.stdout and "missing" in status.stdout
	assert status.stdout.strip().splitlines()[-1].endswith("NOT healthy (8 missing, 2 not applicable)")
	plan = invoke(["indexes", "plan", "--catalog", "sepa"])
	assert plan.stdout.strip().splitlines()[-1] == "2 indexes to create (catalog sepa)"
	data = as_json(invoke(["indexes", "plan", "--catalog", "sepa", "--json"]))
	assert data == roundtrip(database_index_manager_api("plan", catalog_name="sepa"))
	bad = invoke(["indexes", "plan", "--catalog", "fast"])
	assert (
		one_line_error(bad)
		== "Error: unknown index catalog 'fast': use one of all, performance, sepa, monitoring"
	)


def test_apply_runs_in_the_foreground_measured_and_asks_for_yes_on_large_tables(seeded):
	from frappe.utils.background_jobs import get_queue, get_queue_list

	def queued() -> int:
		return sum(len(get_queue(q).jobs) for q in get_queue_list())

	before = queued()
	refused = invoke(["indexes", "apply", "--catalog", "sepa", "--confirm-rows", "10"])
	message = one_line_error(refused)
	assert "tabMember Payment (about" in message and "over 10 rows" in message and "--yes" in message
	assert "idx_payment_sepa_batch" not in _indexes("tabMember Payment")

	applied = invoke(
		["indexes", "apply", "--catalog", "sepa", "--confirm-rows", "10", "--yes", "--repeats", "3"]
	)
	assert applied.exit_code == 0, applied.stderr
	assert queued() == before  # in the foreground, not a background job
	lines = applied.stdout.strip().splitlines()
	assert lines[0].split()[:3] == ["index", "table", "rows"]
	assert "too small for a difference to show" in applied.stdout  # 60 members: no ratio
	assert lines[-1].startswith("added 2 indexes in ") and lines[-1].endswith(
		"(catalog sepa); 0 present or not applicable"
	)
	assert "[1/2] adding tabMember Payment.idx_payment_sepa_batch ..." in applied.stderr  # progress
	assert "idx_payment_sepa_batch" in _indexes("tabMember Payment")
	assert _claims() == {
		("tabMember Payment", "idx_payment_sepa_batch"),
		("tabSEPA Mandate", "idx_mandate_status_expiry"),
	}
	again = as_json(invoke(["indexes", "apply", "--catalog", "sepa", "--json"]))
	assert [o["action"] for o in again] == ["skipped", "skipped"]

	dry = invoke(["indexes", "rollback", "--dry-run"])
	assert dry.stdout.strip().splitlines()[-1] == "would drop 2 indexes this tool created"
	assert "idx_payment_sepa_batch" in _indexes("tabMember Payment")
	unknown = invoke(["indexes", "rollback", "--index", "idx_member_email_status"])
	assert "shows no index idx_member_email_status created by this tool" in one_line_error(unknown)
	back = as_json(invoke(["indexes", "rollback", "--json"]))
	assert sorted(o["action"] for o in back) == ["dropped", "dropped"]
	assert "idx_payment_sepa_batch" not in _indexes("tabMember Payment") and _claims() == set()


def _wait_for_metadata_lock(watcher, thread_id: int, timeout: float = 20) -> None:
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		rows = watcher.sql("SELECT state FROM information_schema.processlist WHERE id=%s", (thread_id,))
		if rows and "metadata lock" in (rows[0][0] or ""):
			return
		time.sleep(0.05)
	raise AssertionError("the ALTER TABLE never waited for the metadata lock")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to the own process")
def test_ctrl_c_during_index_ddl_leaves_the_tables_and_the_change_log_in_agreement(seeded):
	"""A real SIGINT while the second index's ALTER waits for a metadata lock another session holds."""
	import frappe

	from verenigingen import frappe_bridge

	db = frappe_bridge.database()
	holder = db.clone()
	holder.sql("SELECT COUNT(*) FROM `tabSEPA Mandate`")  # an open transaction: the ALTER must wait
	watcher = db.clone(autocommit=True)
	thread_id = db.connection.thread_id()

	def press_ctrl_c():
		_wait_for_metadata_lock(watcher, thread_id)
		os.kill(os.getpid(), signal.SIGINT)

	presser = threading.Thread(target=press_ctrl_c, daemon=True)
	presser.start()
	try:
		result = invoke(["indexes", "apply", "--catalog", "sepa", "--repeats", "0"])
	finally:
		presser.join(timeout=30)
		holder.rollback()
		holder.close()
		watcher.close()
	assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
	message = one_line_error(result, 130, after_progress=True)
	assert message.startswith(
		"Error: interrupted: adding idx_mandate_status_expiry to tabSEPA Mandate failed"
	)
	assert "Query execution was interrupted" in message and "1 index(es) added earlier" in message
	assert "interrupted: stopping the running statement" in result.stderr
	assert "idx_payment_sepa_batch" not in _indexes("tabMember Payment")  # the first index was dropped again
	assert "idx_mandate_status_expiry" not in _indexes("tabSEPA Mandate")  # the stopped ALTER left nothing
	assert _claims() == set()
	from verenigingen.performance.indexes import ChangeLog

	log = [(e.action, e.outcome, e.index_name) for e in ChangeLog(frappe_bridge.database()).entries()]
	assert log == [
		("Apply", "Success", "idx_payment_sepa_batch"),
		("Apply", "Failed", "idx_mandate_status_expiry"),
		("Rollback", "Success", "idx_payment_sepa_batch"),
	]
	frappe.db.commit()
	assert (
		invoke(["indexes", "apply", "--catalog", "sepa", "--repeats", "0"]).exit_code == 0
	)  # and it can go again
	assert _claims() == {
		("tabMember Payment", "idx_payment_sepa_batch"),
		("tabSEPA Mandate", "idx_mandate_status_expiry"),
	}


def test_redundant_lists_without_dropping_and_suggest_runs_the_advisor(site, monkeypatch, tmp_path):
	import frappe

	from verenigingen.api.indexes import database_index_manager_api

	frappe.db.sql_ddl(
		"ALTER TABLE `tabMember` ADD INDEX `email_only` (`email`), ADD INDEX `email_status` (`email`, `status`)"
	)
	data = as_json(invoke(["indexes", "redundant", "--doctype", "Member", "--json"]))
	assert data == roundtrip(database_index_manager_api("redundant", doctypes="Member"))
	assert [(r["index"], r["covered_by"]) for r in data["redundant"]] == [("email_only", "email_status")]
	human = invoke(["indexes", "redundant", "--doctype", "Member"])
	assert "ALTER TABLE `tabMember` DROP INDEX `email_only`;" in human.stdout
	assert human.stdout.strip().splitlines()[-1].startswith("1 redundant index, ")
	assert "email_only" in _indexes("tabMember")  # nothing dropped

	missing = invoke(["indexes", "suggest", "--workload", "no-such.sql"])
	assert "no-such.sql: no such file or folder" in one_line_error(missing)
	workload = tmp_path / "workload.sql"
	workload.write_text("SELECT name FROM `tabMember` WHERE email = 'a@example.org';\nSELEKT nonsense;\n")
	monkeypatch.setenv("PWD", str(tmp_path))
	found = invoke(["indexes", "suggest", "--workload", "workload.sql"])
	assert found.exit_code == 0, found.stderr
	assert found.stdout.strip().splitlines()[-1].endswith("; nothing was changed")
	report = as_json(invoke(["indexes", "suggest", "--workload", "workload.sql", "--json"]))
	assert report["workload"]["shapes"] == 1 and report["suggestions"] == []  # a table of a few rows


# ---------------------------------------------------------------- cache, jobs, monitoring, readiness


def test_cache_stats_and_clear(site):
	import frappe

	from verenigingen.api.cache import get_cache_stats
	from verenigingen.api.member import chapter_statistics

	site.login("Administrator")
	name = chapter_statistics.cache_name
	chapter_statistics()
	chapter_statistics()  # a miss, then a hit
	data = as_json(invoke(["cache", "stats", "--json"]))
	assert data["totals"]["hits"] == 1 and data["totals"]["misses"] == 1
	assert data.keys() == get_cache_stats().keys()
	human = invoke(["cache", "stats"])
	assert "REPORTING" in human.stdout and name in human.stdout
	assert (
		human.stdout.strip()
		.splitlines()[-1]
		.startswith(f"cache of {frappe.local.site}: hit ratio 50.0% over 2 lookups")
	)
	one = as_json(invoke(["cache", "stats", "--function", name, "--json"]))
	assert one["hits"] == 1 and one["level"] == "REPORTING"
	assert "no cached function 'nope.fn' on this site" in one_line_error(
		invoke(["cache", "stats", "--function", "nope.fn"])
	)

	assert invoke(["cache", "clear"]).stdout.strip() == "cleared every entry of the app cache"
	chapter_statistics()  # computed again after the clear
	assert get_cache_stats()["totals"]["misses"] == 2
	assert as_json(invoke(["cache", "clear", "--function", name, "--json"])) == {
		"cleared": True, "function": name, "applied_now": True,
	}  # fmt: skip
	chapter_statistics()
	assert get_cache_stats()["totals"]["misses"] == 3


def test_jobs_status_cancel_and_reconcile(site):
	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import get_job_status, get_queue_status

	site.login("Administrator")
	coordinator = frappe_bridge.job_coordinator(load_control=False)
	coordinator.submit(
		"verenigingen.tests.site_jobs.site_record", {"label": "a"}, priority="bulk", job_id="cmd-a"
	)
	coordinator.submit(
		"verenigingen.tests.site_jobs.site_record", {"label": "b"}, priority="bulk", job_id="cmd-b"
	)  # waits: cap 1
	queue = as_json(invoke(["jobs", "status", "--json"]))
	bulk = queue["priorities"]["bulk"]
	assert bulk["slots_in_use"] == 1 and bulk["counts"]["waiting"] == 2  # one handed to RQ, one for a slot
	assert queue.keys() == get_queue_status().keys()
	human = invoke(["jobs", "status"])
	assert human.stdout.strip().splitlines()[-1].startswith("0 running, 2 waiting; load ")
	assert as_json(invoke(["jobs", "status", "cmd-b", "--json"])) == roundtrip(get_job_status("cmd-b"))
	one = invoke(["jobs", "status", "cmd-b"])
	assert "method      verenigingen.tests.site_jobs.site_record" in one.stdout
	assert one.stdout.strip().splitlines()[-1] == "job cmd-b is waiting"
	assert invoke(["jobs", "cancel", "cmd-b"]).stdout.strip() == "job cmd-b is cancelled"
	assert get_job_status("cmd-b")["status"] == "cancelled"
	assert "no job 'cmd-zzz' to cancel" in one_line_error(invoke(["jobs", "cancel", "cmd-zzz"]))
	assert "job_id" in one_line_error(invoke(["jobs", "status", "bad id!"]))
	done = as_json(invoke(["jobs", "reconcile", "--json"]))
	assert done["load_control"] == "off" and done["expired_leases"] == {}
	assert invoke(["jobs", "reconcile"]).stdout.strip().splitlines()[-1].endswith("0 expired leases reaped")
	assert get_queue_status()["last_reconcile"] is not None


def test_monitoring_summary_and_snapshot(site):
	import frappe

	from verenigingen.api.monitoring import get_performance_summary

	site.login("Administrator")
	data = as_json(invoke(["monitoring", "summary", "--json"]))
	assert data["enabled"] is True and data.keys() == get_performance_summary().keys()
	human = invoke(["monitoring", "summary"])
	assert "component" in human.stdout and "no requests recorded in the window" in human.stdout
	assert human.stdout.strip().splitlines()[-1].startswith("score ")

	count = lambda: frappe.db.sql("SELECT COUNT(*) FROM `tabPerformance Snapshot`")[0][0]  # noqa: E731
	before = count()
	snap = invoke(["monitoring", "snapshot"])
	assert snap.exit_code == 0, snap.stderr
	name = snap.stdout.strip().splitlines()[-1].removeprefix("stored Performance Snapshot ")
	frappe.db.commit()
	assert count() == before + 1
	assert frappe.db.sql("SELECT name FROM `tabPerformance Snapshot` WHERE name=%s", (name,))

	frappe.get_doc(
		{"doctype": "Performance Settings", "name": "Performance Settings", "activation_level": "0"}
	).save()
	assert invoke(["monitoring", "summary"]).stdout.startswith("monitoring is off (activation level 0)")
	assert (
		as_json(invoke(["monitoring", "snapshot", "--json"]))["skipped"]
		== "monitoring is off (activation level 0)"
	)


def test_readiness(site):
	data = as_json(invoke(["readiness", "--json"]))
	assert [c["component"] for c in data["components"]] == [
		"cache", "invalidation", "jobs", "database", "monitoring", "baselines",
	]  # fmt: skip
	assert data["code_audit"]["status"] == "operational" and data["code_audit"]["weight"] == 0
	human = invoke(["readiness"])
	assert "code audit (the app's code" in human.stdout
	assert "start RQ workers on" in human.stdout  # no worker in the double: jobs failed, with the fix
	last = human.stdout.strip().splitlines()[-1]
	assert last.startswith("readiness ") and "/100: NOT ready (" in last


# ---------------------------------------------------------------- baselines and fieldcheck


def test_baselines_measure_write_and_compare(seeded, tmp_path, monkeypatch):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.performance.baselines import last_comparison, load_baselines

	quick = [
		"--operations",
		"member_summary_uncached,cache_hit",
		"--runs",
		"6",
		"--rounds",
		"2",
		"--warmup",
		"1",
	]
	monkeypatch.setenv("PWD", str(tmp_path))  # the folder bench was run in
	made = invoke(["baselines", *quick, "--output", "b.json"])
	assert made.exit_code == 0, made.stderr
	written = load_baselines(tmp_path / "b.json")
	assert set(written["operations"]) == {"member_summary_uncached", "cache_hit"}
	assert written["environment"]["dataset"]["site"] == frappe.local.site
	assert "[2/2] measuring cache_hit ..." in made.stderr
	assert made.stdout.strip().splitlines()[-1].startswith("measured 2 of 2 operations on ")

	slow = json.loads(json.dumps(written))
	for op in slow["operations"].values():
		op["p50_ms"], op["noise"] = 1000.0, 0.0  # the baseline was far slower: this run improved
		op["rounds_ms"] = [[1000.0 + i for i, _t in enumerate(r)] for r in op["rounds_ms"]]
	(tmp_path / "slow.json").write_text(json.dumps(slow))
	better = invoke(["baselines", *quick, "--compare", "slow.json"])
	assert (
		better.exit_code == 0
		and "improved" in better.stdout
		and "0 regressions against slow.json" in better.stdout
	)

	fast = json.loads(json.dumps(written))
	for op in fast["operations"].values():
		op["p50_ms"], op["noise"] = 0.000001, 0.0  # the baseline was far faster: a regression
		op["rounds_ms"] = [[0.000001 for _t in r] for r in op["rounds_ms"]]
	(tmp_path / "fast.json").write_text(json.dumps(fast))
	worse = invoke(["baselines", *quick, "--compare", str(tmp_path / "fast.json"), "--json"])
	assert worse.exit_code == 1
	assert (
		"member_summary_uncached" in json.loads(worse.stdout)["comparison"]["regressions"]
	)  # ~ms: over any noise
	assert last_comparison(frappe_bridge.redis_client(), frappe_bridge.namespace())["ok"] is False

	assert "nope.json: no such file or folder" in one_line_error(
		invoke(["baselines", "--compare", "nope.json"]), 2
	)
	assert "unknown operation(s) teleport" in one_line_error(
		invoke(["baselines", "--operations", "teleport"]), 2
	)


def test_fieldcheck_needs_no_site_and_reads_paths_as_typed(monkeypatch):
	monkeypatch.setenv("PWD", str(FIXTURE_APP))
	found = invoke(["fieldcheck", "library/events.py", "--app", "."], sites=[])
	assert found.exit_code == 1, found.stderr
	assert (
		"library/events.py:6:23: FV001 `member_nme` is not a field or attribute of Library Member"
		in found.stdout
	)
	sarif = invoke(
		[
			"fieldcheck",
			str(FIXTURE_APP / "library" / "events.py"),
			"--app",
			str(FIXTURE_APP),
			"--format",
			"sarif",
		],
		sites=[],
	)
	assert json.loads(sarif.stdout)["runs"][0]["results"]
	clean = invoke(["fieldcheck", "library/hooks.py", "--app", "."], sites=[])
	assert clean.exit_code == 0, clean.stdout
	assert "no-such-folder: no such file or folder" in one_line_error(
		invoke(["fieldcheck", "no-such-folder"], sites=[]), 2
	)
	bad = invoke(["fieldcheck", "library", "--format", "xml"], sites=[])
	assert "Invalid value for '--format'" in one_line_error(bad, 2)
