# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe

from verenigingen.tests.utils import AppTestCase


class TestPerformanceAlert(AppTestCase):
	def test_an_alert_is_a_hash_named_document_with_the_catalog_index(self):
		doc = frappe.get_doc(
			{"doctype": "Performance Alert", "metric": "vtest_p95_ms", "status": "Open", "severity": "Warning",
				"value": 2500, "threshold": 2000, "breaches": 3, "message": "p95 2500 ms > 2000 ms"}
		).insert()  # fmt: skip
		self.assertEqual(len(doc.name), 10)
		found = frappe.db.sql(
			"SELECT name FROM `tabPerformance Alert` WHERE metric=%s AND status=%s", ("vtest_p95_ms", "Open")
		)
		self.assertEqual(found, ((doc.name,),))
		self.assertEqual(frappe.db.get_value("Performance Alert", doc.name, "value"), 2500)
