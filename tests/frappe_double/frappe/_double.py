"""Controls of the frappe test double (not part of Frappe's API)."""

import json
from collections import deque
from collections.abc import Callable
from pathlib import Path

import frappe

user_roles: dict[str, set[str]] = {}
disabled_users: set[str] = set()
website_roles: set[str] = {"Guest"}  # roles without desk access (Frappe's Role.desk_access = 0)
records: dict[str, dict[str, dict]] = {}  # doctype -> name -> values, for DocTypes without a table here
error_log: list = []  # problems of the double itself (not Frappe's Error Log: that is a table)
sites: dict[str, dict] = {}  # site -> database settings, for a job's own connection
lifecycle: list = []  # ("init", site), ("connect", site), ("destroy", site) calls, in order
_extra_hooks: dict[str, list] = {}
_doctype_meta: dict[str, dict] | None = None
_redis_pool = None
_saved_states: list = []

# Tables of Frappe's own DocTypes the double keeps in the scratch database, with the columns the
# shell and the tests use, and the storage engine Frappe gives them: Error Log is MyISAM in v15
# (error_log.json "engine"), so an Error Log row survives the rollback of its transaction.
FRAMEWORK_TABLES = {
	"Error Log": "`method` varchar(140), `error` longtext, `reference_doctype` varchar(140), "
	"`reference_name` varchar(140), `trace_id` varchar(140), `seen` int(1) not null default 0",
	"Notification Log": "`for_user` varchar(140), `from_user` varchar(140), `type` varchar(140), "
	"`subject` text, `email_content` longtext, `document_type` varchar(140), `document_name` varchar(140), "
	"`read` int(1) not null default 0",
}
FRAMEWORK_ENGINES = {"Error Log": "MyISAM"}

APP_DOCTYPE_DIR = Path(__file__).resolve().parents[3] / "verenigingen" / "verenigingen" / "doctype"


EmptyQueryValues = object()  # frappe.database.database.EmptyQueryValues: "no values given"


class CallbackManager:
	"""frappe.utils.CallbackManager: run callbacks once, in order, then forget them (no len(), as in v15)."""

	__slots__ = ("_functions",)

	def __init__(self):
		self._functions = deque()

	def add(self, func: Callable) -> None:
		self._functions.append(func)

	def __call__(self, func: Callable) -> None:
		self.add(func)

	def run(self) -> None:
		while self._functions:
			self._functions.popleft()()

	def reset(self) -> None:
		self._functions.clear()


class Database:
	"""The parts of frappe.database.Database the shell uses, over a real MariaDB connection."""

	def __init__(self, settings: dict):
		import pymysql
		from pymysql.constants import FIELD_TYPE
		from pymysql.converters import conversions

		self._settings = dict(settings)
		# As frappe.database.mariadb: DECIMAL columns come back as float.
		conv = conversions | {FIELD_TYPE.NEWDECIMAL: float}
		self._conn = pymysql.connect(charset="utf8mb4", autocommit=False, conv=conv, **self._settings)
		self.before_commit = CallbackManager()
		self.after_commit = CallbackManager()
		self.before_rollback = CallbackManager()
		self.after_rollback = CallbackManager()
		self.transaction_writes = 0
		self.queries: list[str] = []

	@property
	def cur_db_name(self) -> str:
		return self._settings.get("database")

	def sql(
		self, query, values=EmptyQueryValues, *, as_dict=0, as_list=0, debug=False, pluck=False, **kwargs
	):
		"""frappe.db.sql (v15): a tuple of tuples, a list of frappe._dict with ``as_dict``, a list of
		first values with ``pluck``; ``()`` for a statement without a result set.

		Values left out mean none; anything that is not a tuple, dict or list (an explicit None
		included) becomes a one-element tuple, so ``sql(q, None)`` on a query without placeholders
		fails in PyMySQL as on a real site. START/BEGIN/ALTER/DROP/CREATE/TRUNCATE while the
		transaction holds writes raise ImplicitCommitError; INSERT/UPDATE/DELETE count as writes,
		COMMIT/ROLLBACK statements reset the count. A lock wait timeout (1205) or deadlock (1213) is
		re-raised as frappe.QueryTimeoutError / QueryDeadlockError from PyMySQL's error, as
		``Database.sql`` does (frappe/database/database.py, is_timedout)."""
		import pymysql

		query = str(query).strip()
		if values is EmptyQueryValues:
			values = None
		elif not isinstance(values, tuple | dict | list):
			values = (values,)
		words = query.split(None, 1)
		first = words[0].lower() if words else ""
		if self.transaction_writes and first in ("start", "alter", "drop", "create", "begin", "truncate"):
			raise frappe.ImplicitCommitError("This statement can cause implicit commit")
		if first in ("commit", "rollback"):
			self.transaction_writes = 0
		if query[:6].lower() in ("update", "insert", "delete"):
			self.transaction_writes += 1
		self.queries.append(query)
		with self._conn.cursor() as cur:
			try:
				cur.execute(query, values)
			except pymysql.err.OperationalError as e:
				if e.args[0] == 1213:  # ER_LOCK_DEADLOCK
					raise frappe.QueryDeadlockError(e) from e
				if e.args[0] == 1205:  # ER_LOCK_WAIT_TIMEOUT
					raise frappe.QueryTimeoutError(e) from e
				raise
			if not cur.description:
				return ()
			rows = cur.fetchall()
			keys = [c[0] for c in cur.description]
		if pluck:
			return [r[0] for r in rows]
		if as_dict:
			return [frappe._dict(zip(keys, r, strict=False)) for r in rows]
		if as_list:
			return [list(r) for r in rows]
		return rows

	def sql_ddl(self, query, debug=False):
		"""frappe.db.sql_ddl: commit, then run the DDL."""
		self.commit()
		self.sql(query)

	def begin(self, *, read_only=False):
		"""Mirrors v15 Database.begin: START TRANSACTION (READ ONLY under flags.read_only)."""
		read_only = read_only or frappe.flags.read_only
		self.sql(f"START TRANSACTION {'READ ONLY' if read_only else ''}")

	def commit(self):
		"""Mirrors v15 Database.commit: drop rollback callbacks, run before_commit, COMMIT, begin a
		new transaction, run after_commit."""
		self.before_rollback.reset()
		self.after_rollback.reset()
		self.before_commit.run()
		self.sql("commit")
		self.begin()
		self.after_commit.run()

	def rollback(self, *, save_point=None, chain=None):
		"""Mirrors v15 Database.rollback: drop commit callbacks, run before_rollback, ROLLBACK, begin
		a new transaction, run after_rollback."""
		if save_point:
			self.sql(f"rollback to savepoint {save_point}")
			return
		self.before_commit.reset()
		self.after_commit.reset()
		self.before_rollback.run()
		self.sql("rollback")
		self.begin()
		self.after_rollback.run()

	def table_exists(self, doctype: str, cached=True) -> bool:
		rows = self.sql("SHOW TABLES LIKE %s", (f"tab{doctype}",))
		return bool(rows)

	def exists(self, doctype, name=None, cache=False):
		"""frappe.db.exists(doctype, name): the name if the document exists, else None."""
		if isinstance(name, dict) or name is None:
			raise NotImplementedError("the double supports exists(doctype, name) only")
		if self.table_exists(doctype):
			rows = self.sql(f"SELECT name FROM `tab{doctype}` WHERE name=%s", (name,))
			return rows[0][0] if rows else None
		return name if name in records.get(doctype, {}) else None

	def get_value(self, doctype, filters=None, fieldname="name", as_dict=False, **kwargs):
		if isinstance(filters, str):
			filters = {"name": filters}
		fields = [fieldname] if isinstance(fieldname, str) else list(fieldname)
		where = " AND ".join(f"`{k}`=%s" for k in filters) or "1=1"
		cols = ", ".join(f"`{f}`" for f in fields)
		rows = self.sql(
			f"SELECT {cols} FROM `tab{doctype}` WHERE {where} LIMIT 1", tuple(filters.values()), as_dict=True
		)
		if not rows:
			return None
		if as_dict:
			return rows[0]
		return rows[0][fields[0]] if len(fields) == 1 else tuple(rows[0][f] for f in fields)

	def get_singles_dict(self, doctype, debug=False, *, for_update=False, cast=False):
		"""frappe.db.get_singles_dict: the saved values of a single DocType as ``tabSingles`` holds
		them: text (or None), whatever the field type."""
		values = records.get(doctype, {}).get(doctype, {})
		return frappe._dict({k: None if v is None else str(v) for k, v in values.items() if k != "doctype"})

	def set_value(
		self, dt, dn, field, val=None, modified=None, modified_by=None, update_modified=True, debug=False
	):
		"""frappe.db.set_value: an UPDATE of the row; no document is loaded, no event runs."""
		values = field if isinstance(field, dict) else {field: val}
		if update_modified:
			from frappe.utils import now_datetime

			values = {**values, "modified": modified or now_datetime(),
				"modified_by": modified_by or frappe.session.user}  # fmt: skip
		if not self.table_exists(dt):
			records.setdefault(dt, {}).setdefault(dn, {}).update(values)
			return
		assignments = ", ".join(f"`{k}`=%s" for k in values)
		self.sql(f"UPDATE `tab{dt}` SET {assignments} WHERE name=%s", (*values.values(), dn))

	def close(self):
		self._conn.close()


def connect(db_settings: dict, redis_client, namespace: str) -> None:
	"""Point the double at a database and a Redis server, as frappe.connect() would for a site:
	``frappe.cache`` is a RedisWrapper on the server's connection pool, the queue Redis a plain
	client on it, the site and ``db_name`` are ``namespace``."""
	global _redis_pool
	from frappe.utils.redis_wrapper import RedisWrapper

	if frappe.db is not None:
		try:
			frappe.db.close()
		except Exception as exc:  # an already-dead connection has nothing to release
			error_log.append(frappe._dict(title="close", message=str(exc)))
	sites[namespace] = dict(db_settings)
	frappe.db = Database(db_settings)
	frappe.db.sql(
		"CREATE TABLE IF NOT EXISTS `tabSeries` (`name` varchar(100) primary key, `current` int(10) not null "
		"default 0) ENGINE=InnoDB"
	)
	for doctype, columns in FRAMEWORK_TABLES.items():
		engine = FRAMEWORK_ENGINES.get(doctype, "InnoDB")
		frappe.db.sql(
			f"CREATE TABLE IF NOT EXISTS `tab{doctype}` (`name` varchar(140) primary key, "
			"`creation` datetime(6), `modified` datetime(6), `modified_by` varchar(140), `owner` varchar(140), "
			f"`docstatus` int(1) not null default 0, `idx` int(8) not null default 0, {columns}) ENGINE={engine}"
		)
	_redis_pool = redis_client.connection_pool
	frappe.cache = RedisWrapper(connection_pool=_redis_pool)
	frappe.local.site = namespace
	frappe.local.cache = {}
	frappe.conf.clear()
	frappe.conf.update(db_name=namespace)
	frappe.flags.clear()
	frappe.session.user = "Guest"


def queue_redis():
	"""A plain redis-py client on the double's Redis (what RQ and the job coordinator use)."""
	import redis

	return redis.Redis(connection_pool=_redis_pool)


def job_connect(site: str) -> None:
	"""What ``frappe.init(site)`` + ``frappe.connect()`` do in a worker: a fresh state with its own
	database connection, flags and request-local cache, as Administrator (undone by job_disconnect)."""
	if site not in sites:
		raise frappe.ValidationError(f"{site} does not exist")
	_saved_states.append(
		(frappe.db, dict(frappe.session), dict(frappe.flags), dict(frappe.conf), dict(frappe.local.__dict__))
	)
	frappe.db = Database(sites[site])
	frappe.flags.clear()
	frappe.local.__dict__.clear()
	frappe.local.site = site
	frappe.local.cache = {}
	frappe.conf.clear()
	frappe.conf.update(db_name=site)
	frappe.set_user("Administrator")


def job_disconnect() -> None:
	"""``frappe.destroy()`` after a job: close the job's connection and return to the caller's state."""
	db, session, flags, conf, local = _saved_states.pop()
	frappe.db.close()
	frappe.db = db
	frappe.session.clear()
	frappe.session.update(session)
	frappe.flags.clear()
	frappe.flags.update(flags)
	frappe.conf.clear()
	frappe.conf.update(conf)
	frappe.local.__dict__.clear()
	frappe.local.__dict__.update(local)


def run_worker(queues=None) -> None:
	"""Run every queued job of the site's queues (short, default, long, in that order) in this process,
	with rq's SimpleWorker in burst mode: what a bench worker would do, one job at a time."""
	import logging

	from rq import Queue, SimpleWorker

	from frappe.utils.background_jobs import get_queue_list

	connection = queue_redis()
	rq_queues = [Queue(name, connection=connection) for name in get_queue_list(queues, build_queue_name=True)]
	import signal

	worker = SimpleWorker(rq_queues, connection=connection)
	worker.log.setLevel(logging.WARNING)
	# rq installs its own SIGINT/SIGTERM handlers and leaves them: a bench worker is a process of
	# its own, this one is the test's, so they are put back afterwards
	handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
	try:
		worker.work(burst=True, logging_level="WARNING")
	finally:
		for sig, handler in handlers.items():
			signal.signal(sig, handler)


def reset() -> None:
	"""Forget users, records and messages between tests."""
	user_roles.clear()
	disabled_users.clear()
	website_roles.clear()
	website_roles.add("Guest")
	records.clear()
	error_log.clear()
	lifecycle.clear()
	frappe.message_log.clear()
	frappe.flags.clear()
	frappe.set_user("Guest")
	_extra_hooks.clear()
	if frappe.db is not None:
		frappe.db.before_commit.reset()
		frappe.db.after_commit.reset()
		frappe.db.before_rollback.reset()
		frappe.db.after_rollback.reset()


def add_user(user: str, roles, enabled: bool = True) -> None:
	user_roles[user] = set(roles)
	if enabled:
		disabled_users.discard(user)
	else:
		disabled_users.add(user)


def is_enabled(user: str) -> bool:
	"""Not disabled by a User document (``enabled`` 0, saved or set with frappe.db.set_value)."""
	if user in disabled_users:
		return False
	return bool(int(records.get("User", {}).get(user, {}).get("enabled", 1) or 0))


def is_system_user(user: str) -> bool:
	"""An enabled user with a role that has desk access (Frappe: user_type "System User")."""
	if not is_enabled(user):
		return False
	return bool(set(user_roles.get(user, ())) - website_roles - {"All", "Guest", "Desk User"})


def all_roles() -> set[str]:
	roles = set()
	for assigned in user_roles.values():
		roles |= assigned
	for meta in _load_meta().values():
		roles |= {p["role"] for p in meta.get("permissions", [])}
	roles |= set(records.get("Role", {}))
	return roles


def _load_meta() -> dict[str, dict]:
	global _doctype_meta
	if _doctype_meta is None:
		_doctype_meta = {}
		for path in APP_DOCTYPE_DIR.glob("*/*.json"):
			data = json.loads(path.read_text())
			if data.get("doctype") == "DocType":
				_doctype_meta[data["name"]] = data
	return _doctype_meta


def meta(doctype: str) -> dict:
	"""The DocType JSON of one of the app's DocTypes ({} for others)."""
	return _load_meta().get(doctype, {})


def single_defaults(doctype: str) -> dict:
	"""A single DocType never saved: its fields' defaults (as Frappe's new document has them)."""
	return {f["fieldname"]: f["default"] for f in meta(doctype).get("fields", []) if "default" in f}


def next_series_name(pattern: str) -> str:
	"""Frappe's ``format:`` naming with a ``{#####}`` counter (naming._format_autoname): each braced
	part is parsed alone, so the counter's row in ``tabSeries`` is the one named "" (shared by every
	DocType named this way); it is incremented in the current transaction."""
	import re

	def counter(match):
		width = len(match.group(1))
		frappe.db.sql("INSERT IGNORE INTO `tabSeries` (`name`, `current`) VALUES ('', 0)")
		frappe.db.sql("UPDATE `tabSeries` SET `current` = `current` + 1 WHERE `name`=''")
		current = frappe.db.sql("SELECT `current` FROM `tabSeries` WHERE `name`=''")[0][0]
		return f"{current:0{width}d}"

	return re.sub(r"\{(#+)\}", counter, pattern, count=1)


def doctype_roles(doctype: str, ptype: str = "read") -> set[str]:
	perms = _load_meta().get(doctype, {}).get("permissions", [])
	return {p["role"] for p in perms if p.get(ptype) and not p.get("permlevel")}


def user_permissions(user: str) -> dict[str, set[str]]:
	"""{allowed DocType: the names allowed} from the user's User Permission documents."""
	out: dict[str, set[str]] = {}
	if user in ("Administrator", "Guest"):
		return out
	for perm in records.get("User Permission", {}).values():
		if perm.get("user") == user:
			out.setdefault(perm["allow"], set()).add(perm["for_value"])
	return out


def has_user_permission(doc, user: str) -> bool:
	"""frappe.permissions.has_user_permission (v15, not strict): the document itself when its DocType
	is restricted, then every non-empty Link field whose target DocType is restricted."""
	restricted = user_permissions(user)
	if not restricted:
		return True
	if doc.doctype in restricted and str(doc.name) not in restricted[doc.doctype]:
		return False
	for field in _load_meta().get(doc.doctype, {}).get("fields", []):
		if field.get("fieldtype") != "Link" or field.get("ignore_user_permissions"):
			continue
		value = doc.get(field["fieldname"])
		if value and field.get("options") in restricted and value not in restricted[field["options"]]:
			return False
	return True


def get_hooks(hook=None, default=None):
	"""Hooks of the installed apps (here: verenigingen) plus any a test added, as lists like Frappe."""
	import importlib

	module = importlib.import_module("verenigingen.hooks")
	hooks = {}
	for key, value in vars(module).items():
		if key.startswith("_") or callable(value) or isinstance(value, type(importlib)):
			continue
		hooks[key] = value if isinstance(value, dict) else ([value] if not isinstance(value, list) else value)
	for key, extra in _extra_hooks.items():
		hooks.setdefault(key, [])
		hooks[key] = list(hooks[key]) + list(extra)
	if hook is None:
		return hooks
	return hooks.get(hook, default if default is not None else [])


def add_hook(name: str, value) -> None:
	_extra_hooks.setdefault(name, []).append(value)
