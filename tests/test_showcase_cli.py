"""The main job (python -m verenigingen.showcase) run as a user would: a step that needs what
earlier steps measured reads the last saved results or refuses; a step that needs the demo data
refuses on a database never seeded; services are checked before anything is created; --help
lists the steps and the defaults."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import _delete_namespace, db_settings
from .ownredis import closed_port

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd):
	s = db_settings()
	conn = ["-H", s["host"], "-P", str(s["port"]), "-u", s["user"], "-p", s["password"]]
	env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
	return subprocess.run(
		[sys.executable, "-m", "verenigingen.showcase", *conn, *map(str, args)],
		capture_output=True, text=True, timeout=300, cwd=cwd, env=env,
	)  # fmt: skip


@pytest.fixture
def database(scratch_databases, redis_server_client):
	"""A demo database name of this test (dropped at the end of the session), its Redis keys removed."""
	name = f"vtest_{scratch_databases.run_id}_sc_{len(scratch_databases.created)}"
	scratch_databases.created.append(name)
	yield name
	_delete_namespace(redis_server_client, f"{name}-showcase")


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
	return lines[0]


FULL_REPORT = "<html>the full report of an earlier run</html>"


def test_report_alone_without_saved_results_refuses_and_keeps_the_report(database, tmp_path):
	(tmp_path / "reports").mkdir()
	(tmp_path / "reports" / "showcase.html").write_text(FULL_REPORT)
	line = one_line_error(run("--database", database, "--steps", "report", cwd=tmp_path))
	assert line.startswith("error: the report step needs what the other steps measured")
	assert (tmp_path / "reports" / "showcase.html").read_text() == FULL_REPORT


def test_report_alone_reports_the_last_saved_run(database, tmp_path, scratch_databases):
	first = run("--database", database, "--members", "40", "--steps", "seed,cache", cwd=tmp_path)
	assert first.returncode == 0, first.stderr
	saved = json.loads((tmp_path / "reports" / "showcase-results.json").read_text())
	assert saved["database"] == database and set(saved["results"]) == {"dataset", "cache", "step_seconds"}

	report = run("--database", database, "--steps", "report", cwd=tmp_path)
	assert report.returncode == 0, report.stderr
	assert "reported from the run saved at" in report.stdout
	page = (tmp_path / "reports" / "showcase.html").read_text()
	assert "Dataset: 40 members (seed 42)" in page
	assert "hits against computing" in page  # the cache step's figures, from the saved results

	# Another database's saved results are not used: it refuses instead of an empty report.
	line = one_line_error(run("--database", database + "x", "--steps", "report", cwd=tmp_path))
	assert "holds no results for database " + database + "x" in line
	assert "Dataset: 40 members" in (tmp_path / "reports" / "showcase.html").read_text()


@pytest.mark.parametrize("step", ["cache", "baseline_before", "monitoring"])
def test_steps_on_a_database_never_seeded_refuse(step, database, tmp_path, scratch_databases):
	line = one_line_error(run("--database", database, "--steps", step, cwd=tmp_path))
	assert line == (
		f"error: database {database} does not exist: run the seed step first (python -m "
		f"verenigingen.showcase --database {database} --steps seed, or without --steps)"
	)
	assert not exists(scratch_databases, database)


def test_a_database_with_no_members_is_not_seeded(scratch_databases, tmp_path):
	empty = scratch_databases.create("sc_empty")  # the app's tables, no rows
	name = empty.database_name
	empty.close()
	line = one_line_error(run("--database", name, "--steps", "cache", cwd=tmp_path))
	assert line.startswith(f"error: database {name} has not been seeded (no members)")


def test_redis_down_creates_no_database(database, tmp_path, scratch_databases):
	line = one_line_error(
		run("--database", database, "--members", "40", "--redis-port", closed_port(), cwd=tmp_path)
	)
	assert line.startswith("error: Redis is not reachable at 127.0.0.1:")
	assert not exists(scratch_databases, database)
	assert not (tmp_path / "reports").exists()


def test_help_lists_the_steps_and_the_defaults(tmp_path):
	proc = run("-h", cwd=tmp_path)
	assert proc.returncode == 0
	for name in ("seed", "baseline_before", "indexes", "baseline_after", "cache", "jobs", "monitoring",
		"readiness", "report"):  # fmt: skip
		assert f"\n  {name} " in proc.stdout
	assert "(default: 20000)" in proc.stdout and "(default: verenigingen_demo)" in proc.stdout
	assert "-H HOST, --host HOST" in proc.stdout
