import frappe


def member_updated(doc, method=None):
	if doc.status == "Suspended":  # ok: status is a field of Library Member
		frappe.msgprint(doc.member_nme)  # expect: FV001
	doc.loyalty_points = (doc.loyalty_points or 0) + 1  # ok: custom field from fixtures
	for row in doc.favourite_books:
		row.rating = row.rating or 0  # ok: rows of Favourite Book
		row.book_title = row.book  # expect: FV001


def check_member(doc, method=None):
	if doc.emial:  # expect: FV001
		doc.email = doc.email.strip()  # ok: field
	doc.flags.ignore_mandatory = True  # ok: flags is a Document attribute
	doc.db_set("fine_balance", 0)  # ok: column
	doc.db_set("details_section", 0)  # expect: FV003
	if doc.has_value_changed("statuss"):  # expect: FV003
		pass


def loan_or_book_trashed(doc, method=None):
	print(doc.title)  # ok: a field of Book, one of the two DocTypes this handler serves
	print(doc.borrower)  # ok: a field of Loan
	print(doc.titel)  # expect: FV001


def anything_inserted(doc, method=None):
	print(doc.whatever_field)  # ok: registered for "*", the DocType is not known


def loan_submitted(doc, method):
	for i, item in enumerate(doc.items):
		item.idx = i + 1  # ok: standard column
		item.fine = item.fine or 0  # ok: field of Loan Item
		print(item.parent, item.parentfield)  # ok: child-table columns
		item.retuned = 1  # expect: FV001
	for note in doc.notes:
		print(note.remark)  # ok: a Property Setter makes notes rows Loan Remark
		print(note.note_text)  # expect: FV001
	doc.summary = ", ".join(i.book for i in doc.items)  # ok: comprehension over rows
	print([i.bok for i in doc.items])  # expect: FV001


def not_a_handler(doc):
	print(doc.anything)  # ok: not registered in hooks, DocType unknown
