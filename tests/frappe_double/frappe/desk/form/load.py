"""frappe.desk.form.load: the desk's form load (v15 ``getdoc``), as far as the shell uses it."""

import frappe


def getdoc(doctype, name, user=None):
	"""Load the document, check read permission, run onload, append it to ``frappe.response.docs``
	(v15 also adds docinfo and link titles: more statements on a real site, none the shell needs)."""
	if not (doctype and name):
		raise Exception("doctype and name required!")
	try:
		doc = frappe.get_doc(doctype, name)
	except frappe.DoesNotExistError:
		return []
	if not frappe.has_permission(doctype, "read", doc=doc):
		raise frappe.PermissionError(("read", doctype, name))
	doc.run_method("onload")
	if frappe.response.get("docs") is None:
		frappe.response["docs"] = []
	frappe.response["docs"].append(doc)
