"""Whitelisted monitoring endpoints: the summary and the dashboard's time series (admins only)."""

import frappe

from verenigingen import frappe_bridge as bridge
from verenigingen.api.guard import admin_only
from verenigingen.monitoring import flush_request_samples
from verenigingen.performance.monitoring import LEVELS, WINDOWS


def _disabled(level: int) -> dict:
	return {
		"enabled": False,
		"activation_level": level,
		"activation": LEVELS[level],
		"message": "Set the activation level in Performance Settings to 2 (dashboard) or higher.",
	}


@frappe.whitelist()
@admin_only
def get_performance_summary() -> dict:
	"""Score, components (and which are missing), bottlenecks, open alerts and key figures."""
	settings = bridge.monitoring_settings()
	if settings.activation_level < 2:
		return _disabled(settings.activation_level)
	flush_request_samples()  # this process's latest requests count too
	return {"enabled": True, **bridge.monitor(settings).summary()}


@frappe.whitelist()
@admin_only
def get_performance_dashboard_data(window: str = "24h") -> dict:
	"""Time series over ``window``: one of 1h, 6h, 24h, 7d, 30d."""
	if window not in WINDOWS:
		frappe.throw(
			frappe._("Unknown window {0}: use one of {1}").format(repr(window), ", ".join(WINDOWS)),
			frappe.ValidationError,
		)
	settings = bridge.monitoring_settings()
	if settings.activation_level < 2:
		return _disabled(settings.activation_level)
	flush_request_samples()
	return {"enabled": True, **bridge.monitor(settings).dashboard(window)}
