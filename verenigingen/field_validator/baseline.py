"""Baselines: record today's findings so an existing app fails only on new ones.

A finding is matched by file, rule, DocType, name and the text of its line (not the line
number), so edits elsewhere in the file do not break the match. Each baseline entry absorbs
as many findings as it counts.
"""

import json
from collections import Counter
from pathlib import Path

from .errors import ValidatorUsageError
from .findings import Finding

BASELINE_VERSION = 1


def finding_key(finding: Finding, line_text: str) -> tuple[str, str, str, str, str]:
	return (finding.path, finding.rule, finding.doctype, finding.name, line_text.strip())


def _line_text(finding: Finding, lines_by_path: dict[str, list[str]], root: Path | None) -> str:
	lines = lines_by_path.get(finding.path)
	if lines is None:
		path = Path(finding.path)
		if root is not None and not path.is_absolute():
			path = root / path
		try:
			lines = path.read_text(encoding="utf-8").splitlines()
		except (OSError, UnicodeDecodeError):
			lines = []
		lines_by_path[finding.path] = lines
	return lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""


def write_baseline(path: str | Path, findings: list[Finding], root: Path | None = None) -> None:
	"""Write the findings as a baseline file; finding paths are relative to ``root`` (default: cwd)."""
	cache: dict[str, list[str]] = {}
	counts = Counter(finding_key(f, _line_text(f, cache, root)) for f in findings)
	entries = [
		{"path": k[0], "rule": k[1], "doctype": k[2], "name": k[3], "line_text": k[4], "count": n}
		for k, n in sorted(counts.items())
	]
	Path(path).write_text(json.dumps({"version": BASELINE_VERSION, "findings": entries}, indent=1) + "\n")


def read_baseline(path: str | Path) -> Counter:
	try:
		data = json.loads(Path(path).read_text(encoding="utf-8"))
	except (OSError, ValueError) as exc:
		raise ValidatorUsageError(f"cannot read baseline {path}: {exc}") from exc
	if (
		not isinstance(data, dict)
		or data.get("version") != BASELINE_VERSION
		or not isinstance(data.get("findings"), list)
	):
		raise ValidatorUsageError(f"{path} is not a field validator baseline (version {BASELINE_VERSION})")
	counts: Counter = Counter()
	for entry in data["findings"]:
		try:
			key = (entry["path"], entry["rule"], entry["doctype"], entry["name"], entry["line_text"])
			counts[key] += int(entry.get("count", 1))
		except (KeyError, TypeError, ValueError) as exc:
			raise ValidatorUsageError(f"{path}: malformed baseline entry {entry!r}") from exc
	return counts


def filter_baseline(findings: list[Finding], baseline: Counter, root: Path | None = None) -> list[Finding]:
	"""The findings the baseline does not account for (finding paths relative to ``root``)."""
	remaining = Counter(baseline)
	cache: dict[str, list[str]] = {}
	new = []
	for finding in findings:
		key = finding_key(finding, _line_text(finding, cache, root))
		if remaining[key] > 0:
			remaining[key] -= 1
		else:
			new.append(finding)
	return new
