"""The main job's command line: clear errors for bad input, and the seed step on a small dataset."""

import re

import pytest

from verenigingen.showcase.__main__ import main, parse_args

from .conftest import db_settings, redis_settings


@pytest.mark.parametrize(
	("argv", "message"),
	[
		(["--members", "0"], "--members must be at least 1"),
		(["--steps", "seed,nope"], "unknown step(s) nope"),
		(["--database", "bad;name"], "database 'bad;name' is not allowed"),
	],
)
def test_bad_arguments_are_refused_with_the_reason(argv, message, capsys):
	with pytest.raises(SystemExit) as exc:
		parse_args(argv)
	assert exc.value.code == 2
	assert message in capsys.readouterr().err


def test_seed_step_creates_and_reports_the_dataset(scratch_databases, capsys, tmp_path, monkeypatch):
	monkeypatch.chdir(tmp_path)  # the main job saves its results in reports/ of the current folder
	name = f"vtest_{scratch_databases.run_id}_showcase"
	scratch_databases.created.append(name)  # dropped at the end of the session
	s = db_settings()
	r = redis_settings()
	argv = ["--members", "40", "--database", name, "--steps", "seed", "--host", s["host"], "--port", str(s["port"]),
		"--user", s["user"], "--password", s["password"], "--redis-host", r["host"], "--redis-port", str(r["port"])]  # fmt: skip
	assert main(argv) == 0
	out = capsys.readouterr().out
	assert "Seeding 40 members" in out
	assert re.search(r"^Member +40$", out, re.M)
	assert (tmp_path / "reports" / "showcase-results.json").exists()


def test_unreachable_database_exits_2_with_a_message(capsys):
	assert main(["--port", "1", "--steps", "seed"]) == 2
	assert "cannot connect to MariaDB" in capsys.readouterr().err
