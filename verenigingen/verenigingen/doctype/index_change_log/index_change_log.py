# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

from frappe.model.document import Document


class IndexChangeLog(Document):
	"""One apply or rollback of an index by the database index manager (written by the core)."""

	pass
