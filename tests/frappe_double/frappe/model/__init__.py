"""frappe.model: the double carries only the Document class."""
