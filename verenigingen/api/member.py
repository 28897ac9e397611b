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
	if not isinstance(member, str) or not member.strip():
		frappe.throw(
			_("member must be the name of a Member, got {0}").format(repr(member)), frappe.ValidationError
		)
	if not frappe.db.exists("Member", member):
		frappe.throw(_("Member {0} not found").format(member), frappe.DoesNotExistError)
	frappe.has_permission("Member", "read", doc=member, throw=True)
	return member_summary(member)


@secure_cache(level=SecurityLevel.MEMBER_DATA, depends_on=("Member", "SEPA Mandate", "Member Payment"))
def member_summary(member: str) -> dict:
	return summaries.member_summary(bridge.database(), member)


@frappe.whitelist()
@admin_only
def get_chapter_statistics() -> list:
	"""Per chapter: region, status, member rows, enabled members and members it is primary for."""
	frappe.has_permission("Chapter", "read", throw=True)
	return chapter_statistics()


@secure_cache(level=SecurityLevel.REPORTING, depends_on=("Chapter", "Member"), scope=Scope.ROLES)
def chapter_statistics() -> list:
	return summaries.chapter_statistics(bridge.database())
