# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe
from frappe.model.document import Document


class PerformanceSettings(Document):
	def validate(self):
		from verenigingen.frappe_bridge import monitoring_settings_from

		# Builds the core's settings from this document: raises, naming the field, if one is out of range.
		try:
			monitoring_settings_from(self.as_dict())
		except ValueError as exc:
			frappe.throw(str(exc), frappe.ValidationError)

	def on_update(self):
		from verenigingen.frappe_bridge import publish_activation_level

		publish_activation_level(int(self.activation_level or 0))
