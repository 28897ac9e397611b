"""The only place that turns frappe.local, frappe.session, frappe.db and frappe.cache
into the core's inputs. Everything the shell hands to ``verenigingen.performance``
is built here, per call, from the site the code runs in.
"""

from collections.abc import Iterable, Sequence

import frappe

from verenigingen.performance.context import SecurityContext


def namespace() -> str:
	"""The site namespace: the site's database name, as Frappe prefixes its own cache keys."""
	return frappe.conf.db_name or frappe.local.site


def redis_client():
	"""The site's Redis cache connection (``frappe.cache``; a redis-py client)."""
	cache = frappe.cache
	return cache() if callable(cache) and not hasattr(cache, "get") else cache


def security_context(user: str | None = None) -> SecurityContext:
	"""Who is asking now: the session user and their roles, read fresh on every call."""
	user = user or frappe.session.user
	return SecurityContext(user, frappe.get_roles(user))


def site_config(key: str, default=None):
	"""A value of the site config (``site_config.json`` merged with the bench's common config)."""
	return frappe.conf.get(key, default)


class FrappeDatabase:
	"""The core's database handle over ``frappe.db`` of the current site."""

	@property
	def database_name(self) -> str:
		return frappe.conf.db_name

	def sql(self, query: str, values: Sequence | dict | None = None, *, as_dict: bool = False) -> list:
		rows = frappe.db.sql(query, values, as_dict=as_dict)
		if as_dict:
			return [dict(r) for r in rows]
		return [tuple(r) for r in rows]

	def sql_many(self, query: str, rows: Iterable[Sequence]) -> int:
		count = 0
		for row in rows:
			frappe.db.sql(query, tuple(row))
			count += 1
		return count

	def ddl(self, query: str) -> None:
		"""DDL never runs inside a transaction with pending writes: commit first, as Frappe requires."""
		frappe.db.commit()
		frappe.db.sql_ddl(query)

	def commit(self) -> None:
		frappe.db.commit()

	def rollback(self) -> None:
		frappe.db.rollback()

	def pending_writes(self) -> bool:
		"""Does the request's transaction hold writes (``frappe.db.transaction_writes``)?"""
		return bool(getattr(frappe.db, "transaction_writes", 0))


def in_web_request() -> bool:
	"""True while serving an HTTP request (DDL must then go to a background job instead)."""
	return bool(getattr(frappe.local, "request", None))


def database() -> FrappeDatabase:
	return FrappeDatabase()
