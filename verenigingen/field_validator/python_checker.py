"""Check field references in Python source against the DocTypes of a Schema.

The checker follows, statement by statement, which local names hold documents of a known
DocType and checks attribute access and field names given as strings on them. Where the
DocType cannot be known it says nothing.
"""

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .doctypes import (
	DOCUMENT_ATTRIBUTES,
	STANDARD_FIELDS,
	ClassMembers,
	DocTypeInfo,
	Schema,
	_members_with_bases,
	controller_doctype,
)
from .findings import (
	PY_UNKNOWN_ATTRIBUTE,
	PY_UNKNOWN_KEY,
	PY_UNKNOWN_QUERY_FIELD,
	CheckResult,
	Finding,
	Reference,
	format_doctypes,
	suggest,
)


@dataclass(frozen=True)
class Doc:
	"""A document of one of ``doctypes``; ``own`` is set for ``self`` inside its controller class."""

	doctypes: frozenset[str]
	own: ClassMembers | None = None


@dataclass(frozen=True)
class Rows:
	"""A list of child-table rows of one of ``doctypes``."""

	doctypes: frozenset[str]


Type = Doc | Rows
Env = dict[str, Type]

# Calls that return a document of the DocType named by their first argument.
DOC_CONSTRUCTORS = frozenset(
	{"frappe.get_doc", "frappe.new_doc", "frappe.get_cached_doc", "frappe.get_last_doc", "frappe.get_single"}
)
# Document methods that return the document itself.
RETURNS_SELF = frozenset({"insert", "save", "submit", "get_doc_before_save", "get_latest"})
# Document methods taking a field name as first argument: read-like and write-like.
KEY_READERS = frozenset({"get", "getone", "get_formatted", "precision", "has_value_changed", "get_value"})
KEY_WRITERS = frozenset({"set", "db_set"})
KEY_COLUMNS = frozenset({"db_get", "db_set"})  # these go to the database: the key must be a column
# Query functions: positions of doctype/filters/fieldnames (None: not positional).
GET_VALUE_FUNCS = frozenset(
	{
		"frappe.db.get_value",
		"frappe.get_value",
		"frappe.db.get_values",
		"frappe.get_cached_value",
		"frappe.db.get_cached_value",
	}
)
LIST_FUNCS = frozenset({"frappe.get_all", "frappe.get_list", "frappe.db.get_all", "frappe.db.get_list"})
SQL_WORDS = frozenset(
	{"distinct", "null", "true", "false", "and", "or", "not", "case", "when", "then", "else"}
)

_ALIAS = re.compile(r"\s+as\s+", re.IGNORECASE)
_IDENT = re.compile(r"^(?:distinct\s+)?`?([A-Za-z_][A-Za-z0-9_]*)`?$", re.IGNORECASE)
_TABLE_FIELD = re.compile(r"^`?tab([^`.]+)`?\.`?([A-Za-z_][A-Za-z0-9_]*)`?$")
_FUNC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*\((.*)\)$", re.DOTALL)
_ORDER = re.compile(r"\s+(asc|desc)$", re.IGNORECASE)


def field_expression_names(text: str) -> list[tuple[str | None, str]]:
	"""Field names an SQL field expression names, as (table DocType or None, field).

	``"amount as total"`` -> amount; ``"sum(amount)"`` -> amount; ``"`tabX`.f"`` -> (X, f);
	``"*"``, ``"count(*)"``, numbers and anything more complex name nothing checkable.
	"""
	expr = _ALIAS.split(text.strip(), maxsplit=1)[0].strip()
	if not expr or expr == "*":
		return []
	if match := _TABLE_FIELD.match(expr):
		return [(match.group(1), match.group(2))]
	if match := _IDENT.match(expr):
		name = match.group(1)
		return [] if name.lower() in SQL_WORDS else [(None, name)]
	if match := _FUNC.match(expr):
		found: list[tuple[str | None, str]] = []
		for arg in match.group(1).split(","):
			arg = arg.strip()
			if inner := _TABLE_FIELD.match(arg):
				found.append((inner.group(1), inner.group(2)))
			elif (inner := _IDENT.match(arg)) and inner.group(1).lower() not in SQL_WORDS:
				found.append((None, inner.group(1)))
		return found
	return []


def order_by_names(text: str) -> list[tuple[str | None, str]]:
	"""Field names of an ``order_by``/``group_by`` clause: ``"creation desc, name"``."""
	found = []
	for part in text.split(","):
		found.extend(field_expression_names(_ORDER.sub("", part.strip())))
	return found


def _const_str(node: ast.AST | None) -> str | None:
	return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _terminates(body: list[ast.stmt]) -> bool:
	return bool(body) and isinstance(body[-1], ast.Return | ast.Raise | ast.Continue | ast.Break)


def _merge(a: Env, b: Env) -> Env:
	"""What is known after two paths join: names typed alike on both (DocTypes united)."""
	merged: Env = {}
	for name, ta in a.items():
		tb = b.get(name)
		if tb is None:
			continue
		if ta == tb:
			merged[name] = ta
		elif isinstance(ta, Doc) and isinstance(tb, Doc) and ta.own is None and tb.own is None:
			merged[name] = Doc(ta.doctypes | tb.doctypes)
		elif isinstance(ta, Rows) and isinstance(tb, Rows):
			merged[name] = Rows(ta.doctypes | tb.doctypes)
	return merged


def _assigned_names(nodes: Iterable[ast.AST]) -> dict[str, int]:
	"""How often each name is bound in these statements (nested scopes excluded)."""
	counts: dict[str, int] = {}
	stack = list(nodes)
	while stack:
		node = stack.pop()
		if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
			counts[node.id] = counts.get(node.id, 0) + 1
		elif isinstance(node, ast.arg):
			counts[node.arg] = counts.get(node.arg, 0) + 1
		if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
			if not isinstance(node, ast.Lambda):
				counts[node.name] = counts.get(node.name, 0) + 1
			continue
		stack.extend(ast.iter_child_nodes(node))
	return counts


class PythonChecker:
	"""Checks one Python file. Use :func:`check_python_source`."""

	def __init__(self, schema: Schema, path: Path, display_path: str, tree: ast.Module) -> None:
		self.schema = schema
		self.path = path
		self.display_path = display_path
		self.tree = tree
		self.result = CheckResult(files_checked=1)
		self.quiet = 0  # > 0 while a loop body is pre-scanned for bindings
		self.frappe_names: set[str] = set()  # local names bound to the frappe module
		self.imported: dict[str, str] = {}  # local name -> dotted frappe path (from frappe import db)
		self.constants: dict[str, str] = {}  # module-level string constants
		self.module = schema.module_name(path)
		self.has_walrus = False

	# -- entry ---------------------------------------------------------------------------------

	def run(self) -> CheckResult:
		self._read_module_names()
		self.block(self.tree.body, {})
		return self.result

	def _read_module_names(self) -> None:
		for node in ast.walk(self.tree):
			if isinstance(node, ast.Import):
				for alias in node.names:
					if alias.name == "frappe":
						self.frappe_names.add(alias.asname or "frappe")
			elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
				if node.module == "frappe" or node.module.startswith("frappe."):
					for alias in node.names:
						self.imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
		counts = _assigned_names(self.tree.body)
		for node in self.tree.body:
			if (
				isinstance(node, ast.Assign)
				and len(node.targets) == 1
				and isinstance(node.targets[0], ast.Name)
			):
				value = _const_str(node.value)
				if value is not None and counts.get(node.targets[0].id) == 1:
					self.constants[node.targets[0].id] = value

	# -- statements ----------------------------------------------------------------------------

	def block(self, body: list[ast.stmt], env: Env) -> tuple[Env, bool]:
		"""Check statements in order; return the names known after them and whether they end the path."""
		for stmt in body:
			env = self.statement(stmt, env)
		return env, _terminates(body)

	def statement(self, stmt: ast.stmt, env: Env) -> Env:
		if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
			for deco in stmt.decorator_list:
				self.expr(deco, env)
			self.function(stmt, env, None)
			env = dict(env)
			env.pop(stmt.name, None)
			return env
		if isinstance(stmt, ast.ClassDef):
			for node in (*stmt.bases, *stmt.decorator_list):
				self.expr(node, env)
			self.class_body(stmt, env)
			env = dict(env)
			env.pop(stmt.name, None)
			return env
		if isinstance(stmt, ast.If):
			self.expr(stmt.test, env)
			env = self.walrus(stmt.test, env)
			return self.branches([stmt.body, stmt.orelse], env)
		if isinstance(stmt, ast.For | ast.AsyncFor):
			self.expr(stmt.iter, env)
			return self.loop(stmt, env, lambda e: self.bind(stmt.target, self.element(stmt.iter, e), e))
		if isinstance(stmt, ast.While):
			self.expr(stmt.test, env)
			return self.loop(stmt, env, lambda e: e)
		if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
			return self.try_stmt(stmt, env)
		if isinstance(stmt, ast.With | ast.AsyncWith):
			env = dict(env)
			for item in stmt.items:
				self.expr(item.context_expr, env)
				if item.optional_vars is not None:
					self.expr(item.optional_vars, env)
					env = self.bind(item.optional_vars, None, env)
			return self.block(stmt.body, env)[0]
		if isinstance(stmt, ast.Match):
			self.expr(stmt.subject, env)
			bodies = []
			for case in stmt.cases:
				case_env = dict(env)
				for name in _assigned_names([case.pattern]):
					case_env.pop(name, None)
				bodies.append((case, case_env))
			results = [self.block(c.body, e) for c, e in bodies]
			live = [e for e, done in results if not done] + [env]
			merged = live[0]
			for other in live[1:]:
				merged = _merge(merged, other)
			return merged
		# simple statements: check every expression, then apply bindings
		for child in ast.iter_child_nodes(stmt):
			if isinstance(child, ast.expr):
				self.expr(child, env)
		if isinstance(stmt, ast.Assign):
			value_type = self.infer(stmt.value, env)
			for target in stmt.targets:
				env = self.bind(target, value_type, env, stmt.value)
		elif isinstance(stmt, ast.AnnAssign):
			env = self.bind(stmt.target, self.infer(stmt.value, env) if stmt.value else None, env)
		elif isinstance(
			stmt, ast.AugAssign | ast.Delete | ast.Import | ast.ImportFrom | ast.Global | ast.Nonlocal
		):
			env = dict(env)
			for name in _assigned_names([stmt]):
				env.pop(name, None)
			if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Global | ast.Nonlocal):
				for alias in getattr(stmt, "names", []):
					env.pop(
						alias if isinstance(alias, str) else (alias.asname or alias.name).split(".")[0], None
					)
		else:
			env = self.walrus(stmt, env)
		return env

	def branches(self, bodies: list[list[ast.stmt]], env: Env) -> Env:
		results = [self.block(body, dict(env)) for body in bodies]
		live = [e for e, done in results if not done]
		if not live:
			return results[0][0]
		merged = live[0]
		for other in live[1:]:
			merged = _merge(merged, other)
		return merged

	def loop(self, stmt: ast.For | ast.AsyncFor | ast.While, env: Env, enter: Callable[[Env], Env]) -> Env:
		# First pass, silent: which names does one iteration change? Then check with what
		# holds on every iteration.
		self.quiet += 1
		try:
			after_once, _ = self.block(stmt.body, enter(dict(env)))
		finally:
			self.quiet -= 1
		entry = _merge(env, after_once)
		assigned = _assigned_names(stmt.body) if env else {}
		for name, value in env.items():
			if name not in after_once and name not in assigned:
				entry[name] = value
		after, _ = self.block(stmt.body, enter(dict(entry)))
		result = _merge(entry, after)
		if stmt.orelse:
			result, _ = self.block(stmt.orelse, result)
		return result

	def try_stmt(self, stmt: ast.Try, env: Env) -> Env:
		after_body, body_done = self.block(stmt.body, dict(env))
		at_handler = _merge(env, after_body)
		ends = []
		if not body_done:
			else_env, else_done = self.block(stmt.orelse, after_body)
			if not else_done:
				ends.append(else_env)
		for handler in stmt.handlers:
			if handler.type is not None:
				self.expr(handler.type, env)
			henv = dict(at_handler)
			if handler.name:
				henv.pop(handler.name, None)
			henv, done = self.block(handler.body, henv)
			if not done:
				ends.append(henv)
		result = ends[0] if ends else at_handler
		for other in ends[1:]:
			result = _merge(result, other)
		if stmt.finalbody:
			self.block(stmt.finalbody, _merge(env, result))
		return result

	def function(
		self, node: ast.FunctionDef | ast.AsyncFunctionDef, outer: Env, self_type: Doc | None
	) -> None:
		args = node.args
		for default in (*args.defaults, *[d for d in args.kw_defaults if d is not None]):
			self.expr(default, outer)
		local_counts = _assigned_names(node.body)
		params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
		for extra in (args.vararg, args.kwarg):
			if extra is not None:
				params.append(extra.arg)
		# Closures see outer names only when this function never rebinds them.
		env: Env = {k: v for k, v in outer.items() if k not in local_counts and k not in params}
		positional = [a.arg for a in (*args.posonlyargs, *args.args)]
		if self_type is not None and positional:
			env[positional[0]] = self_type
		elif self_type is None and positional and self.module is not None:
			handler_doctypes = self.handler_doctypes(node)
			if handler_doctypes:
				env[positional[0]] = Doc(handler_doctypes)
		self.block(node.body, env)

	def handler_doctypes(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str] | None:
		if node not in self.tree.body:
			return None
		doctypes = self.schema.handlers.get(f"{self.module}.{node.name}")
		if not doctypes or any(d not in self.schema.doctypes for d in doctypes):
			return None
		return frozenset(doctypes)

	def class_body(self, node: ast.ClassDef, outer: Env) -> None:
		doctype = controller_doctype(self.schema, self.path, node.name) if node in self.tree.body else None
		self_type = None
		if doctype is not None:
			own = _members_with_bases(self.schema, self.path, self.tree, node)
			self_type = Doc(frozenset({doctype}), own)
		env: Env = {}
		for stmt in node.body:
			if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
				for deco in stmt.decorator_list:
					self.expr(deco, env)
				names = {d.id for d in stmt.decorator_list if isinstance(d, ast.Name)}
				is_method = not names & {"staticmethod", "classmethod"}
				self.function(stmt, {}, self_type if is_method else None)
			else:
				env = self.statement(stmt, env)

	# -- bindings ------------------------------------------------------------------------------

	def bind(
		self, target: ast.AST, value: "Type | _Enumerated | None", env: Env, value_node: ast.AST | None = None
	) -> Env:
		env = dict(env)
		if isinstance(value, _Enumerated):
			if isinstance(target, ast.Tuple | ast.List) and len(target.elts) == 2:
				env = self.bind(target.elts[0], None, env)
				return self.bind(target.elts[1], value.row, env)
			value = None
		if isinstance(target, ast.Name):
			if value is None:
				env.pop(target.id, None)
			else:
				env[target.id] = value
		elif isinstance(target, ast.Tuple | ast.List):
			if isinstance(value_node, ast.Tuple) and len(value_node.elts) == len(target.elts):
				for sub, sub_value in zip(target.elts, value_node.elts, strict=True):
					env = self.bind(sub, self.infer(sub_value, env), env)
			else:
				for name in _assigned_names([target]):
					env.pop(name, None)
		elif isinstance(target, ast.Starred):
			env = self.bind(target.value, None, env)
		return env

	def walrus(self, node: ast.AST, env: Env) -> Env:
		if not self.has_walrus:
			return env
		for inner in ast.walk(node):
			if isinstance(inner, ast.NamedExpr):
				env = self.bind(inner.target, self.infer(inner.value, env), env)
		return env

	def element(self, iterable: ast.expr, env: Env) -> "Type | _Enumerated | None":
		"""The type of the items of an iterable (rows of a Table field)."""
		if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and iterable.args:
			name = iterable.func.id
			if name in ("reversed", "sorted", "list", "tuple"):
				return self.element(iterable.args[0], env)
			if name == "enumerate":
				inner = self.element(iterable.args[0], env)
				return _Enumerated(inner) if isinstance(inner, Doc) else None
		found = self.infer(iterable, env)
		return Doc(found.doctypes) if isinstance(found, Rows) else None

	# -- inference -----------------------------------------------------------------------------

	def qualified(self, func: ast.expr) -> str | None:
		"""The dotted frappe path a call goes to (``frappe.db.get_value``), if it is one."""
		parts = []
		while isinstance(func, ast.Attribute):
			parts.append(func.attr)
			func = func.value
		if not isinstance(func, ast.Name):
			return None
		if func.id in self.frappe_names:
			root = "frappe"
		elif func.id in self.imported:
			root = self.imported[func.id]
		else:
			return None
		return ".".join([root, *reversed(parts)])

	def doctype_arg(self, node: ast.expr | None) -> str | None:
		if node is None:
			return None
		if (value := _const_str(node)) is not None:
			return value
		if isinstance(node, ast.Name):
			return self.constants.get(node.id)
		return None

	def known(self, doctype: str | None) -> DocTypeInfo | None:
		return self.schema.doctypes.get(doctype) if doctype else None

	def constructed_doctype(self, call: ast.Call) -> str | None:
		first = call.args[0] if call.args else _keyword(call, "doctype")
		if isinstance(first, ast.Dict):
			for key, value in zip(first.keys, first.values, strict=True):
				if _const_str(key) == "doctype":
					return self.doctype_arg(value)
			return None
		return self.doctype_arg(first)

	def infer(self, node: ast.expr | None, env: Env) -> Type | None:
		if node is None:
			return None
		if isinstance(node, ast.Name):
			return env.get(node.id)
		if isinstance(node, ast.NamedExpr):
			return self.infer(node.value, env)
		if isinstance(node, ast.Await):
			return None
		if isinstance(node, ast.Call):
			qual = self.qualified(node.func)
			if qual in DOC_CONSTRUCTORS:
				doctype = self.constructed_doctype(node)
				return Doc(frozenset({doctype})) if self.known(doctype) else None
			if qual == "frappe.copy_doc" and node.args:
				found = self.infer(node.args[0], env)
				return Doc(found.doctypes) if isinstance(found, Doc) else None
			if isinstance(node.func, ast.Attribute):
				receiver = self.infer(node.func.value, env)
				method = node.func.attr
				if isinstance(receiver, Doc):
					if method in RETURNS_SELF:
						return Doc(receiver.doctypes)
					table = _const_str(node.args[0]) if node.args else None
					children = self.children(receiver, table) if table else None
					if children and method == "get" and len(node.args) == 1:
						return Rows(children)
					if children and method in ("append", "getone"):
						return Doc(children)
			return None
		if isinstance(node, ast.Attribute):
			receiver = self.infer(node.value, env)
			if isinstance(receiver, Doc):
				children = self.children(receiver, node.attr)
				if children:
					return Rows(children)
			return None
		if isinstance(node, ast.Subscript):
			receiver = self.infer(node.value, env)
			if isinstance(receiver, Rows):
				return receiver if isinstance(node.slice, ast.Slice) else Doc(receiver.doctypes)
		return None

	def children(self, receiver: Doc, fieldname: str) -> frozenset[str] | None:
		"""Child DocTypes of the Table field ``fieldname``, if every candidate DocType has it."""
		found = set()
		for doctype in receiver.doctypes:
			child = self.schema.doctypes[doctype].table_fields().get(fieldname)
			if child is None or child not in self.schema.doctypes:
				return None
			found.add(child)
		return frozenset(found)

	# -- expressions ---------------------------------------------------------------------------

	def expr(self, node: ast.AST, env: Env) -> None:
		"""Check every reference in an expression, with scopes of comprehensions and lambdas."""
		if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
			inner = dict(env)
			for gen in node.generators:
				self.expr(gen.iter, inner)
				inner = self.bind(gen.target, self.element(gen.iter, inner), inner)
				for cond in gen.ifs:
					self.expr(cond, inner)
			if isinstance(node, ast.DictComp):
				self.expr(node.key, inner)
				self.expr(node.value, inner)
			else:
				self.expr(node.elt, inner)
			return
		if isinstance(node, ast.Lambda):
			inner = {k: v for k, v in env.items() if k not in _assigned_names([node.args])}
			self.expr(node.body, inner)
			return
		if isinstance(node, ast.Attribute):
			self.attribute(node, env)
		elif isinstance(node, ast.Call):
			self.call(node, env)
		for child in ast.iter_child_nodes(node):
			self.expr(child, env)

	def attribute(self, node: ast.Attribute, env: Env) -> None:
		receiver = self.infer(node.value, env)
		if not isinstance(receiver, Doc) or node.attr.startswith("_"):
			return
		write = not isinstance(node.ctx, ast.Load)
		line = node.end_lineno or node.lineno
		column = (node.end_col_offset or 0) - len(node.attr) + 1
		self.check_attribute(receiver, node.attr, write, line, column)

	def check_attribute(self, receiver: Doc, name: str, write: bool, line: int, column: int) -> None:
		doctypes = receiver.doctypes
		if self.any_open(receiver):
			return
		known = self.attribute_names(receiver, write)
		ok = name in known
		if not ok and write and receiver.own is not None:
			# An attribute the controller sets for itself is fine unless it looks like a misspelt field.
			ok = suggest(name, self.field_names(doctypes)) is None
		self.report(PY_UNKNOWN_ATTRIBUTE, name, doctypes, line, column, ok, self.field_names(doctypes))

	def any_open(self, receiver: Doc) -> bool:
		if receiver.own is not None and receiver.own.open:
			return True
		for doctype in receiver.doctypes:
			controller = self.schema.doctypes[doctype].controller
			if controller is not None and controller.open:
				return True
		return False

	def attribute_names(self, receiver: Doc, write: bool) -> set[str]:
		names = set(DOCUMENT_ATTRIBUTES)
		for doctype in receiver.doctypes:
			info = self.schema.doctypes[doctype]
			names |= info.attribute_names()
			if info.controller is not None:
				names |= info.controller.members | info.controller.stores
				if write:
					names |= info.controller.loads
		if receiver.own is not None:
			names |= receiver.own.members
			names |= receiver.own.loads if write else receiver.own.stores
		return names

	def field_names(self, doctypes: Iterable[str]) -> set[str]:
		names: set[str] = set(STANDARD_FIELDS)
		for doctype in doctypes:
			names |= self.schema.doctypes[doctype].attribute_names()
		return names

	def column_names(self, doctypes: Iterable[str]) -> set[str]:
		names: set[str] = set()
		for doctype in doctypes:
			names |= self.schema.doctypes[doctype].column_names()
		return names

	def report(
		self,
		rule: str,
		name: str,
		doctypes: Iterable[str],
		line: int,
		column: int,
		ok: bool,
		candidates: set[str],
		message: str | None = None,
	) -> None:
		if self.quiet:
			return
		doctypes = tuple(sorted(doctypes))
		self.result.references.append(Reference(self.display_path, line, column, name, doctypes, rule, ok))
		if ok:
			return
		label = format_doctypes(doctypes)
		hint = suggest(name, candidates - {name})
		if message is None and rule == PY_UNKNOWN_QUERY_FIELD:
			message = f"`{name}` is not a column of {label}"
		elif message is None:
			message = f"`{name}` is not a field or attribute of {label}"
		if hint:
			message += f"; did you mean `{hint}`?"
		self.result.findings.append(
			Finding(self.display_path, line, column, rule, name, label, message, hint)
		)

	# -- calls ---------------------------------------------------------------------------------

	def call(self, node: ast.Call, env: Env) -> None:
		qual = self.qualified(node.func)
		if qual is not None:
			self.frappe_call(qual, node)
			return
		if not isinstance(node.func, ast.Attribute):
			return
		receiver = self.infer(node.func.value, env)
		if not isinstance(receiver, Doc) or self.any_open(receiver):
			return
		method = node.func.attr
		first = node.args[0] if node.args else None
		key = _const_str(first)
		if method in KEY_READERS | KEY_WRITERS | KEY_COLUMNS and key is not None and not key.startswith("_"):
			if method in KEY_COLUMNS:
				known = self.column_names(receiver.doctypes)
			else:
				known = self.attribute_names(receiver, method in KEY_WRITERS)
			self.report(
				PY_UNKNOWN_KEY,
				key,
				receiver.doctypes,
				first.lineno,
				first.col_offset + 1,
				key in known,
				known,
			)
		elif method in ("db_set", "update") and isinstance(first, ast.Dict):
			known = (
				self.column_names(receiver.doctypes)
				if method == "db_set"
				else self.attribute_names(receiver, True)
			)
			self.dict_keys(first, receiver.doctypes, known, PY_UNKNOWN_KEY)
		elif method in ("append", "extend") and key is not None:
			children = self.children(receiver, key)
			tables = set()
			for doctype in receiver.doctypes:
				tables |= set(self.schema.doctypes[doctype].table_fields())
			self.report(
				PY_UNKNOWN_KEY,
				key,
				receiver.doctypes,
				first.lineno,
				first.col_offset + 1,
				children is not None,
				tables,
				message=f"`{key}` is not a Table field of {format_doctypes(receiver.doctypes)}",
			)
			if children and method == "append" and len(node.args) > 1 and isinstance(node.args[1], ast.Dict):
				self.dict_keys(node.args[1], children, self.field_names(children), PY_UNKNOWN_KEY)

	def dict_keys(self, node: ast.Dict, doctypes: Iterable[str], known: set[str], rule: str) -> None:
		doctypes = frozenset(doctypes)
		for key in node.keys:
			name = _const_str(key)
			if name is None or name.startswith("_") or name == "doctype":
				continue
			self.report(rule, name, doctypes, key.lineno, key.col_offset + 1, name in known, known)

	def frappe_call(self, qual: str, node: ast.Call) -> None:
		args = node.args
		if qual == "frappe.get_doc" and args and isinstance(args[0], ast.Dict):
			doctype = self.constructed_doctype(node)
			info = self.known(doctype)
			if info is not None and not (info.controller and info.controller.open):
				self.document_dict(args[0], info)
			return
		if qual in ("frappe.get_doc", "frappe.get_cached_doc") and len(args) > 1:
			self.filters(self.doctype_arg(args[0]), args[1])
			return
		if qual in GET_VALUE_FUNCS:
			doctype = self.doctype_arg(_arg(node, 0, "doctype"))
			self.filters(doctype, _arg(node, 1, "filters"))
			self.fieldnames(doctype, _arg(node, 2, "fieldname"))
			self.order_by(doctype, _keyword(node, "order_by"))
		elif qual == "frappe.db.get_single_value":
			self.fieldnames(self.doctype_arg(_arg(node, 0, "doctype")), _arg(node, 1, "fieldname"))
		elif qual == "frappe.db.set_value":
			doctype = self.doctype_arg(_arg(node, 0, "doctype"))
			self.filters(doctype, _arg(node, 1, "name"))
			self.fieldnames(doctype, _arg(node, 2, "fieldname"))
		elif qual == "frappe.db.set_single_value":
			self.fieldnames(self.doctype_arg(_arg(node, 0, "doctype")), _arg(node, 1, "fieldname"))
		elif qual in ("frappe.db.exists", "frappe.db.count", "frappe.db.delete"):
			first = _arg(node, 0, "doctype")
			if isinstance(first, ast.Dict):
				self.filters(self.constructed_doctype(node), first)
			else:
				self.filters(
					self.doctype_arg(first), _arg(node, 1, "dn" if qual.endswith("exists") else "filters")
				)
		elif qual in LIST_FUNCS:
			doctype = self.doctype_arg(_arg(node, 0, "doctype"))
			fields, filters = _arg(node, 1, "fields"), _arg(node, 2, "filters")
			if isinstance(fields, ast.Dict) or (
				isinstance(fields, ast.List | ast.Tuple)
				and fields.elts
				and isinstance(fields.elts[0], ast.List)
			):
				fields, filters = filters, fields  # Frappe swaps them when filters come first
			self.fieldnames(doctype, fields)
			self.filters(doctype, filters)
			self.filters(doctype, _keyword(node, "or_filters"))
			self.order_by(doctype, _keyword(node, "order_by"))
			self.order_by(doctype, _keyword(node, "group_by"))
			self.fieldnames(doctype, _keyword(node, "pluck"))

	def document_dict(self, node: ast.Dict, info: DocTypeInfo) -> None:
		"""``frappe.get_doc({"doctype": X, field: value, table: [{child field: value}]})``."""
		known = self.attribute_names(Doc(frozenset({info.name})), True)
		self.dict_keys(node, {info.name}, known, PY_UNKNOWN_KEY)
		tables = info.table_fields()
		for key, value in zip(node.keys, node.values, strict=True):
			child = self.known(tables.get(_const_str(key) or ""))
			if child is None or not isinstance(value, ast.List | ast.Tuple):
				continue
			for row in value.elts:
				if isinstance(row, ast.Dict):
					self.dict_keys(row, {child.name}, self.field_names({child.name}), PY_UNKNOWN_KEY)

	def check_column(self, doctype: str | None, name: str, node: ast.AST, offset: int = 0) -> None:
		info = self.known(doctype)
		if info is None or name.startswith("__"):
			return
		known = info.column_names()
		column = node.col_offset + 1 + offset
		ok = name in known
		message = None
		if not ok and name in info.fields:
			message = f"`{name}` of {info.name} has no database column ({info.fields[name][0]})"
		self.report(PY_UNKNOWN_QUERY_FIELD, name, {info.name}, node.lineno, column, ok, known, message)

	def fieldnames(self, doctype: str | None, node: ast.AST | None) -> None:
		if node is None or self.known(doctype) is None:
			return
		if (text := _const_str(node)) is not None:
			self.field_string(doctype, text, node, field_expression_names)
		elif isinstance(node, ast.List | ast.Tuple | ast.Set):
			for item in node.elts:
				if (text := _const_str(item)) is not None:
					self.field_string(doctype, text, item, field_expression_names)
		elif isinstance(node, ast.Dict):
			for key in node.keys:
				if (text := _const_str(key)) is not None:
					self.field_string(doctype, text, key, field_expression_names)

	def order_by(self, doctype: str | None, node: ast.AST | None) -> None:
		if node is not None and self.known(doctype) and (text := _const_str(node)) is not None:
			self.field_string(doctype, text, node, order_by_names)

	def field_string(
		self,
		doctype: str | None,
		text: str,
		node: ast.AST,
		parse: Callable[[str], list[tuple[str | None, str]]],
	) -> None:
		for table, name in parse(text):
			offset = text.find(name) + 1 if name in text else 0  # +1 for the opening quote
			self.check_column(table if table else doctype, name, node, offset)

	def filters(self, doctype: str | None, node: ast.AST | None) -> None:
		if node is None or self.known(doctype) is None:
			return
		if isinstance(node, ast.Dict):
			for key in node.keys:
				if (text := _const_str(key)) is not None and text != "doctype":
					self.field_string(doctype, text, key, field_expression_names)
		elif isinstance(node, ast.List | ast.Tuple):
			for item in node.elts:
				if not isinstance(item, ast.List | ast.Tuple):
					continue
				elts = item.elts
				if len(elts) == 4:
					table = self.doctype_arg(elts[0])
					if (text := _const_str(elts[1])) is not None and table is not None:
						self.field_string(table, text, elts[1], field_expression_names)
				elif len(elts) in (2, 3) and (text := _const_str(elts[0])) is not None:
					self.field_string(doctype, text, elts[0], field_expression_names)


@dataclass(frozen=True)
class _Enumerated:
	"""The (index, row) pairs of ``enumerate(rows)``."""

	row: Doc


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
	return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _arg(call: ast.Call, position: int, name: str) -> ast.expr | None:
	if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
		return call.args[position]
	return _keyword(call, name)


def check_python_source(
	schema: Schema, path: Path, source: str, display_path: str | None = None
) -> CheckResult:
	"""Check one Python file's source; a file that does not parse is reported in ``errors``."""
	display = display_path or str(path)
	try:  # every file is parsed: one that does not parse is an error even where nothing is checked
		tree = ast.parse(source, filename=display)
	except SyntaxError as exc:
		return CheckResult(files_checked=1, errors=[f"{display}: cannot parse: line {exc.lineno}: {exc.msg}"])
	except ValueError as exc:  # a NUL byte in the source
		return CheckResult(files_checked=1, errors=[f"{display}: cannot parse: {exc}"])
	if "frappe" not in source and not _may_type_self_or_handlers(schema, path):
		return CheckResult(files_checked=1)  # no DocType can be known anywhere in this file
	checker = PythonChecker(schema, path, display, tree)
	checker.has_walrus = ":=" in source
	return checker.run()


def _may_type_self_or_handlers(schema: Schema, path: Path) -> bool:
	"""Whether the file is a controller, holds an override class or doc_events handlers."""
	if path.resolve() in schema.controller_files:
		return True
	module = schema.module_name(path)
	if module is None:
		return False
	prefix = module + "."
	return any(d.startswith(prefix) for d in (*schema.handlers, *schema.overrides))
