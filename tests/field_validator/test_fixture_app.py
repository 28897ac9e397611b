"""The labelled corpus: the validator reports exactly the findings marked ``expect:``."""

import re
from collections import Counter
from pathlib import Path

from verenigingen.field_validator import check_files, collect_files

from .paths import FIXTURE_APP

_EXPECT = re.compile(r"(?:#|//)\s*expect:\s*([A-Z0-9, ]+)")


def expected_findings() -> Counter:
	expected: Counter = Counter()
	for path in collect_files([FIXTURE_APP]):
		rel = path.relative_to(FIXTURE_APP).as_posix()
		for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
			if match := _EXPECT.search(line):
				for rule in match.group(1).split(","):
					expected[(rel, number, rule.strip())] += 1
	return expected


def test_reports_exactly_the_marked_findings(fixture_schema):
	result = check_files(fixture_schema, collect_files([FIXTURE_APP]), FIXTURE_APP)
	found = Counter((f.path, f.line, f.rule) for f in result.findings)
	expected = expected_findings()
	assert result.errors == []
	assert sorted((found - expected).elements()) == [], "false alarms"
	assert sorted((expected - found).elements()) == [], "missed findings"
	assert sum(expected.values()) >= 60


def test_corpus_marks_tempting_non_findings():
	ok_lines = 0
	for path in collect_files([FIXTURE_APP]):
		ok_lines += sum(
			1 for line in path.read_text(encoding="utf-8").splitlines() if re.search(r"(#|//) ok\b", line)
		)
	assert ok_lines >= 60


def test_findings_carry_doctype_position_and_suggestion(fixture_schema):
	path = FIXTURE_APP / "library" / "events.py"
	result = check_files(fixture_schema, [path], FIXTURE_APP)
	first = next(f for f in result.findings if f.name == "member_nme")
	line = path.read_text(encoding="utf-8").splitlines()[first.line - 1]
	assert line[first.column - 1 :].startswith("member_nme")
	assert first.doctype == "Library Member"
	assert first.suggestion == "member_name"
	assert "did you mean `member_name`" in first.message


def test_js_positions_point_at_the_name(fixture_schema):
	path = FIXTURE_APP / "library" / "library" / "doctype" / "loan" / "loan.js"
	result = check_files(fixture_schema, [path], FIXTURE_APP)
	lines = path.read_text(encoding="utf-8").splitlines()
	assert result.findings
	for finding in result.findings:
		assert lines[finding.line - 1][finding.column - 1 :].lstrip("\"'").startswith(finding.name)


def test_fixture_paths_are_relative(fixture_schema):
	result = check_files(fixture_schema, collect_files([FIXTURE_APP]), FIXTURE_APP)
	assert all(not Path(f.path).is_absolute() for f in result.findings)
