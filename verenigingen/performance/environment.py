"""Connection settings of the local MariaDB and Redis, read from the environment.

The scripts, benchmarks, the main job and the tests all take their defaults from here, so one
set of variables points every one of them at other servers:
``VERENIGINGEN_DB_HOST``/``_PORT``/``_USER``/``_PASSWORD`` (127.0.0.1:3306, root, empty) and
``VERENIGINGEN_REDIS_HOST``/``_PORT`` (127.0.0.1:6379).
"""

import argparse
import os


def _port(variable: str, default: int) -> int:
	raw = os.environ.get(variable, str(default))
	try:
		port = int(raw)
	except ValueError:
		raise ValueError(f"{variable} must be a port number, got {raw!r}") from None
	if not 0 < port < 65536:
		raise ValueError(f"{variable} must be a port number from 1 to 65535, got {port}")
	return port


def database_settings(database: str | None = None) -> dict:
	"""host, port, user and password of MariaDB (and ``database`` when given)."""
	settings = {
		"host": os.environ.get("VERENIGINGEN_DB_HOST", "127.0.0.1"),
		"port": _port("VERENIGINGEN_DB_PORT", 3306),
		"user": os.environ.get("VERENIGINGEN_DB_USER", "root"),
		"password": os.environ.get("VERENIGINGEN_DB_PASSWORD", ""),
	}
	if database:
		settings["database"] = database
	return settings


def redis_settings() -> dict:
	"""host and port of Redis."""
	return {
		"host": os.environ.get("VERENIGINGEN_REDIS_HOST", "127.0.0.1"),
		"port": _port("VERENIGINGEN_REDIS_PORT", 6379),
	}


def add_connection_arguments(parser: argparse.ArgumentParser, *, redis: bool = True) -> None:
	"""``-H/--host -P/--port -u/--user -p/--password`` of MariaDB (and ``--redis-host --redis-port``),
	defaulting to the environment; the same letters in every tool (``-h`` is always help)."""
	db, rs = database_settings(), redis_settings()
	sources = "VERENIGINGEN_DB_HOST/_PORT/_USER/_PASSWORD" + (
		" and VERENIGINGEN_REDIS_HOST/_PORT" if redis else ""
	)
	group = parser.add_argument_group("connections", f"defaults from {sources}")
	group.add_argument("-H", "--host", default=db["host"], help="MariaDB host (default: %(default)s)")
	group.add_argument(
		"-P", "--port", type=int, default=db["port"], help="MariaDB port (default: %(default)s)"
	)
	group.add_argument("-u", "--user", default=db["user"], help="MariaDB user (default: %(default)s)")
	group.add_argument(
		"-p",
		"--password",
		default=db["password"],
		help="MariaDB password (default: VERENIGINGEN_DB_PASSWORD, else none)",
	)
	if redis:
		group.add_argument("--redis-host", default=rs["host"], help="Redis host (default: %(default)s)")
		group.add_argument(
			"--redis-port", type=int, default=rs["port"], help="Redis port (default: %(default)s)"
		)
