# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe

from verenigingen import frappe_bridge
from verenigingen.tests.utils import AppTestCase


class TestPerformanceSettings(AppTestCase):
	def setUp(self):
		level = frappe_bridge.metric_store().level()
		self.addCleanup(frappe_bridge.publish_activation_level, level)  # Redis is not rolled back

	def test_saved_values_drive_the_monitoring_settings(self):
		doc = frappe.get_doc("Performance Settings")
		doc.activation_level = "3"
		doc.apdex_t_ms = 250
		doc.save()
		settings = frappe_bridge.monitoring_settings()
		self.assertEqual((settings.activation_level, settings.apdex_t_ms), (3, 250))
		self.assertEqual(frappe_bridge.metric_store().level(), 3)  # published for the request hook

	def test_out_of_range_values_are_refused_naming_the_field(self):
		doc = frappe.get_doc("Performance Settings")
		doc.apdex_t_ms = "fast"  # a Float field: Frappe makes it 0.0, which is refused
		with self.assertRaisesRegex(frappe.ValidationError, "apdex_t_ms must be a positive number"):
			doc.save()
		doc = frappe.get_doc("Performance Settings")
		doc.window_minutes = 0
		with self.assertRaisesRegex(frappe.ValidationError, "window_minutes must be a whole number"):
			doc.save()
