"""Showcase step (the last): a self-contained HTML report of what the main job measured.

Inline SVG charts, no scripts or external files: p50 latency per operation before and after the
index catalogs (log scale, since a cache hit and a full scan differ by orders of magnitude), and
the readiness components with their weights. Everything shown comes from ``env.results``; a
figure a step did not measure is shown as not measured.
"""

import html
import json
import math
from datetime import datetime, timezone
from pathlib import Path

from .env import ShowcaseEnv

OUTPUT = Path("reports") / "showcase.html"
STATUS_COLOURS = {"operational": "#2e7d32", "degraded": "#f9a825", "failed": "#c62828"}
BEFORE, AFTER = "#90a4ae", "#1565c0"


def _e(value) -> str:
	return html.escape(str(value))


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
		cells = [_e(name)]
		for data in (before, after):
			op = (data or {}).get("operations", {}).get(name)
			if op and op.get("status") == "measured":
				rows_read = "-" if op.get("rows_examined") is None else f"{op['rows_examined']:,}"
				cells.append(f"{op['p50_ms']:.3f} / {op['p95_ms']:.3f}")
				cells.append(f"{op['queries']} / {rows_read}")
			else:
				cells += [f"not measured: {_e((op or {}).get('reason', 'absent'))}", ""]
		v = verdicts.get(name)
		cells.append(f"{v['ratio']:.2f}x {v['verdict']}" if v and v.get("ratio") is not None else "-")
		rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
	head = (
		"<tr><th>operation</th><th>before p50 / p95 ms</th><th>before queries / rows read</th>"
		"<th>after p50 / p95 ms</th><th>after queries / rows read</th><th>after / before</th></tr>"
	)
	return f"<table>{head}{''.join(rows)}</table>"


def _readiness_table(report: dict | None) -> str:
	if not report:
		return ""
	rows = []
	for c in report["components"]:
		colour = STATUS_COLOURS[c["status"]]
		evidence = _e(json.dumps(c["evidence"], default=str))
		rows.append(
			f'<tr><td>{_e(c["component"])}</td><td style="color:{colour}"><b>{_e(c["status"])}</b></td>'
			f"<td><code>{evidence}</code></td><td>{_e(c['recommendation'] or '-')}</td></tr>"
		)
	return (
		"<table><tr><th>component</th><th>status</th><th>evidence</th><th>recommendation</th></tr>"
		+ "".join(rows)
		+ "</table>"
	)


def render(results: dict, *, title: str = "verenigingen: the performance layer at work") -> str:
	"""The whole report as one HTML document (no external resources)."""
	baselines = results.get("baselines", {})
	before, after = baselines.get("before"), baselines.get("after")
	readiness = results.get("readiness")
	dataset = results.get("dataset", {})
	env = (after or before or {}).get("environment", {})
	score = f"{readiness['score']:.1f} / 100" if readiness else "not measured"
	monitoring = results.get("monitoring")
	perf_score = (
		f"{monitoring['score']:.1f} / 100"
		if monitoring and monitoring.get("score") is not None
		else "not measured"
	)
	others = {
		k: v
		for k, v in results.items()
		if k not in ("baselines", "readiness", "dataset", "baselines_files", "report")
	}
	other_html = "".join(
		f"<details><summary>{_e(k)}</summary><pre>{_e(json.dumps(v, indent=2, default=str))}</pre></details>"
		for k, v in others.items()
	)
	counts = dataset.get("counts", {})
	return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
code {{ font-size: 11px; word-break: break-all; }}
.score {{ font-size: 2em; font-weight: bold; }}
</style></head><body>
<h1>{_e(title)}</h1>
<p>Generated {_e(datetime.now(timezone.utc).isoformat(timespec="seconds"))}.
Dataset: {_e(f"{dataset.get('members', 0):,}")} members (seed {_e(dataset.get("seed"))}),
{_e(", ".join(f"{k} {v:,}" for k, v in counts.items()))}.
MariaDB {_e(env.get("mariadb"))}, Redis {_e(env.get("redis"))}, Python {_e(env.get("python"))},
{_e(env.get("cpu_count"))} cores.</p>
<h2>Latency before and after the index catalogs</h2>
{latency_chart(before, after)}
{_baseline_table(before, after, results.get("baselines_compare"))}
<h2>Performance score</h2>
<p class="score">{_e(perf_score)}</p>
{score_chart(monitoring)}
<h2>Readiness</h2>
<p class="score">{_e(score)}</p>
{readiness_chart(readiness)}
{_readiness_table(readiness)}
<h2>Other figures of the run</h2>
{other_html or "<p>None.</p>"}
</body></html>
"""


def run(env: ShowcaseEnv) -> None:
	env.heading("HTML report")
	OUTPUT.parent.mkdir(parents=True, exist_ok=True)
	OUTPUT.write_text(render(env.results), encoding="utf-8")
	env.results["report"] = str(OUTPUT)
	env.line(f"wrote {OUTPUT.resolve()}")
