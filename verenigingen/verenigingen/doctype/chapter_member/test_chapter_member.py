# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

from unittest.mock import patch

import frappe

from verenigingen import events
from verenigingen.tests.utils import AppTestCase
from verenigingen.verenigingen.doctype.member.test_member import make_member


class TestChapterMember(AppTestCase):
	def test_rows_fire_no_doc_events_of_their_own(self):
		"""A change to a Chapter Member row reaches the app's handler as its parent Chapter."""
		self.assertTrue(frappe.get_meta("Chapter Member").istable)
		make_member("vtest-TCM-1")
		seen = []
		handler = events.on_document_change

		def record(doc, method=None, *args):
			seen.append((doc.doctype, method))
			return handler(doc, method, *args)

		with patch.object(events, "on_document_change", record):
			chapter = frappe.get_doc({"doctype": "Chapter", "chapter_name": "vtest CM Chapter"}).insert()
			chapter.append("members", {"member": "vtest-TCM-1", "enabled": 1})
			chapter.save()
		self.assertEqual({doctype for doctype, _ in seen}, {"Chapter"})
		self.assertIn(("Chapter", "on_update"), seen)
