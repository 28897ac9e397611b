# Copyright (c) 2026, Verenigingen maintainers and contributors
# For license information, please see license.txt

from frappe.model.document import Document


class CacheInvalidation(Document):
	"""One transaction's pending cache invalidation (written with raw SQL by the app's outbox,
	verenigingen.performance.outbox; never through the ORM, so it fires no doc_events)."""

	pass
