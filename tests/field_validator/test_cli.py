"""The command line: exit status, formats, baseline, suppression, excludes, self-check."""

import json
import shutil
import subprocess
import sys

import pytest

from verenigingen.field_validator import main

from .paths import FIXTURE_APP, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "validation" / "production_field_validator.py"


def run(args, cwd, capsys, monkeypatch):
	monkeypatch.chdir(cwd)
	code = main([str(a) for a in args])
	out, err = capsys.readouterr()
	return code, out, err


def test_repository_passes_without_baseline():
	proc = subprocess.run(
		[sys.executable, str(SCRIPT)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
	)
	assert proc.returncode == 0, proc.stdout + proc.stderr
	assert proc.stdout.strip().startswith("0 finding(s)")


def test_findings_exit_1_with_text_output(capsys, monkeypatch):
	code, out, _ = run(["library/events.py", "--app", "."], FIXTURE_APP, capsys, monkeypatch)
	assert code == 1
	assert "library/events.py:6:23: FV001 `member_nme` is not a field or attribute of Library Member" in out


def test_clean_file_exits_0(capsys, monkeypatch):
	code, out, _ = run(["library/hooks.py", "--app", "."], FIXTURE_APP, capsys, monkeypatch)
	assert code == 0
	assert out.startswith("0 finding(s) in 1 file(s)")


@pytest.mark.parametrize(
	"args, message",
	[
		(["--app", "/nonexistent/app"], "no such folder"),
		(["does/not/exist.py", "--app", "."], "no such file or folder"),
		(["--format", "xml"], "invalid choice"),
		(["--baseline", "missing.json", "--app", "."], "cannot read baseline"),
	],
)
def test_usage_errors_exit_2(args, message, capsys, monkeypatch):
	code, out, err = run(args, FIXTURE_APP, capsys, monkeypatch)
	assert code == 2
	assert message in err


def test_folder_that_is_no_app_is_a_usage_error(tmp_path, capsys, monkeypatch):
	code, _, err = run(["--app", str(tmp_path)], tmp_path, capsys, monkeypatch)
	assert code == 2
	assert "not a Frappe app" in err


def test_json_format(capsys, monkeypatch):
	code, out, _ = run(
		["library/events.py", "--app", ".", "--format", "json"], FIXTURE_APP, capsys, monkeypatch
	)
	data = json.loads(out)
	assert code == 1
	assert data["files_checked"] == 1
	first = data["findings"][0]
	assert set(first) == {"path", "line", "column", "rule", "name", "doctype", "message", "suggestion"}
	assert first["suggestion"] == "member_name"


def test_sarif_format(capsys, monkeypatch):
	code, out, _ = run(
		["library/events.py", "--app", ".", "--format", "sarif"], FIXTURE_APP, capsys, monkeypatch
	)
	sarif = json.loads(out)
	assert code == 1
	assert sarif["version"] == "2.1.0"
	run_ = sarif["runs"][0]
	rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
	result = run_["results"][0]
	assert rule_ids[result["ruleIndex"]] == result["ruleId"] == "FV001"
	region = result["locations"][0]["physicalLocation"]["region"]
	assert (region["startLine"], region["startColumn"]) == (6, 23)


def test_baseline_absorbs_old_findings_only(tmp_path, capsys, monkeypatch):
	app = tmp_path / "app"
	shutil.copytree(FIXTURE_APP, app)
	baseline = tmp_path / "baseline.json"
	code, _, _ = run(["library/events.py", "--write-baseline", baseline], app, capsys, monkeypatch)
	assert code == 0
	code, out, _ = run(["library/events.py", "--baseline", baseline], app, capsys, monkeypatch)
	assert code == 0, out
	events = app / "library" / "events.py"
	# A new misspelling, and old ones moved down by a line: only the new one is reported.
	source = events.read_text(encoding="utf-8")
	events.write_text("# moved\n" + source + "\n\ndef extra(doc, method=None):\n\tpass\n", encoding="utf-8")
	source = events.read_text(encoding="utf-8").replace(
		"doc.email = doc.email.strip()", "doc.email = doc.emali"
	)
	events.write_text(source, encoding="utf-8")
	code, out, _ = run(["library/events.py", "--baseline", baseline], app, capsys, monkeypatch)
	assert code == 1
	assert out.count(": FV") == 1
	assert "`emali`" in out


def test_malformed_baseline_is_a_usage_error(tmp_path, capsys, monkeypatch):
	baseline = tmp_path / "b.json"
	baseline.write_text('{"version": 1, "findings": [{"path": "x"}]}')
	code, _, err = run(
		["library/events.py", "--app", ".", "--baseline", baseline], FIXTURE_APP, capsys, monkeypatch
	)
	assert code == 2
	assert "malformed baseline entry" in err


def test_exclude_skips_files(capsys, monkeypatch):
	code, out, _ = run(
		["library", "--app", ".", "--exclude", "library/api.py", "--exclude", "library/library"],
		FIXTURE_APP,
		capsys,
		monkeypatch,
	)
	assert code == 1
	assert "api.py" not in out and "loan.js" not in out
	assert "events.py" in out


def test_script_runs_without_installing():
	proc = subprocess.run(
		[sys.executable, str(SCRIPT), "library/events.py", "--app", "."],
		cwd=FIXTURE_APP,
		capture_output=True,
		text=True,
		timeout=120,
	)
	assert proc.returncode == 1
	assert "FV001" in proc.stdout


# ---------------------------------------------------------------- files it cannot read or parse


def _script(*args, cwd):
	return subprocess.run(
		[sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120
	)


@pytest.fixture
def broken(tmp_path):
	"""An app whose files include one of each kind the validator cannot read or parse."""
	app = tmp_path / "app"
	shutil.copytree(FIXTURE_APP, app)
	lib = app / "library"
	(lib / "broken_syntax.py").write_text("import frappe\n\ndef f(:\n\tpass\n", encoding="utf-8")
	(lib / "latin1.py").write_bytes(b"# caf\xe9\nx = 1\n")
	(lib / "public" / "js" / "open.js").write_text(
		'frappe.ui.form.on("Loan", {\n\trefresh(frm) {\n\t\tfrm.doc.member;\n', encoding="utf-8"
	)
	(lib / "public" / "js" / "open_string.js").write_text('frappe.ui.form.on("Loan", { a: "\n});\n')
	return app


@pytest.mark.parametrize(
	("name", "message"),
	[
		("library/broken_syntax.py", "library/broken_syntax.py: cannot parse: line 3: invalid syntax"),
		("library/latin1.py", "library/latin1.py: cannot read: line 1: not UTF-8 (byte 0xe9)"),
		("library/public/js/open.js", "library/public/js/open.js: cannot parse: line 2: '{' is never closed"),
		("library/public/js/open_string.js", "cannot parse: unterminated string (line 1)"),
	],
)
def test_a_file_that_cannot_be_read_or_parsed_is_an_error(broken, name, message):
	proc = _script(name, "--app", ".", cwd=broken)
	assert proc.returncode == 2, proc.stdout + proc.stderr
	assert message in proc.stderr
	assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_whole_tree_with_broken_files_fails_naming_each(broken):
	proc = _script(".", "--app", ".", cwd=broken)
	assert proc.returncode == 2
	assert proc.stderr.count("production_field_validator: error: ") == 4
	assert "4 file(s) could not be read or parsed" in proc.stderr


def test_skip_unparseable_lists_them_and_checks_the_rest(broken):
	proc = _script(".", "--app", ".", "--skip-unparseable", cwd=broken)
	assert proc.returncode == 1  # the fixture app's own findings
	assert proc.stdout.count("skipped: ") == 4
	assert "FV001 `member_nme`" in proc.stdout


def test_write_baseline_into_a_missing_folder_fails_before_the_scan(tmp_path):
	target = tmp_path / "missing" / "b.json"
	proc = _script("--app", ".", "--write-baseline", target, cwd=FIXTURE_APP)
	assert proc.returncode == 2
	assert proc.stderr.strip() == (
		f"production_field_validator: error: --write-baseline {target}: the folder {target.parent} does not exist"
	)
	assert not target.parent.exists()


def test_help_is_h():
	proc = _script("-h", cwd=FIXTURE_APP)
	assert proc.returncode == 0 and "--skip-unparseable" in proc.stdout and "Exit status" in proc.stdout


def test_virtual_environments_are_not_walked(tmp_path):
	"""CI keeps a virtual environment in the checkout; packages in it ship files that do not parse."""
	app = tmp_path / "app"
	shutil.copytree(FIXTURE_APP, app)
	venv = app / ".ci-venv-frappe-v15"
	(venv / "lib").mkdir(parents=True)
	(venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
	(venv / "lib" / "py2_only.py").write_text("print 'hello'\n")
	whole = _script(".", "--app", ".", cwd=app)
	assert whole.returncode == 1, whole.stderr  # the fixture app's own findings, nothing else
	assert "py2_only" not in whole.stdout + whole.stderr
