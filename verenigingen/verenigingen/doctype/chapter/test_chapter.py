# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe

from verenigingen.tests.utils import AppTestCase
from verenigingen.verenigingen.doctype.member.test_member import make_member


class TestChapter(AppTestCase):
	def test_named_by_chapter_name_with_member_rows(self):
		make_member("vtest-TC-1")
		chapter = frappe.get_doc(
			{
				"doctype": "Chapter",
				"chapter_name": "vtest Chapter",
				"region": "Utrecht",
				"members": [{"member": "vtest-TC-1", "status": "Active", "enabled": 1}],
			}
		).insert()
		self.assertEqual(chapter.name, "vtest Chapter")
		self.assertEqual(chapter.status, "Active")
		rows = frappe.db.sql(
			"SELECT member, parenttype, parentfield FROM `tabChapter Member` WHERE parent=%s", chapter.name
		)
		self.assertEqual(rows, (("vtest-TC-1", "Chapter", "members"),))
		self.assertEqual(
			make_member("vtest-TC-2", primary_chapter=chapter.name).primary_chapter, chapter.name
		)
