from library.library.doctype.book.book import Book


class CustomBook(Book):
	def apply_discount(self):
		self.price_factor = 0.9  # ok: own attribute, not like any field
		self.athor = self.author  # expect: FV001
