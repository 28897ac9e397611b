"""Install-time setup run by Frappe (``after_install`` in hooks.py)."""

import frappe

ADMIN_ROLE = "Verenigingen Administrator"


def after_install() -> None:
	ensure_admin_role()
	from verenigingen.indexes import ensure_catalogs

	ensure_catalogs()


def ensure_admin_role() -> None:
	"""Create the role that guards the app's administrative APIs, if it is missing."""
	if frappe.db.exists("Role", ADMIN_ROLE):
		return
	frappe.get_doc({"doctype": "Role", "role_name": ADMIN_ROLE, "desk_access": 1, "is_custom": 0}).insert(
		ignore_permissions=True
	)
