"""Controls of the frappe test double (not part of Frappe's API)."""

import json
from collections import deque
from collections.abc import Callable
from pathlib import Path

import frappe

user_roles: dict[str, set[str]] = {}
records: dict[str, dict[str, dict]] = {}  # doctype -> name -> values, for DocTypes without a table here
error_log: list = []
lifecycle: list = []  # ("init", site), ("connect", site), ("destroy", site) calls, in order
queues = {"short", "default", "long"}
enqueue_handler: Callable | None = None
_extra_hooks: dict[str, list] = {}
_doctype_perms: dict[str, list[dict]] | None = None

APP_DOCTYPE_DIR = Path(__file__).resolve().parents[3] / "verenigingen" / "verenigingen" / "doctype"


# frappe/core/doctype/error_log/error_log.json (v15): the fields of the table frappe.log_error writes to
ERROR_LOG_META = {
	"name": "Error Log",
	"fields": [
		{"fieldname": "seen", "fieldtype": "Check"},
		{"fieldname": "method", "fieldtype": "Data"},
		{"fieldname": "error", "fieldtype": "Code"},
		{"fieldname": "reference_doctype", "fieldtype": "Link"},
		{"fieldname": "reference_name", "fieldtype": "Data"},
		{"fieldname": "trace_id", "fieldtype": "Data"},
	],
}

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

		self._settings = dict(settings)
		self._conn = pymysql.connect(charset="utf8mb4", autocommit=False, **self._settings)
		self.before_commit = CallbackManager()
		self.after_commit = CallbackManager()
		self.before_rollback = CallbackManager()
		self.after_rollback = CallbackManager()
		self.transaction_writes = 0
		self.queries: list[str] = []

	@property
	def cur_db_name(self) -> str:
		return self._settings.get("database")

	def sql(self, query, values=EmptyQueryValues, as_dict=0, as_list=0, debug=False, **kwargs):
		"""frappe.db.sql: tuples of tuples, or a list of frappe._dict with ``as_dict``.

		Mirrors v15 Database.sql: values left out mean none; anything that is not a tuple, dict or
		list (an explicit None included) becomes a one-element tuple, so ``sql(q, None)`` on a
		query without placeholders fails in PyMySQL as on a real site. A lock wait timeout (1205)
		or deadlock (1213) is re-raised as frappe.QueryTimeoutError / QueryDeadlockError from
		PyMySQL's error, as ``Database.sql`` does (frappe/database/database.py, is_timedout)."""
		if values is EmptyQueryValues:
			values = None
		elif not isinstance(values, tuple | dict | list):
			values = (values,)
		import pymysql.cursors

		stripped = query.strip().lower()
		# Database.check_transaction_status: statements that commit implicitly fail with pending
		# writes; COMMIT and ROLLBACK statements reset the count; INSERT, UPDATE and DELETE add one.
		if self.transaction_writes and stripped.startswith(
			("start", "alter", "drop", "create", "begin", "truncate")
		):
			raise frappe.ValidationError("ImplicitCommitError: This statement can cause implicit commit")
		if stripped.startswith(("commit", "rollback")):
			self.transaction_writes = 0
		if stripped[:6] in ("update", "insert", "delete"):
			self.transaction_writes += 1
		self.queries.append(query)
		with self._conn.cursor(pymysql.cursors.DictCursor if as_dict else pymysql.cursors.Cursor) as cur:
			try:
				cur.execute(query, values)
			except pymysql.err.OperationalError as e:
				if e.args[0] == 1213:  # ER_LOCK_DEADLOCK
					raise frappe.QueryDeadlockError(e) from e
				if e.args[0] == 1205:  # ER_LOCK_WAIT_TIMEOUT
					raise frappe.QueryTimeoutError(e) from e
				raise
			rows = cur.fetchall()
		if as_dict:
			return [frappe._dict(r) for r in rows]
		if as_list:
			return [list(r) for r in rows]
		return tuple(rows)

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

	def set_value(
		self, doctype, name, fieldname, value=None, modified=None, modified_by=None, update_modified=True,
		debug=False,
	):  # fmt: skip
		"""frappe.db.set_value(doctype, name, field or {field: value}, ...): an UPDATE, no doc_events.
		Like v15, ``modified``/``modified_by`` are set unless ``update_modified`` is False."""
		values = dict(fieldname) if isinstance(fieldname, dict) else {fieldname: value}
		if update_modified:
			import datetime

			values.setdefault("modified", modified or datetime.datetime.now())
			values.setdefault("modified_by", modified_by or frappe.session.user)
		if not self.table_exists(doctype):
			frappe._double.records.setdefault(doctype, {}).setdefault(name, {}).update(values)
			return
		columns = ", ".join(f"`{k}`=%s" for k in values)
		self.sql(f"UPDATE `tab{doctype}` SET {columns} WHERE name=%s", (*values.values(), name))

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
		"""frappe.db.get_singles_dict: the saved values of a single DocType (only those saved)."""
		values = records.get(doctype, {}).get(doctype, {})
		return frappe._dict({k: v for k, v in values.items() if k not in ("name", "doctype")})

	def close(self):
		self._conn.close()


def connect(db_settings: dict, redis_client, namespace: str) -> None:
	"""Point the double at a database and a Redis client, as frappe.connect() would for a site."""
	if frappe.db is not None:
		try:
			frappe.db.close()
		except Exception as exc:  # an already-dead connection has nothing to release
			error_log.append(frappe._dict(title="close", message=str(exc)))
	frappe.db = Database(db_settings)
	if not frappe.db.table_exists("Error Log"):  # a Frappe table, where frappe.log_error writes
		from verenigingen.performance.schema import create_table_sql

		frappe.db.sql(create_table_sql(ERROR_LOG_META))
	frappe.cache = redis_client
	frappe.local.site = namespace
	frappe.conf.clear()
	frappe.conf.update(db_name=namespace)
	frappe.flags.clear()
	frappe.session.user = "Guest"


def reset() -> None:
	"""Forget users, records, jobs and messages between tests."""
	global enqueue_handler
	user_roles.clear()
	records.clear()
	error_log.clear()
	lifecycle.clear()
	frappe.message_log.clear()
	frappe.enqueued_jobs.clear()
	frappe.flags.clear()
	frappe.set_user("Guest")
	enqueue_handler = None
	_extra_hooks.clear()
	if frappe.db is not None:
		frappe.db.before_commit.reset()
		frappe.db.after_commit.reset()


def add_user(user: str, roles) -> None:
	user_roles[user] = set(roles)


def all_roles() -> set[str]:
	roles = set()
	for assigned in user_roles.values():
		roles |= assigned
	for perms in _load_perms().values():
		roles |= {p["role"] for p in perms}
	return roles


def _load_perms() -> dict[str, list[dict]]:
	global _doctype_perms
	if _doctype_perms is None:
		_doctype_perms = {}
		for path in APP_DOCTYPE_DIR.glob("*/*.json"):
			data = json.loads(path.read_text())
			if data.get("doctype") == "DocType":
				_doctype_perms[data["name"]] = data.get("permissions", [])
	return _doctype_perms


def doctype_roles(doctype: str, ptype: str = "read") -> set[str]:
	return {p["role"] for p in _load_perms().get(doctype, []) if p.get(ptype)}


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
