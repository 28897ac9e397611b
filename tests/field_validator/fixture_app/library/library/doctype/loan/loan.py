import frappe
from frappe.model.document import Document

from library.mixins import FineMixin


class Loan(Document, FineMixin):
	if False:  # stands in for `if TYPE_CHECKING:` with the DF annotations Frappe generates
		borrower: str

	def validate(self):
		self.total_fine = sum(self.compute_fine(2) for _ in self.items)  # ok: mixin method
		if self.overdue:  # ok: mixin property
			self.notify()  # ok: mixin method
		print(self.fine_per_day)  # ok: mixin class attribute
		for item in self.items:
			if not item.book:  # ok
				frappe.throw("Book missing")
			item.fine = item.fine or self.compute_fine(1)
			print(item.book_name)  # expect: FV001
		for item in self.get("items"):
			print(item.returned)  # ok: rows from get("items")
		print(self.due_dat)  # expect: FV001
		self.statu = "Open"  # expect: FV001
		self.set("summary", "x")  # ok
		self.set("sumary", "x")  # expect: FV003
		frappe.db.get_value(self.doctype, self.name, "borrower")  # ok: doctype not a literal, nothing checked

	def helper(self):
		return self.validate()  # ok: own method

	@staticmethod
	def make(data):
		return data.anything  # ok: static method has no self
