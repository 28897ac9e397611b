"""Test harness: real Redis and MariaDB, an isolated keyspace per test, scratch databases.

Connection settings come from the environment, with the local defaults:
``VERENIGINGEN_REDIS_HOST``/``_PORT`` (127.0.0.1:6379) and ``VERENIGINGEN_DB_HOST``/
``_PORT``/``_USER``/``_PASSWORD`` (127.0.0.1:3306, root, empty).

The shell (code that imports frappe) runs against the test double in
``tests/frappe_double`` unless the real frappe imports; ``--frappe-site SITE`` runs the
same shell tests against a real site inside a bench.
"""

import sys
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
		help="run the shell tests against this real Frappe site (from inside a bench)",
	)


def _install_frappe(site: str | None) -> str:
	"""Make ``import frappe`` work: the real framework for --frappe-site, else the double."""
	if site:
		import frappe  # the real one: must be importable inside the bench

		return "real"
	try:
		import frappe

		if getattr(sys.modules["frappe"], "IS_TEST_DOUBLE", False):
			return "double"
		return "real-unconnected"
	except ImportError:
		sys.path.insert(0, str(DOUBLE_DIR))
		import frappe  # noqa: F401

		return "double"


def pytest_configure(config):
	config.frappe_mode = _install_frappe(config.getoption("--frappe-site"))


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


class ScratchDatabases:
	"""Creates databases named for this run and drops every one of them at the end."""

	def __init__(self):
		from verenigingen.performance.db import PyMySQLDatabase

		self._cls = PyMySQLDatabase
		self.run_id = uuid.uuid4().hex[:8]
		self.created: list[str] = []
		self.admin = PyMySQLDatabase(**db_settings(), autocommit=True)

	def create(self, label: str = "db", *, with_tables: bool = True):
		from verenigingen.performance.schema import create_app_tables

		name = f"vtest_{self.run_id}_{label}_{len(self.created)}"
		self.admin.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
		self.created.append(name)
		handle = self._cls(**db_settings(name))
		if with_tables:
			create_app_tables(handle)
		return handle

	def drop_all(self):
		for name in self.created:
			self.admin.sql(f"DROP DATABASE IF EXISTS `{name}`")
		self.admin.close()


@pytest.fixture(scope="session")
def scratch_databases():
	from verenigingen.performance.exceptions import DatabaseConnectionError

	try:
		factory = ScratchDatabases()
	except DatabaseConnectionError as exc:
		pytest.exit(f"MariaDB is not reachable: {exc}", returncode=3)
	yield factory
	factory.drop_all()


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

	handle = scratch_databases.create("seeded")
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
	if site:
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
