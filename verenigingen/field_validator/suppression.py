"""Line suppressions: ``# fieldcheck: ignore[FV001]`` (Python) or ``// fieldcheck: ignore[FV101]`` (JS).

Without a rule list (``# fieldcheck: ignore``) every rule is suppressed on that line.
"""

import re

from .findings import Finding

_MARK = re.compile(r"(?:#|//|/\*)\s*fieldcheck:\s*ignore(?:\[([A-Za-z0-9_,\s]*)\])?")


def suppressed_rules(line: str) -> set[str] | None:
	"""Rules suppressed on this line; an empty set means all rules, None means none."""
	match = _MARK.search(line)
	if match is None:
		return None
	if match.group(1) is None:
		return set()
	return {rule.strip() for rule in match.group(1).split(",") if rule.strip()}


def apply_suppressions(findings: list[Finding], lines: list[str]) -> list[Finding]:
	"""The findings not suppressed by a marker on their line."""
	kept = []
	for finding in findings:
		line = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
		rules = suppressed_rules(line)
		if rules is None or (rules and finding.rule not in rules):
			kept.append(finding)
	return kept
