"""frappe.model.document: a minimal Document that behaves like Frappe's for the shell's needs."""

import pymysql

import frappe


class Document:
	"""Holds fields as attributes; ``insert``/``save`` write to the table when the scratch database
	has one, otherwise to the double's in-memory records. Runs ``validate`` and the doc_events of
	hooks.py with ``(doc, method)``, as Frappe does."""

	def __init__(self, *args, **kwargs):
		data = dict(args[0]) if args and isinstance(args[0], dict) else {}
		data.update(kwargs)
		self.__dict__["_before_save"] = None
		for key, value in data.items():
			setattr(self, key, value)
		if not getattr(self, "doctype", None):
			raise frappe.ValidationError("Document needs a doctype")

	def __getattr__(self, key):
		# Frappe's Document returns None for fields never set.
		if key.startswith("__"):
			raise AttributeError(key)
		return None

	def get(self, key, default=None):
		value = self.__dict__.get(key)
		return default if value is None else value

	def set(self, key, value):
		setattr(self, key, value)

	def update(self, values: dict):
		for key, value in values.items():
			setattr(self, key, value)
		return self

	def append(self, key, value):
		rows = self.__dict__.setdefault(key, [])
		rows.append(value)
		return value

	def as_dict(self) -> dict:
		"""The document's values; numeric fields of the DocType cast as Frappe's get_valid_dict does
		(Check 0/1, Int with cint, Float/Currency/Percent with flt: "fast" becomes 0.0)."""
		from frappe.utils import cint, flt

		values = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
		for field in frappe._double.meta(self.doctype).get("fields", []):
			name, kind = field["fieldname"], field.get("fieldtype")
			value = values.get(name)
			if kind == "Check":
				values[name] = 1 if cint(value) else 0
			elif value is None:
				continue
			elif kind == "Int" and not isinstance(value, int):
				values[name] = cint(value)
			elif kind in ("Float", "Currency", "Percent") and not isinstance(value, float):
				values[name] = flt(value)
		return values

	def get_doc_before_save(self):
		return self._before_save

	def run_method(self, method: str, *args):
		fn = getattr(type(self), method, None)
		if callable(fn):
			fn(self, *args)
		self._run_doc_events(method, *args)

	def _run_doc_events(self, method: str, *args):
		doc_events = frappe.get_hooks("doc_events") or {}
		for key, events in doc_events.items():
			keys = key if isinstance(key, tuple) else (key,)
			if "*" not in keys and self.doctype not in keys:
				continue
			handlers = events.get(method) or []
			for path in [handlers] if isinstance(handlers, str) else handlers:
				frappe.get_attr(path)(self, method, *args)

	def insert(self, ignore_permissions=False, **kwargs):
		"""Document.insert (v15 order): before_insert, naming, before_validate, validate, before_save,
		the row, after_insert, on_update, on_change."""
		if not ignore_permissions:
			frappe.has_permission(self.doctype, "create", self, throw=True)
		self.run_method("before_insert")
		if not self.name:
			self.name = self._new_name()
		self._run_before_save()
		self._write(insert=True)
		self.run_method("after_insert")
		self.run_method("on_update")
		self.run_method("on_change")
		return self

	def save(self, ignore_permissions=False, **kwargs):
		if not ignore_permissions:
			frappe.has_permission(self.doctype, "write", self, throw=True)
		self._run_before_save()
		self._write(insert=False)
		self.run_method("on_update")
		self.run_method("on_change")
		return self

	def _run_before_save(self):
		self.run_method("before_validate")
		self.run_method("validate")
		if self.doctype == "User":
			# v15 User.validate -> ask_pass_update -> set_default(..., "__default") -> frappe.clear_cache():
			# every User save clears every cache, the apps' clear_cache hooks included
			frappe.clear_cache()
		self.run_method("before_save")

	def load_doc_before_save(self, *, raise_exception: bool = False):
		"""Document.load_doc_before_save: the saved copy from the database (None if there is none)."""
		self.__dict__["_before_save"] = None
		if not self.name:
			return
		try:
			self.__dict__["_before_save"] = get_doc(self.doctype, self.name, for_update=True)
		except frappe.DoesNotExistError:
			if raise_exception:
				raise

	def db_set(self, fieldname, value=None, update_modified=True, notify=False, commit=False):
		"""Mirrors v15 Document.db_set: set the value(s) on the document, stamp modified unless the
		document is being saved, load the copy before the change if none is loaded, run
		``before_change``, write with frappe.db.set_value (no validate, no on_update), then run
		``on_change``."""
		import datetime

		if isinstance(fieldname, dict):
			for key, val in fieldname.items():
				setattr(self, key, val)
		else:
			setattr(self, fieldname, value)
		if update_modified and (self.doctype, self.name) not in (frappe.flags.currently_saving or []):
			self.modified = datetime.datetime.now()
			self.modified_by = frappe.session.user
		if not self.get_doc_before_save():
			self.load_doc_before_save()
		self.run_method("before_change")
		if self.name is None:
			return
		frappe.db.set_value(
			self.doctype, self.name, fieldname, value, self.modified, self.modified_by,
			update_modified=update_modified,
		)  # fmt: skip
		self.run_method("on_change")
		if commit:
			frappe.db.commit()

	def is_new(self) -> bool:
		return not self.name or not frappe.db.exists(self.doctype, self.name)

	def delete(self, ignore_permissions=False):
		self.run_method("on_trash")
		if frappe.db.table_exists(self.doctype):
			frappe.db.sql(f"DELETE FROM `tab{self.doctype}` WHERE name=%s", (self.name,))
		else:
			frappe._double.records.get(self.doctype, {}).pop(self.name, None)
			if self.doctype == "User":
				frappe._double.user_roles.pop(self.name, None)
		self.run_method("after_delete")

	def _new_name(self) -> str:
		"""The name Frappe's naming gives a new document of the app's DocTypes (field:, format: with a
		naming series counter in ``tabSeries``, hash), and the usual one of Role and User."""
		if self.doctype == "Role":
			return self.get("role_name")
		if self.doctype == "User":
			return self.get("email")
		autoname = frappe._double.meta(self.doctype).get("autoname") or "hash"
		if autoname.startswith("field:"):
			return self.get(autoname[len("field:") :])
		if autoname.startswith("format:") and "{#" in autoname:
			return frappe._double.next_series_name(autoname[len("format:") :])
		return frappe.generate_hash(length=10)

	def _write(self, insert: bool):
		from frappe.utils import now_datetime

		now = now_datetime()
		stamps = {"modified": now, "modified_by": frappe.session.user}
		if insert:
			stamps.update(creation=now, owner=frappe.session.user)
		for key, value in stamps.items():
			if key in ("modified", "modified_by") or not self.get(key):
				self.__dict__[key] = value
		values = {k: v for k, v in self.as_dict().items() if k != "doctype" and not isinstance(v, list)}
		if frappe.db.table_exists(self.doctype):
			columns = {r[0] for r in frappe.db.sql(f"SHOW COLUMNS FROM `tab{self.doctype}`")}
			row = {k: v for k, v in values.items() if k in columns}
			if not insert:
				before = frappe.db.sql(
					f"SELECT * FROM `tab{self.doctype}` WHERE name=%s", (self.name,), as_dict=True
				)
				self.__dict__["_before_save"] = (
					Document({"doctype": self.doctype, **before[0]}) if before else None
				)
			cols = ", ".join(f"`{c}`" for c in row)
			marks = ", ".join(["%s"] * len(row))
			updates = ", ".join(f"`{c}`=VALUES(`{c}`)" for c in row)
			upsert = "" if insert else f" ON DUPLICATE KEY UPDATE {updates}"
			try:
				frappe.db.sql(
					f"INSERT INTO `tab{self.doctype}` ({cols}) VALUES ({marks}){upsert}", tuple(row.values())
				)
			except pymysql.err.IntegrityError as exc:
				if exc.args[0] != 1062:
					raise
				raise frappe.DuplicateEntryError(self.doctype, self.name, exc) from exc
		else:
			store = frappe._double.records.setdefault(self.doctype, {})
			if insert and self.name in store:
				frappe.throw(f"{self.doctype} {self.name} already exists", frappe.DuplicateEntryError)
			if not insert and self.name in store:
				self.__dict__["_before_save"] = Document({"doctype": self.doctype, **store[self.name]})
			store[self.name] = values
			if self.doctype == "Role" and not int(self.get("desk_access", 1) or 0):
				frappe._double.website_roles.add(self.name)
			if self.doctype == "User":  # a User's roles are rows of its table "roles"
				roles = {r.get("role") if isinstance(r, dict) else r.role for r in self.get("roles") or []}
				frappe._double.add_user(self.name, roles, enabled=bool(self.get("enabled", 1)))


def get_doc(*args, **kwargs):
	"""frappe.get_doc(dict) builds a new document; get_doc(doctype, name) loads one."""
	if args and isinstance(args[0], dict):
		return _controller(args[0]["doctype"])(args[0])
	if "doctype" in kwargs and len(args) == 0:
		return _controller(kwargs["doctype"])(kwargs)
	doctype = args[0]
	name = args[1] if len(args) > 1 else doctype
	if frappe._double.meta(doctype).get("issingle"):
		# a single DocType: its saved values, else a new one with the field defaults
		values = frappe._double.records.get(doctype, {}).get(doctype) or frappe._double.single_defaults(
			doctype
		)
		return _controller(doctype)({**values, "doctype": doctype, "name": doctype})
	if frappe.db.table_exists(doctype):
		rows = frappe.db.sql(f"SELECT * FROM `tab{doctype}` WHERE name=%s", (name,), as_dict=True)
		values = rows[0] if rows else None
	else:
		values = frappe._double.records.get(doctype, {}).get(name)
	if values is None:
		frappe.throw(f"{doctype} {name} not found", frappe.DoesNotExistError)
	return _controller(doctype)({"doctype": doctype, **values})


def _controller(doctype: str):
	"""The app's controller class for its DocTypes (as frappe.get_controller), else Document."""
	import importlib

	scrubbed = doctype.lower().replace(" ", "_")
	try:
		module = importlib.import_module(f"verenigingen.verenigingen.doctype.{scrubbed}.{scrubbed}")
	except ModuleNotFoundError:
		return Document
	return getattr(module, doctype.replace(" ", ""), Document)
