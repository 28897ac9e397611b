"""Findings, rule ids and the references the checkers resolved."""

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

# Rule ids are stable: baselines, suppressions and SARIF output refer to them.
PY_UNKNOWN_ATTRIBUTE = "FV001"  # doc.x / self.x where x is no field or attribute of the DocType
PY_UNKNOWN_QUERY_FIELD = "FV002"  # field name in frappe.db.get_value/get_all/... filters, fields, order_by
PY_UNKNOWN_KEY = "FV003"  # doc.get("x") / doc.set("x") / dict keys of get_doc({...}) and append()
JS_UNKNOWN_FIELD = "FV101"  # frm.doc.x, frm.set_value("x"), frm.fields_dict.x, ... in frappe.ui.form.on
JS_UNKNOWN_HANDLER = "FV102"  # handler key that is no field of the DocType and no form event
JS_UNKNOWN_CHILD_FIELD = "FV103"  # frappe.model.set_value(cdt, cdn, "x") and locals[cdt][cdn].x

RULES: dict[str, tuple[str, str]] = {
	PY_UNKNOWN_ATTRIBUTE: ("unknown-attribute", "Attribute is no field or attribute of the DocType"),
	PY_UNKNOWN_QUERY_FIELD: ("unknown-query-field", "Field name in a query call is no column of the DocType"),
	PY_UNKNOWN_KEY: ("unknown-field-key", "Field name given as a string key is no field of the DocType"),
	JS_UNKNOWN_FIELD: ("js-unknown-field", "Form script refers to a field the DocType does not have"),
	JS_UNKNOWN_HANDLER: (
		"js-unknown-handler",
		"Form handler key is no field of the DocType and no form event",
	),
	JS_UNKNOWN_CHILD_FIELD: (
		"js-unknown-child-field",
		"Child-table row field the child DocType does not have",
	),
}


@dataclass(frozen=True, order=True)
class Finding:
	"""One reference to a field that the DocType (or every candidate DocType) lacks."""

	path: str
	line: int
	column: int  # 1-based, as editors and SARIF count
	rule: str
	name: str  # the field name as written
	doctype: str  # the DocType, or "A | B" when the reference may be any of several
	message: str
	suggestion: str | None = None

	def to_dict(self) -> dict:
		return asdict(self)


@dataclass(frozen=True)
class Reference:
	"""A site where a checker knew the DocType and checked a name (found or not).

	The mutation test uses these to know which sites are statically resolved.
	"""

	path: str
	line: int
	column: int  # 1-based
	name: str
	doctypes: tuple[str, ...]
	rule: str
	ok: bool


@dataclass
class CheckResult:
	"""What checking one or more files produced."""

	findings: list[Finding] = field(default_factory=list)
	references: list[Reference] = field(default_factory=list)
	files_checked: int = 0
	errors: list[str] = field(default_factory=list)  # files that could not be read or parsed

	def extend(self, other: "CheckResult") -> None:
		self.findings.extend(other.findings)
		self.references.extend(other.references)
		self.files_checked += other.files_checked
		self.errors.extend(other.errors)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
	"""The closest candidate to a misspelt name, or None when nothing is close."""
	matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.75)
	return matches[0] if matches else None


def format_doctypes(doctypes: Iterable[str]) -> str:
	return " | ".join(sorted(doctypes))
