"""scripts/performance/establish_baselines.py run as a user would (a subprocess): bad input and a
missing service end it with one line and exit status 2 before anything is created or measured,
and a baselines file is only written where --output says, never over another dataset's file
without --force."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import db_settings
from .ownredis import closed_port

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "performance" / "establish_baselines.py"
QUICK = ["--runs", "2", "--rounds", "1", "--warmup", "0", "--operations", "member_by_email", "--no-redis"]


def run(*args, cwd=None):
	s = db_settings()
	conn = ["-H", s["host"], "-P", str(s["port"]), "-u", s["user"], "-p", s["password"]]
	return subprocess.run(
		[sys.executable, str(SCRIPT), *conn, *map(str, args)],
		capture_output=True,
		text=True,
		timeout=300,
		cwd=cwd,
	)


@pytest.fixture
def database(scratch_databases):
	"""A database name of this run (dropped at the end of the session if a run created it)."""
	name = f"vtest_{scratch_databases.run_id}_bls_{len(scratch_databases.created)}"
	scratch_databases.created.append(name)
	return name


def exists(scratch_databases, name: str) -> bool:
	rows = scratch_databases.admin.sql(
		"SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,)
	)
	return bool(rows)


def one_line_error(proc) -> str:
	assert proc.returncode == 2, proc.stdout + proc.stderr
	assert "Traceback" not in proc.stderr
	lines = proc.stderr.strip().splitlines()
	assert len(lines) == 1, proc.stderr
	assert proc.stdout == ""
	return lines[0]


def test_redis_down_is_one_line_and_creates_nothing(database, scratch_databases):
	proc = run("--members", "50", "--database", database, "--redis-port", closed_port())
	assert one_line_error(proc).startswith("error: Redis is not reachable at 127.0.0.1:")
	assert not exists(scratch_databases, database)


def test_site_outside_a_bench_is_one_line():
	assert one_line_error(run("--site", "site1.local")).startswith("error: --site needs Frappe")


def test_output_into_a_missing_folder_fails_before_measuring(database, scratch_databases, tmp_path):
	target = tmp_path / "missing" / "out.json"
	line = one_line_error(run("--members", "50", "--database", database, "--output", target, *QUICK))
	assert line == f"error: --output {target}: the folder {target.parent} does not exist"
	assert not exists(scratch_databases, database)
	report = tmp_path / "nope" / "r.txt"
	line = one_line_error(run("--members", "50", "--database", database, "--report", report, *QUICK))
	assert "--report" in line and not exists(scratch_databases, database)


def test_another_datasets_baselines_are_not_replaced_without_force(database, tmp_path):
	committed = tmp_path / "performance_baselines.json"
	shutil.copy(ROOT / "performance_baselines.json", committed)
	before = committed.read_bytes()
	line = one_line_error(run("--members", "50", "--database", database, "--output", committed, *QUICK))
	assert line == (
		f"error: --output {committed} holds baselines of another dataset (members 100000 there, 50 here); "
		"pass --force to replace it"
	)
	assert committed.read_bytes() == before

	forced = run("--members", "50", "--database", database, "--output", committed, "--force", *QUICK)
	assert forced.returncode == 0, forced.stderr
	data = json.loads(committed.read_text())
	assert data["environment"]["dataset"]["members"] == 50
	again = run("--members", "50", "--database", database, "--reuse", "--output", committed, *QUICK)
	assert again.returncode == 0, again.stderr  # the same dataset: measured again, no --force needed
	assert "seeding" not in again.stderr


def test_without_output_nothing_is_written(database, tmp_path):
	proc = run("--members", "50", "--database", database, *QUICK, cwd=tmp_path)
	assert proc.returncode == 0, proc.stderr
	assert "not written: pass --output FILE" in proc.stderr
	assert "member_by_email" in proc.stdout
	assert list(tmp_path.iterdir()) == []
	assert (ROOT / "performance_baselines.json").read_text().count('"members": 100000') == 1


def test_help_shows_defaults():
	proc = subprocess.run([sys.executable, str(SCRIPT), "-h"], capture_output=True, text=True, timeout=60)
	assert proc.returncode == 0
	assert "(default: 100000)" in proc.stdout and "-H HOST, --host HOST" in proc.stdout
	assert "(default: not written)" in proc.stdout
