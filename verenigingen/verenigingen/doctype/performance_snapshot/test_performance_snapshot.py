# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe
from frappe.utils import add_days, now_datetime

from verenigingen import monitoring
from verenigingen.tests.utils import AppTestCase


class TestPerformanceSnapshot(AppTestCase):
	def snapshot(self, days_ago: int) -> str:
		doc = frappe.get_doc(
			{"doctype": "Performance Snapshot", "timestamp": add_days(now_datetime(), -days_ago), "score": 90,
				"score_measured": 1, "activation_level": 2, "components": "{}", "metrics": "{}"}
		).insert()  # fmt: skip
		self.addCleanup(frappe.db.delete, "Performance Snapshot", {"name": doc.name})
		return doc.name

	def test_the_daily_purge_deletes_snapshots_past_the_retention_only(self):
		self.addCleanup(frappe.db.commit)  # the purge commits: the cleanups delete what it kept
		old, recent = self.snapshot(120), self.snapshot(1)
		self.assertGreaterEqual(monitoring.purge_snapshots(), 1)
		self.assertFalse(frappe.db.exists("Performance Snapshot", old))
		self.assertTrue(frappe.db.exists("Performance Snapshot", recent))
