# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

from frappe.model.document import Document


class Member(Document):
	def validate(self):
		self.full_name = " ".join(part for part in (self.first_name, self.last_name) if part)
