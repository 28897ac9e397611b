"""Test harness: real Redis and MariaDB, an isolated keyspace per test, scratch databases.

Connection settings come from the environment, with the local defaults:
``VERENIGINGEN_REDIS_HOST``/``_PORT`` (127.0.0.1:6379) and ``VERENIGINGEN_DB_HOST``/
``_PORT``/``_USER``/``_PASSWORD`` (127.0.0.1:3306, root, empty).

The shell (code that imports frappe, tests marked ``shell``) runs against the test double in
``tests/frappe_double`` unless the real frappe imports. ``--frappe-site SITE`` (from the app's
folder in a bench; ``--sites-path`` if it is elsewhere) runs the shell tests against that real site
instead, on the site's own MariaDB and Redis (from its config), and deselects the core tests (they
need the machine's MariaDB and Redis, which a bench machine need not have). Each shell test on a
real site starts with the app's Redis keys of the site cleared, and the site is put back afterwards:
rows, series counters, settings, indexes and tables (tests/site_state.py), and, at the end of the
run, the app's Redis keys as they were.

The session ends by checking that no MariaDB connection of this run is left behind (the
processlist, before and after: connections to this run's ``vtest_<run_id>_*`` databases, and
connections of this process), then drops the scratch databases, each drop waiting at most
``CLEANUP_LOCK_WAIT_TIMEOUT`` seconds and naming the lock holder if it cannot. ``--bench-path``
with ``--frappe-site`` runs the bench-command tests through that bench's own ``bench`` (the rest
stays on the double).
"""

import sys
import time
import uuid
from pathlib import Path

import pytest

from verenigingen.performance.environment import database_settings, redis_settings
from verenigingen.performance.keys import KeyBuilder, unlink_matching, unlink_site

ROOT = Path(__file__).resolve().parents[1]
DOUBLE_DIR = Path(__file__).resolve().parent / "frappe_double"


def pytest_addoption(parser):
	parser.addoption(
		"--frappe-site",
		action="store",
		default=None,
		help="run the shell tests against this real Frappe site (from the app's folder in a bench; with "
		"--bench-path, the site of that bench the bench-command tests run on)",
	)
	parser.addoption(
		"--sites-path",
		action="store",
		default=None,
		help="the bench's sites folder (default: found from the app's place in the bench)",
	)
	parser.addoption(
		"--bench-path",
		action="store",
		default=None,
		help="a real bench (frappe-bench folder): run the bench-command tests through its `bench` on "
		"--frappe-site, in subprocesses (the rest runs on the double)",
	)


def _install_frappe(site: str | None, bench_path: str | None = None) -> str:
	"""Make ``import frappe`` work: the real framework for --frappe-site (unless --bench-path says the
	site is reached through that bench's own processes), else the double."""
	if site and not bench_path:
		import frappe

		if getattr(frappe, "IS_TEST_DOUBLE", False):
			pytest.exit("--frappe-site needs the real frappe: run with the bench's python", returncode=4)
		return "real"
	try:
		import frappe

		if getattr(sys.modules["frappe"], "IS_TEST_DOUBLE", False):
			return "double"
		return "real" if site else "real-unconnected"
	except ImportError:
		sys.path.insert(0, str(DOUBLE_DIR))
		import frappe

		return "double"


def _site_conf(site: str, sites_path: Path):
	"""The real site's config (site_config.json over common_site_config.json), read by Frappe."""
	import frappe

	frappe.init(site, sites_path=str(sites_path))
	try:
		return frappe._dict(frappe.conf)
	finally:
		frappe.destroy()


def pytest_configure(config):
	site = config.getoption("--frappe-site")
	config.frappe_mode = _install_frappe(site, config.getoption("--bench-path"))
	config.frappe_sites_path = None
	config.frappe_conf = None
	if site and config.frappe_mode == "real":
		from tests.benchsite import SiteNotFound, find_sites_path

		try:
			config.frappe_sites_path = find_sites_path(site, config.getoption("--sites-path"))
		except SiteNotFound as exc:
			pytest.exit(str(exc), returncode=4)
		config.frappe_conf = _site_conf(site, config.frappe_sites_path)
		if not config.frappe_conf.get("allow_tests"):
			pytest.exit(
				f"site {site} does not allow tests: the shell suite writes to it (and removes what it wrote). "
				f"Run `bench --site {site} set-config allow_tests True --parse` on a site meant for testing.",
				returncode=4,
			)


def pytest_collection_modifyitems(config, items):
	"""On a real site only the shell tests run (the core tests need the machine's MariaDB and Redis);
	the bench commands' tests run on the double and, with --bench-path, through that bench's `bench`."""
	if config.frappe_mode != "real":
		return

	def runs_here(item) -> bool:
		if not item.get_closest_marker("shell"):
			return False
		# the bench commands: in-process on the double (test_commands.py), through a bench's own
		# `bench` with --bench-path (test_commands_bench.py): not with the site's in-process frappe
		return item.path.name not in ("test_commands.py", "test_commands_bench.py")

	keep = [i for i in items if runs_here(i)]
	dropped = [i for i in items if not runs_here(i)]
	if dropped:
		config.hook.pytest_deselected(items=dropped)
		items[:] = keep


def _real(config) -> bool:
	return config.frappe_mode == "real"


@pytest.fixture(scope="session", autouse=True)
def _in_sites_folder(request):
	"""On a real site the tests run from the bench's sites folder, as bench commands do (Frappe
	opens its logs and reads apps.txt relative to it)."""
	if not _real(request.config):
		yield
		return
	import os

	before = os.getcwd()
	os.chdir(request.config.frappe_sites_path)
	try:
		yield
	finally:
		os.chdir(before)


# ---------------------------------------------------------------- settings


def db_settings(database: str | None = None) -> dict:
	return database_settings(database)


# ---------------------------------------------------------------- Redis


@pytest.fixture(scope="session")
def redis_server_client(request):
	"""The Redis the tests use: the machine's, or on a real site the site's own cache Redis."""
	import redis

	if _real(request.config):
		client = redis.Redis.from_url(request.config.frappe_conf.redis_cache, socket_timeout=10)
		where = request.config.frappe_conf.redis_cache
	else:
		client = redis.Redis(**redis_settings(), socket_timeout=10)
		where = redis_settings()
	try:
		client.ping()
	except redis.ConnectionError as exc:
		pytest.exit(f"Redis is not reachable at {where}: {exc}", returncode=3)
	yield client
	client.close()


def _delete_namespace(client, namespace: str) -> int:
	"""Every key of a test namespace, in one SCAN: the app's (KeyBuilder roots), the double's ``{ns}|``
	keys (frappe.cache's prefix) and RQ's keys of the double's queues and jobs all carry the
	namespace, which is random and unique to the test."""
	deleted = unlink_matching(client, f"*{namespace}*")
	stale = list(client.sscan_iter("rq:queues", match=f"*{namespace}*"))  # RQ leaves them without a TTL
	if stale:
		client.srem("rq:queues", *stale)
	return deleted


@pytest.fixture(scope="session")
def _site_redis(request):
	"""On a real site: the site's cache and queue Redis, with the app's keys of the site saved at the
	start of the run and put back (exactly, with their TTLs) at its end."""
	if not _real(request.config):
		yield None
		return
	import redis

	from verenigingen.tests.app_state import restore_app_keys, save_app_keys

	conf = request.config.frappe_conf
	clients = {
		"cache": redis.Redis.from_url(conf.redis_cache, socket_timeout=10),
		"queue": redis.Redis.from_url(conf.redis_queue, socket_timeout=10),
	}
	saved = save_app_keys(clients, conf.db_name)
	yield clients
	restore_app_keys(clients, conf.db_name, saved)
	for client in clients.values():
		client.close()


@pytest.fixture
def namespace(request, redis_server_client):
	"""A site namespace of this test alone; every key under it is removed afterwards. On a real site:
	the site's own namespace, its app keys cleared before and after the test."""
	if _real(request.config):
		clients = request.getfixturevalue("_site_redis")
		ns = request.config.frappe_conf.db_name
		for client in clients.values():
			unlink_site(client, ns)
		yield ns
		for client in clients.values():
			unlink_site(client, ns)
		return
	ns = f"vtest-{uuid.uuid4().hex[:12]}"
	yield ns
	_delete_namespace(redis_server_client, ns)


@pytest.fixture
def redis(redis_server_client, namespace):
	"""A real Redis client; use it with the ``namespace`` fixture (and KeyBuilder) for isolation."""
	return redis_server_client


@pytest.fixture
def keys(namespace):
	return KeyBuilder(namespace)


@pytest.fixture
def own_redis():
	"""A redis-server of the test's own on a free port (for restarts, SIGSTOP, FLUSHDB: never the
	shared one), resumed and killed afterwards."""
	from tests.ownredis import OwnRedis

	server = OwnRedis().start()
	yield server
	server.kill()


# ---------------------------------------------------------------- MariaDB


LEFTOVER_GRACE_SECONDS = 5.0  # how long a closed connection may still show in the processlist


class ScratchDatabases:
	"""Creates databases named for this run and drops every one of them at the end."""

	def __init__(self):
		from verenigingen.performance.db import PyMySQLDatabase

		self._cls = PyMySQLDatabase
		self.run_id = uuid.uuid4().hex[:8]
		self.created: list[str] = []
		self.admin = PyMySQLDatabase(**db_settings(), autocommit=True)
		self.admin_id = self.admin.connection.thread_id()

	def name(self, label: str = "db") -> str:
		"""A database name of this run (registered, so the session drops it), not yet created."""
		name = f"vtest_{self.run_id}_{label}_{len(self.created)}"
		self.created.append(name)
		return name

	def create(self, label: str = "db", *, with_tables: bool = True, autocommit: bool = False):
		from verenigingen.performance.schema import create_app_tables

		name = self.name(label)
		self.admin.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
		handle = self._cls(**db_settings(name), autocommit=autocommit)
		try:
			if with_tables:
				create_app_tables(handle)
		except BaseException:
			handle.close()
			raise
		return handle

	def our_connections(self) -> list[dict]:
		"""Processlist rows of this run: on one of its databases, or opened by this process."""
		import psutil

		ports = {
			c.laddr.port
			for c in _tcp_connections(psutil.Process())
			if c.raddr and c.raddr.port == db_settings()["port"]
		}
		rows = self.admin.sql(
			"SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, LEFT(INFO, 100) AS INFO "
			"FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()",
			as_dict=True,
		)
		prefix = f"vtest_{self.run_id}_"
		return [r for r in rows if (r["DB"] or "").startswith(prefix) or _port_of(r["HOST"]) in ports]

	def leftover_connections(self, before: set[int]) -> list[dict]:
		"""Connections of this run not in ``before``, after a short grace for closes in flight."""
		deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
		while True:
			left = [r for r in self.our_connections() if r["ID"] not in before]
			if not left or time.monotonic() > deadline:
				return left
			time.sleep(0.1)

	def kill(self, rows: list[dict]) -> None:
		"""End connections of this run (by id), as the server would end a client that went away."""
		import pymysql

		for row in rows:
			try:
				self.admin.sql(f"KILL CONNECTION {int(row['ID'])}")
			except pymysql.err.OperationalError as exc:
				if exc.args[0] != 1094:  # ER_NO_SUCH_THREAD: it ended on its own meanwhile
					raise

	def drop_all(self) -> list[str]:
		"""Drop every database of this run; return the errors of those that could not be dropped."""
		from verenigingen.performance.db import drop_database
		from verenigingen.performance.exceptions import MetadataLockTimeoutError

		errors = []
		try:
			for name in self.created:
				try:
					drop_database(self.admin, name)
				except MetadataLockTimeoutError as exc:
					errors.append(str(exc))
		finally:
			self.admin.close()
		return errors


def _tcp_connections(proc) -> list:
	"""The process's TCP connections (psutil 6 names it net_connections, 5.9 connections)."""
	listing = getattr(proc, "net_connections", None) or proc.connections
	return listing(kind="tcp")


def _port_of(host: str | None) -> int | None:
	"""The client port of a processlist HOST (``127.0.0.1:51234``), None for a socket."""
	if not host or ":" not in host:
		return None
	try:
		return int(host.rsplit(":", 1)[1])
	except ValueError:
		return None


def _describe(rows: list[dict]) -> str:
	return "; ".join(
		f"connection {r['ID']} ({r['USER']}@{r['HOST']}, db {r['DB']}, {r['COMMAND']} for {r['TIME']} s"
		+ (f", {r['INFO']!r}" if r["INFO"] else "")
		+ ")"
		for r in rows
	)


@pytest.fixture(scope="session")
def scratch_databases():
	from verenigingen.performance.exceptions import DatabaseConnectionError

	try:
		factory = ScratchDatabases()
	except DatabaseConnectionError as exc:
		pytest.exit(f"MariaDB is not reachable: {exc}", returncode=3)
	before = {r["ID"] for r in factory.our_connections()}
	yield factory
	# Every fixture that depends on this one has closed its handles by now: anything of this run
	# still connected is a leak (an open transaction would also hold up the drops below).
	left = factory.leftover_connections(before)
	factory.kill(left)  # ours, by id: so the drops below need not wait for them
	errors = factory.drop_all()
	problems = []
	if left:
		problems.append(
			f"{len(left)} MariaDB connection(s) of this test run were left open: {_describe(left)}"
		)
	problems += errors
	if problems:
		pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def scratch_db(scratch_databases):
	"""A database of this test session with the app's tables, empty; shared, so clean up after use."""
	handle = scratch_databases.create("main")
	yield handle
	handle.close()


@pytest.fixture(scope="session")
def seeded_db(scratch_databases):
	"""A session database with a small generated association (300 members, seed 7). Read-only use."""
	from verenigingen.performance.dataset import generate_dataset

	# autocommit: a read-only handle, so no test's reads leave a transaction (and its locks) open
	handle = scratch_databases.create("seeded", autocommit=True)
	generate_dataset(handle, members=300, seed=7, progress=False)
	yield handle
	handle.close()


@pytest.fixture
def db(scratch_db):
	"""The session scratch database; the transaction is rolled back after the test."""
	yield scratch_db
	scratch_db.rollback()


# ---------------------------------------------------------------- Frappe shell


class FrappeSite:
	"""What shell tests need from a site, the same for the double and a real bench site."""

	def __init__(self, mode: str, namespace: str, sites_path=None):
		import frappe

		self.frappe = frappe
		self.mode = mode
		self.namespace = namespace
		self.sites_path = sites_path

	@property
	def is_double(self) -> bool:
		return self.mode == "double"

	def login(self, user: str, roles=()) -> None:
		"""Become ``user`` with exactly ``roles`` (plus Frappe's automatic ones). A real user is a User
		document, committed (a background job must find it); the site's ledger removes it afterwards."""
		frappe = self.frappe
		if user not in ("Administrator", "Guest"):
			if self.is_double:
				frappe._double.add_user(user, roles)
			else:
				_ensure_real_user(frappe, user, roles)
		frappe.set_user(user)

	def other_connection(self):
		"""A second connection to the site's database (another request or worker, as MariaDB sees it)."""
		import pymysql

		if self.is_double:
			settings = self.frappe._double.sites[self.namespace]
		else:
			conf = self.frappe.conf
			settings = {
				"host": conf.db_host or "127.0.0.1", "port": int(conf.db_port or 3306),
				"user": conf.db_user or conf.db_name, "password": conf.db_password, "database": conf.db_name,
			}  # fmt: skip
		return pymysql.connect(charset="utf8mb4", autocommit=True, **settings)

	def run_jobs(self) -> None:
		"""Run every queued background job of the site to its end, with a worker as a bench runs one:
		a real ``bench worker --burst`` on a real site, rq's SimpleWorker running the double's
		``execute_job`` in this process otherwise. The test's transaction is committed first (a job
		sees what the test wrote) and a fresh one begun after (the test sees what the jobs wrote)."""
		frappe = self.frappe
		user = frappe.session.user
		frappe.db.commit()
		if self.is_double:
			frappe._double.run_worker()
		else:
			from tests.benchsite import run_burst_worker

			self.worker_output = run_burst_worker(self.sites_path)
		frappe.db.commit()
		frappe.set_user(user)


def _ensure_real_user(frappe, user: str, roles) -> None:
	"""A User with exactly ``roles``, committed. Saved with ``flags.in_test`` as Frappe's own tests
	do, so the contact is made at once and no gravatar lookup is enqueued."""
	in_test = frappe.flags.in_test
	frappe.flags.in_test = True
	try:
		_save_real_user(frappe, user, roles)
	finally:
		frappe.flags.in_test = in_test


def _save_real_user(frappe, user: str, roles) -> None:
	"""Insert the User, or give it exactly ``roles``; an unchanged User is not saved again (every
	User save runs frappe.clear_cache(), which would invalidate the app cache of the test)."""
	if not frappe.db.exists("User", user):
		frappe.get_doc(
			{"doctype": "User", "email": user, "first_name": user.split("@")[0], "send_welcome_email": 0}
		).insert(ignore_permissions=True)
	doc = frappe.get_doc("User", user)
	if {r.role for r in doc.roles} == set(roles) and doc.roles:
		return
	doc.set("roles", [])
	for role in roles:
		doc.append("roles", {"role": role})
	doc.save(ignore_permissions=True)
	frappe.db.commit()


def _reset_process_state() -> None:
	"""What a new worker process starts without: the app's per-process state (site caches with their
	buffered statistics and in-process tiers, the outbox tables seen, buffered request samples). On a real site every test
	uses the same namespace, so nothing may carry over from the test before."""
	from verenigingen import caching, frappe_bridge, monitoring

	for cache in list(caching._sites.values()):
		if getattr(cache, "local", None) is not None:
			cache.local.close()  # its tracking connection and thread
	caching._sites.clear()
	frappe_bridge._OUTBOX_SITES.clear()
	monitoring._REQUEST_BUFFERS.clear()


@pytest.fixture
def frappe_site(request, namespace, redis_server_client):
	"""The Frappe shell, connected as Guest: the double on a fresh scratch database and this test's
	Redis namespace, or the real site given with --frappe-site (its state recorded before the test
	and put back after it, even when the test fails)."""
	mode = request.config.frappe_mode
	site = request.config.getoption("--frappe-site")
	if mode == "real":
		import frappe

		from tests.site_state import QueueLedger, SiteLedger

		frappe.init(site, sites_path=str(request.config.frappe_sites_path))
		frappe.connect()
		_reset_process_state()
		ledger, queues = SiteLedger(frappe.db), QueueLedger()
		frappe.set_user("Guest")
		try:
			yield FrappeSite("real", frappe.conf.db_name, request.config.frappe_sites_path)
		finally:
			frappe.local.flags.in_test = False
			if getattr(frappe.local, "request", None) is not None:
				del frappe.local.request
			frappe.set_user("Administrator")
			if ledger.restore():
				frappe.clear_cache()
			frappe.db.commit()
			queues.restore()
			frappe.destroy()
		return
	if mode != "double":
		pytest.skip("frappe is importable but no --frappe-site was given")
	import frappe

	handle = request.getfixturevalue("scratch_databases").create("shell")
	database = handle.database_name
	handle.close()
	frappe._double.connect(db_settings(database), redis_server_client, namespace)
	frappe._double.reset()
	_reset_process_state()
	yield FrappeSite("double", namespace)
	frappe.db.rollback()
	frappe._double.reset()
	frappe.db.close()  # as frappe.destroy() does: no connection outlives its test
	frappe.db = None


@pytest.fixture
def bare_site(frappe_site):
	"""The site without any of the catalog's indexes, as a fresh install with auto-index off has it
	(a real site has them since its install: they are dropped here, and the site's ledger adds them
	back after the test)."""
	import frappe

	from verenigingen.performance.indexes import catalog

	for spec in catalog("all"):
		present = frappe.db.sql(
			"SELECT 1 FROM information_schema.statistics WHERE table_schema=DATABASE() AND table_name=%s "
			"AND index_name=%s",
			(spec.table, spec.name),
		)
		if present:
			frappe.db.sql_ddl(f"ALTER TABLE `{spec.table}` DROP INDEX `{spec.name}`")
	return frappe_site
