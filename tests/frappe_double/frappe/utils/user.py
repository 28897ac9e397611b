"""frappe.utils.user: the helper the shell uses."""

import frappe


def get_users_with_role(role: str) -> list[str]:
	"""frappe.utils.user.get_users_with_role (v15): enabled users holding ``role`` via Has Role.
	Administrator holds every role here, as get_roles("Administrator") says."""
	users = {user for user, roles in frappe._double.user_roles.items() if role in roles}
	if role in frappe.get_roles("Administrator"):
		users.add("Administrator")
	return sorted(users)
