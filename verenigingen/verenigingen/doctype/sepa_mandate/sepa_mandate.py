# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document

from verenigingen.sepa import InvalidIBAN, validate_iban


class SEPAMandate(Document):
	def validate(self):
		try:
			self.iban = validate_iban(self.iban or "")
		except InvalidIBAN as exc:
			frappe.throw(_("Invalid IBAN on mandate {0}: {1}").format(self.mandate_id or self.name, exc))
		self.is_active = 1 if self.status == "Active" else 0
