app_name = "library"
app_title = "Library"

doc_events = {
	"Library Member": {
		"on_update": "library.events.member_updated",
		"validate": ["library.events.check_member"],
	},
	("Loan", "Book"): {"on_trash": "library.events.loan_or_book_trashed"},
	"*": {"after_insert": "library.events.anything_inserted"},
	"Loan": {"on_submit": "library.events.loan_submitted"},
}

override_doctype_class = {"Book": "library.overrides.CustomBook"}
