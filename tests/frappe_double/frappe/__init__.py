"""A small test double of the ``frappe`` module for running the shell outside a bench.

It implements only what verenigingen's shell uses, backed by the same real MariaDB and
Redis the core tests use. Where behaviour matters it mirrors Frappe version-15 as its
source shows it; each such place names the Frappe function it mirrors. It is put on
``sys.path`` by tests/conftest.py only when the real frappe cannot be imported.

Test-only controls (not part of Frappe) live in ``frappe._double``.
"""

import threading

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


class TooManyRequestsError(Exception):
	http_status_code = 429


class AuthenticationError(Exception):
	http_status_code = 401


class NotFound(Exception):
	http_status_code = 404


class IncorrectSitePath(NotFound):
	"""frappe.exceptions.IncorrectSitePath: raised by frappe.init for a site without site_config.json."""


class CharacterLengthExceededError(ValidationError):
	"""frappe.exceptions.CharacterLengthExceededError: a value is longer than its varchar column."""


class QueryTimeoutError(Exception):
	"""frappe.exceptions.QueryTimeoutError: Database.sql raises it, ``from`` PyMySQL's error, for ER_LOCK_WAIT_TIMEOUT."""


class QueryDeadlockError(Exception):
	"""frappe.exceptions.QueryDeadlockError: Database.sql raises it, ``from`` PyMySQL's error, for ER_LOCK_DEADLOCK."""


class ImplicitCommitError(ValidationError):
	"""frappe.exceptions.ImplicitCommitError: DDL (or START/BEGIN) while the transaction holds writes."""


class RateLimitExceededError(ValidationError):
	http_status_code = 429


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
	"""frappe.get_roles (frappe.permissions.get_roles, v15): Guest has ["Guest"]; Administrator has
	every Role of the site; others their Has Role rows plus "All" and "Guest", and "Desk User" when
	they are an enabled System User (one of their roles has desk access)."""
	user = user or session.user
	if not user or user == "Guest":
		return ["Guest"]
	if user == "Administrator":
		return sorted(_double.all_roles() | AUTOMATIC_ROLES)
	roles = set(_double.user_roles.get(user, ())) - AUTOMATIC_ROLES
	roles |= {"All", "Guest"}
	if _double.is_system_user(user):
		roles.add("Desk User")
	return sorted(roles)


AUTOMATIC_ROLES = frozenset({"Guest", "All", "Desk User", "Administrator"})


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


def has_permission(
	doctype=None, ptype="read", doc=None, user=None, throw=False, *, parent_doctype=None, debug=False
) -> bool:
	"""frappe.has_permission (v15): Administrator may do everything; otherwise one of the user's roles
	must grant ``ptype`` on the DocType (the DocType JSON's permissions) and, when a document is given
	(a name is loaded first: a missing one raises DoesNotExistError), the user's User Permissions must
	allow it: on the document's own DocType by name, and on every non-empty Link field.
	With ``throw`` a refusal raises a bare PermissionError (the message goes to
	``flags.error_message``)."""
	user = user or session.user
	if not doctype and doc is not None:
		doctype = doc.doctype
	if user == "Administrator":
		return True
	if doc is not None and isinstance(doc, str | int):
		doc = get_doc(doctype, doc)
	allowed = bool(_double.doctype_roles(doctype, ptype).intersection(get_roles(user)))
	if allowed and doc is not None:
		allowed = _double.has_user_permission(doc, user)
	if throw and not allowed:
		label = f"{doctype} {doc if isinstance(doc, str) else doc.name}" if doc is not None else doctype
		flags.error_message = _("No permission for {0}").format(label)
		raise PermissionError
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
	local.cache = {}
	local.user_perms = None


def get_hooks(hook=None, default=None, app_name=None):
	return _double.get_hooks(hook, default)


def get_doc(*args, **kwargs):
	from frappe.model.document import get_doc as _get_doc

	return _get_doc(*args, **kwargs)


def new_doc(doctype, **kwargs):
	from frappe.model.document import Document

	return Document({"doctype": doctype, **kwargs})


def enqueue(*args, **kwargs):
	"""frappe.enqueue: frappe.utils.background_jobs.enqueue (real RQ on the double's queue Redis)."""
	from frappe.utils.background_jobs import enqueue as _enqueue

	return _enqueue(*args, **kwargs)


def call(fn, *args, **kwargs):
	"""frappe.call: call ``fn`` (a dotted path or a callable) with the keyword arguments it accepts."""
	import inspect

	if isinstance(fn, str):
		fn = get_attr(fn)
	params = inspect.signature(fn).parameters
	if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
		kwargs = {k: v for k, v in kwargs.items() if k in params}
	return fn(*args, **kwargs)


USER_CACHE_KEYS = ("bootinfo", "user_recent", "roles", "user_doc", "lang", "defaults", "user_permissions",
	"home_page", "linked_with", "desktop_icons", "portal_menu_items", "user_perm_can_read")  # fmt: skip


def clear_cache(user=None, doctype=None):
	"""frappe.clear_cache (v15): with a user, that user's entries of Frappe's per-user hashes and
	``user:{user}*`` keys; with nothing, every ``"{db_name}|*"`` key (found with KEYS), the
	request-local cache, then every app's ``clear_cache`` hook."""
	if doctype:
		return
	if user:
		for name in USER_CACHE_KEYS:
			cache.hdel(name, user)
		cache.delete_keys("user:" + user)
		return
	cache.delete_value(list(cache.get_keys("")), make_keys=False)
	local.cache = {}
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
	"""frappe.log_error (v15): insert an Error Log. Its table is MyISAM, so the row stays even when
	the transaction it was written in rolls back. A multi-line title with a message is taken as the
	traceback, as Frappe does."""
	traceback = None
	if message:
		if title and "\n" in title:
			traceback, title = title, message
		else:
			traceback = message
	for field, value in (
		("method", title),
		("reference_doctype", reference_doctype),
		("reference_name", reference_name),
	):
		if value is not None and len(str(value)) > 140:  # Document._validate_length on the Data fields
			raise CharacterLengthExceededError(f"Error Log: {field} is longer than 140 characters")
	doc = get_doc(
		{
			"doctype": "Error Log",
			"method": title or "Error",
			"error": traceback or get_traceback(),
			"reference_doctype": reference_doctype,
			"reference_name": reference_name,
		}
	)
	return doc.insert(ignore_permissions=True)


def __getattr__(name):
	"""``frappe.request`` and ``frappe.form_dict`` are proxies of ``frappe.local`` in Frappe."""
	if name in ("request", "form_dict"):
		return getattr(local, name, None)
	raise AttributeError(f"module 'frappe' has no attribute {name!r}")


from . import _double  # noqa: E402
