"""Unit behaviour of the checkers on small, in-memory apps."""

import json
from pathlib import Path

import pytest

from verenigingen.field_validator import check_source, load_schema
from verenigingen.field_validator.js_tokens import ID, REGEX, STR, TEMPLATE, JSSyntaxError, tokenize
from verenigingen.field_validator.python_checker import field_expression_names, order_by_names
from verenigingen.field_validator.suppression import suppressed_rules


@pytest.fixture
def app(tmp_path) -> Path:
	"""An app with DocType Thing (title, qty, rows -> Thing Row) and a create_custom_fields call."""
	package = tmp_path / "demo"
	(package / "demo" / "doctype" / "thing").mkdir(parents=True)
	(package / "demo" / "doctype" / "thing_row").mkdir(parents=True)
	(package / "hooks.py").write_text('doc_events = {"Thing": {"on_update": "demo.events.updated"}}\n')
	(package / "events.py").write_text("")
	(package / "install.py").write_text(
		"from frappe.custom.doctype.custom_field.custom_field import create_custom_fields\n"
		"def setup():\n"
		'\tcreate_custom_fields({"Thing": [{"fieldname": "extra_code", "fieldtype": "Data"}]})\n'
	)
	fields = [
		{"fieldname": "title", "fieldtype": "Data"},
		{"fieldname": "qty", "fieldtype": "Int"},
		{"fieldname": "rows", "fieldtype": "Table", "options": "Thing Row"},
	]
	(package / "demo" / "doctype" / "thing" / "thing.json").write_text(
		json.dumps({"doctype": "DocType", "name": "Thing", "fields": fields})
	)
	(package / "demo" / "doctype" / "thing_row" / "thing_row.json").write_text(
		json.dumps(
			{"doctype": "DocType", "name": "Thing Row", "istable": 1, "fields": [{"fieldname": "code"}]}
		)
	)
	return tmp_path


def names(app: Path, source: str, filename: str = "mod.py") -> list[str]:
	path = app / "demo" / filename
	return [f.name for f in check_source(load_schema([app]), path, source).findings]


def test_custom_fields_created_in_code_are_known(app):
	assert names(
		app, 'import frappe\nd = frappe.get_doc("Thing", "x")\nprint(d.extra_code, d.extra_cod)\n'
	) == ["extra_cod"]


def test_handler_doc_argument_is_typed(app):
	assert names(app, "def updated(doc, method=None):\n\tprint(doc.title, doc.titl)\n", "events.py") == [
		"titl"
	]
	assert names(app, "def other(doc, method=None):\n\tprint(doc.titl)\n", "events.py") == []


def test_if_branches_that_return_do_not_blur_the_type(app):
	source = (
		"import frappe\n"
		"def f(x):\n"
		"\td = frappe.get_doc('Thing', x)\n"
		"\tif not x:\n"
		"\t\td = None\n"
		"\t\treturn\n"
		"\tprint(d.qtty)\n"
	)
	assert names(app, source) == ["qtty"]


def test_unknown_rebinding_in_one_branch_means_silence(app):
	source = (
		"import frappe\ndef f(x, y):\n\td = frappe.get_doc('Thing', x)\n\tif y:\n\t\td = y\n\tprint(d.qtty)\n"
	)
	assert names(app, source) == []


def test_frappe_aliases_and_imports(app):
	source = "import frappe as fr\nfrom frappe import get_doc\nprint(fr.get_doc('Thing', 1).qtyy, get_doc('Thing', 1).tite)\n"
	assert sorted(names(app, source)) == ["qtyy", "tite"]


def test_dynamic_doctype_is_silent(app):
	source = "import frappe\ndef f(dt):\n\tprint(frappe.get_doc(dt, 1).anything)\n\tfrappe.get_all(dt, fields=['nope'])\n"
	assert names(app, source) == []


def test_row_rules_with_subscript_and_get(app):
	source = (
		"import frappe\nd = frappe.get_doc('Thing', 1)\n"
		"print(d.rows[0].code, d.get('rows')[0].cod, [r.cde for r in d.get('rows')])\n"
	)
	assert names(app, source) == ["cod", "cde"]


def test_field_expressions():
	assert field_expression_names("amount as total") == [(None, "amount")]
	assert field_expression_names("SUM(amount) AS total") == [(None, "amount")]
	assert field_expression_names("count(*) as n") == []
	assert field_expression_names("*") == []
	assert field_expression_names("`tabLoan Item`.fine") == [("Loan Item", "fine")]
	assert field_expression_names("distinct status") == [(None, "status")]
	assert field_expression_names("ifnull(a, 0) + b") == []  # too complex to judge: say nothing
	assert order_by_names("creation desc, `name` ASC") == [(None, "creation"), (None, "name")]


def test_suppression_markers():
	assert suppressed_rules("x = 1  # fieldcheck: ignore") == set()
	assert suppressed_rules("x  // fieldcheck: ignore[FV101, FV103]") == {"FV101", "FV103"}
	assert suppressed_rules("x = 1  # nothing here") is None


def test_tokenizer_keeps_code_out_of_strings_comments_and_regexes():
	tokens = tokenize(
		"a = `x ${frm.doc.b} y` / 2; // frm.doc.c\nr = /frm.doc.d/g; s = 'frm.doc.e';\n/* frm.doc.f */ g = h / i / j;"
	)
	ids = [t.value for t in tokens if t.kind == ID]
	assert ids == ["a", "frm", "doc", "b", "r", "s", "g", "h", "i", "j"]
	assert [t.kind for t in tokens if t.kind in (REGEX, STR, TEMPLATE)] == [TEMPLATE, REGEX, STR]
	assert next(t for t in tokens if t.value == "g").line == 3


def test_tokenizer_reports_unterminated_strings():
	with pytest.raises(JSSyntaxError, match="unterminated string"):
		tokenize("x = 'abc\n")


def test_js_file_that_does_not_tokenize_is_an_error_not_a_crash(app):
	result = check_source(load_schema([app]), app / "demo" / "x.js", 'frappe.ui.form.on("Thing", { a: "\n")')
	assert result.errors and "cannot parse: unterminated string (line 1)" in result.errors[0]


def test_js_child_handlers_use_parent_form(app):
	source = (
		'frappe.ui.form.on("Thing Row", {\n'
		"\tcode(frm, cdt, cdn) {\n"
		'\t\tfrm.set_value("qty", 1);\n'
		'\t\tfrappe.model.set_value(cdt, cdn, "qty", 1);\n'
		"\t},\n"
		"});\n"
	)
	result = check_source(load_schema([app]), app / "demo" / "x.js", source)
	assert [(f.line, f.rule, f.name) for f in result.findings] == [(4, "FV103", "qty")]
