"""Keep the index catalogs present on a site: run from ``after_migrate`` and ``after_install``.

Cheap when every index is there (it only reads ``information_schema``). Missing indexes are
added online unless the site config flag ``verenigingen_auto_index`` is false. If old transactions
are open on the database, or the DDL gives up waiting for a metadata lock, the indexes are left for
later (logged, and reported as ``deferred``) rather than failing the migrate. Single-column
specs on other apps' DocTypes get a ``search_index`` Property Setter, so ``bench migrate`` keeps
them (schema sync drops a single-column index whose field is not flagged ``search_index``).
"""

import frappe

from verenigingen import frappe_bridge
from verenigingen.performance.defaults import INDEX_AUTO_APPLY_CONFIG_KEY, INDEX_AUTO_MEASURE_REPEATS
from verenigingen.performance.exceptions import (
	IndexApplyError,
	MetadataLockTimeoutError,
	OpenTransactionsError,
)
from verenigingen.performance.indexes import Plan, catalog
from verenigingen.performance.indexes.manager import BLOCKING, MISSING_TABLE


def property_setter_name(doctype: str, fieldname: str) -> str:
	"""The name Frappe's PropertySetter.autoname gives a field property: ``{doctype}-{field}-{property}``."""
	return f"{doctype}-{fieldname}-search_index"


def ensure_search_index_property_setters(plan: Plan) -> list[str]:
	"""A ``search_index`` Property Setter per single-column spec of another app's DocType; return new names."""
	created = []
	for item in plan.items:
		spec = item.spec
		if len(spec.columns) != 1 or not spec.is_foreign or item.action == MISSING_TABLE:
			continue
		name = property_setter_name(spec.doctype, spec.columns[0])
		if frappe.db.exists("Property Setter", name):
			continue
		frappe.get_doc(
			{
				"doctype": "Property Setter",
				"name": name,
				"doctype_or_field": "DocField",
				"doc_type": spec.doctype,
				"field_name": spec.columns[0],
				"property": "search_index",
				"property_type": "Check",
				"value": "1",
				"is_system_generated": 1,
			}
		).insert(ignore_permissions=True)
		created.append(name)
	return created


def ensure_catalogs(specs=None) -> dict:
	"""Make sure the catalogs' indexes are present; return what was found and done (plain data)."""
	specs = catalog("all") if specs is None else specs
	manager = frappe_bridge.index_manager("Administrator")
	plan = manager.plan(specs)
	setters = ensure_search_index_property_setters(plan)
	report = {
		"missing": [i.spec.name for i in plan.to_create],
		"problems": [i.reason for i in plan.problems],
		"property_setters": setters,
		"created": [],
		"deferred": None,
		"auto_apply": bool(frappe_bridge.site_config(INDEX_AUTO_APPLY_CONFIG_KEY, True)),
	}
	for problem in plan.problems:
		frappe.log_error(title="verenigingen index catalog", message=problem.reason)
	if not plan.to_create or not report["auto_apply"]:
		return report
	frappe.db.commit()  # index DDL never follows pending writes
	clean = Plan(tuple(i for i in plan.items if i.action not in BLOCKING))
	try:
		outcomes = manager.apply(clean, measure_repeats=INDEX_AUTO_MEASURE_REPEATS)
	except (OpenTransactionsError, IndexApplyError) as exc:
		if isinstance(exc, IndexApplyError) and not isinstance(exc.__cause__, MetadataLockTimeoutError):
			raise
		report["deferred"] = f"the missing indexes were not added now: {exc}"
		frappe.log_error(title="verenigingen index catalog deferred", message=report["deferred"])
		return report
	report["created"] = [o.index for o in outcomes if o.action == "created"]
	return report


def after_migrate() -> None:
	ensure_catalogs()
