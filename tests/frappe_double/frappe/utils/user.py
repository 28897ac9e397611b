"""frappe.utils.user: the helper the shell uses."""

import frappe


def get_users_with_role(role: str) -> list[str]:
	"""frappe.utils.user.get_users_with_role (v15): enabled users with a Has Role row for ``role``;
	Administrator is left out (although get_roles("Administrator") has every role)."""
	return sorted(
		user
		for user, roles in frappe._double.user_roles.items()
		if role in roles and user != "Administrator" and frappe._double.is_enabled(user)
	)
