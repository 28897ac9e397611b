"""What the validator knows about DocTypes: fields from DocType JSON, Custom Field and
Property Setter fixtures, standard columns, the Document class, controllers and hooks.

Everything is read statically (JSON and Python ``ast``); frappe is never imported.
"""

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ValidatorUsageError
from .findings import suggest

# Columns every document has, and those child-table rows add.
STANDARD_FIELDS = frozenset({"name", "owner", "creation", "modified", "modified_by", "docstatus", "idx"})
CHILD_TABLE_FIELDS = frozenset({"parent", "parentfield", "parenttype"})
# Columns Frappe adds to parent tables (and _seen with track_seen); valid in queries.
OPTIONAL_COLUMNS = frozenset({"_user_tags", "_comments", "_assign", "_liked_by", "_seen"})

# Field types without a database column: usable as attributes and in form scripts, not in queries.
NO_COLUMN_FIELDTYPES = frozenset(
	{
		"Section Break",
		"Column Break",
		"Tab Break",
		"HTML",
		"Button",
		"Image",
		"Fold",
		"Heading",
		"Table",
		"Table MultiSelect",
	}
)
TABLE_FIELDTYPES = frozenset({"Table", "Table MultiSelect"})

# Public attributes and methods of frappe.model.document.Document and BaseDocument (v15/v16),
# plus the controller hooks Frappe calls on them. Names starting with "_" are never checked.
DOCUMENT_ATTRIBUTES = frozenset(
	"""
	doctype name flags meta permitted_fieldnames parent_doc dont_update_if_missing docstatus
	update update_if_missing get_db_value get getone set delete_key append extend remove
	get_valid_dict init_child_tables init_valid_columns get_valid_columns is_new as_dict as_json
	get_table_field_doctype get_parentfield_of_doctype db_insert db_update db_update_all
	show_unique_validation_message get_field_name_by_key_name get_label_from_fieldname
	update_modified get_invalid_links get_password is_dummy_password precision get_formatted
	is_print_hide in_format_data reset_values_if_no_permlevel_access get_value cast
	get_all_children get_title get_url remove_unpicklable_values
	load_from_db load_children_from_db reload get_latest check_permission has_permission
	raise_no_permission_to insert check_if_locked save copy_attachments_from_amended_from
	update_children update_child_table get_doc_before_save set_new_name set_title_field
	set_docstatus check_if_latest check_docstatus_transition set_parent_in_children
	set_name_in_children validate_higher_perm_fields get_permlevel_access has_permlevel_access_to
	apply_fieldlevel_read_permissions validate_table_has_rows validate_value validate_from_to_dates
	validate_workflow validate_set_only_once is_child_table run_method run_trigger
	run_before_save_methods run_post_save_methods run_notifications submit cancel delete rename
	db_set db_get check_no_back_links_exist save_version get_signature get_liked_by
	set_user_and_timestamp notify_update add_comment add_seen add_viewed add_tag get_tags
	remove_tag deferred_insert queue_action is_locked lock unlock get_onload set_onload
	get_assigned_users has_value_changed load_doc_before_save clear_cache reset_seen
	is_whitelisted whitelist hook get_permissions get_doc_before_save discard
	validate before_validate before_insert after_insert before_save on_update before_submit
	on_submit before_cancel on_cancel before_update_after_submit on_update_after_submit on_trash
	after_delete before_rename after_rename on_change autoname before_naming onload before_print
	on_discard before_discard get_feed get_list_context get_context
	""".split()
)

# Extra attributes of frappe.utils.nestedset.NestedSet, a base class controllers may use.
NESTED_SET_ATTRIBUTES = frozenset(
	"""
	nsm_parent_field nsm_oldparent_field lft rgt old_parent on_update on_trash
	validate_if_child_exists validate_one_root validate_ledger get_ancestors get_parent get_children
	""".split()
)

KNOWN_BASES = {"Document": frozenset(), "NestedSet": NESTED_SET_ATTRIBUTES}


@dataclass
class ClassMembers:
	"""What a controller class defines, collected from its source."""

	members: set[str] = field(default_factory=set)  # methods, properties, class attributes
	stores: set[str] = field(default_factory=set)  # attributes assigned as self.x
	loads: set[str] = field(default_factory=set)  # attributes read as self.x
	open: bool = False  # a base class could not be read: its attributes are unknown

	def merge(self, other: "ClassMembers") -> None:
		self.members |= other.members
		self.stores |= other.stores
		self.loads |= other.loads
		self.open = self.open or other.open


@dataclass
class DocTypeInfo:
	"""One DocType: its fields (fieldname -> fieldtype, options) and where it came from."""

	name: str
	fields: dict[str, tuple[str, str]] = field(default_factory=dict)
	no_column: set[str] = field(default_factory=set)  # fieldnames without a database column
	istable: bool = False
	issingle: bool = False
	json_path: Path | None = None
	controller: ClassMembers | None = None

	@property
	def class_name(self) -> str:
		return self.name.replace(" ", "").replace("-", "")

	def table_fields(self) -> dict[str, str]:
		"""fieldname -> child DocType of the Table fields."""
		return {f: opts for f, (ftype, opts) in self.fields.items() if ftype in TABLE_FIELDTYPES and opts}

	def attribute_names(self) -> set[str]:
		"""Everything an instance has as data: fields and standard columns."""
		names = set(self.fields) | STANDARD_FIELDS
		if self.istable:
			names |= CHILD_TABLE_FIELDS
		return names

	def column_names(self) -> set[str]:
		"""Everything a query may name: the columns of the table."""
		names = (set(self.fields) - self.no_column) | STANDARD_FIELDS
		if self.istable:
			names |= CHILD_TABLE_FIELDS
		else:
			names |= OPTIONAL_COLUMNS
		return names


@dataclass(frozen=True)
class App:
	"""A Frappe app: ``root`` is the folder on sys.path, ``package`` the folder with hooks.py."""

	root: Path
	package: Path


@dataclass
class Schema:
	"""All DocTypes, controllers and doc_events the validator knows."""

	doctypes: dict[str, DocTypeInfo] = field(default_factory=dict)
	apps: list[App] = field(default_factory=list)
	# dotted handler path -> DocTypes it is registered for (None: for "*", any DocType)
	handlers: dict[str, set[str] | None] = field(default_factory=dict)
	# dotted class path -> DocType, from override_doctype_class
	overrides: dict[str, str] = field(default_factory=dict)
	# controller file -> DocType
	controller_files: dict[Path, str] = field(default_factory=dict)

	def get(self, doctype: str) -> DocTypeInfo | None:
		return self.doctypes.get(doctype)

	def parents_of(self, child: str) -> set[str]:
		"""DocTypes that have a Table field whose rows are ``child``."""
		return {d.name for d in self.doctypes.values() if child in d.table_fields().values()}

	def module_file(self, dotted: str) -> Path | None:
		"""The file of a dotted module path inside one of the apps, if it exists."""
		for app in self.apps:
			base = app.root.joinpath(*dotted.split("."))
			for candidate in (base.with_suffix(".py"), base / "__init__.py"):
				if candidate.is_file():
					return candidate
		return None

	def module_name(self, path: Path) -> str | None:
		"""The dotted module name of a file inside one of the apps."""
		path = path.resolve()
		for app in self.apps:
			try:
				rel = path.relative_to(app.root)
			except ValueError:
				continue
			parts = list(rel.with_suffix("").parts)
			if parts and parts[-1] == "__init__":
				parts.pop()
			return ".".join(parts)
		return None


def find_apps(paths: Iterable[str | Path]) -> list[App]:
	"""The apps at the given folders: a repository root holding ``<pkg>/hooks.py``, or the package."""
	apps = []
	for raw in paths:
		path = Path(raw).resolve()
		if not path.is_dir():
			raise ValidatorUsageError(f"--app {raw}: no such folder")
		if (path / "hooks.py").is_file():
			apps.append(App(root=path.parent, package=path))
			continue
		packages = sorted(p.parent for p in path.glob("*/hooks.py"))
		if not packages:
			raise ValidatorUsageError(f"--app {raw}: not a Frappe app (no hooks.py in it or its sub-folders)")
		apps.extend(App(root=path, package=p) for p in packages)
	return apps


def _doctype_json_files(package: Path) -> list[Path]:
	found = []
	for candidate in sorted(package.rglob("*.json")):
		if candidate.parent.parent.name == "doctype" and candidate.stem == candidate.parent.name:
			found.append(candidate)
	return found


def _read_json(path: Path) -> object:
	try:
		return json.loads(path.read_text(encoding="utf-8"))
	except (OSError, ValueError) as exc:
		raise ValidatorUsageError(f"cannot read {path}: {exc}") from exc


def _doctype_from_json(data: dict, path: Path) -> DocTypeInfo:
	info = DocTypeInfo(
		name=data["name"],
		istable=bool(data.get("istable")),
		issingle=bool(data.get("issingle")),
		json_path=path,
	)
	for df in data.get("fields") or []:
		_add_field(info, df)
	return info


def _add_field(info: DocTypeInfo, df: dict) -> None:
	fieldname = df.get("fieldname")
	if not fieldname:
		return
	fieldtype = df.get("fieldtype") or "Data"
	info.fields[fieldname] = (fieldtype, df.get("options") or "")
	if fieldtype in NO_COLUMN_FIELDTYPES or df.get("is_virtual"):
		info.no_column.add(fieldname)


def _fixture_records(package: Path) -> list[dict]:
	"""Custom Field and Property Setter records from the app's fixture JSON files."""
	records = []
	for path in sorted(package.rglob("fixtures/*.json")):
		data = _read_json(path)
		if isinstance(data, list):
			records.extend(r for r in data if isinstance(r, dict))
	return records


_CUSTOM_FIELDS_CALL = re.compile(r"\bcreate_custom_fields?\s*\(")


def _custom_fields_in_code(package: Path) -> list[dict]:
	"""Custom fields an app creates from Python: ``create_custom_fields({"DocType": [{...}]})``."""
	records = []
	for path in sorted(package.rglob("*.py")):
		try:
			source = path.read_text(encoding="utf-8")
		except (OSError, UnicodeDecodeError):
			continue
		if not _CUSTOM_FIELDS_CALL.search(source):
			continue
		try:
			tree = ast.parse(source, filename=str(path))
		except SyntaxError:
			continue
		for node in ast.walk(tree):
			if isinstance(node, ast.Dict):
				records.extend(_custom_field_dict(node))
	return records


def _custom_field_dict(node: ast.Dict) -> list[dict]:
	"""Read ``{"DocType" or ("A", "B"): [{"fieldname": ..., "fieldtype": ...}, ...]}``."""
	records = []
	for key, value in zip(node.keys, node.values, strict=True):
		if key is None or not isinstance(value, ast.List | ast.Tuple):
			continue
		try:
			targets = ast.literal_eval(key)
		except ValueError:
			continue
		targets = [targets] if isinstance(targets, str) else list(targets)
		for item in value.elts:
			if not isinstance(item, ast.Dict):
				continue
			df = {}
			for k, v in zip(item.keys, item.values, strict=True):
				if isinstance(k, ast.Constant) and isinstance(v, ast.Constant):
					df[k.value] = v.value
			if df.get("fieldname"):
				records.extend(
					{"doctype": "Custom Field", "dt": t, **df} for t in targets if isinstance(t, str)
				)
	return records


def _apply_records(schema: Schema, records: list[dict]) -> None:
	for record in records:
		kind = record.get("doctype")
		if kind == "Custom Field":
			info = schema.doctypes.get(record.get("dt") or "")
			if info is not None:
				_add_field(info, record)
		elif kind == "Property Setter":
			info = schema.doctypes.get(record.get("doc_type") or "")
			fieldname = record.get("field_name")
			if info is None or not fieldname or fieldname not in info.fields:
				continue
			fieldtype, options = info.fields[fieldname]
			if record.get("property") == "options":
				info.fields[fieldname] = (fieldtype, record.get("value") or "")
			elif record.get("property") == "fieldtype":
				info.fields[fieldname] = (record.get("value") or fieldtype, options)
				if info.fields[fieldname][0] in NO_COLUMN_FIELDTYPES:
					info.no_column.add(fieldname)
				else:
					info.no_column.discard(fieldname)


def _read_hooks(schema: Schema, app: App) -> None:
	path = app.package / "hooks.py"
	try:
		tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
	except (OSError, SyntaxError, UnicodeDecodeError) as exc:
		raise ValidatorUsageError(f"cannot read {path}: {exc}") from exc
	for node in tree.body:
		if not isinstance(node, ast.Assign) or len(node.targets) != 1:
			continue
		target = node.targets[0]
		if not isinstance(target, ast.Name):
			continue
		try:
			value = ast.literal_eval(node.value)
		except ValueError:
			continue
		if target.id == "doc_events" and isinstance(value, dict):
			_register_doc_events(schema, value)
		elif target.id == "override_doctype_class" and isinstance(value, dict):
			for doctype, dotted in value.items():
				if isinstance(doctype, str) and isinstance(dotted, str):
					schema.overrides[dotted] = doctype


def _register_doc_events(schema: Schema, doc_events: dict) -> None:
	for key, events in doc_events.items():
		doctypes: set[str] | None
		if key == "*":
			doctypes = None
		elif isinstance(key, str):
			doctypes = {key}
		elif isinstance(key, tuple):
			doctypes = {k for k in key if isinstance(k, str)}
		else:
			continue
		if not isinstance(events, dict):
			continue
		for handlers in events.values():
			for dotted in [handlers] if isinstance(handlers, str) else list(handlers or []):
				if not isinstance(dotted, str):
					continue
				if dotted in schema.handlers:
					known = schema.handlers[dotted]
					schema.handlers[dotted] = None if known is None or doctypes is None else known | doctypes
				else:
					schema.handlers[dotted] = None if doctypes is None else set(doctypes)


def load_schema(app_paths: Iterable[str | Path]) -> Schema:
	"""Read every DocType, fixture, controller and hook of the given apps."""
	schema = Schema(apps=find_apps(app_paths))
	records: list[dict] = []
	for app in schema.apps:
		for path in _doctype_json_files(app.package):
			data = _read_json(path)
			if not isinstance(data, dict) or data.get("doctype") != "DocType" or not data.get("name"):
				continue
			info = _doctype_from_json(data, path)
			schema.doctypes[info.name] = info
			controller = path.with_suffix(".py")
			if controller.is_file():
				schema.controller_files[controller.resolve()] = info.name
		records.extend(_fixture_records(app.package))
		records.extend(_custom_fields_in_code(app.package))
		_read_hooks(schema, app)
	_apply_records(schema, records)
	_read_controllers(schema)
	return schema


# -- controllers ---------------------------------------------------------------------------------


def _parse(path: Path) -> ast.Module | None:
	try:
		return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
	except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
		return None


def class_members(cls: ast.ClassDef) -> ClassMembers:
	"""Methods, class attributes and self.x reads and writes of one class (not its bases)."""
	found = ClassMembers()
	for stmt in cls.body:
		if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
			found.members.add(stmt.name)
		elif isinstance(stmt, ast.Assign):
			for target in stmt.targets:
				found.members |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
		elif isinstance(stmt, ast.AnnAssign | ast.AugAssign) and isinstance(stmt.target, ast.Name):
			found.members.add(stmt.target.id)
		elif isinstance(stmt, ast.If):
			# `if TYPE_CHECKING:` blocks of annotations (DF.Data and friends)
			for inner in ast.walk(stmt):
				if isinstance(inner, ast.AnnAssign) and isinstance(inner.target, ast.Name):
					found.members.add(inner.target.id)
	for node in ast.walk(cls):
		if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
			(found.loads if isinstance(node.ctx, ast.Load) else found.stores).add(node.attr)
		elif isinstance(node, ast.Call) and _is_self_setattr(node):
			found.stores.add(node.args[1].value)
	return found


def _is_self_setattr(node: ast.Call) -> bool:
	return (
		isinstance(node.func, ast.Name)
		and node.func.id == "setattr"
		and len(node.args) >= 2
		and isinstance(node.args[0], ast.Name)
		and node.args[0].id == "self"
		and isinstance(node.args[1], ast.Constant)
		and isinstance(node.args[1].value, str)
	)


def _imported_names(tree: ast.Module) -> dict[str, str]:
	"""local name -> dotted path of ``from x import y`` imports."""
	names = {}
	for node in tree.body:
		if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
			for alias in node.names:
				names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
	return names


def resolve_class(schema: Schema, path: Path, class_name: str, depth: int = 0) -> ClassMembers:
	"""Members of a class and its bases, following bases defined in the file or the apps."""
	tree = _parse(path)
	if tree is None or depth > 8:
		return ClassMembers(open=True)
	cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
	if cls is None:
		return ClassMembers(open=True)
	return _members_with_bases(schema, path, tree, cls, depth)


def _members_with_bases(
	schema: Schema, path: Path, tree: ast.Module, cls: ast.ClassDef, depth: int = 0
) -> ClassMembers:
	found = class_members(cls)
	imports = _imported_names(tree)
	local_classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
	for base in cls.bases:
		base_name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
		if base_name is None:
			found.open = True
		elif isinstance(base, ast.Name) and base_name in local_classes and base_name != cls.name:
			found.merge(resolve_class(schema, path, base_name, depth + 1))
		elif (
			isinstance(base, ast.Name)
			and base_name in imports
			and not imports[base_name].startswith("frappe.")
		):
			module, _, name = imports[base_name].rpartition(".")
			base_file = schema.module_file(module)
			found.merge(
				resolve_class(schema, base_file, name, depth + 1) if base_file else ClassMembers(open=True)
			)
		elif base_name in KNOWN_BASES:
			found.members |= KNOWN_BASES[base_name]
		else:
			found.open = True
	return found


def _read_controllers(schema: Schema) -> None:
	for path, doctype in schema.controller_files.items():
		info = schema.doctypes[doctype]
		tree = _parse(path)
		if tree is None:
			info.controller = ClassMembers(open=True)
			continue
		cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == info.class_name), None)
		if cls is not None:
			info.controller = _members_with_bases(schema, path, tree, cls)
	for dotted, doctype in schema.overrides.items():
		info = schema.doctypes.get(doctype)
		if info is None:
			continue
		module, _, name = dotted.rpartition(".")
		file = schema.module_file(module)
		members = resolve_class(schema, file, name) if file else ClassMembers(open=True)
		if info.controller is None:
			info.controller = members
		else:
			info.controller.merge(members)
	for info in schema.doctypes.values():
		if info.controller is not None:
			_drop_misspelt_stores(info, info.controller)


def _drop_misspelt_stores(info: DocTypeInfo, members: ClassMembers) -> None:
	"""Forget attributes the controller only writes, or only reads, that look like a misspelt field.

	That write or read is reported itself; counting it as a known attribute would hide
	every other use of the same misspelling.
	"""
	fields = info.attribute_names()
	stores, loads = set(members.stores), set(members.loads)

	def keep(name: str, other: set[str]) -> bool:
		return name in fields or name in members.members or name in other or suggest(name, fields) is None

	members.stores = {name for name in stores if keep(name, loads)}
	members.loads = {name for name in loads if keep(name, stores)}


def controller_doctype(schema: Schema, path: Path, class_name: str) -> str | None:
	"""The DocType whose instances ``class_name`` in ``path`` is the class of, if any."""
	doctype = schema.controller_files.get(path.resolve())
	if doctype is not None and schema.doctypes[doctype].class_name == class_name:
		return doctype
	module = schema.module_name(path)
	if module is not None:
		return schema.overrides.get(f"{module}.{class_name}")
	return None
