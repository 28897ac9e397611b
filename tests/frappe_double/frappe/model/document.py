"""frappe.model.document: a minimal Document that behaves like Frappe's for the shell's needs."""

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

	def as_dict(self) -> dict:
		return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

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
		if not ignore_permissions:
			frappe.has_permission(self.doctype, "create", self, throw=True)
		if not self.name:
			self.name = self.get("role_name") or self.get(self._naming_field()) or frappe.generate_hash()
		self.run_method("validate")
		self._write(insert=True)
		self.run_method("after_insert")
		self.run_method("on_update")
		self.run_method("on_change")
		return self

	def save(self, ignore_permissions=False, **kwargs):
		if not ignore_permissions:
			frappe.has_permission(self.doctype, "write", self, throw=True)
		self.run_method("validate")
		self._write(insert=False)
		self.run_method("on_update")
		self.run_method("on_change")
		return self

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
		``before_change``, write with frappe.db.set_value (no on_update), then run ``on_change``."""
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

	def delete(self, ignore_permissions=False):
		self.run_method("on_trash")
		if frappe.db.table_exists(self.doctype):
			frappe.db.sql(f"DELETE FROM `tab{self.doctype}` WHERE name=%s", (self.name,))
		else:
			frappe._double.records.get(self.doctype, {}).pop(self.name, None)
		self.run_method("after_delete")

	def _naming_field(self) -> str:
		return {"Member": "member_id", "SEPA Mandate": "mandate_id", "Chapter": "chapter_name"}.get(
			self.doctype, "name"
		)

	def _write(self, insert: bool):
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
			frappe.db.sql(
				f"INSERT INTO `tab{self.doctype}` ({cols}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}",
				tuple(row.values()),
			)
		else:
			store = frappe._double.records.setdefault(self.doctype, {})
			if not insert and self.name in store:
				self.__dict__["_before_save"] = Document({"doctype": self.doctype, **store[self.name]})
			store[self.name] = values


def get_doc(*args, **kwargs):
	"""frappe.get_doc(dict) builds a new document; get_doc(doctype, name) loads one."""
	if args and isinstance(args[0], dict):
		return _controller(args[0]["doctype"])(args[0])
	if "doctype" in kwargs and len(args) == 0:
		return _controller(kwargs["doctype"])(kwargs)
	doctype, name = args[0], args[1]
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
