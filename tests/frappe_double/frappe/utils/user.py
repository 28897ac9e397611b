"""frappe.utils.user: the helper the shell uses."""

import frappe


def get_users_with_role(role: str) -> list[str]:
	"""frappe.utils.user.get_users_with_role (v15): enabled users holding ``role`` via Has Role.
	Administrator is left out (v15 filters ``name not in ("Administrator", "Guest")``), although
	get_roles("Administrator") lists every role."""
	users = {user for user, roles in frappe._double.user_roles.items() if role in roles}
	return sorted(users - {"Administrator", "Guest"})
