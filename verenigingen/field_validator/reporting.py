"""Render findings as text, JSON or SARIF 2.1.0."""

import json

from .findings import RULES, Finding

FORMATS = ("text", "json", "sarif")
TOOL_NAME = "frappe-field-validator"
TOOL_URI = "https://github.com/verenigingen/verenigingen"


def render(findings: list[Finding], fmt: str, files_checked: int, errors: list[str]) -> str:
	if fmt == "text":
		return render_text(findings, files_checked, errors)
	if fmt == "json":
		return json.dumps(
			{"files_checked": files_checked, "errors": errors, "findings": [f.to_dict() for f in findings]},
			indent=1,
		)
	if fmt == "sarif":
		return json.dumps(render_sarif(findings, errors), indent=1)
	raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def render_text(findings: list[Finding], files_checked: int, errors: list[str]) -> str:
	lines = [f"{f.path}:{f.line}:{f.column}: {f.rule} {f.message} [{f.doctype}]" for f in findings]
	lines += [f"skipped: {e}" for e in errors]
	lines.append(f"{len(findings)} finding(s) in {files_checked} file(s) checked")
	return "\n".join(lines)


def render_sarif(findings: list[Finding], errors: list[str]) -> dict:
	rules = [
		{
			"id": rule_id,
			"name": name,
			"shortDescription": {"text": text},
			"defaultConfiguration": {"level": "error"},
		}
		for rule_id, (name, text) in sorted(RULES.items())
	]
	index = {rule_id: i for i, rule_id in enumerate(sorted(RULES))}
	results = [
		{
			"ruleId": f.rule,
			"ruleIndex": index[f.rule],
			"level": "error",
			"message": {"text": f.message},
			"locations": [
				{
					"physicalLocation": {
						"artifactLocation": {"uri": f.path},
						"region": {"startLine": f.line, "startColumn": f.column},
					}
				}
			],
			"properties": {"doctype": f.doctype, "name": f.name, "suggestion": f.suggestion},
		}
		for f in findings
	]
	run = {
		"tool": {"driver": {"name": TOOL_NAME, "informationUri": TOOL_URI, "rules": rules}},
		"results": results,
	}
	if errors:
		run["invocations"] = [
			{
				"executionSuccessful": True,
				"toolExecutionNotifications": [{"level": "warning", "message": {"text": e}} for e in errors],
			}
		]
	return {
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": [run],
	}
