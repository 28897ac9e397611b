"""A small JavaScript tokenizer: enough to find form scripts' field references reliably.

It knows strings, template literals (whose ``${...}`` parts are tokenized as code),
comments, regular-expression literals and numbers, so a field name inside any of them is
never mistaken for code, and brackets are matched.
"""

import re
from dataclasses import dataclass

ID, STR, NUM, PUNCT, TEMPLATE, REGEX = "id", "str", "num", "punct", "template", "regex"

_SPACE = re.compile(r"[ \t\r\f\v\ufeff\u00a0]+")
_IDENT = re.compile(r"[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*")
_NUMBER = re.compile(r"(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?")
_PUNCT = re.compile(
	r">>>=|\.\.\.|===|!==|\*\*=|<<=|>>=|>>>|\?\?=|&&=|\|\|=|=>|==|!=|<=|>=|&&|\|\||\?\?|\?\.(?!\d)|"
	r"\+\+|--|\+=|-=|\*=|/=|%=|&=|\|=|\^=|\*\*|<<|>>|[{}()\[\];,.<>+\-*/%&|^!~?:=@#]"
)
# After these keywords a "/" starts a regular expression, not a division.
_REGEX_AFTER_WORDS = frozenset(
	{
		"return",
		"typeof",
		"case",
		"in",
		"of",
		"new",
		"delete",
		"void",
		"throw",
		"instanceof",
		"yield",
		"await",
		"else",
		"do",
	}
)


@dataclass(frozen=True, slots=True)
class Token:
	kind: str
	value: str  # for STR: the unquoted text
	line: int
	column: int  # 1-based
	offset: int


class JSSyntaxError(ValueError):
	"""The source has an unterminated string, comment, template or regular expression."""


def tokenize(source: str) -> list[Token]:
	"""Tokens of ``source`` without whitespace and comments."""
	tokens: list[Token] = []
	pos, line, line_start = 0, 1, 0
	length = len(source)
	braces: list[str] = []  # "{" for code braces, "`" for template substitutions

	def template_part(start: int) -> int:
		"""Scan template text from ``start`` (after ` or }); return the index after ` or ${."""
		nonlocal line, line_start
		i = start
		while i < length:
			ch = source[i]
			if ch == "\\":
				i += 2
				continue
			if ch == "\n":
				line += 1
				line_start = i + 1
			elif ch == "`":
				return i + 1
			elif ch == "$" and i + 1 < length and source[i + 1] == "{":
				braces.append("`")
				return i + 2
			i += 1
		raise JSSyntaxError(f"unterminated template literal (line {line})")

	while pos < length:
		ch = source[pos]
		if ch == "\n":
			line += 1
			line_start = pos + 1
			pos += 1
			continue
		if match := _SPACE.match(source, pos):
			pos = match.end()
			continue
		column = pos - line_start + 1
		if ch == "/" and source.startswith("//", pos):
			end = source.find("\n", pos)
			pos = length if end < 0 else end
			continue
		if ch == "/" and source.startswith("/*", pos):
			end = source.find("*/", pos + 2)
			if end < 0:
				raise JSSyntaxError(f"unterminated comment (line {line})")
			text = source[pos:end]
			newlines = text.count("\n")
			if newlines:
				line += newlines
				line_start = pos + text.rfind("\n") + 1
			pos = end + 2
			continue
		if ch in "\"'":
			i = pos + 1
			while i < length and source[i] != ch:
				if source[i] == "\\":
					i += 1
				elif source[i] == "\n":
					raise JSSyntaxError(f"unterminated string (line {line})")
				i += 1
			if i >= length:
				raise JSSyntaxError(f"unterminated string (line {line})")
			tokens.append(Token(STR, source[pos + 1 : i], line, column, pos))
			pos = i + 1
			continue
		if ch == "`":
			tokens.append(Token(TEMPLATE, "`", line, column, pos))
			pos = template_part(pos + 1)
			continue
		if ch == "}" and braces and braces[-1] == "`":
			braces.pop()
			pos = template_part(pos + 1)
			continue
		if ch == "/" and _regex_allowed(tokens):
			i = pos + 1
			in_class = False
			while i < length:
				c = source[i]
				if c == "\\":
					i += 2
					continue
				if c == "\n":
					raise JSSyntaxError(f"unterminated regular expression (line {line})")
				if c == "[":
					in_class = True
				elif c == "]":
					in_class = False
				elif c == "/" and not in_class:
					break
				i += 1
			i += 1
			while i < length and (source[i].isalnum() or source[i] == "_"):
				i += 1
			tokens.append(Token(REGEX, source[pos:i], line, column, pos))
			pos = i
			continue
		if match := _IDENT.match(source, pos):
			tokens.append(Token(ID, match.group(), line, column, pos))
			pos = match.end()
			continue
		if ch.isdigit() or (ch == "." and pos + 1 < length and source[pos + 1].isdigit()):
			match = _NUMBER.match(source, pos)
			end = match.end() if match and match.end() > pos else pos + 1
			tokens.append(Token(NUM, source[pos:end], line, column, pos))
			pos = end
			continue
		if match := _PUNCT.match(source, pos):
			value = match.group()
			if value == "{":
				braces.append("{")
			elif value == "}" and braces:
				braces.pop()
			tokens.append(Token(PUNCT, value, line, column, pos))
			pos = match.end()
			continue
		raise JSSyntaxError(f"unexpected character {ch!r} (line {line}, column {column})")
	return tokens


def _regex_allowed(tokens: list[Token]) -> bool:
	if not tokens:
		return True
	last = tokens[-1]
	if last.kind in (NUM, STR, REGEX, TEMPLATE):
		return False
	if last.kind == ID:
		return last.value in _REGEX_AFTER_WORDS
	return last.value not in (")", "]", "}")


def bracket_problem(tokens: list[Token]) -> str | None:
	"""The first bracket that is never closed or closes nothing, as "line N: ..." (None if balanced)."""
	pairs = {"(": ")", "[": "]", "{": "}"}
	stack: list[Token] = []
	for token in tokens:
		if token.kind != PUNCT:
			continue
		if token.value in pairs:
			stack.append(token)
		elif token.value in (")", "]", "}"):
			if not stack:
				return f"line {token.line}: {token.value!r} closes nothing"
			opening = stack.pop()
			if pairs[opening.value] != token.value:
				return (
					f"line {token.line}: {token.value!r} does not close the {opening.value!r} "
					f"opened at line {opening.line}"
				)
	if stack:
		return f"line {stack[-1].line}: {stack[-1].value!r} is never closed"
	return None


def match_brackets(tokens: list[Token]) -> dict[int, int]:
	"""Index of each opening bracket -> index of its closing one (unbalanced ones are left out)."""
	pairs = {"(": ")", "[": "]", "{": "}"}
	stack: list[int] = []
	matched: dict[int, int] = {}
	for index, token in enumerate(tokens):
		if token.kind != PUNCT:
			continue
		if token.value in pairs:
			stack.append(index)
		elif token.value in (")", "]", "}"):
			while stack:
				opening = stack.pop()
				if pairs[tokens[opening].value] == token.value:
					matched[opening] = index
					break
	return matched
