from frappe.model.document import Document


class LibraryMember(Document):
	def validate(self):
		print(self.member_name)  # ok
		print(self.loyalty_points)  # ok: custom field from fixtures
		print(self.favourite_books[0].rating)  # ok: row of Favourite Book
		print(self.favourite_books[0].ratng)  # expect: FV001
