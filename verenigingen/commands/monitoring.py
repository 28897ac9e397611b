"""``bench --site SITE verenigingen monitoring summary|snapshot`` and ``... readiness``: the score,
bottlenecks and alerts of ``verenigingen.api.monitoring``, the five-minute snapshot of
``verenigingen.monitoring``, and the readiness check of ``verenigingen.api.readiness``."""

import click

from .base import in_site, json_option, print_json
from .output import plural, table


@click.group("monitoring")
def monitoring():
	"""The site's performance score, bottlenecks and snapshots."""


@monitoring.command("summary")
@json_option
@in_site
def summary(as_json):
	"""The performance score, its components (and those without data), bottlenecks and open alerts."""
	from verenigingen.api.monitoring import get_performance_summary

	data = get_performance_summary()
	if as_json:
		return print_json(data)
	if not data["enabled"]:
		return click.echo(
			f"monitoring is {data['activation']} (activation level {data['activation_level']}): {data['message']}"
		)
	_print_summary(data)


def _print_summary(data: dict) -> None:
	rows = [[name, f"{c['score'] * 100:.0f}", f"{c['weight']:.2f}"] for name, c in data["components"].items()]
	rows += [[name, "no data", reason] for name, reason in data["missing"].items()]
	click.echo(table(["component", "score", "weight / why not scored"], rows, right=(1,)))
	if data["bottlenecks"]:
		click.echo("\n" + table(
			["bottleneck", "subject", "severity", "recommendation"],
			[[b["rule"], b["subject"], b["severity"], b["recommendation"]] for b in data["bottlenecks"]],
		))  # fmt: skip
	if data["open_alerts"]:
		click.echo("\n" + table(
			["open alert", "severity", "value", "threshold", "since"],
			[[a["metric"], a["severity"], f"{a['value']:g}", f"{a['threshold']:g}", a["first_seen"]] for a in data["open_alerts"]],
			right=(2, 3),
		))  # fmt: skip
	score = "not measured (no component has data)" if data["score"] is None else f"{data['score']:.1f}/100"
	click.echo(
		f"\nscore {score} over the last {data['window_minutes']} min; {plural(len(data['bottlenecks']), 'bottleneck')}, "
		f"{plural(len(data['open_alerts']), 'open alert')}; monitoring level {data['activation_level']} ({data['activation']})"
	)


@monitoring.command("snapshot")
@json_option
@in_site
def snapshot(as_json):
	"""Store a Performance Snapshot now, as the five-minute job does (alerts evaluated from level 3)."""
	from verenigingen.monitoring import snapshot as take

	data = take()
	if as_json:
		return print_json(data)
	if not data.get("name"):
		return click.echo(f"no snapshot stored: {data.get('skipped')}")
	_print_summary({**data["summary"]})
	alerts = data.get("alerts") or {}
	changes = ", ".join(
		f"{plural(len(alerts.get(k) or []), 'alert')} {k}" for k in ("opened", "resolved") if alerts.get(k)
	)
	click.echo(f"stored Performance Snapshot {data['name']}" + (f"; {changes}" if changes else ""))


@click.command("readiness")
@json_option
@in_site
def readiness(as_json):
	"""Probe the site's cache, invalidation, jobs, database, monitoring and baselines for real; the
	app's code audit (guarded, typed APIs) is shown apart, without weight."""
	from verenigingen.api.readiness import validate_performance_infrastructure

	data = validate_performance_infrastructure()
	if as_json:
		return print_json(data)
	rows = [
		[
			c["component"],
			c["status"],
			data["weights"][c["component"]],
			_evidence(c["evidence"]),
			c["recommendation"] or "-",
		]
		for c in data["components"]
	]
	click.echo(table(["component", "status", "weight", "evidence", "recommendation"], rows, right=(2,)))
	audit = data.get("code_audit")
	if audit:
		click.echo(
			f"\ncode audit (the app's code, the same on every site; no weight): {audit['status']}"
			f" - {_evidence(audit['evidence'])}"
		)
	counts = ", ".join(f"{n} {status}" for status, n in data["counts"].items() if n)
	verdict = "ready" if data["ready"] else "NOT ready"
	click.echo(f"\nreadiness {data['score']:.1f}/100: {verdict} ({counts})")


def _evidence(evidence: dict, limit: int = 70) -> str:
	text = "; ".join(f"{k}={v}" for k, v in evidence.items() if not isinstance(v, dict | list))
	return text if len(text) <= limit else text[: limit - 3] + "..."
