import frappe


class FineMixin:
	fine_per_day = 0.25

	def compute_fine(self, days: int) -> float:
		return days * self.fine_per_day

	@property
	def overdue(self) -> bool:
		return self.status == "Overdue"

	def notify(self):
		frappe.msgprint(self.borrower)
