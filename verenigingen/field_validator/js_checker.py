"""Check field references in form scripts: ``frappe.ui.form.on("X", {...})`` blocks."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from .doctypes import CHILD_TABLE_FIELDS, STANDARD_FIELDS, DocTypeInfo, Schema
from .findings import (
	JS_UNKNOWN_CHILD_FIELD,
	JS_UNKNOWN_FIELD,
	JS_UNKNOWN_HANDLER,
	CheckResult,
	Finding,
	Reference,
	format_doctypes,
	suggest,
)
from .js_tokens import ID, PUNCT, STR, JSSyntaxError, Token, bracket_problem, match_brackets, tokenize

# Events frappe.ui.form triggers on a form's handlers (frappe/public/js/frappe/form).
FORM_EVENTS = frozenset(
	"""
	setup before_load onload refresh onload_post_render validate before_save after_save
	before_submit on_submit before_cancel after_cancel before_discard after_discard
	timeline_refresh before_workflow_action after_workflow_action form_render after_rename
	""".split()
)
# Row events are named after the parent's Table field: members_add, before_members_remove, ...
ROW_EVENT_SUFFIXES = ("_add", "_remove", "_move", "_on_form_rendered")
FRM_FIELD_METHODS = frozenset(
	{
		"set_value",
		"set_df_property",
		"toggle_display",
		"toggle_reqd",
		"toggle_enable",
		"refresh_field",
		"get_field",
	}
)
FRM_TABLE_METHODS = frozenset({"add_child", "clear_table"})
TRIGGER_METHODS = frozenset({"trigger"})


@dataclass
class Handler:
	key: str
	key_token: Token
	params: list[str] = field(default_factory=list)
	body: tuple[int, int] | None = None  # token range of the handler's value


class JSChecker:
	"""Checks one JavaScript file. Use :func:`check_js_source`."""

	def __init__(self, schema: Schema, display_path: str, tokens: list[Token]) -> None:
		self.schema = schema
		self.display_path = display_path
		self.tokens = tokens
		self.match = match_brackets(tokens)
		self.result = CheckResult(files_checked=1)
		self.triggered = self._triggered_names()

	# -- helpers -------------------------------------------------------------------------------

	def tok(self, index: int) -> Token | None:
		return self.tokens[index] if 0 <= index < len(self.tokens) else None

	def is_(self, index: int, kind: str, value: str | None = None) -> bool:
		token = self.tok(index)
		return token is not None and token.kind == kind and (value is None or token.value == value)

	def seq(self, index: int, *values: str) -> bool:
		"""Tokens from ``index`` are these identifiers/punctuation, in order."""
		for offset, value in enumerate(values):
			token = self.tok(index + offset)
			if token is None or token.kind not in (ID, PUNCT) or token.value != value:
				return False
		return True

	def args(self, open_index: int) -> list[tuple[int, int]]:
		"""Token ranges [start, end) of the arguments of the call whose "(" is at ``open_index``."""
		close = self.match.get(open_index)
		if close is None:
			return []
		ranges, start, i = [], open_index + 1, open_index + 1
		while i < close:
			if i in self.match:
				i = self.match[i] + 1
				continue
			if self.is_(i, PUNCT, ","):
				ranges.append((start, i))
				start = i + 1
			i += 1
		if start < close:
			ranges.append((start, close))
		return ranges

	def _triggered_names(self) -> set[str]:
		"""Handler names the file calls itself: frm.trigger("x"), frm.events.x, cscript.x."""
		names = set()
		for i, token in enumerate(self.tokens):
			if token.kind == ID and token.value in TRIGGER_METHODS and self.is_(i + 1, PUNCT, "("):
				if self.is_(i + 2, STR):
					names.add(self.tokens[i + 2].value)
			elif token.kind == ID and token.value in ("events", "cscript") and self.is_(i + 1, PUNCT, "."):
				if self.is_(i + 2, ID):
					names.add(self.tokens[i + 2].value)
		return names

	# -- entry ---------------------------------------------------------------------------------

	def run(self) -> CheckResult:
		for i, token in enumerate(self.tokens):
			if token.value == "frappe" and self.seq(i, "frappe", ".", "ui", ".", "form", ".", "on", "("):
				self.form_block(i + 7)
		return self.result

	def form_block(self, open_index: int) -> None:
		args = self.args(open_index)
		if len(args) < 2 or args[0][1] - args[0][0] != 1 or not self.is_(args[0][0], STR):
			return
		info = self.schema.doctypes.get(self.tokens[args[0][0]].value)
		if info is None:
			return
		start, end = args[1]
		if self.is_(start, PUNCT, "{") and self.match.get(start) == end - 1:
			handlers = self.object_handlers(start)
		elif end - start == 1 and self.is_(start, STR) and len(args) > 2:
			handlers = [Handler(self.tokens[start].value, self.tokens[start])]
			self.function_value(handlers[0], *args[2])
		else:
			return
		for handler in handlers:
			self.check_handler(info, handler)

	def object_handlers(self, open_index: int) -> list[Handler]:
		close = self.match[open_index]
		handlers = []
		i = open_index + 1
		while i < close:
			token = self.tokens[i]
			if token.kind == PUNCT and token.value == ",":
				i += 1
				continue
			if token.kind == ID and token.value in ("async", "get", "set") and self.tok(i + 1) is not None:
				following = self.tokens[i + 1]
				if following.kind in (ID, STR):
					i += 1
					token = following
			if token.kind not in (ID, STR):
				i = self.skip_value(i, close)
				continue
			handler = Handler(token.value, token)
			nxt = i + 1
			if self.is_(nxt, PUNCT, ":"):
				value_end = self.skip_value(nxt + 1, close)
				self.function_value(handler, nxt + 1, value_end)
				i = value_end
			elif self.is_(nxt, PUNCT, "(") and nxt in self.match:
				params_close = self.match[nxt]
				handler.params = self.params(nxt, params_close)
				body_end = self.match.get(params_close + 1, params_close)
				handler.body = (nxt, body_end + 1)
				i = body_end + 1
			else:
				i = nxt
			handlers.append(handler)
		return handlers

	def skip_value(self, i: int, close: int) -> int:
		"""Index of the "," or "}" ending the property value starting at ``i``."""
		while i < close:
			if i in self.match:
				i = self.match[i] + 1
				continue
			if self.is_(i, PUNCT, ","):
				return i
			i += 1
		return close

	def params(self, open_index: int, close: int) -> list[str]:
		names = []
		for start, _end in self.args(open_index):
			if self.is_(start, ID):
				names.append(self.tokens[start].value)
		return names

	def function_value(self, handler: Handler, start: int, end: int) -> None:
		i = start
		if self.is_(i, ID, "async"):
			i += 1
		if self.is_(i, ID, "function"):
			i += 1
			if self.is_(i, ID):
				i += 1
			if self.is_(i, PUNCT, "(") and i in self.match:
				handler.params = self.params(i, self.match[i])
		elif self.is_(i, PUNCT, "(") and i in self.match and self.is_(self.match[i] + 1, PUNCT, "=>"):
			handler.params = self.params(i, self.match[i])
		elif self.is_(i, ID) and self.is_(i + 1, PUNCT, "=>"):
			handler.params = [self.tokens[i].value]
		handler.body = (start, end)

	# -- checks --------------------------------------------------------------------------------

	def report(
		self, rule: str, token: Token, name: str, doctypes: Iterable[str], ok: bool, known: set[str]
	) -> None:
		doctypes = tuple(sorted(doctypes))
		self.result.references.append(
			Reference(self.display_path, token.line, token.column, name, doctypes, rule, ok)
		)
		if ok:
			return
		label = format_doctypes(doctypes)
		hint = suggest(name, known - {name})
		if rule == JS_UNKNOWN_HANDLER:
			message = f"handler `{name}` is no field of {label} and no form event"
		else:
			message = f"`{name}` is not a field of {label}"
		if hint:
			message += f"; did you mean `{hint}`?"
		self.result.findings.append(
			Finding(self.display_path, token.line, token.column, rule, name, label, message, hint)
		)

	def names(self, doctypes: Iterable[str]) -> set[str]:
		names = set(STANDARD_FIELDS) | {"doctype"}
		for doctype in doctypes:
			info = self.schema.doctypes[doctype]
			names |= set(info.fields)
			if info.istable:
				names |= CHILD_TABLE_FIELDS
		return names

	def form_doctypes(self, info: DocTypeInfo) -> set[str]:
		"""DocTypes ``frm`` may show: a child table's handlers run on the parent's form."""
		return self.schema.parents_of(info.name) if info.istable else {info.name}

	def row_event_table(self, key: str, info: DocTypeInfo) -> str | None:
		"""The child DocType of a row event key (members_add, before_members_remove), if it is one."""
		stem = key[len("before_") :] if key.startswith("before_") and key.endswith("_remove") else key
		for suffix in ROW_EVENT_SUFFIXES:
			if stem.endswith(suffix):
				table = stem[: -len(suffix)]
				for doctype in self.form_doctypes(info) | {info.name}:
					child = self.schema.doctypes[doctype].table_fields().get(table)
					if child:
						return child
		return None

	def check_handler(self, info: DocTypeInfo, handler: Handler) -> None:
		key = handler.key
		row_child = self.row_event_table(key, info)
		known_key = key in self.names({info.name}) or key in FORM_EVENTS or row_child is not None
		known_key = known_key or key in self.triggered or key.startswith("_")
		self.report(
			JS_UNKNOWN_HANDLER, handler.key_token, key, {info.name}, known_key, self.names({info.name})
		)
		if handler.body is None:
			return
		frm = handler.params[0] if handler.params else "frm"
		cdt = handler.params[1] if len(handler.params) > 1 else None
		cdn = handler.params[2] if len(handler.params) > 2 else None
		row_doctype = row_child or info.name
		form = {d for d in self.form_doctypes(info) if d in self.schema.doctypes}
		self.check_body(handler.body, frm, form, cdt, cdn, row_doctype)

	def check_body(
		self,
		body: tuple[int, int],
		frm: str,
		form: set[str],
		cdt: str | None,
		cdn: str | None,
		row_doctype: str,
	) -> None:
		rows: dict[str, str] = {}  # local variable -> row DocType (let row = locals[cdt][cdn])
		start, end = body
		for i in range(start, end):
			token = self.tokens[i]
			if token.kind != ID:
				continue
			value = token.value
			if value in (frm, "cur_frm") and self.is_(i + 1, PUNCT, ".") and not self.is_(i - 1, PUNCT, "."):
				if form:
					self.frm_use(i, form)
			elif value == "frappe" and self.seq(i, "frappe", ".", "model", ".", "set_value", "("):
				self.model_set_value(i + 5, cdt, cdn, row_doctype, rows)
			elif (
				cdt
				and cdn
				and value in ("let", "const", "var")
				and self.is_(i + 1, ID)
				and self.is_(i + 2, PUNCT, "=")
			):
				if self.is_row_lookup(i + 3, cdt, cdn):
					rows[self.tokens[i + 1].value] = row_doctype
			elif value in rows and not self.is_(i - 1, PUNCT, ".") and self.is_(i + 1, PUNCT, "."):
				self.row_attribute(i + 2, rows[value])
			elif cdt and cdn and self.is_row_lookup(i, cdt, cdn) and value in ("locals", "frappe"):
				after = self.row_lookup_end(i)
				if after is not None and self.is_(after, PUNCT, "."):
					self.row_attribute(after + 1, row_doctype)

	def is_row_lookup(self, i: int, cdt: str, cdn: str) -> bool:
		return self.row_lookup_end(i, cdt, cdn) is not None

	def row_lookup_end(self, i: int, cdt: str | None = None, cdn: str | None = None) -> int | None:
		"""Index after ``locals[cdt][cdn]`` or ``frappe.get_doc(cdt, cdn)`` starting at ``i``."""
		if (
			self.seq(i, "locals", "[")
			and self.is_(i + 2, ID)
			and self.seq(i + 3, "]", "[")
			and self.is_(i + 5, ID)
		):
			if self.seq(i + 6, "]") and (
				cdt is None or (self.tokens[i + 2].value, self.tokens[i + 5].value) == (cdt, cdn)
			):
				return i + 7
		if self.seq(i, "frappe", ".", "get_doc", "(") and self.is_(i + 4, ID) and self.is_(i + 6, ID):
			if self.seq(i + 5, ",") and self.seq(i + 7, ")"):
				if cdt is None or (self.tokens[i + 4].value, self.tokens[i + 6].value) == (cdt, cdn):
					return i + 8
		return None

	def row_attribute(self, i: int, doctype: str) -> None:
		token = self.tok(i)
		if token is None or token.kind != ID or token.value.startswith("_") or self.is_(i + 1, PUNCT, "("):
			return
		known = self.names({doctype})
		self.report(JS_UNKNOWN_CHILD_FIELD, token, token.value, {doctype}, token.value in known, known)

	def string_args(self, start: int, end: int) -> list[Token]:
		"""A string argument, or the strings of an array argument."""
		if end - start == 1 and self.is_(start, STR):
			return [self.tokens[start]]
		if self.is_(start, PUNCT, "[") and self.match.get(start) == end - 1:
			return [t for t in self.tokens[start + 1 : end - 1] if t.kind == STR]
		return []

	def object_keys(self, start: int, end: int) -> list[Token]:
		if not (self.is_(start, PUNCT, "{") and self.match.get(start) == end - 1):
			return []
		keys, i = [], start + 1
		while i < end - 1:
			token = self.tokens[i]
			if token.kind in (ID, STR) and self.is_(i + 1, PUNCT, ":"):
				keys.append(token)
			i = self.skip_value(i, end - 1) + 1
		return keys

	def frm_use(self, i: int, form: set[str]) -> None:
		"""``frm.doc.x``, ``frm.fields_dict.x``, ``frm.set_value("x")`` and friends at ``i``."""
		member = self.tok(i + 2)
		if member is None or member.kind != ID:
			return
		known = self.names(form)
		if member.value in ("doc", "fields_dict"):
			target = None
			if self.is_(i + 3, PUNCT, ".") and self.is_(i + 4, ID):
				target = self.tokens[i + 4]
			elif self.is_(i + 3, PUNCT, "[") and self.is_(i + 4, STR) and self.is_(i + 5, PUNCT, "]"):
				target = self.tokens[i + 4]
			if target is not None and not target.value.startswith("_"):
				self.report(JS_UNKNOWN_FIELD, target, target.value, form, target.value in known, known)
			return
		if not self.is_(i + 3, PUNCT, "(") or (i + 3) not in self.match:
			return
		args = self.args(i + 3)
		if not args:
			return
		method = member.value
		if method in FRM_FIELD_METHODS or method in FRM_TABLE_METHODS:
			if method == "set_df_property" and len(args) > 3:
				return  # the 4+ argument form names a field of a child table row
			targets = self.string_args(*args[0])
			if method == "set_value":
				targets += self.object_keys(*args[0])
			for target in targets:
				ok = target.value in known
				if method in FRM_TABLE_METHODS:
					ok = any(target.value in self.schema.doctypes[d].table_fields() for d in form)
				self.report(JS_UNKNOWN_FIELD, target, target.value, form, ok, known)
		elif method == "set_query":
			targets = self.string_args(*args[0])
			if len(args) > 2 and self.string_args(*args[1]):
				table = self.string_args(*args[1])[0]
				children = {self.schema.doctypes[d].table_fields().get(table.value) for d in form}
				self.report(JS_UNKNOWN_FIELD, table, table.value, form, None not in children, known)
				children = {c for c in children if c in self.schema.doctypes}
				if None in children or not children:
					return
				known = self.names(children)
				form = children
			for target in targets:
				self.report(JS_UNKNOWN_FIELD, target, target.value, form, target.value in known, known)

	def model_set_value(
		self, open_index: int, cdt: str | None, cdn: str | None, row_doctype: str, rows: dict
	) -> None:
		if not self.is_(open_index, PUNCT, "("):
			return
		args = self.args(open_index)
		if len(args) < 3:
			return
		doctype = None
		first, second = args[0], args[1]
		if cdt and cdn and self.span_is(first, [cdt]) and self.span_is(second, [cdn]):
			doctype = row_doctype
		else:
			head = self.tok(first[0])
			if head is not None and head.value in rows and self.span_is(first, [head.value, ".", "doctype"]):
				doctype = rows[head.value]
		if doctype is None:
			return
		known = self.names({doctype})
		for target in self.string_args(*args[2]) + self.object_keys(*args[2]):
			self.report(JS_UNKNOWN_CHILD_FIELD, target, target.value, {doctype}, target.value in known, known)

	def span_is(self, span: tuple[int, int], values: list[str]) -> bool:
		start, end = span
		return end - start == len(values) and all(
			self.tokens[start + k].value == v for k, v in enumerate(values)
		)


def check_js_source(schema: Schema, source: str, display_path: str) -> CheckResult:
	"""Check one JavaScript file's source; one that does not tokenize is reported in ``errors``."""
	try:
		tokens = tokenize(source)
	except JSSyntaxError as exc:
		return CheckResult(files_checked=1, errors=[f"{display_path}: cannot parse: {exc}"])
	problem = bracket_problem(tokens)
	if problem:
		return CheckResult(files_checked=1, errors=[f"{display_path}: cannot parse: {problem}"])
	if not any(t.value == "form" for t in tokens):
		return CheckResult(files_checked=1)
	return JSChecker(schema, display_path, tokens).run()
