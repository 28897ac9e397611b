"""The advisor's report as text (the JSON form is the report dict itself)."""

from ...texttable import render_table


def _ms(value) -> str:
	if value is None:
		return "-"
	return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _x(value) -> str:
	return "-" if value is None else f"{value:.1f}x"


def _bytes(value) -> str:
	if value is None:
		return "unknown"
	for unit in ("B", "KiB", "MiB", "GiB"):
		if value < 1024 or unit == "GiB":
			return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
		value /= 1024
	return str(value)


def _access(run: dict | None, table_label: str | None = None) -> str:
	if not run or not run.get("plan"):
		return "-"
	plan = run["plan"]
	row = plan.get(table_label) if table_label else None
	row = row or next(iter(plan.values()))
	rows = row.get("r_rows") if row.get("r_rows") is not None else row.get("rows")
	rows = "-" if rows is None else f"{rows:,.0f}"
	return f"{row.get('access_type') or '-'}/{row.get('key') or '-'} {rows} rows"


def _clip(text: str, width: int = 100) -> str:
	return text if len(text) <= width else text[: width - 1] + "…"


def render_text(report: dict) -> str:
	"""A report for a terminal."""
	w = report["workload"]
	out = [
		f"Index advisor for {report['database']} - workload {report['source']}",
		f"{w['statements']:,} statements, {w['analysed_statements']:,} analysed in {w['shapes']:,} shapes; "
		f"time weighed by {w['weight_source']}: {_ms(w['total_ms'])} ms in all. Advisor run: {report['seconds']:.1f} s "
		f"({', '.join(f'{k} {v:.1f} s' for k, v in report.get('phases', {}).items())})",
	]
	for note in w.get("notes", []):
		out.append(f"note: {note}")
	suggestions = report["suggestions"]
	out.append("")
	out.append(
		f"Suggestions ({len(suggestions)}), each proven on a scratch copy of {report['settings']['sample_rows']:,} rows at most:"
	)
	if not suggestions:
		out.append(f"  none: no candidate made a shape {report['settings']['min_speedup']:g}x faster")
	for s in suggestions:
		out.append("")
		cover = " (covering)" if s["covering"] else ""
		together = f"; proven together with {', '.join(s['together_with'])}" if s["together_with"] else ""
		out.append(
			f"{s['name']} on {s['table']} ({', '.join(s['columns'])}){cover}: {s['share'] * 100:.1f}% of the workload's time{together}"
		)
		out.append(f"  {s['ddl']};")
		out.append(
			f"  estimated size on the full table ({s['table_rows']:,} rows): {_bytes(s['estimated_size_bytes'])}"
			+ (f" ({s['size_note']})" if s.get("size_note") else "")
		)
		rows = []
		for e in s["shapes"]:
			rows.append(
				[
					e["id"],
					f"{e['share'] * 100:.1f}%",
					_ms(e["before"]["p50_ms"]),
					_ms(e["after"]["p50_ms"]),
					_x(e["speedup"]),
					_x((e.get("with_every_suggestion") or {}).get("speedup")),
					_access(e["before"], e.get("label")),
					_access(e["after"], e.get("label")),
				]
			)
		out.append(
			"  "
			+ render_table(
				[
					"shape",
					"share",
					"p50 before ms",
					"p50 after ms",
					"speed-up",
					"with all",
					"before",
					"after",
				],
				rows,
			).replace("\n", "\n  ")
		)
	out.append("")
	out.append("Shapes (heaviest first):")
	rows = []
	for sh in report["shapes"]:
		rows.append(
			[
				sh["id"],
				sh["count"],
				_ms(sh["total_ms"]),
				f"{sh['share'] * 100:.1f}%",
				sh["status"],
				_clip(sh["detail"], 70),
			]
		)
	out.append(render_table(["shape", "count", "total ms", "share", "status", "detail"], rows))
	for sh in report["shapes"]:
		out.append(f"  {sh['id']}: {_clip(sh['shape'], 200)}")
	if report["rejected"]:
		out.append("")
		out.append("Candidates not suggested:")
		out.append(
			render_table(
				["table", "columns", "best speed-up", "why"],
				[
					[
						r["table"],
						", ".join(r["columns"]),
						_x(r["best_speedup"]),
						r["reason"] + (f": {r['error']}" if r.get("error") else ""),
					]
					for r in report["rejected"]
				],
			)
		)
	problems = w["problems"]
	if problems or w.get("unlisted_problems"):
		out.append("")
		out.append("Statements not analysed:")
		for p in problems:
			where = (
				f"statement {p['statement']}"
				if p.get("statement")
				else ("shape " + p["shape"] if p.get("shape") else "")
			)
			if p.get("line"):
				where += f" (line {p['line']})"
			count = f" x{p['count']}" if p.get("count", 1) > 1 else ""
			text = f": {p['text']}" if p.get("text") else ""
			out.append(f"  {where}{count} {p['kind']}: {p['error']}{text}".replace("   ", " "))
		if w.get("unlisted_problems"):
			out.append(f"  ... and {w['unlisted_problems']} more malformed statements")
	out.append("")
	unused = report["unused_indexes"]
	out.append(
		f"Indexes no shape of this workload used ({len(unused)}), to review - never dropped by this tool:"
	)
	if unused:
		out.append(
			render_table(
				["table", "index", "columns", "note"],
				[[u["table"], u["index"], ", ".join(u["columns"]), u["note"]] for u in unused],
			)
		)
	redundant = report["redundant_indexes"]
	out.append("")
	out.append(f"Redundant indexes of the workload's tables ({len(redundant)}), to review:")
	if redundant:
		out.append(
			render_table(
				["table", "index", "covered by", "kind", "drop with"],
				[[r["table"], r["index"], r["covered_by"], r["kind"], r["drop_sql"]] for r in redundant],
			)
		)
	scratch = report["scratch"]
	if scratch.get("kind"):
		where = "scratch database" if scratch["kind"] == "database" else "scratch tables in"
		state = "dropped" if scratch["dropped"] else "NOT dropped"
		out.append("")
		out.append(f"Scratch: {where} {scratch['name']} ({', '.join(scratch['tables'])}): {state}")
	applied = report.get("applied")
	if applied:
		out.append("")
		out.append(
			"Applied through the index manager; each shape timed on the full tables without (IGNORE INDEX) "
			"and with the new indexes, in turns:"
		)
		out.append(
			render_table(
				["index", "table", "action", "shape", "p50 before ms", "p50 after ms", "speed-up", "reason"],
				[
					[
						a["index"],
						a["table"],
						a["action"],
						e["id"],
						(">=" if e.get("before_timed_out") else "") + _ms(e["before_ms"]),
						_ms(e["after_ms"]),
						(">=" if e.get("before_timed_out") else "") + _x(e["speedup"]),
						a.get("reason", ""),
					]
					for a in applied
					for e in (
						a["shapes"] or [{"id": "-", "before_ms": None, "after_ms": None, "speedup": None}]
					)
				],
			)
		)
	return "\n".join(out)
