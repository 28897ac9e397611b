"""Showcase step (the last): a self-contained HTML report of what the main job measured.

Inline SVG charts, no scripts or external files: p50 latency per operation before and after the
index catalogs (log scale, since a cache hit and a full scan differ by orders of magnitude), and
the readiness components with their weights. Everything shown comes from ``env.results``; a
figure a step did not measure is shown as not measured.
"""

import html
import math
from datetime import datetime, timezone
from pathlib import Path

from verenigingen.performance.baselines import speed_words

from .env import ShowcaseEnv, is_numeric_column
from .fmt import count, sig

OUTPUT = Path("reports") / "showcase.html"
STATUS_COLOURS = {"operational": "#2e7d32", "degraded": "#f9a825", "failed": "#c62828"}
BEFORE, AFTER = "#90a4ae", "#1565c0"


CONFIG_COLOURS = ("#90a4ae", "#1565c0", "#2e7d32", "#6a1b9a")


def _e(value) -> str:
	return html.escape(str(value))


class _Raw(str):
	"""A table cell that is already HTML."""


def _cell_text(value) -> str:
	if isinstance(value, bool) or value is None:
		return "-" if value is None else ("yes" if value else "no")
	if isinstance(value, int):
		return count(value)
	if isinstance(value, float):
		return sig(value)
	return str(value)


def html_table(headers: list[str], rows: list[list]) -> str:
	"""An HTML table: text left-aligned, numeric columns right-aligned, numbers to 3 significant digits."""
	texts = [[c if isinstance(c, _Raw) else _cell_text(c) for c in row] for row in rows]
	right = [
		is_numeric_column([r[i] for r in texts if not isinstance(r[i], _Raw)]) for i in range(len(headers))
	]
	head = "".join(f'<th class="{"num" if right[i] else "txt"}">{_e(h)}</th>' for i, h in enumerate(headers))
	body = "".join(
		"<tr>"
		+ "".join(
			f'<td class="{"num" if right[i] else "txt"}">{c if isinstance(c, _Raw) else _e(c)}</td>'
			for i, c in enumerate(row)
		)
		+ "</tr>"
		for row in texts
	)
	return f"<table><tr>{head}</tr>{body}</table>"


def _flatten(value, prefix: str = "") -> list[tuple[str, object]]:
	if isinstance(value, dict) and value:
		out: list[tuple[str, object]] = []
		for k, v in value.items():
			out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
		return out
	if isinstance(value, dict):
		return [(prefix, "-")]
	if isinstance(value, list | tuple):
		parts = [
			"; ".join(f"{k}={_cell_text(v)}" for k, v in _flatten(item))
			if isinstance(item, dict)
			else _cell_text(item)
			for item in value
		]
		return [(prefix, ", ".join(parts) or "-")]
	return [(prefix, value)]


def key_values(data: dict) -> str:
	"""Nested plain data as "key: value" lines (dotted keys), numbers to 3 significant digits."""
	pairs = _flatten(data) if data else []
	if not pairs:
		return "-"
	return "<br>".join(f"{_e(k)}: {_e(_cell_text(v))}" for k, v in pairs)


def latency_chart(before: dict | None, after: dict | None) -> str:
	"""Grouped horizontal bars, p50 ms per operation, before and after, on a log10 axis."""
	names = list((before or after or {}).get("operations", {}))
	values = []
	for name in names:
		pair = []
		for data in (before, after):
			op = (data or {}).get("operations", {}).get(name)
			pair.append(op["p50_ms"] if op and op.get("status") == "measured" else None)
		values.append(pair)
	measured = [v for pair in values for v in pair if v]
	if not measured:
		return "<p>No latency was measured.</p>"
	lo = math.floor(math.log10(min(measured)))
	hi = math.ceil(math.log10(max(measured)))
	hi = hi if hi > lo else lo + 1
	label_w, plot_w, row_h = 210, 520, 34
	height = 40 + row_h * len(names) + 30
	width = label_w + plot_w + 90

	def x(v: float) -> float:
		return label_w + plot_w * (math.log10(v) - lo) / (hi - lo)

	parts = [
		f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
		'aria-label="p50 latency per operation, before and after the index catalogs" font-family="sans-serif" '
		'font-size="12">'
	]
	for k in range(lo, hi + 1):
		gx = label_w + plot_w * (k - lo) / (hi - lo)
		parts.append(f'<line x1="{gx:.1f}" y1="30" x2="{gx:.1f}" y2="{height - 28}" stroke="#ddd"/>')
		parts.append(f'<text x="{gx:.1f}" y="{height - 12}" text-anchor="middle">{10.0**k:g} ms</text>')
	for i, (name, (b, a)) in enumerate(zip(names, values, strict=True)):
		y = 36 + i * row_h
		parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{_e(name)}</text>')
		for j, (v, colour, tag) in enumerate(((b, BEFORE, "before"), (a, AFTER, "after"))):
			by = y + j * 13
			if v:
				w = max(1.0, x(v) - label_w)
				parts.append(
					f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="11" fill="{colour}">'
					f"<title>{_e(name)} {tag}: {v:.3f} ms</title></rect>"
				)
				parts.append(f'<text x="{label_w + w + 4:.1f}" y="{by + 10}">{v:.3g} ms</text>')
			else:
				parts.append(f'<text x="{label_w + 4}" y="{by + 10}" fill="#888">{tag}: not measured</text>')
	parts.append(f'<rect x="{label_w}" y="8" width="12" height="12" fill="{BEFORE}"/>')
	parts.append(f'<text x="{label_w + 16}" y="18">before the index catalogs</text>')
	parts.append(f'<rect x="{label_w + 200}" y="8" width="12" height="12" fill="{AFTER}"/>')
	parts.append(f'<text x="{label_w + 216}" y="18">after</text>')
	parts.append("</svg>")
	return "".join(parts)


def readiness_chart(report: dict | None) -> str:
	"""One bar per component: its weight as the full length, filled by its value, coloured by status."""
	if not report:
		return "<p>The readiness check did not run.</p>"
	comps = report["components"]
	weights = report["weights"]
	max_w = max(weights.values()) or 1
	label_w, plot_w, row_h = 130, 380, 26
	height = 20 + row_h * len(comps) + 10
	value = {"operational": 1.0, "degraded": 0.5, "failed": 0.0}
	parts = [
		f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 180}" height="{height}" role="img" '
		'aria-label="readiness components" font-family="sans-serif" font-size="12">'
	]
	for i, c in enumerate(comps):
		y = 14 + i * row_h
		full = plot_w * weights[c["component"]] / max_w
		got = full * value[c["status"]]
		colour = STATUS_COLOURS[c["status"]]
		parts.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end">{_e(c["component"])}</text>')
		parts.append(
			f'<rect x="{label_w}" y="{y}" width="{full:.1f}" height="16" fill="none" stroke="#999"/>'
		)
		parts.append(f'<rect x="{label_w}" y="{y}" width="{got:.1f}" height="16" fill="{colour}"/>')
		parts.append(
			f'<text x="{label_w + full + 6:.1f}" y="{y + 13}">{_e(c["status"])} '
			f"(weight {weights[c['component']]})</text>"
		)
	parts.append("</svg>")
	return "".join(parts)


def score_chart(monitoring: dict | None) -> str:
	"""One bar per measured score component: its score (0 to 1) over the full length, its effective
	weight beside it; the components without data are listed, not drawn."""
	if not monitoring or not monitoring.get("components"):
		return "<p>The performance score was not measured.</p>"
	comps = monitoring["components"]
	label_w, plot_w, row_h = 130, 380, 26
	height = 20 + row_h * len(comps) + 10
	parts = [
		f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 200}" height="{height}" role="img" '
		'aria-label="performance score components" font-family="sans-serif" font-size="12">'
	]
	for i, (name, c) in enumerate(comps.items()):
		y = 14 + i * row_h
		got = plot_w * max(0.0, min(1.0, float(c["score"])))
		parts.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end">{_e(name)}</text>')
		parts.append(f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="16" fill="none" stroke="#999"/>')
		parts.append(
			f'<rect x="{label_w}" y="{y}" width="{got:.1f}" height="16" fill="#1f6fbf">'
			f"<title>{_e(name)}: {float(c['score']):.3f}</title></rect>"
		)
		parts.append(
			f'<text x="{label_w + plot_w + 6}" y="{y + 13}">{float(c["score"]):.3f} '
			f"(weight {float(c['effective_weight']):.2f})</text>"
		)
	parts.append("</svg>")
	missing = monitoring.get("missing") or {}
	if missing:
		items = "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in missing.items())
		parts.append(f"<p>Left out (no data, weights renormalised):</p><ul>{items}</ul>")
	return "".join(parts)


def _baseline_table(before: dict | None, after: dict | None, compare: dict | None) -> str:
	rows = []
	verdicts = {r["operation"]: r for r in (compare or {}).get("operations", [])}
	names = list((before or after or {}).get("operations", {}))
	for name in names:
		cells: list = [name]
		for data in (before, after):
			op = (data or {}).get("operations", {}).get(name)
			if op and op.get("status") == "measured":
				cells += [op["p50_ms"], op["p95_ms"], op["queries"], op.get("rows_examined")]
			else:
				cells += [f"not measured: {(op or {}).get('reason', 'absent')}", "", "", ""]
		v = verdicts.get(name)
		if v and v.get("ratio") is not None:
			cells += [v.get("change") or speed_words(v["ratio"]), _decided_by(v), v["verdict"]]
		else:
			cells += ["-", "-", (v or {}).get("verdict", "-")]
		rows.append(cells)
	return html_table(
		["operation", "before p50 ms", "before p95 ms", "before queries", "before rows read", "after p50 ms",
			"after p95 ms", "after queries", "after rows read", "after / before", "decided by", "verdict"],
		rows,
	)  # fmt: skip


def _decided_by(row: dict) -> str:
	"""The rule a baselines verdict used: its bootstrap interval and threshold, or its tolerance."""
	if row.get("method") == "bootstrap":
		low, high = row["interval"]
		return f"95 % interval {sig(low)}-{sig(high)}x, effect >= {sig(1 + row['threshold'])}x"
	if row.get("threshold") is not None:
		return f"±{sig(row['threshold'] * 100)} % (no runs recorded)"
	return "-"


def _readiness_table(report: dict | None) -> str:
	if not report:
		return ""
	rows = []
	for c in report["components"]:
		colour = STATUS_COLOURS[c["status"]]
		rows.append(
			[
				c["component"], _Raw(f'<b style="color:{colour}">{_e(c["status"])}</b>'),
				_Raw(key_values(c["evidence"])), c["recommendation"] or "-",
			]
		)  # fmt: skip
	return html_table(["component", "status", "evidence", "recommendation"], rows)


# ---------------------------------------------------------------- requests over HTTP


def bars_chart(groups: list[tuple[str, list[tuple[str, float | None]]]], unit: str, label: str) -> str:
	"""Horizontal bars on a linear axis: per group (an endpoint) one bar per series (a configuration)."""
	values = [v for _g, series in groups for _s, v in series if v]
	if not values:
		return f"<p>No {_e(label)} was measured.</p>"
	top = max(values)
	label_w, plot_w, bar_h, gap = 150, 460, 14, 12
	names = list(dict.fromkeys(s for _g, series in groups for s, _v in series))
	colour = {s: CONFIG_COLOURS[i % len(CONFIG_COLOURS)] for i, s in enumerate(names)}
	height = 34 + sum(len(series) * bar_h + gap for _g, series in groups) + 10
	parts = [
		f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 120}" height="{height}" role="img" '
		f'aria-label="{_e(label)}" font-family="sans-serif" font-size="12">'
	]
	x = label_w
	for s in names:
		parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour[s]}"/>')
		parts.append(f'<text x="{x + 16}" y="16">{_e(s)}</text>')
		x += 30 + 7 * len(s)
	y = 30
	for group, series in groups:
		parts.append(f'<text x="{label_w - 8}" y="{y + 11}" text-anchor="end">{_e(group)}</text>')
		for s, v in series:
			if v:
				w = max(1.0, plot_w * v / top)
				parts.append(
					f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{colour[s]}">'
					f"<title>{_e(group)}, {_e(s)}: {sig(v)} {_e(unit)}</title></rect>"
				)
				parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 10}">{sig(v)} {_e(unit)}</text>')
			else:
				parts.append(f'<text x="{label_w + 4}" y="{y + 10}" fill="#888">{_e(s)}: not measured</text>')
			y += bar_h
		y += gap
	parts.append("</svg>")
	return "".join(parts)


def requests_section(data: dict | None) -> str:
	"""The headline: req/s and latency per endpoint and configuration, from real HTTP requests."""
	if not data or not data.get("rows"):
		return "<p>The requests step did not run: no HTTP figures.</p>"
	rows = data["rows"]
	endpoints = list(dict.fromkeys(r["endpoint"] for r in rows))

	def groups(key):
		return [(e, [(r["configuration"], r[key]) for r in rows if r["endpoint"] == e]) for e in endpoints]

	table = []
	for e in endpoints:
		for r in (r for r in rows if r["endpoint"] == e):
			cpu = r["cpu_ms_per_request"]
			cache = r.get("cache")
			hits = (
				"-"
				if cache is None
				else f"{sig(100 * cache['hits'] / max(1, cache['hits'] + cache['misses']))} %"
			)
			table.append(
				[e, r["configuration"], r["requests"], r["rps"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
					_cpu(cpu["server"]), _cpu(cpu["redis"]), _cpu(cpu["mariadb"]), hits,
					", ".join(f"{k} x {count(v)}" for k, v in r["statuses"].items()), r.get("recorded")]
			)  # fmt: skip
		l1 = data.get("l1_row") or {}
		table.append([e, f"{l1.get('configuration', 'L1 tier')} *"] + ["-"] * 11)
	comparisons = [
		[c["endpoint"], c["configuration"], c["change"],
			f"{sig(c['interval'][0])}-{sig(c['interval'][1])}x (effect >= {sig(1 + c['min_effect'])}x)", c["verdict"]]
		for c in data.get("comparisons", [])
	]  # fmt: skip
	st = data.get("settings", {})
	env = data.get("environment") or {}
	notes = "".join(f"<li>{_e(k)} CPU: {_e(v)}</li>" for k, v in (data.get("cpu_notes") or {}).items())
	return (
		f"<p>{_e(st.get('clients'))} keep-alive clients as {_e(st.get('users'))} users against a local read API "
		f"server (one process per configuration, 127.0.0.1); per configuration and endpoint at most "
		f"{_e(count(st.get('max_requests')))} requests or {_e(st.get('max_seconds'))} s; each request asks about "
		f"one of {_e(count(st.get('members_drawn')))} members. Latencies are client round trips. Measured on "
		f"{_e(env.get('cpu_count'))} cores, {_e(env.get('platform'))}, load average {_e(env.get('load_average'))} "
		"before the step.</p>"
		+ bars_chart(groups("rps"), "req/s", "requests per second")
		+ bars_chart(groups("p95_ms"), "ms", "p95 latency")
		+ html_table(
			[
				"endpoint",
				"configuration",
				"requests",
				"req/s",
				"p50 ms",
				"p95 ms",
				"p99 ms",
				"server CPU ms/req",
				"Redis CPU ms/req",
				"MariaDB CPU ms/req",
				"cache hits",
				"statuses",
				"recorded by the hook",
			],
			table,
		)  # fmt: skip
		+ f"<p>* {_e((data.get('l1_row') or {}).get('note', ''))}</p>"
		+ "<p>p50 against the first configuration (a verdict needs the 95 % bootstrap interval of the ratio "
		"to exclude 1 and a change of at least the effect shown):</p>"
		+ html_table(
			["endpoint", "configuration", "change", "95 % interval of the ratio", "verdict"], comparisons
		)
		+ "<p>CPU per request: the server process (psutil), Redis (INFO cpu), MariaDB (its mariadbd process). "
		"Redis and MariaDB are shared: their figures include other clients' work in the same interval.</p>"
		+ (f"<ul>{notes}</ul>" if notes else "")
	)


def _cpu(value) -> str:
	return sig(value, missing="n/m")


# ---------------------------------------------------------------- the other steps as tables


def indexes_section(results: list | None) -> str:
	if not results:
		return "<p>The index step did not run.</p>"
	rows = [
		[r["index"], r["before"]["table_rows"], r["before"]["p50_ms"], r["after"]["p50_ms"],
			f"{r['before']['access_type']} -> {r['after']['access_type']}", r.get("change") or "-",
			r.get("verdict") or r.get("note") or "-"]
		for r in results
	]  # fmt: skip
	runs = results[0].get("runs")
	effect = results[0].get("min_effect")
	rule = (
		f"<p>From the p50 of {_e(runs)} probe runs each side; a change under {sig(1 + effect)}x either way is "
		"'no clear change'.</p>"
		if runs and effect is not None
		else ""
	)
	return (
		html_table(["index", "rows", "p50 before ms", "p50 after ms", "access", "change", "verdict"], rows)
		+ rule
	)


def cache_section(cache: dict | None) -> str:
	if not cache:
		return "<p>The cache step did not run.</p>"
	totals = cache.get("totals") or {}
	rows = [
		["median member summary, miss (computed)", cache.get("miss_median_ms"), "ms"],
		["median member summary, hit", cache.get("hit_median_ms"), "ms"],
		["hits against computing", cache.get("hit_speedup"), "x faster"],
		["invalidate_doctype", cache.get("invalidate_ms"), "ms"],
		["hits / misses in the step", f"{count(totals.get('hits'))} / {count(totals.get('misses'))}", ""],
	]
	return html_table(["figure", "value", "unit"], rows)


def jobs_section(jobs: dict | None) -> str:
	if not jobs:
		return "<p>The jobs step did not run.</p>"
	rows = []
	for p, entry in (jobs.get("queue_status") or {}).get("priorities", {}).items():
		counts = entry.get("counts", {})

		def ms(v):
			return None if v is None else v * 1000

		rows.append(
			[p, entry.get("cap"), (jobs.get("peak_in_use") or {}).get(p), counts.get("finished"), counts.get("failed"),
				ms(entry.get("wait_p50")), ms(entry.get("wait_p95")), ms(entry.get("run_p50")), ms(entry.get("run_p95")),
				entry.get("throughput_per_minute")]
		)  # fmt: skip
	failing = jobs.get("failing_on_purpose")
	note = (
		f"<p>{_e(failing)} jobs fail on purpose in the demo (they raise 'demo failure n'): each is retried "
		"once, then counted as failed.</p>"
		if failing
		else ""
	)
	return (
		f"<p>{count(jobs.get('jobs'))} jobs in {sig(jobs.get('seconds'))} s.</p>"
		+ html_table(
			[
				"priority",
				"cap",
				"peak in use",
				"finished",
				"failed",
				"wait p50 ms",
				"wait p95 ms",
				"run p50 ms",
				"run p95 ms",
				"jobs/min",
			],
			rows,
		)  # fmt: skip
		+ note
	)


def score_table(monitoring: dict | None) -> str:
	if not monitoring or not monitoring.get("components"):
		return ""
	rows = [
		[name, float(c["score"]), float(c["effective_weight"]), _Raw(key_values(c.get("inputs") or {}))]
		for name, c in monitoring["components"].items()
	]
	return html_table(["component", "score", "weight", "from"], rows)


def steps_table(step_seconds: dict | None) -> str:
	if not step_seconds:
		return "<p>No step times were recorded.</p>"
	rows = [[name, seconds] for name, seconds in step_seconds.items()]
	rows.append(["total", sum(step_seconds.values())])
	return html_table(["step", "seconds"], rows)


SHOWN = {"baselines", "baselines_files", "baselines_compare", "readiness", "dataset", "monitoring", "requests",
	"indexes", "cache", "jobs", "step_seconds", "report"}  # fmt: skip


def render(results: dict, *, title: str = "verenigingen: the performance layer at work") -> str:
	"""The whole report as one HTML document (no external resources)."""
	baselines = results.get("baselines", {})
	before, after = baselines.get("before"), baselines.get("after")
	readiness = results.get("readiness")
	dataset = results.get("dataset", {})
	env = (
		(after or before or {}).get("environment") or (results.get("requests") or {}).get("environment") or {}
	)
	score = f"{readiness['score']:.1f} / 100" if readiness else "not measured"
	monitoring = results.get("monitoring")
	perf_score = (
		f"{monitoring['score']:.1f} / 100"
		if monitoring and monitoring.get("score") is not None
		else "not measured"
	)
	others = {k: v for k, v in results.items() if k not in SHOWN}
	other_html = "".join(
		f"<h3>{_e(k)}</h3>" + html_table(["figure", "value"], [[a, b] for a, b in _flatten(v)])
		for k, v in others.items()
	)
	counts = dataset.get("counts", {})
	return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
.txt {{ text-align: left; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.score {{ font-size: 2em; font-weight: bold; }}
</style></head><body>
<h1>{_e(title)}</h1>
<p>Generated {_e(datetime.now(timezone.utc).isoformat(timespec="seconds"))}.
Dataset: {_e(f"{dataset.get('members', 0):,}")} members (seed {_e(dataset.get("seed"))}),
{_e(", ".join(f"{k} {v:,}" for k, v in counts.items()))}.
MariaDB {_e(env.get("mariadb"))}, Redis {_e(env.get("redis"))}, Python {_e(env.get("python"))},
{_e(env.get("cpu_count"))} cores.</p>
<h2>Requests over HTTP</h2>
{requests_section(results.get("requests"))}
<h2>Latency before and after the index catalogs</h2>
{latency_chart(before, after)}
{_baseline_table(before, after, results.get("baselines_compare"))}
<h2>Index catalogs, probe by probe</h2>
{indexes_section(results.get("indexes"))}
<h2>Cache</h2>
{cache_section(results.get("cache"))}
<h2>Jobs</h2>
{jobs_section(results.get("jobs"))}
<h2>Performance score</h2>
<p class="score">{_e(perf_score)}</p>
{score_chart(monitoring)}
{score_table(monitoring)}
<h2>Readiness</h2>
<p class="score">{_e(score)}</p>
{readiness_chart(readiness)}
{_readiness_table(readiness)}
<h2>Time per step</h2>
{steps_table(results.get("step_seconds"))}
{f"<h2>Other figures of the run</h2>{other_html}" if other_html else ""}
</body></html>
"""


def run(env: ShowcaseEnv) -> None:
	env.heading("HTML report")
	OUTPUT.parent.mkdir(parents=True, exist_ok=True)
	OUTPUT.write_text(render(env.results), encoding="utf-8")
	env.results["report"] = str(OUTPUT)
	env.line(f"wrote {OUTPUT.resolve()}")
