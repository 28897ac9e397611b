"""The bench commands on a real Frappe v15 site, through ``bench`` itself (one subprocess per command).

Run with a bench that has the app installed, the ``bench`` CLI on PATH, and its site::

    PATH=/path/to/bench-cli/bin:$PATH python3 -m pytest tests/test_commands_bench.py \\
        --bench-path /path/to/frappe-bench --frappe-site SITE

Skipped without --bench-path and --frappe-site. The tests give the site's database a small
generated association (once, if it has no members), roll the index catalogs back and apply them
again (they end applied), store a Performance Snapshot and record a baselines comparison.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.shell

SEPA = ("idx_payment_sepa_batch", "idx_mandate_status_expiry")


class Bench:
	def __init__(self, path: Path, site: str, cli: str):
		self.path, self.site, self.cli = path, site, cli

	def command(self, *args, site: bool = True) -> list[str]:
		return [self.cli, *(["--site", self.site] if site else []), *[str(a) for a in args]]

	def env(self, cwd: Path) -> dict:
		return {**os.environ, "PWD": str(cwd)}  # as a shell sets it: the folder bench was run in

	def run(self, *args, site: bool = True, cwd: Path | None = None, timeout: float = 300):
		cwd = cwd or self.path
		return subprocess.run(
			self.command(*args, site=site), cwd=cwd, env=self.env(cwd), capture_output=True, text=True,
			timeout=timeout,
		)  # fmt: skip

	def v(self, *args, **kwargs):
		return self.run("verenigingen", *args, **kwargs)

	def json(self, *args):
		done = self.v(*args, "--json")
		assert done.returncode == 0, done.stderr
		return json.loads(done.stdout)

	def config(self) -> dict:
		sites = self.path / "sites"
		common = json.loads((sites / "common_site_config.json").read_text())
		return {**common, **json.loads((sites / self.site / "site_config.json").read_text())}

	def database(self, **options):
		from verenigingen.performance.db import PyMySQLDatabase

		c = self.config()
		return PyMySQLDatabase(
			c.get("db_host") or "127.0.0.1", int(c.get("db_port") or 3306), c.get("db_user") or c["db_name"],
			c["db_password"], c["db_name"], **options,
		)  # fmt: skip


@pytest.fixture(scope="module")
def bench(request):
	path, site = request.config.getoption("--bench-path"), request.config.getoption("--frappe-site")
	if not path or not site:
		pytest.skip("needs a real bench: --bench-path BENCH --frappe-site SITE")
	cli = shutil.which("bench")
	if cli is None:
		pytest.skip("the bench CLI is not on PATH")
	return Bench(Path(path).resolve(), site, cli)


@pytest.fixture(scope="module")
def seeded(bench):
	"""The site's database holds a small association (generated once), with fresh table statistics."""
	from verenigingen.performance.dataset import generate_dataset

	db = bench.database()
	try:
		if not db.sql("SELECT COUNT(*) FROM `tabMember`")[0][0]:
			generate_dataset(db, members=200, seed=9, progress=False)
		for table in ("tabMember", "tabMember Payment", "tabSEPA Mandate", "tabChapter Member"):
			db.sql(f"ANALYZE TABLE `{table}`")
		db.commit()
	finally:
		db.close()
	return bench


def one_line_error(done, code: int = 1, *, after_progress: bool = False) -> str:
	assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
	lines = done.stderr.strip().splitlines()
	if after_progress:
		assert [line for line in lines if line.startswith("Error:")] == lines[-1:], done.stderr
	else:
		assert len(lines) == 1, done.stderr
	return lines[-1]


def last_line(done) -> str:
	assert done.returncode == 0, (done.stdout, done.stderr)
	return done.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------- discovery and the site


def test_bench_help_lists_the_verenigingen_group(bench):
	listed = bench.run("--help", site=False)
	assert listed.returncode == 0, listed.stderr
	assert any(line.split()[:1] == ["verenigingen"] for line in listed.stdout.splitlines()), listed.stdout
	group = bench.run("verenigingen", "--help", site=False)
	for name in ("indexes", "cache", "jobs", "monitoring", "readiness", "baselines", "fieldcheck"):
		assert f"  {name} " in group.stdout


def test_read_commands_print_a_table_and_the_api_data_as_json(seeded):
	bench = seeded
	status = bench.json("indexes", "status")
	api = bench.run(
		"execute", "verenigingen.api.indexes.database_index_manager_api", "--kwargs", "{'action': 'status'}"
	)
	assert api.returncode == 0, api.stderr
	assert status == json.loads(api.stdout.strip().splitlines()[-1])  # what the API returns, as JSON
	assert last_line(bench.v("indexes", "status")).startswith("catalog all on ")
	assert last_line(bench.v("cache", "stats")).startswith("cache of ")
	assert set(bench.json("cache", "stats")) >= {"namespace", "totals", "levels", "functions"}
	assert last_line(bench.v("jobs", "status")).endswith(("ago", "never"))
	assert set(bench.json("jobs", "status")["priorities"]) == {"critical", "high", "normal", "low", "bulk"}
	summary = bench.json("monitoring", "summary")
	assert summary["enabled"] is True and "components" in summary
	assert last_line(bench.v("monitoring", "summary")).startswith("score ")
	readiness = bench.json("readiness")
	assert len(readiness["components"]) == 6 and 0 <= readiness["score"] <= 100
	assert readiness["code_audit"]["weight"] == 0
	assert last_line(bench.v("readiness")).startswith("readiness ")


def test_the_default_site_and_bad_input(bench):
	default = bench.config().get("default_site")
	if default == bench.site:
		stats = bench.run("verenigingen", "cache", "stats", "--json", site=False)  # no --site: the default
		assert stats.returncode == 0, stats.stderr
	missing = bench.run("--site", "no-such-site.localhost", "verenigingen", "readiness", site=False)
	assert one_line_error(missing) == "Error: site 'no-such-site.localhost' does not exist in this bench"
	assert "no job 'no-such-job'" in one_line_error(bench.v("jobs", "status", "no-such-job"))
	assert "unknown index catalog 'fast'" in one_line_error(bench.v("indexes", "plan", "--catalog", "fast"))
	assert "no-such.json: no such file or folder" in one_line_error(
		bench.v("baselines", "--compare", "no-such.json"), 2
	)
	assert one_line_error(bench.v("jobs", "cancel"), 2) == "Error: Missing argument 'JOB_ID'."
	# the site's own database user may not read mysql.slow_log: said so, nothing measured
	assert "cannot read the site's slow log" in one_line_error(bench.v("indexes", "suggest"))


# ---------------------------------------------------------------- index DDL in the foreground


def _wait_for_alter_on_lock(watcher, table: str, timeout: float = 60) -> None:
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		rows = watcher.sql(
			"SELECT state FROM information_schema.processlist WHERE info LIKE %s",
			(f"ALTER TABLE `{table}`%",),
		)
		if any("metadata lock" in (r[0] or "") for r in rows):
			return
		time.sleep(0.05)
	raise AssertionError(f"no ALTER TABLE on {table} waited for the metadata lock")


def _state(bench, catalog: str = "sepa") -> dict:
	return {
		i["index"]: (i["state"], i["last_change"])
		for i in bench.json("indexes", "status", "--catalog", catalog)["indexes"]
	}


def test_apply_and_rollback_in_the_foreground_and_ctrl_c_leaves_tables_and_log_in_agreement(seeded):
	bench = seeded
	back = bench.json("indexes", "rollback")  # the catalogs install-app applied (or an earlier run)
	assert all(o["action"] in ("dropped", "skipped") for o in back)
	assert last_line(bench.v("indexes", "plan", "--catalog", "sepa")) == "2 indexes to create (catalog sepa)"
	refused = bench.v("indexes", "apply", "--catalog", "sepa", "--confirm-rows", "10")
	assert "over 10 rows" in one_line_error(refused) and "--yes" in refused.stderr

	holder = bench.database()
	watcher = bench.database(autocommit=True)
	holder.sql("SELECT COUNT(*) FROM `tabSEPA Mandate`")  # an open transaction: the second ALTER waits
	proc = subprocess.Popen(
		bench.command("verenigingen", "indexes", "apply", "--catalog", "sepa", "--yes", "--confirm-rows", "10", "--repeats", "0"),
		cwd=bench.path, env=bench.env(bench.path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
	)  # fmt: skip
	try:
		_wait_for_alter_on_lock(watcher, "tabSEPA Mandate")
		proc.send_signal(signal.SIGINT)  # Ctrl-C
		out, err = proc.communicate(timeout=120)
	finally:
		holder.rollback()
		holder.close()
		watcher.close()
		if proc.poll() is None:
			proc.kill()
	done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
	message = one_line_error(done, 130, after_progress=True)
	assert message.startswith(
		"Error: interrupted: adding idx_mandate_status_expiry to tabSEPA Mandate failed"
	)
	assert "Query execution was interrupted" in message
	state = _state(bench)
	assert state["idx_payment_sepa_batch"][0] == "missing"  # added, then dropped again
	assert state["idx_payment_sepa_batch"][1]["action"] == "Rollback"
	assert state["idx_mandate_status_expiry"][0] == "missing"  # the stopped ALTER added nothing
	assert state["idx_mandate_status_expiry"][1]["outcome"] == "Failed"
	assert bench.json("indexes", "rollback", "--dry-run") == []  # the log claims no index of this run

	applied = bench.v(
		"indexes", "apply", "--catalog", "all", "--yes", "--confirm-rows", "10", "--repeats", "3"
	)
	assert applied.returncode == 0, applied.stderr
	assert "[1/8] adding " in applied.stderr  # progress, one line per index off a terminal
	assert "too small for a difference to show" in applied.stdout  # 200 members: no ratio claimed
	assert last_line(applied).startswith("added 8 indexes in ")
	assert {s for s, _ in _state(bench, "all").values()} == {"present", "not applicable"}
	assert last_line(bench.v("indexes", "status")).endswith("healthy (2 not applicable, 8 present)")


# ---------------------------------------------------------------- cache, jobs, monitoring, baselines


@pytest.fixture
def folder_in_bench(bench):
	"""A scratch folder inside the bench (bench runs only from within one), removed afterwards."""
	path = Path(tempfile.mkdtemp(prefix="verenigingen-test-", dir=bench.path))
	yield path
	shutil.rmtree(path)


def test_cache_jobs_monitoring_and_baselines(seeded, folder_in_bench):
	bench = seeded
	tmp_path = folder_in_bench
	assert bench.v("cache", "clear").stdout.strip() == "cleared every entry of the app cache"
	assert bench.json("cache", "clear")["applied_now"] is True
	reconciled = bench.json("jobs", "reconcile")
	assert reconciled["load_control"] in ("on", "off") and "dispatched" in reconciled
	snap = bench.json("monitoring", "snapshot")
	db = bench.database()
	try:
		assert (
			db.sql("SELECT COUNT(*) FROM `tabPerformance Snapshot` WHERE name=%s", (snap["name"],))[0][0] == 1
		)
	finally:
		db.close()

	quick = [
		"--operations",
		"member_summary_uncached,cache_hit",
		"--runs",
		"10",
		"--rounds",
		"2",
		"--warmup",
		"2",
	]
	made = bench.v("baselines", *quick, "--output", "b.json", cwd=tmp_path)  # relative to where bench ran
	assert made.returncode == 0, made.stderr
	assert "[2/2] measuring cache_hit ..." in made.stderr
	assert last_line(made).startswith(f"measured 2 of 2 operations on {bench.site} in ")
	written = json.loads((tmp_path / "b.json").read_text())
	assert written["operations"]["member_summary_uncached"]["status"] == "measured"
	for op in written["operations"].values():
		op["p50_ms"], op["noise"] = 0.000001, 0.0  # a baseline far faster than anything: a regression
		op["rounds_ms"] = [[0.000001 for _t in r] for r in op.get("rounds_ms") or [[0]]]
	(tmp_path / "fast.json").write_text(json.dumps(written))
	worse = bench.v("baselines", *quick, "--compare", str(tmp_path / "fast.json"))
	assert worse.returncode == 1, worse.stderr
	assert "REGRESSION" in worse.stdout
	line = worse.stdout.strip().splitlines()[-1]
	assert "regression" in line and f"against {tmp_path / 'fast.json'}" in line


def test_fieldcheck_through_bench_needs_no_site(bench):
	app = bench.path / "apps" / "verenigingen"
	fixture = app / "tests" / "field_validator" / "fixture_app"
	found = bench.run(
		"verenigingen", "fieldcheck", "library/events.py", "--app", ".", site=False, cwd=fixture
	)
	assert found.returncode == 1, found.stderr
	assert (
		"library/events.py:6:23: FV001 `member_nme` is not a field or attribute of Library Member"
		in found.stdout
	)
	own = bench.run("verenigingen", "fieldcheck", "verenigingen", "--app", ".", site=False, cwd=app)
	assert own.returncode == 0, own.stdout + own.stderr
	assert own.stdout.strip().startswith("0 finding(s)")
	assert "no-such-folder: no such file or folder" in one_line_error(
		bench.run("verenigingen", "fieldcheck", "no-such-folder", site=False), 2
	)


def test_the_scripts_site_mode_runs_from_the_bench_folder(bench):
	python = bench.path / "env" / "bin" / "python"
	script = bench.path / "apps" / "verenigingen" / "scripts" / "database" / "create_sepa_indexes.py"
	done = subprocess.run(
		[str(python), str(script.relative_to(bench.path)), "--site", bench.site, "--dry-run"],
		cwd=bench.path, capture_output=True, text=True, timeout=300,
	)  # fmt: skip
	assert done.returncode == 0, done.stderr
	assert "Index plan for " in done.stdout
