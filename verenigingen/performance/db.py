"""The database handle the core talks to MariaDB through.

Two implementations share one small surface: :class:`PyMySQLDatabase` here, for
standalone use and tests, and ``FrappeDatabase`` in ``verenigingen.frappe_bridge``
over ``frappe.db``. Identifiers are validated and back-quoted by :func:`quote_identifier`;
values always travel as parameters.

A standalone handle waits at most ``lock_wait_timeout`` seconds for a metadata lock (MariaDB's
own default is a year), and its DDL says which connection held the lock when it gives up
(:mod:`.locks`). A handle ends what it starts: close it in ``finally``, and give read-only
handles ``autocommit=True`` so no read leaves a transaction (and its locks) open.
"""

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from .defaults import CLEANUP_LOCK_WAIT_TIMEOUT, DB_LOCK_WAIT_TIMEOUT
from .exceptions import DatabaseConnectionError, InvalidIdentifierError
from .locks import is_lock_wait_timeout, run_ddl, seconds_value, timeout_error

_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_ ]{1,64}$")
# Statements that write nothing: reads, session settings, transaction control.
_NO_WRITE_RE = re.compile(
	r"^\s*(?:\(\s*)*(?:(?:select|show|explain|describe|desc|begin|start\s+transaction|commit|rollback)\b"
	r"|set\s+(?!statement\b))",
	re.IGNORECASE,
)
_ENDS_TRANSACTION_RE = re.compile(r"^\s*(?:commit|rollback)\b(?!\s+to\b)", re.IGNORECASE)


def validate_identifier(name: str, what: str = "identifier") -> str:
	"""Return ``name`` if it is a safe table, column or index name, else raise InvalidIdentifierError."""
	if not isinstance(name, str) or not _IDENTIFIER_RE.match(name) or name.strip() != name:
		raise InvalidIdentifierError(
			f"{what} {name!r} is not allowed: use 1 to 64 letters, digits, '_' or inner spaces"
		)
	return name


def quote_identifier(name: str, what: str = "identifier") -> str:
	"""Validate ``name`` and wrap it in backticks."""
	return f"`{validate_identifier(name, what)}`"


def table_name(doctype: str) -> str:
	"""Frappe's table name for a DocType (``tab`` + name), validated."""
	return validate_identifier(f"tab{doctype}", "table")


@runtime_checkable
class Database(Protocol):
	"""What the core needs from a database connection."""

	@property
	def database_name(self) -> str: ...

	def sql(self, query: str, values: Sequence | dict | None = None, *, as_dict: bool = False) -> list: ...

	def sql_many(self, query: str, rows: Iterable[Sequence]) -> int: ...

	def ddl(self, query: str) -> None: ...

	def commit(self) -> None: ...

	def rollback(self) -> None: ...


class PyMySQLDatabase:
	"""A :class:`Database` over one PyMySQL connection. Not shared between threads: use :meth:`clone`."""

	def __init__(
		self,
		host: str = "127.0.0.1",
		port: int = 3306,
		user: str = "root",
		password: str = "",
		database: str | None = None,
		*,
		connect_timeout: float = 10,
		autocommit: bool = False,
		lock_wait_timeout: float | None = DB_LOCK_WAIT_TIMEOUT,
	):
		import pymysql

		self._settings = dict(
			host=host,
			port=int(port),
			user=user,
			password=password,
			database=database,
			connect_timeout=connect_timeout,
			autocommit=autocommit,
			lock_wait_timeout=lock_wait_timeout,
		)
		init = None
		if lock_wait_timeout is not None:
			init = f"SET SESSION lock_wait_timeout = {seconds_value(lock_wait_timeout)}"
		options = {k: v for k, v in self._settings.items() if k != "lock_wait_timeout"}
		try:
			self._conn = pymysql.connect(charset="utf8mb4", init_command=init, **options)
		except pymysql.err.OperationalError as exc:
			where = f"{user}@{host}:{port}" + (f"/{database}" if database else "")
			raise DatabaseConnectionError(f"cannot connect to MariaDB at {where}: {exc.args[-1]}") from exc
		self._owner = threading.get_ident()
		self._writes = False  # did a statement since the last commit or rollback (maybe) write?
		self.query_log: list | None = None

	@property
	def database_name(self) -> str:
		return self._settings["database"] or ""

	@property
	def connection(self):
		return self._conn

	def clone(self, **overrides) -> "PyMySQLDatabase":
		"""A new connection with the same settings (for another thread)."""
		settings = {**self._settings, **overrides}
		return PyMySQLDatabase(**settings)

	def _cursor(self, as_dict: bool):
		import pymysql.cursors

		return self._conn.cursor(pymysql.cursors.DictCursor if as_dict else pymysql.cursors.Cursor)

	def sql(self, query: str, values: Sequence | dict | None = None, *, as_dict: bool = False) -> list:
		"""Run one statement with parameters; return its rows (tuples, or dicts with ``as_dict``)."""
		self._track(query)
		with self._cursor(as_dict) as cur:
			cur.execute(query, values)
			rows = cur.fetchall()
		return list(rows) if rows else []

	def sql_many(self, query: str, rows: Iterable[Sequence]) -> int:
		"""Run a statement once per row (PyMySQL batches ``INSERT ... VALUES``); return affected rows."""
		rows = list(rows)
		if not rows:
			return 0
		self._track(query)
		with self._cursor(False) as cur:
			return cur.executemany(query, rows)

	def _track(self, query: str) -> None:
		if _ENDS_TRANSACTION_RE.match(query):
			self._writes = False
		elif not _NO_WRITE_RE.match(query):
			self._writes = True

	def pending_writes(self) -> bool:
		"""Does this connection's open transaction hold (possible) writes? Known from the statements
		it ran, not from information_schema.INNODB_TRX, which InnoDB refreshes only now and then."""
		return self._writes and not self._conn.get_autocommit()

	def ddl(self, query: str) -> None:
		"""Run DDL outside any transaction: pending work is committed first, as MariaDB would implicitly.
		If it gives up waiting for a metadata lock: MetadataLockTimeoutError naming who holds it."""
		import pymysql

		self.commit()
		try:
			with self._cursor(False) as cur:
				cur.execute(query)
		except pymysql.err.OperationalError as exc:
			if not is_lock_wait_timeout(exc):
				raise
			raise timeout_error(self, query) from exc
		self.commit()

	def commit(self) -> None:
		self._conn.commit()
		self._writes = False

	def rollback(self) -> None:
		self._conn.rollback()
		self._writes = False

	def close(self) -> None:
		try:
			self._conn.close()
		except Exception:  # already closed by the server; nothing left to release
			return

	def __enter__(self):
		return self

	def __exit__(self, *exc: Any) -> None:
		self.close()

	def __repr__(self) -> str:
		s = self._settings
		return f"PyMySQLDatabase({s['user']}@{s['host']}:{s['port']}/{s['database']})"


def drop_database(db: Database, name: str, *, timeout: float | None = CLEANUP_LOCK_WAIT_TIMEOUT) -> None:
	"""``DROP DATABASE IF EXISTS``, waiting at most ``timeout`` seconds for the metadata locks of its
	tables; MetadataLockTimeoutError naming the connection still in a transaction on it otherwise."""
	run_ddl(db, f"DROP DATABASE IF EXISTS {quote_identifier(name, 'database')}", timeout=timeout, schema=name)
