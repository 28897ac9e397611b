"""What every bench command of the app shares: the site it runs in, errors as one line, JSON output,
and paths as the administrator typed them.

Bench runs app commands from ``frappe-bench/sites`` with the site(s) of ``--site`` (or the bench's
default site) in ``ctx.obj["sites"]`` (``frappe.utils.bench_helper.app_group``). A command runs as
Frappe's own do: ``frappe.init(site)`` and ``frappe.connect()``, as Administrator, commit when it
succeeded, ``frappe.destroy()`` whatever happened.
"""

import datetime
import decimal
import functools
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import click

EXIT_FAILED = 1  # bad input, or the operation failed
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class CommandError(click.ClickException):
	"""One line on stderr (``Error: ...``) and a non-zero exit status."""

	def __init__(self, message: str, exit_code: int = EXIT_FAILED):
		super().__init__(message)
		self.exit_code = exit_code


json_option = click.option(
	"--json", "as_json", is_flag=True, help="Print the data (as the app's API returns it) as JSON."
)


def site_of(obj) -> str:
	"""The one site this command runs on: ``--site``, ``FRAPPE_SITE`` or the bench's default site."""
	sites = list((obj or {}).get("sites") or [])
	if not sites:
		raise CommandError(
			"no site given: use bench --site SITE verenigingen ..., or set one with bench use SITE"
		)
	if len(sites) > 1:
		raise CommandError(f"these commands run on one site at a time, got {len(sites)}: {', '.join(sites)}")
	return sites[0]


@contextmanager
def site_context(obj):
	"""Connected to the site as Administrator; commit on success; ``frappe.destroy()`` always."""
	import frappe

	site = site_of(obj)
	try:
		try:
			frappe.init(site=site)
			frappe.connect()
		except frappe.IncorrectSitePath as exc:
			raise CommandError(f"site {site!r} does not exist in this bench") from exc
		frappe.set_user("Administrator")
		yield site
		frappe.db.commit()
	finally:
		frappe.destroy()


def _known_errors() -> tuple[type[BaseException], ...]:
	"""Errors that are the answer to bad input or an unreachable service, not a bug: one line each."""
	import pymysql
	import redis

	import frappe

	from verenigingen.performance.exceptions import PerformanceError

	return (
		PerformanceError,
		frappe.ValidationError,
		frappe.PermissionError,
		pymysql.err.MySQLError,
		redis.exceptions.RedisError,
		OSError,
	)


def error_text(exc: BaseException) -> str:
	import pymysql

	if isinstance(exc, pymysql.err.MySQLError) and exc.args:
		return f"MariaDB: {exc.args[-1]}"
	return str(exc) or type(exc).__name__


@contextmanager
def one_line_errors():
	"""Turn the app's and the services' errors into a CommandError (one line on stderr, exit 1)."""
	try:
		yield
	except _known_errors() as exc:
		raise CommandError(error_text(exc)) from exc


def in_site(fn: Callable) -> Callable:
	"""Decorator of a command body: run it inside :func:`site_context`, errors as one line."""

	@functools.wraps(fn)
	@click.pass_obj
	def command(obj, **kwargs):
		with one_line_errors(), site_context(obj):
			return fn(**kwargs)

	return command


def _json_default(value):
	"""Values outside JSON as Frappe's API encodes them (``frappe.utils.response.json_handler``)."""
	if isinstance(value, datetime.date | datetime.datetime | datetime.time | datetime.timedelta):
		return str(value)
	if isinstance(value, decimal.Decimal):
		return float(value)
	if isinstance(value, bytes):
		return value.decode("utf-8", "replace")
	if isinstance(value, set | frozenset | tuple):
		return list(value)
	if hasattr(value, "as_dict"):
		return value.as_dict()
	raise TypeError(f"{type(value).__name__} is not JSON serializable")


def print_json(data) -> None:
	click.echo(json.dumps(data, indent=1, sort_keys=True, default=_json_default))


def user_folder() -> Path:
	"""The folder the administrator ran ``bench`` in. Bench changes into ``sites/`` before running a
	command; the shell's ``$PWD`` still names the folder the command was typed in."""
	pwd = os.environ.get("PWD")
	if pwd and os.path.isdir(pwd):
		return Path(pwd)
	return Path.cwd()


def user_path(raw: str, *, must_exist: bool = True) -> Path:
	"""A path as typed: absolute, or relative to :func:`user_folder`, then to ``sites/`` and the bench
	folder (where Frappe's own ``bench restore`` also looks). CommandError if it must exist and does not."""
	path = Path(raw).expanduser()
	if path.is_absolute():
		candidates = [path]
	else:
		candidates = [user_folder() / path, Path.cwd() / path, Path.cwd().parent / path]
	for candidate in candidates:
		if candidate.exists():
			return candidate.resolve()
	if must_exist:
		raise CommandError(
			f"{raw}: no such file or folder (looked in {', '.join(str(c.parent) for c in candidates)})"
		)
	return candidates[0]
