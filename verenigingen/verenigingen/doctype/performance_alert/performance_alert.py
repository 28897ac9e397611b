# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

from frappe.model.document import Document


class PerformanceAlert(Document):
	pass
