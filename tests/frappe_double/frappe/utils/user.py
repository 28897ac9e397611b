"""frappe.utils.user: the helper the shell uses."""

import frappe


def get_users_with_role(role: str) -> list[str]:
	"""frappe.utils.user.get_users_with_role (v15): enabled users holding ``role`` via Has Role,
	Administrator left out (its query has ``User.name != "Administrator"``), though
	get_roles("Administrator") lists every role."""
	return sorted(
		user for user, roles in frappe._double.user_roles.items() if role in roles and user != "Administrator"
	)
