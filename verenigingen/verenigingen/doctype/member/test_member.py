# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe

from verenigingen.tests.utils import AppTestCase


def make_member(member_id: str, **values):
	return frappe.get_doc(
		{"doctype": "Member", "member_id": member_id, "first_name": "Anna", "last_name": "de Vries", **values}
	).insert()


class TestMember(AppTestCase):
	def test_named_by_member_id_with_full_name_and_default_status(self):
		doc = make_member("vtest-TM-1")
		self.assertEqual(doc.name, "vtest-TM-1")
		self.assertEqual(doc.full_name, "Anna de Vries")
		self.assertEqual(doc.status, "Pending")
		doc.first_name = "Anne"
		doc.save()
		self.assertEqual(frappe.db.get_value("Member", doc.name, "full_name"), "Anne de Vries")

	def test_required_fields_and_links_are_enforced(self):
		with self.assertRaises(frappe.MandatoryError):
			frappe.get_doc({"doctype": "Member", "member_id": "vtest-TM-2", "first_name": "Anna"}).insert()
		with self.assertRaises(frappe.LinkValidationError):
			make_member("vtest-TM-3", primary_chapter="vtest no such chapter")
		with self.assertRaises(frappe.DuplicateEntryError):
			make_member("vtest-TM-4")
			make_member("vtest-TM-4")
