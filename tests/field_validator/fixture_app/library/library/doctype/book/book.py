from frappe.model.document import Document


class Book(Document):
	def validate(self):
		self.isbn = (self.isbn or "").replace("-", "")  # ok: field
		if not self.tittle:  # expect: FV001
			self.title = self.isbn
		self.available = 1 if self.available else 0
		self.gnre = "Fiction"  # expect: FV001
		self.search_key = f"{self.title} {self.author}"  # ok: own attribute, read below
		self._cache = None  # ok: private attribute

	def on_update(self):
		print(self.search_key)  # ok: set in validate
		print(self.search_keys)  # expect: FV001
