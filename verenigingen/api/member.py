"""Whitelisted member read models, cached per asker. Permission is checked on every call,
before the cache is asked, so a cached value is never served to someone who may not see it."""

import frappe
from frappe import _

from verenigingen import frappe_bridge as bridge
from verenigingen.api.guard import admin_only
from verenigingen.caching import secure_cache
from verenigingen.performance import summaries
from verenigingen.performance.cache import Scope, SecurityLevel


@frappe.whitelist()
@admin_only
def get_member_summary(member: str) -> dict:
	"""The member, their active SEPA mandate and payment totals."""
	_check_member(member)
	return member_summary(member)


def _check_member(member: str) -> None:
	"""Refuse a blank name, an unknown member, or a user who may not read it."""
	if not isinstance(member, str) or not member.strip():
		frappe.throw(
			_("member must be the name of a Member, got {0}").format(repr(member)), frappe.ValidationError
		)
	if not frappe.db.exists("Member", member):
		frappe.throw(_("Member {0} not found").format(member), frappe.DoesNotExistError)
	frappe.has_permission("Member", "read", doc=member, throw=True)


@secure_cache(level=SecurityLevel.MEMBER_DATA, depends_on=summaries.MEMBER_SUMMARY_DEPENDS)
def member_summary(member: str) -> dict:
	return summaries.member_summary(bridge.database(), member)


@frappe.whitelist()
@admin_only
def get_payment_history(member: str, limit: int = summaries.PAYMENT_HISTORY_LIMIT) -> list:
	"""The member's payments, newest first, at most ``limit``."""
	_check_member(member)
	if isinstance(limit, bool) or not 1 <= limit <= summaries.PAYMENT_HISTORY_MAX:
		frappe.throw(
			_("limit must be a whole number from 1 to {0}, got {1}").format(
				summaries.PAYMENT_HISTORY_MAX, repr(limit)
			),
			frappe.ValidationError,
		)
	frappe.has_permission("Member Payment", "read", throw=True)
	return payment_history(member, limit)


@secure_cache(level=SecurityLevel.FINANCIAL, depends_on=summaries.PAYMENT_HISTORY_DEPENDS)
def payment_history(member: str, limit: int) -> list:
	return summaries.payment_history(bridge.database(), member, limit)


@frappe.whitelist()
@admin_only
def get_chapter_statistics() -> list:
	"""Per chapter: region, status, member rows, enabled members and members it is primary for."""
	frappe.has_permission("Chapter", "read", throw=True)
	return chapter_statistics()


@secure_cache(level=SecurityLevel.REPORTING, depends_on=("Chapter", "Member"), scope=Scope.ROLES)
def chapter_statistics() -> list:
	return summaries.chapter_statistics(bridge.database())
