"""Test harness: real Redis and MariaDB, an isolated keyspace per test, scratch databases.

Connection settings come from the environment, with the local defaults:
``VERENIGINGEN_REDIS_HOST``/``_PORT`` (127.0.0.1:6379) and ``VERENIGINGEN_DB_HOST``/
``_PORT``/``_USER``/``_PASSWORD`` (127.0.0.1:3306, root, empty).

The shell (code that imports frappe) runs against the test double in
``tests/frappe_double`` unless the real frappe imports; ``--frappe-site SITE`` runs the
same shell tests against a real site inside a bench.

The session ends by checking that no MariaDB connection of this run is left behind (the
processlist, before and after: connections to this run's ``vtest_<run_id>_*`` databases, and
connections of this process), then drops the scratch databases, each drop waiting at most
``CLEANUP_LOCK_WAIT_TIMEOUT`` seconds and naming the lock holder if it cannot.
"""

import sys
import time
import uuid
from pathlib import Path

import pytest

from verenigingen.performance.environment import database_settings, redis_settings
from verenigingen.performance.keys import unlink_matching, unlink_site

ROOT = Path(__file__).resolve().parents[1]
DOUBLE_DIR = Path(__file__).resolve().parent / "frappe_double"


def pytest_addoption(parser):
	parser.addoption(
		"--frappe-site",
		action="store",
		default=None,
		help="run the shell tests against this real Frappe site (from inside a bench; with --bench-path, "
		"the site of that bench the bench-command tests run on)",
	)
	parser.addoption(
		"--bench-path",
		action="store",
		default=None,
		help="a real bench (frappe-bench folder): run the bench-command tests through its `bench` on "
		"--frappe-site, in subprocesses (the rest runs as without it)",
	)


def _install_frappe(site: str | None, bench_path: str | None = None) -> str:
	"""Make ``import frappe`` work: the real framework for --frappe-site (which must then be importable,
	unless --bench-path says the site is reached through that bench's own processes), else the double."""
	if site and not bench_path:
		import frappe  # the real one: must be importable inside the bench

		return "real"
	try:
		import frappe

		if getattr(sys.modules["frappe"], "IS_TEST_DOUBLE", False):
			return "double"
		return "real" if site else "real-unconnected"
	except ImportError:
		sys.path.insert(0, str(DOUBLE_DIR))
		import frappe  # noqa: F401

		return "double"


def pytest_configure(config):
	config.frappe_mode = _install_frappe(config.getoption("--frappe-site"), config.getoption("--bench-path"))


# ---------------------------------------------------------------- settings


def db_settings(database: str | None = None) -> dict:
	return database_settings(database)


# ---------------------------------------------------------------- Redis


@pytest.fixture(scope="session")
def redis_server_client():
	import redis

	client = redis.Redis(**redis_settings(), socket_timeout=10)
	try:
		client.ping()
	except redis.ConnectionError as exc:
		pytest.exit(f"Redis is not reachable at {redis_settings()}: {exc}", returncode=3)
	yield client
	client.close()


def _delete_namespace(client, namespace: str) -> int:
	"""Every key of the site ``namespace`` and of RQ queues named after it (``{namespace}-short``
	...: registries, worker sets, the entries in ``rq:queues``), which RQ leaves without a TTL."""
	deleted = unlink_site(client, namespace)
	deleted += unlink_matching(client, f"rq:*{namespace}*")
	stale = [m for m in client.sscan_iter("rq:queues", match=f"*{namespace}*")]
	if stale:
		client.srem("rq:queues", *stale)
	return deleted


@pytest.fixture
def namespace(redis_server_client):
	"""A site namespace of this test alone; every key under it is removed afterwards."""
	ns = f"vtest-{uuid.uuid4().hex[:12]}"
	yield ns
	_delete_namespace(redis_server_client, ns)


@pytest.fixture
def redis(redis_server_client, namespace):
	"""A real Redis client; use it with the ``namespace`` fixture (and KeyBuilder) for isolation."""
	return redis_server_client


@pytest.fixture
def keys(namespace):
	from verenigingen.performance.keys import KeyBuilder

	return KeyBuilder(namespace)


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
			for c in psutil.Process().net_connections(kind="tcp")
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

	def __init__(self, mode: str, namespace: str):
		import frappe

		self.frappe = frappe
		self.mode = mode
		self.namespace = namespace

	@property
	def is_double(self) -> bool:
		return self.mode == "double"

	def login(self, user: str, roles=()) -> None:
		"""Become ``user`` with exactly ``roles`` (plus Frappe's automatic ones)."""
		frappe = self.frappe
		if user not in ("Administrator", "Guest"):
			if self.is_double:
				frappe._double.add_user(user, roles)
			else:
				_ensure_real_user(frappe, user, roles)
		frappe.set_user(user)


def _ensure_real_user(frappe, user: str, roles) -> None:
	if not frappe.db.exists("User", user):
		frappe.get_doc(
			{"doctype": "User", "email": user, "first_name": user.split("@")[0], "send_welcome_email": 0}
		).insert(ignore_permissions=True)
	doc = frappe.get_doc("User", user)
	doc.set("roles", [])
	for role in roles:
		doc.append("roles", {"role": role})
	doc.save(ignore_permissions=True)
	frappe.db.commit()


@pytest.fixture
def frappe_site(request, namespace, redis_server_client, scratch_databases):
	"""The Frappe shell, connected: the double on a fresh scratch database and this test's
	Redis namespace, or the real site given with --frappe-site."""
	mode = request.config.frappe_mode
	site = request.config.getoption("--frappe-site")
	if mode == "real":
		import frappe

		frappe.init(site=site)
		frappe.connect()
		yield FrappeSite("real", frappe.conf.db_name)
		frappe.db.rollback()
		frappe.destroy()
		return
	if mode != "double":
		pytest.skip("frappe is importable but no --frappe-site was given")
	import frappe

	handle = scratch_databases.create("shell")
	database = handle.database_name
	handle.close()
	frappe._double.connect(db_settings(database), redis_server_client, namespace)
	frappe._double.reset()
	yield FrappeSite("double", namespace)
	frappe.db.rollback()
	frappe._double.reset()
	frappe.db.close()  # as frappe.destroy() does: no connection outlives its test
	frappe.db = None
