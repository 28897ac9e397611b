"""The SELECT subset the advisor reads: its tables, sargable predicates, ORDER BY, GROUP BY, LIMIT.

:func:`parse_statement` turns one statement into a :class:`Statement`: its normalised shape (the
text with every literal replaced by ``?`` and IN lists collapsed, so statements that differ only
in the values they look up share a shape), a template that runs with the literals as parameters,
the literal values themselves, and, for a SELECT, a :class:`ParsedSelect`. Column references stay
raw here (``qualifier``, ``name``); which table they belong to is decided against the schema by
:mod:`.model`. What the subset does not cover (UNION, derived tables, subqueries, functions on a
column) is named, never guessed.
"""

from dataclasses import dataclass, field

from ...db import validate_identifier
from ...exceptions import SQLSyntaxError, UnsupportedStatementError
from .tokens import (
	BLOB,
	COMMENT,
	IDENT,
	LITERALS,
	NUMBER,
	OP,
	PARAM,
	QIDENT,
	STRING,
	VAR,
	WS,
	Token,
	tokenize,
)

# Words that end one clause of a SELECT and start the next (at parenthesis depth 0).
_CLAUSES = {
	"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "PROCEDURE", "INTO", "FOR", "LOCK",
	"UNION", "EXCEPT", "INTERSECT", "WINDOW",
}  # fmt: skip
_JOIN_WORDS = {"JOIN", "INNER", "CROSS", "LEFT", "RIGHT", "OUTER", "NATURAL", "STRAIGHT_JOIN", "FULL"}
_SELECT_MODIFIERS = {
	"ALL", "DISTINCT", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN", "SQL_SMALL_RESULT",
	"SQL_BIG_RESULT", "SQL_BUFFER_RESULT", "SQL_CACHE", "SQL_NO_CACHE", "SQL_CALC_FOUND_ROWS",
}  # fmt: skip
# Unquoted words that are never a column where they appear in an expression.
KEYWORDS = {
	"AND", "OR", "XOR", "NOT", "IS", "NULL", "TRUE", "FALSE", "UNKNOWN", "IN", "BETWEEN", "LIKE",
	"RLIKE", "REGEXP", "ESCAPE", "SOUNDS", "CASE", "WHEN", "THEN", "ELSE", "END", "AS", "ON", "USING",
	"INTERVAL", "MICROSECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR",
	"SECOND_MICROSECOND", "MINUTE_SECOND", "HOUR_MINUTE", "DAY_HOUR", "YEAR_MONTH", "DAY_SECOND",
	"DAY_MINUTE", "HOUR_SECOND", "DISTINCT", "ALL", "ANY", "SOME", "EXISTS", "ASC", "DESC", "BINARY",
	"COLLATE", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "LOCALTIME",
	"LOCALTIMESTAMP", "UTC_DATE", "UTC_TIME", "UTC_TIMESTAMP", "DIV", "MOD", "SELECT", "FROM", "WHERE",
	"GROUP", "BY", "HAVING", "ORDER", "LIMIT", "OFFSET", "WITH", "ROLLUP", "DATE", "TIME", "TIMESTAMP",
	"DATETIME", "CHAR", "CHARACTER", "SET", "SIGNED", "UNSIGNED", "INTEGER", "INT", "DECIMAL", "DOUBLE",
	"FLOAT", "JSON", "NCHAR", "VARCHAR", "OVER", "PARTITION", "ROWS", "RANGE", "PRECEDING", "FOLLOWING",
	"UNBOUNDED", "CURRENT", "ROW", "MEMBER", "OF", "DUAL", "VALUE", "NEXT", "FOR",
}  # fmt: skip
# Functions the advisor refuses to run: they wait, take locks, read files or change state.
UNSAFE_FUNCTIONS = {
	"SLEEP", "BENCHMARK", "GET_LOCK", "RELEASE_LOCK", "RELEASE_ALL_LOCKS", "LOAD_FILE", "NEXTVAL",
	"SETVAL", "LASTVAL", "MASTER_POS_WAIT", "MASTER_GTID_WAIT", "SYS_EXEC", "SYS_EVAL",
}  # fmt: skip
_SHAPE_WORDS = KEYWORDS | _CLAUSES | _JOIN_WORDS | _SELECT_MODIFIERS | {
	"USE", "FORCE", "IGNORE", "INDEX", "KEY", "UPDATE", "DELETE", "INSERT", "REPLACE", "VALUES", "SHARE", "MODE",
}  # fmt: skip
_SPACED = {"IN", "AND", "OR", "ON", "USING", "FROM", "JOIN", "WHERE", "AS", "NOT", "EXISTS", "BY", "SELECT"}
_COMPARISONS = {"=": "eq", "<=>": "eq", "<": "range", ">": "range", "<=": "range", ">=": "range"}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


@dataclass(frozen=True)
class ColumnRef:
	qualifier: str | None  # the table or alias written before the column, if any
	name: str

	def __str__(self) -> str:
		return f"{self.qualifier}.{self.name}" if self.qualifier else self.name


@dataclass(frozen=True)
class TableRef:
	name: str
	schema: str | None
	alias: str | None
	start: int  # token range of ``[schema .] name`` in Statement.tokens
	end: int
	alias_end: int  # token index after the alias (``end`` without one): where index hints go

	@property
	def label(self) -> str:
		"""What the statement calls the table: its alias, or its name."""
		return self.alias or self.name


@dataclass(frozen=True)
class Predicate:
	kind: str  # eq, range, join
	column: ColumnRef
	other: ColumnRef | None = None  # the other side of a join
	slot: int | None = None  # for eq: the index into Statement.values of its value (or IN list)


@dataclass
class ParsedSelect:
	tables: list[TableRef]
	predicates: list[Predicate] = field(default_factory=list)
	unusable: list[str] = field(default_factory=list)  # conditions no index can serve, with why
	columns: set[ColumnRef] = field(default_factory=set)  # every column referenced anywhere
	star: set = field(default_factory=set)  # qualifiers selected with ``*`` (None for a bare ``*``)
	select_aliases: set[str] = field(default_factory=set)
	order_by: list[tuple[ColumnRef, bool]] | None = None  # (column, descending); None: none or not columns
	order_note: str | None = None
	group_by: list[ColumnRef] | None = None
	limit: bool = False
	notes: list[str] = field(default_factory=list)


@dataclass
class Statement:
	"""One statement: its shape, how to run it with parameters, its literal values, what it reads."""

	text: str
	tokens: list[Token]  # without whitespace and comments
	kind: str  # SELECT, UPDATE, ... (the first word, upper case)
	shape: str  # normalised text: literals as ?, IN lists as (?+)
	values: tuple  # the literals, in placeholder order (an IN list is one tuple)
	parsed: ParsedSelect | None = None
	has_placeholders: bool = False

	def template(
		self, tables: dict[int, str] | None = None, ignore: dict[int, list[str]] | None = None
	) -> str:
		"""The statement with ``%s`` for each literal; ``tables`` replaces table references
		(by index into ``parsed.tables``) with other SQL, keeping what the statement calls them;
		``ignore`` adds ``IGNORE INDEX (...)`` to table references (the same indexes)."""
		return render_template(self, tables, ignore)


# ---------------------------------------------------------------- helpers over token lists


def _depth_split(tokens: list[Token], is_sep) -> list[list[Token]]:
	"""Split at depth-0 tokens for which ``is_sep(i, tok)`` holds (the separator is dropped)."""
	parts: list[list[Token]] = [[]]
	depth = 0
	for i, tok in enumerate(tokens):
		if tok.is_op("("):
			depth += 1
		elif tok.is_op(")"):
			depth -= 1
		if depth == 0 and is_sep(i, tok):
			parts.append([])
			continue
		parts[-1].append(tok)
	return parts


def _matching(tokens: list[Token], i: int) -> int:
	"""Index of the ``)`` that closes the ``(`` at ``i``."""
	depth = 0
	for j in range(i, len(tokens)):
		if tokens[j].is_op("("):
			depth += 1
		elif tokens[j].is_op(")"):
			depth -= 1
			if depth == 0:
				return j
	raise SQLSyntaxError("unbalanced parentheses")


def _text(tokens: list[Token]) -> str:
	return " ".join(t.text for t in tokens)


def _is_name(tok: Token) -> bool:
	return tok.kind == QIDENT or (tok.kind == IDENT and tok.text.upper() not in KEYWORDS)


def _name(tok: Token) -> str:
	return tok.value if tok.kind == QIDENT else tok.text


def _has_subquery(tokens: list[Token]) -> bool:
	return any(t.is_word("SELECT") for t in tokens)


def _strip_parens(tokens: list[Token]) -> list[Token]:
	while len(tokens) >= 2 and tokens[0].is_op("(") and _matching(tokens, 0) == len(tokens) - 1:
		tokens = tokens[1:-1]
	return tokens


def column_refs(tokens: list[Token]) -> list[ColumnRef]:
	"""Column references in an expression: names not followed by ``(``, with their qualifier.
	Subqueries are skipped (their names belong to other scopes)."""
	refs = []
	i = 0
	n = len(tokens)
	while i < n:
		tok = tokens[i]
		if tok.is_op("(") and i + 1 < n and tokens[i + 1].is_word("SELECT"):
			i = _matching(tokens, i) + 1
			continue
		if tok.is_word("COLLATE") or (tok.is_word("USING") and i > 0):
			i += 2  # a collation or charset name follows
			continue
		if tok.kind in (IDENT, QIDENT) and not (i > 0 and tokens[i - 1].is_op(".")):
			parts = [tok]
			j = i + 1
			while j + 1 < n and tokens[j].is_op(".") and tokens[j + 1].kind in (IDENT, QIDENT):
				parts.append(tokens[j + 1])
				j += 2
			if j < n and tokens[j].is_op("("):
				i = j  # a function call
				continue
			if j < n and tokens[j].is_op(".") and j + 1 < n and tokens[j + 1].is_op("*"):
				i = j + 2  # t.*
				continue
			if len(parts) == 1 and not _is_name(tok):
				i = j
				continue
			if len(parts) == 1 and j < n and tokens[j].kind == STRING:
				i = j  # a typed literal or charset introducer: DATE '...'
				continue
			names = [_name(p) for p in parts]
			if len(names) == 1:
				refs.append(ColumnRef(None, names[0]))
			elif len(names) in (2, 3):
				refs.append(ColumnRef(names[-2], names[-1]))
			i = j
			continue
		i += 1
	return refs


def _single_column(tokens: list[Token]) -> ColumnRef | None:
	"""The column if ``tokens`` are exactly one (possibly qualified) column reference."""
	if len(tokens) == 1 and _is_name(tokens[0]):
		return ColumnRef(None, _name(tokens[0]))
	if len(tokens) in (3, 5) and all(
		(t.kind in (IDENT, QIDENT)) if k % 2 == 0 else t.is_op(".") for k, t in enumerate(tokens)
	):
		return ColumnRef(_name(tokens[-3]), _name(tokens[-1]))
	return None


def _is_constant(tokens: list[Token]) -> bool:
	return bool(tokens) and not column_refs(tokens) and not _has_subquery(tokens)


# ---------------------------------------------------------------- conditions


def _has_or(tokens: list[Token]) -> bool:
	depth = 0
	for tok in tokens:
		if tok.is_op("("):
			depth += 1
		elif tok.is_op(")"):
			depth -= 1
		elif depth == 0 and (tok.is_word("OR", "XOR") or tok.is_op("||")):
			return True
	return False


def _conjuncts(tokens: list[Token]) -> list[list[Token]]:
	"""The AND-ed parts of a condition; a part that is itself an AND in parentheses is flattened."""
	tokens = _strip_parens(tokens)
	if _has_or(tokens):
		return [tokens]
	between = [False]

	def is_and(i, tok):
		if tok.is_word("BETWEEN"):
			between[0] = True
			return False
		if tok.is_word("AND") or tok.is_op("&&"):
			if between[0]:
				between[0] = False
				return False
			return True
		return False

	out = []
	for part in _depth_split(tokens, is_and):
		inner = _strip_parens(part)
		if inner is not part and len(inner) < len(part):
			out.extend(_conjuncts(inner))
		else:
			out.append(part)
	return [p for p in out if p]


class Literals:
	"""The literal tokens of one statement: their values and their places among its values."""

	def __init__(self, tokens: list[Token], slots: dict[int, int]):
		self._values = {id(t): t.value for t in tokens if t.kind in (STRING, NUMBER, BLOB)}
		self._slots = {id(tokens[i]): k for i, k in slots.items()}

	def value(self, tok: Token):
		return self._values.get(id(tok))

	def slot(self, side: list[Token]) -> int | None:
		"""The value index of a constant side that is one literal, or an IN list of literals."""
		return self._slots.get(id(side[0])) if len(side) == 1 or (side and side[0].is_op("(")) else None


def _classify(part: list[Token], literals: Literals) -> tuple[Predicate | None, str | None]:
	"""One conjunct: a sargable predicate, or why it is not one (None, None for a constant)."""
	text = _text(part)
	if not column_refs(part):
		return None, None if not _has_subquery(part) else f"{text}: subquery not analysed"
	if _has_subquery(part):
		return None, f"{text}: subquery not analysed"
	if _has_or(part):
		return None, f"{text}: OR is not analysed (each branch would need its own index)"
	if part[0].is_word("NOT"):
		return None, f"{text}: NOT cannot use an index"
	# find the operator at depth 0
	depth = 0
	for i, tok in enumerate(part):
		if tok.is_op("("):
			depth += 1
			continue
		if tok.is_op(")"):
			depth -= 1
			continue
		if depth:
			continue
		left, right = part[:i], part[i + 1 :]
		if tok.kind == OP and tok.text in _COMPARISONS:
			lcol, rcol = _single_column(left), _single_column(right)
			if lcol and rcol:
				if tok.text in ("=", "<=>"):
					return Predicate("join", lcol, rcol), None
				return None, f"{text}: compares two columns"
			if lcol and _is_constant(right):
				kind = _COMPARISONS[tok.text]
				return Predicate(kind, lcol, slot=literals.slot(right) if kind == "eq" else None), None
			if rcol and _is_constant(left):
				kind = _COMPARISONS[_FLIP.get(tok.text, tok.text)]
				return Predicate(kind, rcol, slot=literals.slot(left) if kind == "eq" else None), None
			return None, f"{text}: an expression on the column cannot use an index"
		if tok.kind == OP and tok.text in ("<>", "!="):
			return None, f"{text}: <> cannot use an index well"
		if tok.kind == IDENT:
			word = tok.text.upper()
			negated = i > 0 and part[i - 1].is_word("NOT")
			lcol = _single_column(part[: i - 1] if negated else left)
			if word in ("IN", "BETWEEN", "LIKE", "IS", "REGEXP", "RLIKE"):
				if lcol is None:
					return None, f"{text}: an expression on the column cannot use an index"
				if negated:
					return None, f"{text}: NOT {word} cannot use an index"
				if word == "IN":
					if _is_constant(right):
						return Predicate("eq", lcol, slot=literals.slot(right)), None
					return None, f"{text}: IN over a subquery or columns is not analysed"
				if word == "BETWEEN":
					if _is_constant(right):
						return Predicate("range", lcol), None
					return None, f"{text}: BETWEEN over columns cannot use an index"
				if word == "LIKE":
					value = literals.value(right[0]) if right and right[0].kind == STRING else None
					if isinstance(value, str) and value and value[0] not in "%_":
						return Predicate("range", lcol), None
					return None, f"{text}: LIKE without a fixed prefix cannot use an index"
				if word == "IS":
					if len(right) == 1 and right[0].is_word("NULL"):
						return Predicate("eq", lcol), None
					return None, f"{text}: IS NOT NULL is not analysed"
				return None, f"{text}: {word} cannot use an index"
	return None, f"{text}: not a comparison the advisor reads"


# ---------------------------------------------------------------- FROM


def _parse_from(tokens: list[Token], offset: int, parsed: ParsedSelect) -> list[list[Token]]:
	"""Fill ``parsed.tables``; return the ON conditions (token lists). ``offset`` maps indexes
	back into the statement's tokens."""
	tables = parsed.tables
	conditions: list[list[Token]] = []
	i = 0
	n = len(tokens)

	def factor():
		nonlocal i
		if i >= n:
			raise SQLSyntaxError("a table name is missing after FROM or JOIN")
		if tokens[i].is_op("("):
			raise UnsupportedStatementError("derived tables and parenthesised joins are not analysed")
		if tokens[i].kind not in (IDENT, QIDENT) or tokens[i].is_word(*_CLAUSES, *_JOIN_WORDS, "ON", "USING"):
			raise SQLSyntaxError(f"expected a table name, got {tokens[i].text!r}")
		start = i
		schema = None
		name = _name(tokens[i])
		i += 1
		if i + 1 < n and tokens[i].is_op(".") and tokens[i + 1].kind in (IDENT, QIDENT):
			schema, name = name, _name(tokens[i + 1])
			i += 2
		end = i
		alias = None
		if i < n and tokens[i].is_word("AS"):
			if i + 1 >= n or tokens[i + 1].kind not in (IDENT, QIDENT):
				raise SQLSyntaxError("AS without an alias")
			alias = _name(tokens[i + 1])
			i += 2
		elif i < n and (
			tokens[i].kind == QIDENT
			or (
				tokens[i].kind == IDENT
				and not tokens[i].is_word(
					*_CLAUSES, *_JOIN_WORDS, "ON", "USING", "USE", "FORCE", "IGNORE", "PARTITION"
				)
			)
		):
			alias = _name(tokens[i])
			i += 1
		alias_end = i
		if i < n and tokens[i].is_word("PARTITION") and i + 1 < n and tokens[i + 1].is_op("("):
			i = _matching(tokens, i + 1) + 1
		while i < n and tokens[i].is_word("USE", "FORCE", "IGNORE"):
			parsed.notes.append(f"index hint {tokens[i].text.upper()} INDEX on {name}")
			j = i + 1
			while j < n and not tokens[j].is_op("("):
				j += 1
			if j >= n:
				raise SQLSyntaxError("index hint without a list")
			i = _matching(tokens, j) + 1
		tables.append(TableRef(name, schema, alias, offset + start, offset + end, offset + alias_end))

	factor()
	while i < n:
		tok = tokens[i]
		if tok.is_op(","):
			i += 1
			factor()
			continue
		if tok.is_word(*_JOIN_WORDS):
			if tok.is_word("NATURAL"):
				raise UnsupportedStatementError("NATURAL JOIN is not analysed")
			if tok.is_word("FULL"):
				raise SQLSyntaxError("FULL JOIN is not MariaDB syntax")
			while (
				i < n and tokens[i].is_word(*_JOIN_WORDS) and not tokens[i].is_word("JOIN", "STRAIGHT_JOIN")
			):
				i += 1
			if i >= n or not tokens[i].is_word("JOIN", "STRAIGHT_JOIN"):
				raise SQLSyntaxError("expected JOIN")
			i += 1
			factor()
			if i < n and tokens[i].is_word("ON"):
				j = i + 1
				depth = 0
				while j < n:
					t = tokens[j]
					if t.is_op("("):
						depth += 1
					elif t.is_op(")"):
						depth -= 1
					elif depth == 0 and (t.is_op(",") or t.is_word(*_JOIN_WORDS)):
						break
					j += 1
				if j == i + 1:
					raise SQLSyntaxError("ON without a condition")
				conditions.append(tokens[i + 1 : j])
				i = j
			elif i < n and tokens[i].is_word("USING"):
				if i + 1 >= n or not tokens[i + 1].is_op("("):
					raise SQLSyntaxError("USING without a column list")
				close = _matching(tokens, i + 1)
				left, right = tables[-2].label, tables[-1].label
				for part in _depth_split(tokens[i + 2 : close], lambda _k, t: t.is_op(",")):
					if len(part) != 1 or part[0].kind not in (IDENT, QIDENT):
						raise SQLSyntaxError("USING takes a list of column names")
					col = _name(part[0])
					parsed.predicates.append(Predicate("join", ColumnRef(left, col), ColumnRef(right, col)))
					parsed.columns.update({ColumnRef(left, col), ColumnRef(right, col)})
				i = close + 1
			continue
		raise SQLSyntaxError(f"unexpected {tok.text!r} in FROM")
	return conditions


# ---------------------------------------------------------------- SELECT


def _clauses(tokens: list[Token]) -> dict[str, tuple[int, int]]:
	"""Depth-0 clause keyword -> (start, end) token range of its body."""
	marks = []
	depth = 0
	for i, tok in enumerate(tokens):
		if tok.is_op("("):
			depth += 1
		elif tok.is_op(")"):
			depth -= 1
			if depth < 0:
				raise SQLSyntaxError("unbalanced parentheses: a ) without its (")
		elif depth == 0 and tok.kind == IDENT and tok.text.upper() in _CLAUSES:
			word = tok.text.upper()
			if word in ("UNION", "EXCEPT", "INTERSECT"):
				raise UnsupportedStatementError(f"{word} is not analysed")
			if word in ("GROUP", "ORDER"):
				if i + 1 >= len(tokens) or not tokens[i + 1].is_word("BY"):
					raise SQLSyntaxError(f"{word} without BY")
				marks.append((word, i, i + 2))
			elif word == "FOR" and not (i + 1 < len(tokens) and tokens[i + 1].is_word("UPDATE", "SHARE")):
				continue  # USE INDEX FOR JOIN (...), not FOR UPDATE
			elif word == "LOCK" and not (i + 1 < len(tokens) and tokens[i + 1].is_word("IN")):
				continue
			else:
				marks.append((word, i, i + 1))
	if depth != 0:
		raise SQLSyntaxError("unbalanced parentheses: a ( is never closed")
	out = {"SELECT": (1, marks[0][1] if marks else len(tokens))}
	for k, (word, _start, body) in enumerate(marks):
		if word in out:
			raise SQLSyntaxError(f"{word} appears twice")
		end = marks[k + 1][1] if k + 1 < len(marks) else len(tokens)
		out[word] = (body, end)
	return out


def _column_list(tokens: list[Token], with_direction: bool):
	"""ORDER BY / GROUP BY items as columns, or None with why (an expression or a position)."""
	items = []
	for part in _depth_split(tokens, lambda _i, t: t.is_op(",")):
		desc = False
		if with_direction and part and part[-1].is_word("ASC", "DESC"):
			desc = part[-1].is_word("DESC")
			part = part[:-1]
		col = _single_column(part)
		if col is None:
			return None, f"{_text(part)} is not a column"
		items.append((col, desc))
	return items, None


def parse_select(tokens: list[Token], literals: Literals) -> ParsedSelect:
	clauses = _clauses(tokens)
	for word in ("UNION", "EXCEPT", "INTERSECT"):
		if word in clauses:
			raise UnsupportedStatementError(f"{word} is not analysed")
	if "INTO" in clauses:
		raise UnsupportedStatementError("SELECT ... INTO writes; the advisor does not run it")
	if "FOR" in clauses or "LOCK" in clauses:
		raise UnsupportedStatementError("SELECT ... FOR UPDATE / LOCK IN SHARE MODE takes locks; not run")
	if "PROCEDURE" in clauses or "WINDOW" in clauses:
		raise UnsupportedStatementError("PROCEDURE and WINDOW clauses are not analysed")
	if "FROM" not in clauses:
		raise UnsupportedStatementError("no FROM: no table to index")
	parsed = ParsedSelect(tables=[])
	a, b = clauses["FROM"]
	conditions = _parse_from(tokens[a:b], a, parsed)
	a, b = clauses["SELECT"]
	select = tokens[a:b]
	while select and select[0].is_word(*_SELECT_MODIFIERS):
		select = select[1:]
	if not select:
		raise SQLSyntaxError("SELECT without a select list")
	for item in _depth_split(select, lambda _i, t: t.is_op(",")):
		if not item:
			raise SQLSyntaxError("empty item in the select list")
		if len(item) == 1 and item[0].is_op("*"):
			parsed.star.add(None)
			continue
		if len(item) >= 3 and item[-1].is_op("*") and item[-2].is_op("."):
			parsed.star.add(_name(item[-3]))
			continue
		if len(item) >= 2 and item[-1].kind in (IDENT, QIDENT, STRING):
			ends_expression = (item[-2].kind != OP or item[-2].is_op(")")) and not item[-2].is_word(*KEYWORDS)
			if item[-2].is_word("AS") or (
				ends_expression and item[-1].kind != STRING and not item[-1].is_word(*KEYWORDS)
			):
				parsed.select_aliases.add(item[-1].value if item[-1].kind != IDENT else item[-1].text)
		if _has_subquery(item):
			parsed.notes.append("a subquery in the select list is not analysed")
		parsed.columns.update(column_refs(item))
	where = []
	if "WHERE" in clauses:
		a, b = clauses["WHERE"]
		where = tokens[a:b]
		if not where:
			raise SQLSyntaxError("WHERE without a condition")
	for condition in [where, *conditions]:
		if not condition:
			continue
		parsed.columns.update(column_refs(condition))
		for part in _conjuncts(condition):
			predicate, why = _classify(part, literals)
			if predicate:
				parsed.predicates.append(predicate)
			elif why:
				parsed.unusable.append(why)
	if "GROUP" in clauses:
		a, b = clauses["GROUP"]
		group = tokens[a:b]
		if group and group[-1].is_word("ROLLUP"):
			group = group[:-2]
		if not group:
			raise SQLSyntaxError("GROUP BY without columns")
		parsed.columns.update(column_refs(group))
		items, why = _column_list(group, True)
		parsed.group_by = [c for c, _ in items] if items else None
		if why:
			parsed.notes.append(f"GROUP BY {why}")
	if "HAVING" in clauses:
		a, b = clauses["HAVING"]
		parsed.columns.update(column_refs(tokens[a:b]))
	if "ORDER" in clauses:
		a, b = clauses["ORDER"]
		order = tokens[a:b]
		if not order:
			raise SQLSyntaxError("ORDER BY without columns")
		parsed.columns.update(column_refs(order))
		items, why = _column_list(order, True)
		if items and any(c.qualifier is None and c.name in parsed.select_aliases for c, _ in items):
			items, why = None, "it orders by a select-list alias"
		parsed.order_by = items
		parsed.order_note = why
	if "LIMIT" in clauses:
		a, b = clauses["LIMIT"]
		if a == b:
			raise SQLSyntaxError("LIMIT without a row count")
		parsed.limit = True
	return parsed


# ---------------------------------------------------------------- normalising


def _in_lists(tokens: list[Token]) -> dict[int, int]:
	"""``IN (`` positions whose list holds only literals: index of '(' -> index of ')'."""
	out = {}
	for i, tok in enumerate(tokens):
		if tok.is_word("IN") and i + 1 < len(tokens) and tokens[i + 1].is_op("("):
			close = _matching(tokens, i + 1)
			inner = tokens[i + 2 : close]
			items = _depth_split(inner, lambda _k, t: t.is_op(","))
			if inner and all(len(p) == 1 and p[0].kind in LITERALS for p in items):
				out[i + 1] = close
	return out


def _positional(tokens: list[Token]) -> set[int]:
	"""Number literals that are column positions (ORDER BY 1, GROUP BY 2): kept as they are."""
	keep = set()
	depth = 0
	clause = None
	for i, tok in enumerate(tokens):
		if tok.is_op("("):
			depth += 1
		elif tok.is_op(")"):
			depth -= 1
		elif depth == 0 and tok.kind == IDENT and tok.text.upper() in _CLAUSES:
			clause = tok.text.upper()
		elif depth == 0 and clause in ("ORDER", "GROUP") and tok.kind == NUMBER:
			prev = tokens[i - 1]
			if prev.is_word("BY") or prev.is_op(","):
				keep.add(i)
	return keep


def normalise(tokens: list[Token]) -> tuple[str, tuple, dict[int, str], dict[int, int]]:
	"""(shape text, literal values, token index -> replacement text for the template, token index
	-> index of its value)."""
	in_lists = _in_lists(tokens)
	keep = _positional(tokens)
	shape = []
	values = []
	replace: dict[int, str] = {}
	slots: dict[int, int] = {}
	i = 0
	while i < len(tokens):
		tok = tokens[i]
		if i in in_lists:
			close = in_lists[i]
			slots[i] = len(values)
			values.append(tuple(t.value for t in tokens[i + 1 : close] if t.kind in LITERALS))
			shape.append("(?+)")
			replace[i] = "%s"
			for k in range(i + 1, close + 1):
				replace[k] = ""
			i = close + 1
			continue
		if tok.kind in LITERALS and i not in keep:
			slots[i] = len(values)
			values.append(tok.value)
			shape.append("?")
			replace[i] = "%s"
		elif tok.kind == PARAM:
			shape.append("?")
		elif tok.kind == QIDENT:
			shape.append(f"`{tok.value}`")
		elif tok.kind == IDENT:
			word = tok.text.upper()
			is_function = i + 1 < len(tokens) and tokens[i + 1].is_op("(")
			shape.append(word if is_function or word in _SHAPE_WORDS else f"`{tok.text}`")
		else:
			shape.append(tok.text)
		i += 1
	return _join(shape), tuple(values), replace, slots


def _join(parts: list[str]) -> str:
	"""Shape words joined the way SQL is written: ``t`.`col``, ``COUNT(*)``, ``a, b``."""
	out = []
	for k, part in enumerate(parts):
		if k and not (
			part in (",", ")", ".")
			or parts[k - 1] in ("(", ".")
			or (part in ("(", "(?+)") and parts[k - 1].isupper() and parts[k - 1] not in _SPACED)
		):
			out.append(" ")
		out.append(part)
	return "".join(out)


def render_template(
	statement: Statement, tables: dict[int, str] | None, ignore: dict[int, list[str]] | None = None
) -> str:
	"""The statement's text with ``%s`` for literals (``%`` doubled where values are passed),
	table references replaced and index hints added; comments become a space."""
	_, _, replace, _ = normalise(statement.tokens)
	replace = dict(replace)
	suffix: dict[int, str] = {}  # token index -> text to put after it
	for k, sql in (tables or {}).items():
		ref = statement.parsed.tables[k]
		for j in range(ref.start, ref.end):
			replace[j] = ""
		replace[ref.start] = sql + ("" if ref.alias else f" AS `{ref.name}`")
	for k, names in (ignore or {}).items():
		if names:
			ref = statement.parsed.tables[k]
			hint = (
				" IGNORE INDEX ("
				+ ", ".join(f"`{validate_identifier(n, 'index name')}`" for n in names)
				+ ")"
			)
			suffix[ref.alias_end - 1] = suffix.get(ref.alias_end - 1, "") + hint
	with_values = bool(statement.values)
	spaced = tokenize(statement.text, keep_space=True)
	out = []
	index = 0
	blanked = False  # the last token was dropped (inside an IN list): so is the space after it
	for tok in spaced:
		if tok.kind in (COMMENT, WS):
			if not blanked:
				out.append(" " if tok.kind == COMMENT else tok.text)
			continue
		if tok.is_op(";"):
			continue
		if index in replace:
			out.append(replace[index])
		elif with_values and tok.kind == OP and "%" in tok.text:
			out.append(tok.text.replace("%", "%%"))
		else:
			out.append(tok.text)
		out.append(suffix.get(index, ""))
		blanked = replace.get(index) == "" and not tok.is_op(")")
		index += 1
	return "".join(out).strip()


def parse_statement(text: str) -> Statement:
	"""Tokenize, normalise and (for a SELECT) parse one statement; SQLSyntaxError if malformed,
	UnsupportedStatement if well-formed but outside the subset."""
	tokens = [t for t in tokenize(text) if not t.is_op(";")]
	if not tokens:
		raise SQLSyntaxError("empty statement")
	kind = tokens[0].text.upper() if tokens[0].kind == IDENT else tokens[0].text
	shape, values, _, slots = normalise(tokens)
	statement = Statement(
		text=text,
		tokens=tokens,
		kind=kind,
		shape=shape,
		values=values,
		has_placeholders=any(t.kind == PARAM for t in tokens),
	)
	if kind != "SELECT":
		return statement
	for i, tok in enumerate(tokens):
		if tok.kind == IDENT and tok.text.upper() in UNSAFE_FUNCTIONS:
			if i + 1 < len(tokens) and tokens[i + 1].is_op("("):
				raise UnsupportedStatementError(f"calls {tok.text.upper()}(), which the advisor will not run")
		if tok.kind == VAR and i + 1 < len(tokens) and tokens[i + 1].is_op(":="):
			raise UnsupportedStatementError("assigns a user variable; the advisor does not run it")
	statement.parsed = parse_select(tokens, Literals(tokens, slots))
	return statement
