"""A tokenizer for MariaDB SQL, and splitting a workload file into statements.

It knows what the advisor needs to tell apart: string literals ('...', "...", with backslash
escapes and doubled quotes, charset introducers such as ``_utf8mb4'x'``, ``N'x'``, ``X'ff'``),
numbers, identifiers (plain and back-quoted, so ```tabSales Invoice``` is one token), keywords,
placeholders (``?``, ``%s``, ``%(name)s``), variables (``@x``, ``@@x``), operators and comments.
Anything else is a :class:`SQLSyntaxError` naming the line and column.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from ...exceptions import SQLSyntaxError

# Token kinds.
IDENT = "ident"  # a plain word: a keyword or an unquoted identifier
QIDENT = "qident"  # a back-quoted identifier; .value is the name without quotes
STRING = "string"  # .value is the decoded text
NUMBER = "number"  # .value is int, Decimal or float
BLOB = "blob"  # X'..', 0x.., B'..': .value is bytes or int
PARAM = "param"  # ?, %s, %(name)s: a placeholder without a value
VAR = "var"  # @x, @@x
OP = "op"
WS = "ws"
COMMENT = "comment"

LITERALS = (STRING, NUMBER, BLOB)

_OPERATORS = (
	"<=>", "<<", ">>", "<=", ">=", "<>", "!=", ":=", "||", "&&", "->>", "->",
	"=", "<", ">", "(", ")", ",", ".", ";", "*", "+", "-", "/", "%", "!", "~", "^", "|", "&", ":",
)  # fmt: skip
_WORD_RE = re.compile(r"[A-Za-z_$\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")
_NUMBER_RE = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX_RE = re.compile(r"0[xX][0-9A-Fa-f]+")
_BIN_RE = re.compile(r"0[bB][01]+")
_PARAM_RE = re.compile(r"%s|%\([A-Za-z0-9_]+\)s|\?")
_VAR_RE = re.compile(r"@@?(?:[A-Za-z0-9_$.]+|`(?:[^`]|``)*`)")
_ESCAPES = {
	"0": "\0",
	"'": "'",
	'"': '"',
	"b": "\b",
	"n": "\n",
	"r": "\r",
	"t": "\t",
	"Z": "\x1a",
	"\\": "\\",
}


@dataclass(frozen=True)
class Token:
	kind: str
	text: str  # the source text of the token, unchanged
	pos: int  # offset in the statement
	value: object = None

	@property
	def upper(self) -> str:
		return self.text.upper() if self.kind == IDENT else ""

	def is_op(self, *ops: str) -> bool:
		return self.kind == OP and self.text in ops

	def is_word(self, *words: str) -> bool:
		return self.kind == IDENT and self.text.upper() in words


def _where(text: str, pos: int) -> str:
	line = text.count("\n", 0, pos) + 1
	col = pos - (text.rfind("\n", 0, pos) + 1) + 1
	return f"line {line}, column {col}"


def _decode_string(body: str, quote: str) -> str:
	out = []
	i = 0
	while i < len(body):
		c = body[i]
		if c == "\\" and i + 1 < len(body):
			nxt = body[i + 1]
			# \% and \_ keep their backslash (MariaDB does, for LIKE patterns).
			out.append(_ESCAPES.get(nxt, "\\" + nxt if nxt in "%_" else nxt))
			i += 2
			continue
		if c == quote and i + 1 < len(body) and body[i + 1] == quote:
			out.append(quote)
			i += 2
			continue
		out.append(c)
		i += 1
	return "".join(out)


def _scan_quoted(text: str, start: int, quote: str) -> int:
	"""End offset (after the closing quote) of the quoted run starting at ``start``; -1 if unterminated."""
	i = start + 1
	n = len(text)
	while i < n:
		c = text[i]
		if c == "\\" and quote != "`":
			i += 2
			continue
		if c == quote:
			if i + 1 < n and text[i + 1] == quote:
				i += 2
				continue
			return i + 1
		i += 1
	return -1


def tokenize(text: str, *, keep_space: bool = False) -> list[Token]:
	"""The tokens of ``text``; whitespace and comments only with ``keep_space``."""
	tokens: list[Token] = []
	i = 0
	n = len(text)
	while i < n:
		c = text[i]
		if c.isspace():
			j = i + 1
			while j < n and text[j].isspace():
				j += 1
			if keep_space:
				tokens.append(Token(WS, text[i:j], i))
			i = j
			continue
		if c == "#" or (c == "-" and text.startswith("--", i) and (i + 2 >= n or text[i + 2].isspace())):
			j = text.find("\n", i)
			j = n if j < 0 else j
			if keep_space:
				tokens.append(Token(COMMENT, text[i:j], i))
			i = j
			continue
		if text.startswith("/*", i):
			j = text.find("*/", i + 2)
			if j < 0:
				raise SQLSyntaxError(f"unterminated /* comment at {_where(text, i)}")
			if keep_space:
				tokens.append(Token(COMMENT, text[i : j + 2], i))
			i = j + 2
			continue
		if c in "'\"":
			end = _scan_quoted(text, i, c)
			if end < 0:
				raise SQLSyntaxError(f"unterminated string at {_where(text, i)}")
			tokens.append(Token(STRING, text[i:end], i, _decode_string(text[i + 1 : end - 1], c)))
			i = end
			continue
		if c == "`":
			end = _scan_quoted(text, i, "`")
			if end < 0:
				raise SQLSyntaxError(f"unterminated `identifier` at {_where(text, i)}")
			name = text[i + 1 : end - 1].replace("``", "`")
			if not name:
				raise SQLSyntaxError(f"empty `` identifier at {_where(text, i)}")
			tokens.append(Token(QIDENT, text[i:end], i, name))
			i = end
			continue
		if c == "@":
			m = _VAR_RE.match(text, i)
			if not m:
				raise SQLSyntaxError(f"bad variable at {_where(text, i)}")
			tokens.append(Token(VAR, m.group(), i))
			i = m.end()
			continue
		if c == "?" or (c == "%" and _PARAM_RE.match(text, i)):
			m = _PARAM_RE.match(text, i)
			tokens.append(Token(PARAM, m.group(), i))
			i = m.end()
			continue
		if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit() and not _after_name(tokens)):
			for regex, kind, convert in (
				(_HEX_RE, BLOB, lambda s: int(s, 16)),
				(_BIN_RE, BLOB, lambda s: int(s[2:], 2)),
				(_NUMBER_RE, NUMBER, _number),
			):
				m = regex.match(text, i)
				if m:
					end = m.end()
					if end < n and (text[end].isalpha() or text[end] in "_$"):
						m = None  # an identifier that starts with digits (MariaDB allows them)
						break
					tokens.append(Token(kind, m.group(), i, convert(m.group())))
					i = end
					break
			if m:
				continue
		m = _WORD_RE.match(text, i)
		if m:
			word = m.group()
			end = m.end()
			prefix = word.upper()
			if end < n and text[end] == "'" and (prefix in ("X", "B", "N") or prefix.startswith("_")):
				close = _scan_quoted(text, end, "'")
				if close < 0:
					raise SQLSyntaxError(f"unterminated string at {_where(text, end)}")
				body = text[end + 1 : close - 1]
				if prefix == "X":
					try:
						value = bytes.fromhex(body)
					except ValueError:
						raise SQLSyntaxError(f"bad hex literal at {_where(text, i)}") from None
					tokens.append(Token(BLOB, text[i:close], i, value))
				elif prefix == "B":
					if body and set(body) - {"0", "1"}:
						raise SQLSyntaxError(f"bad bit literal at {_where(text, i)}")
					tokens.append(Token(BLOB, text[i:close], i, int(body or "0", 2)))
				else:
					tokens.append(Token(STRING, text[i:close], i, _decode_string(body, "'")))
				i = close
				continue
			tokens.append(Token(IDENT, word, i))
			i = end
			continue
		m = re.compile(r"\d+[A-Za-z_$][A-Za-z0-9_$]*").match(text, i)
		if m:
			tokens.append(Token(IDENT, m.group(), i))
			i = m.end()
			continue
		for op in _OPERATORS:
			if text.startswith(op, i):
				tokens.append(Token(OP, op, i))
				i += len(op)
				break
		else:
			raise SQLSyntaxError(f"unexpected character {c!r} at {_where(text, i)}")
	return tokens


def _after_name(tokens: list[Token]) -> bool:
	# ``t.5col`` is not a number: a '.' right after a name continues a qualified name.
	return bool(tokens) and tokens[-1].kind in (IDENT, QIDENT)


def _number(text: str):
	if re.fullmatch(r"\d+", text):
		return int(text)
	if "e" in text.lower():
		return float(text)
	return Decimal(text)


# ---------------------------------------------------------------- statements of a file

_STATEMENT_STARTS = {"SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "REPLACE", "SET", "SHOW", "EXPLAIN"}
_CONTINUES = {"UNION", "ALL", "DISTINCT", "EXCEPT", "INTERSECT", "(", ",", "AS"}


@dataclass(frozen=True)
class StatementText:
	"""One statement of a workload file and where it starts."""

	text: str
	line: int
	number: int  # 1-based position among the file's statements


def split_statements(text: str) -> list[StatementText]:
	"""The statements of a workload file: separated by ``;``, and a new statement also starts on a
	line that begins with a statement keyword outside any parentheses (so a file of one statement
	per line needs no ``;``). Blank and comment-only pieces are dropped. A piece that cannot be
	split further (an unterminated string) is returned as it is, to be reported by the parser."""
	pieces: list[tuple[int, int]] = []
	start = 0
	i = 0
	n = len(text)
	depth = 0
	last_word = ""
	broken = -1  # the newline that ends a piece with an unterminated quote
	while i < n:
		c = text[i]
		if c in "'\"`":
			end = _scan_quoted(text, i, c)
			cut = _statement_line_inside(text, i, n if end < 0 else end)
			if end < 0 or cut is not None:
				# Unterminated (or "closed" only by a quote of a later statement): this piece ends
				# with its line; the parser reports it, and the rest is read on.
				nl = text.find("\n", i) if cut is None else cut
				end = n if nl < 0 else nl
				broken = end
			i = end
			last_word = "x"
			continue
		if c == "#" or (text.startswith("--", i) and (i + 2 >= n or text[i + 2].isspace())):
			nl = text.find("\n", i)
			i = n if nl < 0 else nl
			continue
		if text.startswith("/*", i):
			end = text.find("*/", i + 2)
			i = n if end < 0 else end + 2
			continue
		if c == ";":
			pieces.append((start, i))
			start = i + 1
			depth = 0
			last_word = ""
			i += 1
			continue
		if c == "(":
			depth += 1
			last_word = "("
		elif c == ")":
			depth = max(0, depth - 1)
			last_word = ")"
		elif c == ",":
			last_word = ","
		elif c == "\n":
			j = i + 1
			while j < n and text[j] in " \t\r":
				j += 1
			m = _WORD_RE.match(text, j)
			if i == broken or (
				m
				and m.group().upper() in _STATEMENT_STARTS
				and depth == 0
				and last_word.upper() not in _CONTINUES
				and text[start:i].strip()
			):
				pieces.append((start, i))
				start = i + 1
		elif c.isalpha() or c == "_":
			m = _WORD_RE.match(text, i)
			last_word = m.group()
			i = m.end()
			continue
		elif not c.isspace():
			last_word = c
		i += 1
	pieces.append((start, n))
	out = []
	for a, b in pieces:
		piece = text[a:b]
		if not _has_content(piece):
			continue
		lead = len(piece) - len(piece.lstrip())
		out.append(StatementText(piece.strip(), text.count("\n", 0, a + lead) + 1, len(out) + 1))
	return out


def _statement_line_inside(text: str, start: int, end: int) -> int | None:
	"""Offset of the first newline in ``text[start:end]`` that ends a line with ``;`` or after which
	a line starts with a statement keyword, or None: a quoted run over such a line is taken as an
	unterminated quote (workload files do not hold statements inside strings)."""
	nl = text.find("\n", start, end)
	while nl >= 0:
		if text[start:nl].rstrip().endswith(";"):
			return nl  # a line that ends with ';' inside a quote: the quote was never closed
		j = nl + 1
		while j < end and text[j] in " \t\r":
			j += 1
		m = _WORD_RE.match(text, j)
		if m and m.group().upper() in _STATEMENT_STARTS and m.end() < end and text[m.end()].isspace():
			return nl
		nl = text.find("\n", nl + 1, end)
	return None


def _has_content(piece: str) -> bool:
	try:
		return bool(tokenize(piece))
	except SQLSyntaxError:
		return bool(piece.strip())
