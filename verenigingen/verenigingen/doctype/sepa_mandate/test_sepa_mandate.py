# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe

from verenigingen.tests.utils import AppTestCase
from verenigingen.verenigingen.doctype.member.test_member import make_member


class TestSEPAMandate(AppTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		make_member("vtest-TSM-1")  # rolled back with the class

	def mandate(self, mandate_id, iban, status="Active"):
		return frappe.get_doc(
			{"doctype": "SEPA Mandate", "mandate_id": mandate_id, "member": "vtest-TSM-1", "iban": iban,
				"status": status}
		).insert()  # fmt: skip

	def test_iban_is_normalised_and_checked(self):
		doc = self.mandate("vtest-MD-1", "nl91 abna 0417 1643 00")
		self.assertEqual(doc.name, "vtest-MD-1")
		self.assertEqual(doc.iban, "NL91ABNA0417164300")
		with self.assertRaisesRegex(frappe.ValidationError, "Invalid IBAN on mandate vtest-MD-2"):
			self.mandate("vtest-MD-2", "NL91ABNA0417164301")

	def test_is_active_follows_the_status(self):
		self.assertEqual(self.mandate("vtest-MD-3", "NL91ABNA0417164300").is_active, 1)
		doc = self.mandate("vtest-MD-4", "NL91ABNA0417164300", status="Suspended")
		self.assertEqual(doc.is_active, 0)
		doc.status = "Active"
		doc.save()
		self.assertEqual(frappe.db.get_value("SEPA Mandate", doc.name, "is_active"), 1)
