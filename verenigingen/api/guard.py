"""The one role guard of the app's whitelisted functions.

Every whitelisted function of the app is decorated ``@frappe.whitelist()`` then
``@admin_only`` (or ``@require_roles(...)``). The guard runs before the function body on
every call, reads the roles fresh from the session, and, unlike ``frappe.only_for``, does
not step aside when ``frappe.flags.in_test`` is set, so tests exercise it for real.
The roles may be overridden per site with the site config key
``verenigingen_admin_roles`` (a list of role names).
"""

import functools
from collections.abc import Callable, Iterable

import frappe
from frappe import _

DEFAULT_ADMIN_ROLES = ("System Manager", "Verenigingen Administrator")
SITE_CONFIG_KEY = "verenigingen_admin_roles"


def admin_roles() -> tuple[str, ...]:
	configured = frappe.conf.get(SITE_CONFIG_KEY)
	if configured:
		return tuple(configured)
	return DEFAULT_ADMIN_ROLES


def check_roles(roles: Iterable[str]) -> None:
	"""Raise frappe.PermissionError unless the session user has one of ``roles``."""
	roles = tuple(roles)
	user = frappe.session.user
	if user == "Administrator":
		return
	if user == "Guest" or set(roles).isdisjoint(frappe.get_roles(user)):
		frappe.throw(
			_("Not permitted: this requires one of the roles {0}").format(", ".join(roles)),
			frappe.PermissionError,
		)


def require_roles(*roles: str) -> Callable:
	"""Decorator: only users with one of ``roles`` may call the function."""

	def decorator(fn: Callable) -> Callable:
		@functools.wraps(fn)
		def guarded(*args, **kwargs):
			check_roles(roles)
			return fn(*args, **kwargs)

		guarded.__verenigingen_guard__ = roles
		return guarded

	return decorator


def admin_only(fn: Callable) -> Callable:
	"""Decorator: only the app's administrators (site-configurable roles) may call the function."""

	@functools.wraps(fn)
	def guarded(*args, **kwargs):
		check_roles(admin_roles())
		return fn(*args, **kwargs)

	guarded.__verenigingen_guard__ = "admin"
	return guarded
