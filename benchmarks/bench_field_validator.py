"""Time the field validator over a generated app of 2,000 Python and JS files.

Run: python benchmarks/bench_field_validator.py [--files N] [--doctypes N]
Prints the time to read the schema and to check the files; nothing is asserted.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verenigingen.field_validator import check_files, collect_files, load_schema

PY_TEMPLATE = """import frappe


def handle_{i}(name):
	doc = frappe.get_doc("{dt}", name)
	if doc.{f0} and doc.{f1}:
		doc.{f2} = doc.{f0}
	for row in doc.rows:
		row.{c0} = row.{c1}
	values = frappe.get_all("{dt}", filters={{"{f1}": name}}, fields=["name", "{f2} as x", "sum({f3}) as s"],
		order_by="modified desc")
	frappe.db.set_value("{dt}", name, {{"{f0}": 1, "{f3}": 2}})
	total = 0
	for value in values:
		total += len(value)
	new = frappe.new_doc("{dt}")
	new.update({{"{f1}": total}})
	new.append("rows", {{"{c0}": 1, "{c1}": 2}})
	return [r.{c1} for r in new.rows if r.{c0}], new.get("{f3}"), doc.{typo}
"""

JS_TEMPLATE = """frappe.ui.form.on("{dt}", {{
	refresh(frm) {{
		if (frm.doc.{f0} && !frm.doc.__islocal) {{
			frm.set_value("{f1}", `${{frm.doc.{f2}}} items`);
		}}
		frm.toggle_display(["{f3}", "{f0}"], frm.doc.docstatus === 1);
		const re = /{f1}/g; // a regex, not code
	}},
	{f0}(frm) {{
		frm.set_df_property("{f2}", "hidden", !frm.doc.{typo});
	}},
	rows_add(frm, cdt, cdn) {{
		const row = locals[cdt][cdn];
		frappe.model.set_value(cdt, cdn, "{c0}", row.{c1});
	}},
}});
"""


def generate_app(root: Path, files: int, doctypes: int) -> None:
	package = root / "benchapp"
	(package / "benchapp" / "doctype").mkdir(parents=True)
	(package / "hooks.py").write_text('app_name = "benchapp"\n')
	for d in range(doctypes):
		for name, istable, fields in (
			(f"Bench Doc {d}", 0, [f"field_{d}_{k}" for k in range(20)]),
			(f"Bench Row {d}", 1, [f"row_{d}_{k}" for k in range(8)]),
		):
			folder = package / "benchapp" / "doctype" / name.lower().replace(" ", "_")
			folder.mkdir()
			defs = [{"fieldname": f, "fieldtype": "Data"} for f in fields]
			if not istable:
				defs.append({"fieldname": "rows", "fieldtype": "Table", "options": f"Bench Row {d}"})
			(folder / f"{folder.name}.json").write_text(
				json.dumps({"doctype": "DocType", "name": name, "istable": istable, "fields": defs})
			)
	code = package / "benchapp" / "generated"
	code.mkdir()
	for i in range(files):
		d = i % doctypes
		values = {
			"i": i,
			"dt": f"Bench Doc {d}",
			**{f"f{k}": f"field_{d}_{k}" for k in range(4)},
			**{f"c{k}": f"row_{d}_{k}" for k in range(2)},
			"typo": f"field_{d}_99",
		}
		if i % 2:
			(code / f"form_{i}.js").write_text(JS_TEMPLATE.format(**values))
		else:
			(code / f"module_{i}.py").write_text(PY_TEMPLATE.format(**values))


def main() -> None:
	parser = argparse.ArgumentParser(description=__doc__)
	parser.add_argument("--files", type=int, default=2000)
	parser.add_argument("--doctypes", type=int, default=100)
	args = parser.parse_args()
	with tempfile.TemporaryDirectory() as tmp:
		root = Path(tmp)
		generate_app(root, args.files, args.doctypes)
		started = time.perf_counter()
		schema = load_schema([root])
		loaded = time.perf_counter()
		files = collect_files([root / "benchapp"], base=root)
		result = check_files(schema, files, root)
		done = time.perf_counter()
	print(
		f"generated app: {len(files)} files ({args.files // 2} Python, {args.files - args.files // 2} JS), "
		f"{len(schema.doctypes)} DocTypes"
	)
	print(
		f"schema load: {loaded - started:.2f} s; check: {done - loaded:.2f} s; total: {done - started:.2f} s"
	)
	print(
		f"findings: {len(result.findings)} (one planted misspelling per file); references checked: "
		f"{len(result.references)}; errors: {len(result.errors)}"
	)


if __name__ == "__main__":
	main()
