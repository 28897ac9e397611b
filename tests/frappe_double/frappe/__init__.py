"""A small test double of the ``frappe`` module for running the shell outside a bench.

It implements only what verenigingen's shell uses, backed by the same real MariaDB and
Redis the core tests use. Where behaviour matters it mirrors Frappe version-15 as its
source shows it; each such place names the Frappe function it mirrors. It is put on
``sys.path`` by tests/conftest.py only when the real frappe cannot be imported.

Test-only controls (not part of Frappe) live in ``frappe._double``.
"""

import threading
from collections.abc import Callable

IS_TEST_DOUBLE = True
__version__ = "15.0.0-double"


class _dict(dict):
	"""frappe._dict: a dict with attribute access; a missing attribute reads as None."""

	def __getattr__(self, key):
		return self.get(key)

	def __setattr__(self, key, value):
		self[key] = value

	def __delattr__(self, key):
		self.pop(key, None)

	def update(self, *args, **kwargs):
		super().update(*args, **kwargs)
		return self

	def copy(self):
		return _dict(self)


# Exceptions (frappe/exceptions.py): ValidationError is the base of what frappe.throw raises.
class ValidationError(Exception):
	http_status_code = 417


class PermissionError(Exception):
	http_status_code = 403


class DoesNotExistError(ValidationError):
	http_status_code = 404


class DuplicateEntryError(ValidationError):
	http_status_code = 409


class NotFound(Exception):
	http_status_code = 404


class IncorrectSitePath(NotFound):
	"""frappe.exceptions.IncorrectSitePath: raised by frappe.init for a site without site_config.json."""


class TooManyRequestsError(Exception):
	http_status_code = 429


class AuthenticationError(Exception):
	http_status_code = 401


class CharacterLengthExceededError(ValidationError):
	"""frappe.exceptions.CharacterLengthExceededError: a value is longer than its varchar column."""


class QueryTimeoutError(Exception):
	"""frappe.exceptions.QueryTimeoutError: Database.sql raises it, ``from`` PyMySQL's error, for ER_LOCK_WAIT_TIMEOUT."""


class QueryDeadlockError(Exception):
	"""frappe.exceptions.QueryDeadlockError: Database.sql raises it, ``from`` PyMySQL's error, for ER_LOCK_DEADLOCK."""


class FrappeTypeError(TypeError):
	"""frappe.exceptions.FrappeTypeError: a whitelisted call's argument does not fit its annotation."""

	http_status_code = 417


local = threading.local()
flags = _dict()
conf = _dict()
session = _dict(user="Guest", sid="Guest")
db = None  # set by _double.connect()
cache = None  # a redis-py client, set by _double.connect()
whitelisted: set = set()
guest_methods: set = set()
allowed_http_methods_for_whitelisted_func: dict = {}
response = _dict()
message_log: list = []
enqueued_jobs: list = []


def _(msg: str, lang=None, context=None) -> str:
	"""frappe._: translation; the double returns the source string."""
	return msg


def throw(msg, exc=ValidationError, title=None, is_minimizable=False, wide=False, as_list=False):
	"""frappe.throw: log the message and raise ``exc`` with it."""
	message_log.append(_dict(message=msg, title=title, raise_exception=exc))
	raise exc(msg)


def msgprint(msg, title=None, raise_exception=0, **kwargs):
	message_log.append(_dict(message=msg, title=title))
	if raise_exception:
		exc = raise_exception if isinstance(raise_exception, type) else ValidationError
		raise exc(msg)


def whitelist(allow_guest=False, xss_safe=False, methods=None):
	"""frappe.whitelist: register the function as callable over /api/method (v15 semantics)."""
	methods = methods or ["GET", "POST", "PUT", "DELETE"]

	def innerfn(fn):
		# v15: the registered function checks its arguments against its annotations first, but only
		# in a request or a test (``in_request_or_test``).
		from frappe.utils.typing_validations import validate_argument_types

		fn = validate_argument_types(
			fn, apply_condition=lambda: getattr(local, "request", None) or flags.in_test
		)
		whitelisted.add(fn)
		allowed_http_methods_for_whitelisted_func[fn] = methods
		if allow_guest:
			guest_methods.add(fn)
		return fn

	return innerfn


def is_whitelisted(method):
	"""frappe.is_whitelisted: Guest may call only guest methods."""
	if session.user == "Guest" and method not in guest_methods:
		throw(_("Not permitted"), PermissionError)
	if method not in whitelisted:
		throw(_("Not permitted"), PermissionError)


def get_roles(user=None) -> list[str]:
	"""frappe.get_roles: Guest has ["Guest"]; Administrator has every role; others their roles
	plus the automatic "All" and "Guest"."""
	user = user or session.user
	if user == "Guest":
		return ["Guest"]
	if user == "Administrator":
		return sorted(_double.all_roles() | {"Administrator", "System Manager", "All", "Guest"})
	return sorted(set(_double.user_roles.get(user, ())) | {"All", "Guest"})


def only_for(roles, message=False):
	"""frappe.only_for: raise PermissionError unless the user has one of ``roles``.

	Mirrors v15: returns early when ``flags.in_test`` is set or the user is Administrator.
	"""
	if flags.in_test or session.user == "Administrator":
		return
	if isinstance(roles, str):
		roles = (roles,)
	if set(roles).isdisjoint(get_roles()):
		if not message:
			raise PermissionError
		throw(_("This action is only allowed for {}").format(", ".join(roles)), PermissionError)


def has_permission(doctype=None, ptype="read", doc=None, user=None, throw=False, **kwargs) -> bool:
	"""frappe.has_permission, by role only: does one of the user's roles grant ``ptype`` on the
	DocType (from the DocType JSON's permissions)? Administrator may do everything."""
	user = user or session.user
	allowed = user == "Administrator" or bool(
		_double.doctype_roles(doctype, ptype).intersection(get_roles(user))
	)
	if not allowed and throw:
		name = getattr(doc, "name", doc) if doc is not None else None
		msg = _("No permission for {0}").format(f"{doctype} {name}" if name else doctype)
		globals()["throw"](msg, PermissionError)
	return allowed


def init(site: str, sites_path: str = ".", new_site: bool = False, force: bool = False) -> None:
	"""frappe.init: the double has one site, the one ``_double.connect`` connected (a test's
	namespace); it stays initialised. Any other site does not exist, as Frappe's get_site_config
	says for a site folder without site_config.json."""
	_double.lifecycle.append(("init", site))
	if site != getattr(local, "site", None) and not new_site:
		raise IncorrectSitePath(f"{site} does not exist")


def connect(site: str | None = None, db_name: str | None = None, set_admin_as_user: bool = True) -> None:
	"""frappe.connect: the double's database is already connected; like Frappe, become Administrator."""
	if site:
		init(site)
	_double.lifecycle.append(("connect", site))
	if set_admin_as_user:
		set_user("Administrator")


def destroy() -> None:
	"""frappe.destroy: Frappe closes the connection and releases frappe.local; the double keeps its
	one connection for the test that owns it and only records the call."""
	_double.lifecycle.append(("destroy", getattr(local, "site", None)))


def set_user(username: str) -> None:
	"""frappe.set_user: change the session user (and drop per-user flags)."""
	session.user = username
	session.sid = username
	local.user_perms = None


def get_hooks(hook=None, default=None, app_name=None):
	return _double.get_hooks(hook, default)


def get_doc(*args, **kwargs):
	from frappe.model.document import get_doc as _get_doc

	return _get_doc(*args, **kwargs)


def new_doc(doctype, **kwargs):
	from frappe.model.document import Document

	return Document({"doctype": doctype, **kwargs})


def enqueue(
	method,
	queue="default",
	timeout=None,
	event=None,
	is_async=True,
	job_name=None,
	now=False,
	enqueue_after_commit=False,
	*,
	on_success=None,
	on_failure=None,
	at_front=False,
	job_id=None,
	deduplicate=False,
	**kwargs,
):
	"""frappe.enqueue: the double hands the call to the enqueue function a test installed
	(``_double.enqueue_handler``), or records it. Queue names are checked as Frappe does."""
	if queue not in _double.queues:
		raise ValueError(f"Queue should be one of {', '.join(sorted(_double.queues))}")
	if deduplicate and not job_id:
		raise ValueError("`job_id` paramater is required for deduplication.")
	call = _dict(
		method=method, queue=queue, timeout=timeout, job_id=job_id, deduplicate=deduplicate,
		at_front=at_front, enqueue_after_commit=enqueue_after_commit, kwargs=kwargs, user=session.user,
	)  # fmt: skip
	enqueued_jobs.append(call)
	handler: Callable | None = _double.enqueue_handler
	if handler is None:
		return call
	if enqueue_after_commit:
		db.after_commit.add(lambda: handler(call))
		return None
	return handler(call)


def clear_cache(user=None, doctype=None):
	"""frappe.clear_cache: with no argument it runs every app's ``clear_cache`` hooks."""
	if user is None and doctype is None:
		for path in get_hooks("clear_cache") or []:
			get_attr(path)()


def get_attr(method_string: str):
	"""frappe.get_attr: import a dotted path."""
	import importlib

	modulename, _sep, methodname = method_string.rpartition(".")
	return getattr(importlib.import_module(modulename), methodname)


def get_site_path(*joins) -> str:
	"""frappe.get_site_path: a path inside the site folder (the double's site folder is the cwd)."""
	import os

	return os.path.join(local.__dict__.get("site_path") or os.getcwd(), *joins)


def generate_hash(txt=None, length=56) -> str:
	import secrets

	return secrets.token_hex(length // 2 + 1)[:length]


def get_traceback(with_context=False) -> str:
	import traceback

	return traceback.format_exc()


def log_error(title=None, message=None, reference_doctype=None, reference_name=None, *, defer_insert=False):
	"""frappe.log_error (frappe/utils/error.py, v15): insert an Error Log row in the current
	transaction, so it is lost if that transaction rolls back or never commits. As in Frappe, a
	multi-line title given with a message is the traceback (the two are swapped), the traceback
	defaults to the exception in flight, and a title (the ``method`` Data field) over 140
	characters is refused. The row's owner is the session user."""
	traceback = None
	if message:
		if "\n" in title:
			traceback, title = title, message
		else:
			traceback = message
	title = title or "Error"
	traceback = str(traceback or get_traceback(with_context=True))
	if not db:
		print(f"Failed to log error in db: {title}")
		return None
	for field, value in (
		("method", title),
		("reference_doctype", reference_doctype),
		("reference_name", reference_name),
	):
		if value is not None and len(str(value)) > 140:
			raise CharacterLengthExceededError(f"Error Log: {field} is longer than 140 characters")
	name = generate_hash(length=10)
	db.sql(
		"INSERT INTO `tabError Log` (name, creation, modified, owner, modified_by, method, error,"
		" reference_doctype, reference_name) VALUES (%s, NOW(6), NOW(6), %s, %s, %s, %s, %s, %s)",
		(name, session.user, session.user, title, traceback, reference_doctype, reference_name),
	)
	return _dict(doctype="Error Log", name=name, method=title, error=traceback)


from . import _double  # noqa: E402
