"""The app cache in a Frappe site: one SecurityAwareCache per site and Redis connection, the
``secure_cache`` decorator that asks it on behalf of the session user, and invalidation after
commit through the transactional outbox.

The per-site object holds no user state: who asks is read from the session on every call
(``frappe_bridge.security_context()``) and passed in. It keeps only the process's buffered
statistics, its circuit breaker and any invalidations waiting for Redis.

A miss is computed on a fresh database snapshot (``frappe_bridge.refresh_read_snapshot``), or,
when the request holds uncommitted writes, computed and returned without being stored.

Invalidation (``record``, used by the doc_events handlers and by ``invalidate``) collects what
the current transaction changed into one batch per transaction, writes it to the outbox table in
that transaction, and applies it to Redis after the commit; the per-minute
``sweep_invalidations`` job applies what never reached Redis (see
``verenigingen.performance.outbox``).
"""

import functools
import inspect
import threading
from collections.abc import Callable, Iterable

from verenigingen import frappe_bridge as bridge
from verenigingen.performance.cache import Scope, SecurityAwareCache, SecurityLevel
from verenigingen.performance.invalidation import InvalidationBatch, parse_dependencies
from verenigingen.performance.outbox import InvalidationOutbox, new_outbox_id

_sites: dict[tuple[str, int], SecurityAwareCache] = {}
_sites_lock = threading.Lock()
_declared: dict[str, str] = {}  # cache name -> security level of every secure_cache function imported


def site_cache() -> SecurityAwareCache:
	"""The cache of the site this code runs in (TTLs, derived dependencies and the in-process tier
	from site config: ``frappe_bridge.cache_settings``)."""
	namespace = bridge.namespace()
	redis = bridge.redis_client()
	key = (namespace, id(redis))
	cache = _sites.get(key)
	if cache is None or cache.redis is not redis:
		settings = bridge.cache_settings()
		cache = SecurityAwareCache(
			redis,
			namespace,
			fresh_snapshot=bridge.refresh_read_snapshot,
			call_timeout=bridge.redis_timeout(),
			**settings,
		)
		with _sites_lock:
			replaced, _sites[key] = _sites.get(key), cache
		if replaced is not None and replaced.local is not None:
			replaced.local.close()  # its tracking thread and connection
	return cache


def declared_functions() -> dict[str, str]:
	"""The cached functions of the modules imported in this process: their names and levels."""
	return dict(_declared)


def clear_all() -> None:
	"""The ``clear_cache`` hook (``bench clear-cache``, ``frappe.clear_cache()``): drop every entry."""
	site_cache().invalidate_all()


def secure_cache(level, depends_on=(), scope=Scope.USER, name: str | None = None) -> Callable:
	"""Cache a function's result per asker: ``@secure_cache(level=SecurityLevel.REPORTING,
	depends_on=("Chapter",), scope=Scope.ROLES)``.

	The arguments (bound to the signature, defaults applied) key the entry together with the
	scope. Permission checks belong in the caller, before the cached function is called, so
	they run on every call. The wrapped function gains ``cache_clear()`` (drops its entries for
	every user of the site) and ``cache_info()`` (its statistics, see
	``SecurityAwareCache.stats``).
	"""
	level = SecurityLevel.coerce(level)
	scope = Scope.coerce(scope)
	deps = parse_dependencies(depends_on)

	def decorator(fn: Callable) -> Callable:
		cache_name = name or f"{fn.__module__}.{fn.__qualname__}"
		_declared[cache_name] = level.name
		signature = inspect.signature(fn)

		@functools.wraps(fn)
		def wrapper(*args, **kwargs):
			bound = signature.bind(*args, **kwargs)
			bound.apply_defaults()
			return site_cache().get_or_compute(
				cache_name,
				dict(bound.arguments),
				lambda: fn(*args, **kwargs),
				ctx=bridge.security_context(),
				level=level,
				scope=scope,
				depends_on=deps,
			)

		wrapper.cache_clear = lambda: site_cache().invalidate_function(cache_name)
		wrapper.cache_info = lambda: site_cache().stats(function=cache_name)
		wrapper.cache_name = cache_name
		return wrapper

	return decorator


# ---------------------------------------------------------------- invalidation after commit

_TRANSACTION_ATTR = "_verenigingen_cache_invalidation"  # on frappe.db: this transaction's batch


class _TransactionBatch:
	"""What the current transaction will invalidate: its outbox row and the merged batch."""

	__slots__ = ("outbox_id", "batch", "written")

	def __init__(self):
		self.outbox_id = new_outbox_id()
		self.batch = InvalidationBatch()
		self.written = False  # the outbox row exists in this transaction


def site_outbox() -> InvalidationOutbox:
	"""The site's invalidation outbox (rows through frappe.db, markers in the cache's Redis)."""
	return InvalidationOutbox(bridge.database(), site_cache())


def record(batch: InvalidationBatch) -> None:
	"""Invalidate what ``batch`` names once the current transaction commits; nothing if it rolls back.

	One batch per transaction: the first call registers the after-commit and after-rollback
	steps, later calls merge into it. Whenever the batch grows it is written to the outbox row of
	the transaction (a raw SQL upsert, in the same transaction), so a commit whose after-commit
	step cannot reach Redis, or whose process dies, is still applied by the sweeper. Before the
	outbox table exists (install, before the DocType sync) only the after-commit step runs.
	"""
	if not isinstance(batch, InvalidationBatch):
		raise TypeError(f"batch must be an InvalidationBatch, got {batch!r}")
	db = bridge.transaction_db()
	pending = getattr(db, _TRANSACTION_ATTR, None)
	if pending is None:
		pending = _TransactionBatch()
		setattr(db, _TRANSACTION_ATTR, pending)
		db.after_commit.add(functools.partial(_committed, db, pending))
		db.after_rollback.add(functools.partial(_forget, db, pending))
	if not pending.batch.merge(batch):
		return  # nothing new (a save fires on_update and on_change): no second write
	if bridge.outbox_ready():
		site_outbox().record(pending.outbox_id, pending.batch, user=bridge.session_user())
		pending.written = True


def _forget(db, pending: _TransactionBatch) -> None:
	if getattr(db, _TRANSACTION_ATTR, None) is pending:
		setattr(db, _TRANSACTION_ATTR, None)


def _committed(db, pending: _TransactionBatch) -> None:
	_forget(db, pending)
	site_outbox().applied(pending.outbox_id if pending.written else None, pending.batch)


def invalidate(doctype: str, fields: Iterable[str] | None = None) -> None:
	"""Invalidate entries that depend on ``doctype`` (only ``fields`` of it, if given) once the
	current transaction commits: for writes that fire no doc_events (``frappe.db.set_value``,
	``frappe.db.sql``, ``frappe.qb`` updates). Goes through the outbox like document events."""
	batch = InvalidationBatch()
	batch.add_doctype(doctype, fields)
	record(batch)


def sweep_invalidations() -> dict:
	"""Scheduled every minute: apply outbox rows that never reached Redis, delete the rows."""
	if not bridge.outbox_ready():
		return {"rows": 0, "skipped": "no outbox table"}
	return site_outbox().sweep()
