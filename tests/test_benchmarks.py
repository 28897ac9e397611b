"""Every benchmark runs to the end and exits on its own (tiny sizes; no figure is asserted)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

BENCHMARKS = ROOT / "benchmarks"
EXIT_LIMIT = 120  # seconds a tiny run may take before it counts as never ending


def _args(name: str, database: str) -> list[str]:
	"""Command-line arguments of a run small enough for the test suite."""
	return {
		"bench_advisor.py": ["--orders", "3000", "--statements", "40", "--apply", "--database", database],
		"bench_cache.py": [
			"--samples", "20", "--entries", "100", "--members", "30", "--uncached-samples", "3",
			"--database", database,
		],
		"bench_cache_freshness.py": ["--samples", "20", "--database", database],
		"bench_field_validator.py": ["--files", "6", "--doctypes", "2"],
		"bench_indexes.py": ["--members", "60", "--repeats", "1", "--database", database],
		"bench_jobs.py": ["--jobs", "8", "--workers", "1", "--rounds", "1"],
		"bench_monitoring.py": ["--requests", "30", "--minutes", "10", "--database", database],
		"bench_profiler.py": ["--members", "60", "--repeats", "2", "--database", database],
	}[name]  # fmt: skip


def _benchmarks() -> list[str]:
	return sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))


def test_every_benchmark_has_a_tiny_run():
	for name in _benchmarks():
		assert _args(name, "x") is not None


def _database_exists(admin, name: str) -> bool:
	return bool(admin.sql("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,)))


@pytest.mark.parametrize("name", _benchmarks())
def test_the_benchmark_ends_on_its_own(name, scratch_databases):
	database = scratch_databases.name(f"bench_{Path(name).stem.removeprefix('bench_')}")
	env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
	try:
		done = subprocess.run(
			[sys.executable, str(BENCHMARKS / name), *_args(name, database)],
			cwd=ROOT,
			env=env,
			capture_output=True,
			text=True,
			timeout=EXIT_LIMIT,
		)
	except subprocess.TimeoutExpired as exc:  # run() has killed it by now
		out = exc.stdout or b""
		out = out.decode(errors="replace") if isinstance(out, bytes) else out
		pytest.fail(f"{name} did not exit within {EXIT_LIMIT} s; last output:\n{out[-2000:]}")
	assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
	assert done.stdout.strip(), f"{name} printed nothing"
	if name in ("bench_advisor.py", "bench_indexes.py", "bench_monitoring.py", "bench_profiler.py"):
		assert not _database_exists(scratch_databases.admin, database), f"{name} left {database} behind"
