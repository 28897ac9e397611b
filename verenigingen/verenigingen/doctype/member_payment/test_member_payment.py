# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe

from verenigingen.tests.utils import AppTestCase
from verenigingen.verenigingen.doctype.member.test_member import make_member


class TestMemberPayment(AppTestCase):
	def test_named_from_the_series_with_its_amount_as_a_number(self):
		make_member("vtest-TMP-1")
		current = frappe.db.sql("SELECT current FROM `tabSeries` WHERE name=''")
		current = current[0][0] if current else 0
		doc = frappe.get_doc(
			{
				"doctype": "Member Payment",
				"member": "vtest-TMP-1",
				"amount": "12.50",
				"posting_date": "2025-01-01",
			}
		).insert()
		self.assertEqual(doc.name, f"MPAY-{current + 1:08d}")
		self.assertEqual(doc.status, "Unpaid")
		self.assertEqual(frappe.db.get_value("Member Payment", doc.name, "amount"), 12.5)

	def test_member_is_required_and_must_exist(self):
		with self.assertRaises(frappe.MandatoryError):
			frappe.get_doc({"doctype": "Member Payment", "amount": 1, "posting_date": "2025-01-01"}).insert()
		with self.assertRaises(frappe.LinkValidationError):
			frappe.get_doc(
				{
					"doctype": "Member Payment",
					"member": "vtest-nobody",
					"amount": 1,
					"posting_date": "2025-01-01",
				}
			).insert()
