"""The role guard refuses users without the role, even with frappe.flags.in_test set."""

import pytest


@pytest.fixture
def guarded(frappe_site):
	from verenigingen.api.guard import admin_only

	@admin_only
	def secret(x: int) -> int:
		return x * 2

	return secret


@pytest.mark.shell
@pytest.mark.parametrize(
	("user", "roles", "allowed"),
	[
		("Guest", (), False),
		("desk@example.org", ("Desk User",), False),
		("vadmin@example.org", ("Verenigingen Administrator",), True),
		("sysman@example.org", ("System Manager",), True),
		("Administrator", (), True),
	],
)
def test_admin_only_matrix(frappe_site, guarded, user, roles, allowed):
	import frappe

	frappe.flags.in_test = True  # frappe.only_for would step aside here; the guard must not
	frappe_site.login(user, roles)
	if allowed:
		assert guarded(4) == 8
	else:
		with pytest.raises(frappe.PermissionError):
			guarded(4)


@pytest.mark.shell
def test_roles_are_configurable_per_site(frappe_site, guarded):
	import frappe

	frappe.conf["verenigingen_admin_roles"] = ["Accounts Manager"]
	frappe_site.login("t@example.org", ("Accounts Manager",))
	assert guarded(1) == 2
	frappe_site.login("s@example.org", ("System Manager",))
	with pytest.raises(frappe.PermissionError):
		guarded(1)
