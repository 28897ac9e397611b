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


_PLAIN_CLIENTS: dict[int, object] = {}  # id(connection pool) -> plain redis-py client on it


def _plain_client(pool):
	"""One plain ``redis.Redis`` per connection pool (stable, so per-client state such as the app
	cache's statistics buffer lives once per process)."""
	client = _PLAIN_CLIENTS.get(id(pool))
	if client is None or client.connection_pool is not pool:
		import redis

		client = _PLAIN_CLIENTS[id(pool)] = redis.Redis(connection_pool=pool)
	return client


def redis_client():
	"""A plain redis-py client on the site's cache Redis (``frappe.cache``'s connection pool).

	Never ``frappe.cache`` itself: ``RedisWrapper`` overrides ``hgetall``, ``hset``, ``lrange`` ...
	to prefix the key with ``"{db_name}|"`` and pickle the value, so the app's own keys, written
	with plain commands, would read back as nothing."""
	cache = frappe.cache
	if callable(cache) and not hasattr(cache, "connection_pool"):
		cache = cache()
	return _plain_client(cache.connection_pool)


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
		# frappe.db.sql turns an explicit None into (None,): a query without placeholders then
		# fails in PyMySQL ("not all arguments converted"). Leave values out when there are none.
		if values is None:
			rows = frappe.db.sql(query, as_dict=as_dict)
		else:
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


# ---------------------------------------------------------------- monitoring

SETTINGS_DOCTYPE = "Performance Settings"


def monitoring_settings_from(values: dict):
	"""The core's MonitoringSettings from Performance Settings values (raises naming a bad field)."""
	from verenigingen.performance.monitoring import MonitoringSettings

	return MonitoringSettings.from_values(values)


def monitoring_settings():
	"""The site's MonitoringSettings: saved Performance Settings values over the core defaults."""
	return monitoring_settings_from(dict(frappe.db.get_singles_dict(SETTINGS_DOCTYPE)))


def metric_store():
	"""The site's per-minute histograms (cheap to build; one per request)."""
	from verenigingen.performance.histogram import MetricStore

	return MetricStore(redis_client(), namespace())


def publish_activation_level(level: int) -> None:
	"""Store the activation level where the request hook's single Redis call reads it."""
	metric_store().set_level(level)


def admin_roles() -> tuple[str, ...]:
	from verenigingen.api.guard import admin_roles as roles

	return roles()


def users_with_roles(roles) -> list[str]:
	"""Enabled users holding any of ``roles`` (frappe.utils.user.get_users_with_role per role)."""
	from frappe.utils.user import get_users_with_role

	users: set[str] = set()
	for role in roles:
		users.update(get_users_with_role(role))
	return sorted(users)


def rq_queues() -> tuple:
	"""(RQ connection, {queue type: RQ queue name}) of the bench, as Frappe names its queues."""
	from frappe.utils.background_jobs import generate_qname, get_queue_list, get_redis_conn

	return get_redis_conn(), {q: generate_qname(q) for q in get_queue_list()}


def current_job_wait() -> tuple[str, float | None]:
	"""(queue type, ms the current RQ job waited between enqueue and start)."""
	from rq import get_current_job

	job = get_current_job()
	if job is None:
		return "inline", None
	queue = (job.origin or "default").rsplit(":", 1)[-1]
	if job.enqueued_at is None or job.started_at is None:
		return queue, None
	return queue, (job.started_at - job.enqueued_at).total_seconds() * 1000


def monitor(settings=None):
	"""The core Monitor for this site: the bench's RQ queues, the index catalog status, the app cache's
	statistics and the job coordinator's queue status."""
	from verenigingen.performance.indexes import index_catalog_status
	from verenigingen.performance.monitoring import Monitor

	settings = settings or monitoring_settings()
	db = database()
	connection, queues = rq_queues()
	return Monitor(
		redis_client(), db, namespace(), settings, disk_path=frappe.get_site_path(),
		rq_connection=connection, rq_queues=queues, index_status=lambda: index_catalog_status(db),
		cache=_site_cache(), coordinator=job_coordinator(load_control=False),
	)  # fmt: skip


# ---------------------------------------------------------------- job coordinator

JOB_CAPS_CONFIG_KEY = "verenigingen_job_caps"  # site config: {"bulk": 2, ...} overrides the default caps
JOB_RUNNER = "verenigingen.jobs.run_job"  # what bench workers run for each admitted attempt


def job_enqueuer():
	"""The coordinator's enqueuer over ``frappe.enqueue``: the site-scoped, deduplicated job id and
	the bench's own queues (short, default, long) come from Frappe itself."""

	def enqueue(method: str, *, queue: str, job_id: str, timeout: int, at_front: bool, kwargs: dict):
		job = frappe.enqueue(
			method, queue=queue, timeout=timeout, job_id=job_id, deduplicate=True, at_front=at_front, **kwargs
		)
		return getattr(job, "id", None)

	return enqueue


def job_coordinator(*, load_control: bool = True):
	"""The site's JobCoordinator, on the queue Redis bench workers read, built per call.
	``load_control=False`` builds it without a load controller (reconcile leaves caps alone)."""
	from frappe.utils.background_jobs import get_redis_conn

	from verenigingen.performance.jobs import JobCoordinator

	options = {} if load_control else {"load_controller": None}
	return JobCoordinator(
		get_redis_conn(),
		namespace(),
		job_enqueuer(),
		caps=site_config(JOB_CAPS_CONFIG_KEY) or None,
		runner=JOB_RUNNER,
		**options,
	)


# ---------------------------------------------------------------- cache

CACHE_TTL_CONFIG_KEY = (
	"verenigingen_cache_ttl"  # site config: {"FINANCIAL": 60, ...} overrides TTLs per level
)
CACHE_DERIVED_CONFIG_KEY = "verenigingen_cache_derived_dependencies"  # {"Member Payment": ["Member"]}
CACHE_LOCAL_TIER_CONFIG_KEY = "verenigingen_cache_local_tier"  # true, or {"max_entries": n, "max_bytes": n}
LOCAL_TIER_OPTIONS = ("max_entries", "max_bytes", "heartbeat", "stale_after", "slow_after", "idle_after")


def _site_cache():
	"""The site's SecurityAwareCache (built in verenigingen.caching, which itself uses this bridge)."""
	from verenigingen.caching import site_cache

	return site_cache()


def local_tier():
	"""The site's in-process cache tier, or None (the default). Site config
	``verenigingen_cache_local_tier``: ``true`` for the default limits, or a dict of LocalTier
	options (``{"max_entries": 10000, "max_bytes": 67108864}``); ``false`` or absent: off."""
	from verenigingen.performance.exceptions import InvalidCacheArgumentError
	from verenigingen.performance.local_tier import LocalTier

	config = site_config(CACHE_LOCAL_TIER_CONFIG_KEY)
	if config in (None, False, 0, "0", ""):
		return None
	if config in (True, 1, "1"):
		return LocalTier()
	if not isinstance(config, dict):
		raise InvalidCacheArgumentError(
			f"site config {CACHE_LOCAL_TIER_CONFIG_KEY} must be true, false or a dict of LocalTier options, "
			f"got {config!r}"
		)
	unknown = sorted(set(config) - set(LOCAL_TIER_OPTIONS))
	if unknown:
		raise InvalidCacheArgumentError(
			f"site config {CACHE_LOCAL_TIER_CONFIG_KEY} has unknown option(s) {unknown}; "
			f"use {', '.join(LOCAL_TIER_OPTIONS)}"
		)
	return LocalTier(**config)


def cache_settings() -> dict:
	"""The site's overrides of the app cache: TTLs per security level, derived dependencies and
	the in-process tier (off unless site config turns it on)."""
	return {
		"local": local_tier(),
		"ttls": site_config(CACHE_TTL_CONFIG_KEY) or None,
		"derived_dependencies": site_config(CACHE_DERIVED_CONFIG_KEY) or None,
	}
