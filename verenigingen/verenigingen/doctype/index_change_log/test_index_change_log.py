# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe

from verenigingen import frappe_bridge
from verenigingen.performance.indexes import ChangeLog, index_catalog_status
from verenigingen.tests.utils import AppTestCase


class TestIndexChangeLog(AppTestCase):
	def test_the_core_change_log_writes_index_change_log_documents(self):
		"""ChangeLog (the core, over the bridge's database handle) commits its row: removed afterwards."""
		name = ChangeLog(frappe_bridge.database()).record(
			action="Apply", outcome="Success", index_name="vtest_idx", user="Administrator",
			reference_doctype="Member", table="tabMember", columns=("email",), catalog="performance",
			created_by_tool=True, duration_ms=1.5, before={"p50_ms": 2.0},
		)  # fmt: skip
		self.addCleanup(frappe.db.commit)
		self.addCleanup(frappe.db.delete, "Index Change Log", {"name": name})
		doc = frappe.get_doc("Index Change Log", name)
		self.assertEqual((doc.action, doc.outcome, doc.index_name), ("Apply", "Success", "vtest_idx"))
		self.assertEqual(doc.index_columns, "email")
		self.assertEqual(frappe.parse_json(doc.before_measurement), {"p50_ms": 2.0})

	def test_catalog_status_reads_the_sites_indexes(self):
		"""Every spec of the catalogs is either on the site (present or missing) or not applicable
		(another app's DocType, not installed); the app's own DocTypes always have their tables."""
		status = index_catalog_status(frappe_bridge.database())
		states = {item["state"] for item in status["indexes"]}
		self.assertLessEqual(states, {"present", "missing", "not applicable"})
		own = [i for i in status["indexes"] if i["state"] == "not applicable" and i["doctype"] in (
			"Member", "Member Payment", "SEPA Mandate", "Chapter Member", "Performance Snapshot", "Performance Alert")]  # fmt: skip
		self.assertEqual(own, [])
