"""The only place that turns frappe.local, frappe.session, frappe.db and frappe.cache
into the core's inputs. Everything the shell hands to ``verenigingen.performance``
is built here, per call, from the site the code runs in.
"""

import functools
import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

import frappe

from verenigingen.performance.context import SecurityContext
from verenigingen.performance.exceptions import JobDispatchError


def namespace() -> str:
	"""The site namespace: the site's database name, as Frappe prefixes its own cache keys."""
	return frappe.conf.db_name or frappe.local.site


REDIS_TIMEOUT_CONFIG_KEY = "verenigingen_redis_timeout_ms"  # site config: the bound of a Redis call, ms


def redis_timeout(*, background: bool = False) -> float:
	"""Seconds one call to Redis may take (connect, or wait for a reply) before it fails: the site
	config's ``verenigingen_redis_timeout_ms``, else 50 ms; background work (jobs, the scheduler)
	gets the longer REDIS_BACKGROUND_CALL_TIMEOUT unless the site's bound is longer still."""
	from verenigingen.performance.defaults import REDIS_BACKGROUND_CALL_TIMEOUT, REDIS_CALL_TIMEOUT

	raw = site_config(REDIS_TIMEOUT_CONFIG_KEY)
	seconds = REDIS_CALL_TIMEOUT
	if raw not in (None, ""):
		try:
			seconds = float(raw) / 1000
		except (TypeError, ValueError):
			raise ValueError(
				f"site config {REDIS_TIMEOUT_CONFIG_KEY} must be milliseconds, got {raw!r}"
			) from None
		if not seconds > 0:
			raise ValueError(f"site config {REDIS_TIMEOUT_CONFIG_KEY} must be above 0, got {raw!r}")
	return max(seconds, REDIS_BACKGROUND_CALL_TIMEOUT) if background else seconds


def bounded(client, *, background: bool = False):
	"""A plain redis-py client on ``client``'s connection settings whose every call fails within
	:func:`redis_timeout` and is never retried (one per connection pool and bound, per process)."""
	from verenigingen.performance.bounded import bounded_client

	return bounded_client(client, redis_timeout(background=background))


def redis_client(*, background: bool = False):
	"""A plain redis-py client on the site's cache Redis (``frappe.cache``'s connection settings),
	each call bounded by :func:`redis_timeout`, whatever timeouts and retries ``frappe.cache`` has.

	Never ``frappe.cache`` itself: ``RedisWrapper`` overrides ``hgetall``, ``hset``, ``lrange`` ...
	to prefix the key with ``"{db_name}|"`` and pickle the value, so the app's own keys, written
	with plain commands, would read back as nothing."""
	cache = frappe.cache
	if callable(cache) and not hasattr(cache, "connection_pool"):
		cache = cache()
	return bounded(cache, background=background)


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
		"""DDL never runs inside a transaction with pending writes: commit first, as Frappe requires.
		A metadata lock wait that gives up (Frappe raises QueryTimeoutError for it) becomes the
		core's MetadataLockTimeoutError naming the connection that holds the lock."""
		from verenigingen.performance.locks import is_lock_wait_timeout, timeout_error

		frappe.db.commit()
		try:
			frappe.db.sql_ddl(query)
		except Exception as exc:
			if not is_lock_wait_timeout(exc):
				raise
			raise timeout_error(self, query) from exc

	def commit(self) -> None:
		frappe.db.commit()

	def rollback(self) -> None:
		frappe.db.rollback()

	def pending_writes(self) -> bool:
		"""Does the request's transaction hold writes (``frappe.db.transaction_writes``)?"""
		return bool(getattr(frappe.db, "transaction_writes", 0))

	@property
	def connection(self):
		"""The PyMySQL connection under ``frappe.db`` (opened if it is not yet). Its thread id lets a
		second connection watch the progress of, or stop, the statement it runs."""
		if getattr(frappe.db, "_conn", None) is None:
			frappe.db.connect()
		return frappe.db._conn

	def clone(self, **overrides):
		"""A second, plain PyMySQL connection to the site's database, with the credentials of
		``frappe.db``'s own (for a progress watcher or to stop a running statement)."""
		from verenigingen.performance.db import PyMySQLDatabase

		conn = self.connection
		password, database = conn.password, conn.db
		settings = {
			"host": conn.host,
			"port": conn.port,
			"user": conn.user,
			"password": password.decode("latin1") if isinstance(password, bytes) else password,
			"database": database.decode() if isinstance(database, bytes) else database,
		}
		return PyMySQLDatabase(**{**settings, **overrides})


@contextmanager
def recording_queries():
	"""Record every ``frappe.db.sql`` call made inside the block (text, values, seconds, rows) as
	the core profiler's QueryRecords: what Frappe itself runs (get_doc, permissions, docinfo)
	is seen as well as the app's own statements."""
	from verenigingen.performance.profiler import QueryRecord

	records: list = []
	db = frappe.db
	original = db.sql

	def sql(query, *args, **kwargs):
		started = time.perf_counter()
		result = original(query, *args, **kwargs)
		values = args[0] if args else kwargs.get("values")
		rows = len(result) if isinstance(result, list | tuple) else 0
		records.append(QueryRecord(str(query), values, time.perf_counter() - started, rows))
		return result

	db.sql = sql  # an instance attribute shadows the method for this block only
	try:
		yield records
	finally:
		del db.sql


def config_seconds(key: str, default: float) -> int:
	"""A number of seconds from site config (``default`` when unset); a bad value names the key."""
	from verenigingen.performance.locks import seconds_value

	return seconds_value(site_config(key, default), f"site config {key}")


def index_manager(user: str):
	"""The site's IndexManager: its lock wait timeout and old-transaction threshold come from site
	config (``verenigingen_index_lock_wait_timeout``, ``verenigingen_index_old_transaction_seconds``)
	over the core's defaults."""
	from verenigingen.performance import defaults as d
	from verenigingen.performance.indexes import IndexManager

	return IndexManager(
		database(),
		user=user,
		lock_wait_timeout=config_seconds(d.INDEX_LOCK_WAIT_TIMEOUT_CONFIG_KEY, d.INDEX_LOCK_WAIT_TIMEOUT),
		old_transaction_seconds=config_seconds(
			d.INDEX_OLD_TRANSACTION_CONFIG_KEY, d.INDEX_OLD_TRANSACTION_SECONDS
		),
	)


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
	"""(RQ connection, {queue type: RQ queue name}) of the bench, as Frappe names its queues; the
	connection's calls are bounded like :func:`redis_client`'s."""
	from frappe.utils.background_jobs import generate_qname, get_queue_list, get_redis_conn

	return bounded(get_redis_conn()), {q: generate_qname(q) for q in get_queue_list()}


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


def job_coordinator(*, load_control: bool = True, background: bool = False):
	"""The site's JobCoordinator, on the queue Redis bench workers read, built per call, each of its
	Redis calls bounded (:func:`redis_timeout`; ``background=True`` for workers and the scheduler).
	``load_control=False`` builds it without a load controller (reconcile leaves caps alone)."""
	from frappe.utils.background_jobs import get_redis_conn

	from verenigingen.performance.jobs import JobCoordinator

	options = {} if load_control else {"load_controller": None}
	return JobCoordinator(
		bounded(get_redis_conn(), background=background),
		namespace(),
		job_enqueuer(),
		caps=site_config(JOB_CAPS_CONFIG_KEY) or None,
		runner=JOB_RUNNER,
		**options,
	)


# frappe.auth.UNSAFE_HTTP_METHODS: requests Frappe commits when they succeed (app.sync_database)
COMMITTING_HTTP_METHODS = frozenset(("POST", "PUT", "DELETE", "PATCH"))
_DEFERRED_JOBS = "verenigingen_deferred_jobs"  # frappe.local: ids submitted in the open transaction


def transaction_decides() -> bool:
	"""Will Frappe end the open transaction with a commit or a rollback that a submit must follow?

	Yes when it holds writes (a job must not see the world before they commit, nor run if they roll
	back); in a request Frappe commits when it succeeds (POST, PUT, DELETE, PATCH, or one that set
	``frappe.flags.commit``); in a background job (``execute_job`` commits after the method
	returns). No otherwise: a GET request without writes (Frappe rolls it back, there is nothing
	to commit) or a console or script that has written nothing."""
	if getattr(frappe.db, "transaction_writes", 0):
		return True
	request = getattr(frappe.local, "request", None)
	if request is not None:
		return getattr(request, "method", None) in COMMITTING_HTTP_METHODS or bool(frappe.flags.commit)
	return getattr(frappe.local, "job", None) is not None


def submit_job(
	method: str,
	kwargs: dict | None = None,
	*,
	priority="normal",
	job_id: str | None = None,
	depends_on=(),
	retry=None,
	timeout: float | None = None,
	accept_dependency_failure: bool = False,
) -> str:
	"""Submit a job to the site's coordinator, as the session user, in step with the transaction.

	Returns the job's id (``job_id``, or a new one). Bad input raises now (InvalidJobError, or
	UnknownDependencyError for a dependency that is neither known nor submitted earlier in the same
	transaction). Where Frappe will commit or roll back the open transaction
	(:func:`transaction_decides`), the job is submitted when it commits and not at all if it rolls
	back: until then the coordinator does not know the id (``status`` raises NoSuchJobError,
	``get_job_status`` answers 404). Otherwise it is submitted at once. Either way the job runs as
	the user who submitted it."""
	coordinator = job_coordinator()
	if job_id is None:
		job_id = uuid.uuid4().hex
	submission = dict(
		method=method, kwargs=kwargs, priority=priority, job_id=job_id, depends_on=depends_on, retry=retry,
		timeout=timeout, accept_dependency_failure=accept_dependency_failure, user=frappe.session.user,
	)  # fmt: skip
	if not transaction_decides():
		return coordinator.submit(**submission)
	deferred = getattr(frappe.local, _DEFERRED_JOBS, None)
	if deferred is None:
		deferred = set()
		setattr(frappe.local, _DEFERRED_JOBS, deferred)
	coordinator.check_submission(**submission, pending=deferred)
	deferred.add(job_id)
	frappe.db.after_commit.add(functools.partial(_submit_committed, coordinator, submission, deferred))
	frappe.db.after_rollback.add(deferred.clear)
	return job_id


def _submit_committed(coordinator, submission: dict, deferred: set) -> None:
	"""The transaction committed: submit now. The request has already succeeded and nobody waits
	for an answer, so a failure is an Error Log row, not an exception out of the commit."""
	deferred.discard(submission["job_id"])
	try:
		coordinator.submit(**submission)
	except JobDispatchError:
		pass  # recorded and waiting: the next dispatch or the per-minute reconcile hands it to RQ
	except Exception:
		frappe.log_error(title=f"verenigingen job {submission['job_id']} not submitted")
		frappe.db.commit()


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


def refresh_read_snapshot() -> bool:
	"""Make the next read of this request start a new REPEATABLE READ snapshot, if that is safe.

	The app cache calls it on a miss, after reading the generation tokens the value will be
	stored under and before computing it, so the value is computed from data at least as new as
	the tokens. With no pending writes (``frappe.db.transaction_writes``) the transaction is ended
	with a plain SQL ``COMMIT`` and a new one begun as ``frappe.db.commit()`` would, but without
	running the before/after-commit callbacks: they stay queued for the request's own commit
	(``frappe.db.commit()`` would enqueue after-commit jobs and publish realtime events early,
	``frappe.db.rollback()`` would drop them). Returns False, touching nothing, when the
	transaction holds writes: the value then depends on uncommitted data and must not be stored.
	Ending the transaction also releases row locks a locking read (``for_update``) took and any
	savepoints: the README says to call cached functions before such reads.
	"""
	db = frappe.db
	if not db:
		return True
	if db.transaction_writes:
		return False
	db.sql("commit")
	db.begin()
	return True


def transaction_db():
	"""The request's ``frappe.db``: its ``after_commit``/``after_rollback`` callbacks, and attributes
	set on it, belong to its connection's current transaction."""
	return frappe.db


OUTBOX_DOCTYPE = "Cache Invalidation"


_OUTBOX_SITES: set[str] = set()  # sites whose outbox table this process has seen (it is never dropped)


def outbox_ready() -> bool:
	"""Does the site have the cache's outbox table yet (not during install before the DocType sync)?

	Asks the database (not Frappe's table list, which it caches in Redis: the outbox is for when
	Redis fails) until the table is there, then remembers it for the process."""
	if not frappe.db:
		return False
	site = namespace()
	if site in _OUTBOX_SITES:
		return True
	if frappe.db.sql("SHOW TABLES LIKE %s", (f"tab{OUTBOX_DOCTYPE}",)):
		_OUTBOX_SITES.add(site)
		return True
	return False


def session_user() -> str:
	return frappe.session.user or "Administrator"
