"""The app cache in a Frappe site: one SecurityAwareCache per site and Redis connection, and
the ``secure_cache`` decorator that asks it on behalf of the session user.

The per-site object holds no user state: who asks is read from the session on every call
(``frappe_bridge.security_context()``) and passed in. It keeps only the process's buffered
statistics, its circuit breaker and any invalidations waiting for Redis.
"""

import functools
import inspect
import threading
from collections.abc import Callable

from verenigingen import frappe_bridge as bridge
from verenigingen.performance.cache import Scope, SecurityAwareCache, SecurityLevel
from verenigingen.performance.invalidation import parse_dependencies

_sites: dict[tuple[str, int], SecurityAwareCache] = {}
_sites_lock = threading.Lock()


def site_cache() -> SecurityAwareCache:
	"""The cache of the site this code runs in (TTLs, derived dependencies and the in-process tier
	from site config: ``frappe_bridge.cache_settings``)."""
	namespace = bridge.namespace()
	redis = bridge.redis_client()
	key = (namespace, id(redis))
	cache = _sites.get(key)
	if cache is None or cache.redis is not redis:
		settings = bridge.cache_settings()
		cache = SecurityAwareCache(redis, namespace, **settings)
		with _sites_lock:
			replaced, _sites[key] = _sites.get(key), cache
		if replaced is not None and replaced.local is not None:
			replaced.local.close()  # its tracking thread and connection
	return cache


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
