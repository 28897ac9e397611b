"""What the command-line tools share: checks made before any work starts, so bad input or a
missing service ends the run with one line naming what is wrong (exit status 2) and leaves
nothing behind.

* :func:`writable_file` checks an output path (its folder exists, it can be written) before a
  long measurement, instead of failing after it.
* :func:`require_frappe` turns ``--site`` outside a bench into one sentence.
* :func:`redis_client` connects and pings with a short bound (no retries), so a Redis that is
  down costs a second, not redis-py's retry schedule.
* :func:`database_server` connects to MariaDB without choosing a database, so every service is
  checked before anything (a database) is created.
* :func:`one_line` is the message of any error, on one line.
"""

import importlib.util
import os
from pathlib import Path

from .exceptions import PerformanceError, UsageError

EXIT_USAGE = 2  # exit status of every tool for bad input or a service it cannot reach


def one_line(exc: BaseException) -> str:
	"""The error's message on one line (a Redis or PyMySQL error can span several)."""
	text = " ".join(str(exc).split()) or type(exc).__name__
	return text


def writable_file(path: str | os.PathLike, flag: str) -> Path:
	"""``path`` if a file can be written there: its folder exists and is writable, and it is not a
	folder itself. Raises UsageError naming ``flag`` otherwise."""
	target = Path(path)
	folder = target.parent if str(target.parent) else Path(".")
	if target.is_dir():
		raise UsageError(f"{flag} {path}: is a folder, not a file")
	if not folder.is_dir():
		raise UsageError(f"{flag} {path}: the folder {folder} does not exist")
	if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
		raise UsageError(f"{flag} {path}: not writable")
	return target


def require_frappe(flag: str = "--site") -> None:
	"""Raise UsageError unless Frappe can be imported (``--site`` works only inside a bench)."""
	if importlib.util.find_spec("frappe") is None:
		raise UsageError(
			f"{flag} needs Frappe, which this Python cannot import: run the script with the bench's "
			"Python from frappe-bench/ (./env/bin/python apps/verenigingen/scripts/...), or use the "
			"standalone options instead"
		)


def redis_client(host: str, port: int, *, socket_timeout: float = 10.0, connect_timeout: float = 2.0):
	"""A redis-py client without retries, checked with a PING; UsageError if Redis cannot be reached."""
	import redis
	from redis.backoff import NoBackoff
	from redis.retry import Retry

	client = redis.Redis(
		host=host,
		port=port,
		socket_timeout=socket_timeout,
		socket_connect_timeout=connect_timeout,
		retry=Retry(NoBackoff(), 0),
	)
	try:
		client.ping()
	except redis.RedisError as exc:
		client.close()
		raise UsageError(f"Redis is not reachable at {host}:{port}: {one_line(exc)}") from None
	return client


def database_server(host: str, port: int, user: str, password: str):
	"""An autocommit connection to the MariaDB server (no database chosen); DatabaseConnectionError
	if it cannot be reached."""
	from .db import PyMySQLDatabase

	return PyMySQLDatabase(host, port, user, password, autocommit=True)


def database_exists(server, name: str) -> bool:
	rows = server.sql("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,))
	return bool(rows)


def app_tables(db, doctypes=("Member", "Chapter", "Chapter Member", "SEPA Mandate", "Member Payment")):
	"""Which of the app's core tables the database ``db`` has."""
	rows = db.sql(
		"SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
		"AND table_name IN (" + ", ".join(["%s"] * len(doctypes)) + ")",
		tuple(f"tab{d}" for d in doctypes),
	)
	return {r[0] for r in rows}


__all__ = [
	"EXIT_USAGE",
	"PerformanceError",
	"UsageError",
	"app_tables",
	"database_exists",
	"database_server",
	"one_line",
	"redis_client",
	"require_frappe",
	"writable_file",
]
