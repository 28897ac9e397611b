"""The app's Redis keys of a site, saved and put back exactly (values and TTLs): tests on a real site
leave the app's state in Redis as they found it (database rows go back by rollback or by ledger)."""

from verenigingen.performance.keys import KeyBuilder, unlink_site


def save_app_keys(clients: dict, namespace: str) -> dict:
	"""{label: [(key, pttl, dump)]} of every key of the site's app namespace on each Redis client."""
	saved = {}
	patterns = KeyBuilder(namespace).site_patterns()
	for label, client in clients.items():
		saved[label] = [
			(key, client.pttl(key), client.dump(key))
			for pattern in patterns
			for key in client.scan_iter(match=pattern, count=500)
		]
	return saved


def restore_app_keys(clients: dict, namespace: str, saved: dict) -> None:
	"""Delete the site's app keys and restore the saved ones."""
	for label, client in clients.items():
		unlink_site(client, namespace)
		for key, ttl, value in saved[label]:
			if value is not None:
				client.restore(key, max(ttl, 0), value, replace=True)


def site_clients() -> dict:
	"""Plain clients on the current site's cache and queue Redis (from its config)."""
	from frappe.utils.background_jobs import get_redis_conn

	from verenigingen import frappe_bridge

	return {"cache": frappe_bridge.redis_client(), "queue": get_redis_conn()}
