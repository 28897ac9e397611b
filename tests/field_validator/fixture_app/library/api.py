import frappe
from frappe import get_all

LOAN = "Loan"


def member_summary(name: str) -> dict:
	member = frappe.get_doc("Library Member", name)
	print(member.member_name, member.joined_on)  # ok: fields
	print(member.membership)  # expect: FV001
	print(member.get("email"), member.get("fine_balanse"))  # expect: FV003
	member.set("status", "Active")  # ok
	member.set("statos", "Active")  # expect: FV003
	print(member.as_dict(), member.is_new(), member.name, member.owner)  # ok: Document API
	member.run_method("validate")  # ok
	member = {"member_name": "not a document"}  # ok: rebinding drops what was known
	print(member.get("anything"))  # ok: a plain dict now
	return {}


def loans(borrower: str) -> list:
	rows = frappe.get_all(
		LOAN,
		filters={"borrower": borrower, "status": ["in", ["Open", "Overdue"]], "docstatus": 1},
		fields=["name", "loan_date", "due_date as due", "sum(total_fine) as fines", "count(*) as n", "*"],
		order_by="due_date desc, creation",
		group_by="borrower",
	)
	frappe.get_all(LOAN, fields=["name", "loan_dat"])  # expect: FV002
	frappe.get_all(LOAN, filters={"borower": borrower})  # expect: FV002
	frappe.get_all(LOAN, filters=[["status", "=", "Open"], ["Loan Item", "book", "=", 1]])  # ok: child
	frappe.get_all(LOAN, filters=[["Loan Item", "bookk", "=", "x"]])  # expect: FV002
	frappe.get_list(LOAN, {"status": "Open"}, ["name", "borrower"])  # ok: filters first, Frappe swaps
	frappe.get_list(LOAN, {"stat": "Open"}, ["name"])  # expect: FV002
	get_all("Book", pluck="isbn")  # ok: imported from frappe
	get_all("Book", pluck="isbm")  # expect: FV002
	frappe.get_all("Book", fields=["genre"])  # expect: FV002
	frappe.get_all("Book", fields=["`tabBook`.title", "max(`tabBook`.isbn) as last"])  # ok: qualified names
	frappe.get_all("Book", order_by="titel asc")  # expect: FV002
	frappe.get_all("Unknown DocType", fields=["anything"])  # ok: DocType not known, say nothing
	frappe.get_all("Loan", fields=["items"])  # expect: FV002
	return rows


def values(name: str) -> None:
	frappe.db.get_value("Book", name, "title")  # ok
	frappe.db.get_value("Book", name, ["title", "athor"])  # expect: FV002
	frappe.db.get_value("Book", {"isbn": name}, "title")  # ok
	frappe.db.get_value("Book", {"isbn_no": name}, "title")  # expect: FV002
	frappe.db.set_value("Book", name, "available", 1)  # ok
	frappe.db.set_value("Book", name, {"available": 1, "availble": 0})  # expect: FV002
	frappe.db.exists("Library Member", {"email": name})  # ok
	frappe.db.exists({"doctype": "Library Member", "e_mail": name})  # expect: FV002
	frappe.db.count("Loan", {"status": "Open"})  # ok
	frappe.db.count("Loan", {"state": "Open"})  # expect: FV002
	frappe.db.get_value("Library Member", name, "loyalty_points")  # ok: custom field
	frappe.db.get_value("Library Member", name, "_user_tags")  # ok: optional column
	frappe.db.get_value("Loan Item", {"parent": name}, "fine")  # ok: child-table column


def create_loan(member: str, book: str) -> str:
	loan = frappe.get_doc(
		{
			"doctype": "Loan",
			"borrower": member,
			"loan_date": frappe.utils.today(),
			"items": [{"book": book, "condition": "Good"}, {"boook": book}],  # expect: FV003
			"status": "Open",
			"satus": "Open",  # expect: FV003
		}
	).insert()
	loan.due_date = frappe.utils.add_days(loan.loan_date, 14)  # ok: insert() returns the document
	row = loan.append("items", {"book": book, "returnd": 0})  # expect: FV003
	row.return_date = None  # ok: field of Loan Item
	row.returned_on = None  # expect: FV001
	loan.append("itemz", {})  # expect: FV003
	first = loan.items[0]
	print(first.book, loan.items[-1].fine)  # ok
	print(first.bok)  # expect: FV001
	new = frappe.new_doc("Book")
	new.title = "x"  # ok
	new.tittle = "x"  # expect: FV001
	new.apply_discount()  # ok: method of the override class CustomBook
	if member:
		doc = frappe.get_doc("Book", book)
	else:
		doc = frappe.get_doc("Loan", book)
	print(doc.title, doc.borrower)  # ok: either DocType may be meant
	print(doc.nothing)  # expect: FV001
	print(frappe.get_doc("Book", book).isbn)  # ok
	print(frappe.get_cached_doc("Book", book).isbnn)  # expect: FV001
	value = frappe.db.get_value("Book", book, "title")  # ok
	print(value.anything)  # ok: not a document
	print(doc.nothing)  # fieldcheck: ignore[FV001]
	print(doc.nothing2)  # fieldcheck: ignore
	print(doc.nothing3)  # fieldcheck: ignore[FV002]  # expect: FV001
	return loan.name


def loop_rebinding(names: list) -> None:
	doc = frappe.get_doc("Book", names[0])
	for name in names:
		print(doc.title)  # ok: Book on the first pass, Loan later; title is a Book field
		doc = frappe.get_doc("Loan", name)
	print(doc.isbn)  # ok: Book when the loop never ran, Loan otherwise: isbn is a Book field


def closures(name: str) -> None:
	book = frappe.get_doc("Book", name)

	def inner():
		return book.athor  # expect: FV001

	def shadowing(book):
		return book.anything  # ok: parameter shadows the outer document

	print(inner(), shadowing(None), [lambda book: book.whatever])  # ok: lambda parameter shadows


def membership(name: str) -> None:
	kind = frappe.get_doc("Membership Type", name)
	print(kind.payment_gateway_account)  # ok: the controller has a base class that cannot be read
	frappe.db.get_value("Membership Type", name, "max_loan")  # expect: FV002
