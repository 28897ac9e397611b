"""A Redis client whose every call fails within a bound the app sets, whatever the client it got.

The app receives its Redis clients from elsewhere (Frappe's ``frappe.cache``, RQ's connection,
a script's own client) with their owners' timeouts and retry policies. redis-py 6 and later
retry a failed command three times with exponential backoff by default, so one call to a Redis
that is down or frozen can take seconds; Frappe v15's client (redis-py 4.5) has no socket
timeout at all, so a frozen Redis hangs a call for ever.

:func:`bounded_client` derives a client on the same connection settings (host, port, database,
credentials, TLS, unix socket, Sentinel master) with its own connect and read timeout and no
retries, so a call that goes to Redis costs at most ``timeout`` seconds to connect plus
``timeout`` seconds per reply it waits for. It works with redis-py 4.5 to 7.x: it reads
``connection_pool.connection_kwargs`` and ``connection_class`` (present in all of them) and
passes ``retry=Retry(NoBackoff(), 0)``, which they all accept. The derived client keeps its own
small pool and is made once per source pool and timeout.
"""

import threading
import weakref

from redis import Redis
from redis.backoff import NoBackoff
from redis.connection import ConnectionPool
from redis.retry import Retry

from .defaults import REDIS_CALL_TIMEOUT

_MARK = "_verenigingen_bound"  # attribute set on a derived client: its timeout in seconds
_DERIVED: "weakref.WeakKeyDictionary[object, dict[float, Redis]]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def call_bound(client) -> float | None:
	"""The bound (seconds) of a client made by :func:`bounded_client`, else None."""
	return getattr(client, _MARK, None)


def bounded_client(client, timeout: float = REDIS_CALL_TIMEOUT) -> Redis:
	"""A client on ``client``'s connection settings whose calls give up after ``timeout`` seconds
	(connect, and each reply) and never retry. A client already bound at ``timeout`` or less is
	returned as it is."""
	if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
		raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
	bound = call_bound(client)
	if bound is not None and bound <= timeout:
		return client
	pool = client.connection_pool
	timeout = float(timeout)
	with _LOCK:
		derived = _DERIVED.setdefault(pool, {})
		found = derived.get(timeout)
		if found is None:
			found = derived[timeout] = _derive(pool, timeout)
		return found


def _derive(pool, timeout: float) -> Redis:
	kwargs = dict(pool.connection_kwargs)
	kwargs.update(
		socket_timeout=timeout,
		socket_connect_timeout=timeout,
		retry=Retry(NoBackoff(), 0),
		retry_on_timeout=False,
		retry_on_error=[],
	)
	kwargs.pop("connection_pool", None)
	sentinel_pool = _sentinel_pool_class()
	if sentinel_pool is not None and isinstance(pool, sentinel_pool):
		# A Sentinel master: the derived pool asks the same Sentinels for the master's address.
		kwargs.pop("is_master", None)
		kwargs.pop("check_connection", None)
		new_pool = sentinel_pool(
			pool.service_name,
			pool.sentinel_manager,
			is_master=pool.is_master,
			check_connection=pool.check_connection,
			connection_class=pool.connection_class,
			**kwargs,
		)
	else:
		new_pool = ConnectionPool(connection_class=pool.connection_class, **kwargs)
	client = Redis(connection_pool=new_pool)
	setattr(client, _MARK, timeout)
	return client


def _sentinel_pool_class():
	try:
		from redis.sentinel import SentinelConnectionPool
	except ImportError:  # pragma: no cover - every supported redis-py has it
		return None
	return SentinelConnectionPool
