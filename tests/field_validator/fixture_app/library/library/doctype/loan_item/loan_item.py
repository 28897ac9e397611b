from frappe.model.document import Document


class LoanItem(Document):
	def validate(self):
		print(self.parent, self.parenttype, self.idx)  # ok: child-table columns
		print(self.condition)  # ok: custom field
		print(self.condtion)  # expect: FV001
