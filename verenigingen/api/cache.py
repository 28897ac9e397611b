"""Whitelisted cache administration: statistics and a full clear (admins only)."""

import frappe

from verenigingen.api.guard import admin_only
from verenigingen.caching import site_cache


@frappe.whitelist()
@admin_only
def get_cache_stats() -> dict:
	"""Hits, misses, invalidation misses, errors, compute time, hit ratio, entries and memory,
	per level and per function, summed over every worker of the site."""
	return site_cache().stats()


@frappe.whitelist(methods=["POST"])
@admin_only
def clear_cache() -> dict:
	"""Invalidate every entry of this site's app cache (O(1): one generation counter)."""
	applied = site_cache().invalidate_all()
	return {"cleared": True, "applied_now": applied}
