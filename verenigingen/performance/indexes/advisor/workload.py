"""A workload: statements read from a file or MariaDB's slow query log, normalised to shapes,
counted and weighted by their total time.

A statement the tokenizer or parser rejects is a :class:`Problem` of its own (with its number
and line in the file); statements that are not SELECTs are counted per kind; nothing is dropped
without saying so.
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...db import Database, quote_identifier
from ...exceptions import SQLSyntaxError, UnsupportedStatementError, WorkloadSourceError
from .model import TableUse
from .query import Statement, parse_statement
from .timing import ACCESS_DENIED_CODES, PlanRow, error_code, error_text
from .tokens import split_statements

# First words of statements MariaDB knows; any other first word makes the statement malformed.
KNOWN_KINDS = {
	"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "SET", "SHOW", "WITH", "EXPLAIN", "ANALYZE", "CALL",
	"CREATE", "ALTER", "DROP", "TRUNCATE", "BEGIN", "START", "COMMIT", "ROLLBACK", "USE", "LOCK", "UNLOCK",
	"GRANT", "REVOKE", "FLUSH", "LOAD", "DO", "HANDLER", "DESCRIBE", "DESC", "OPTIMIZE", "REPAIR", "CHECK",
	"KILL", "RENAME", "SAVEPOINT", "RELEASE", "XA", "PREPARE", "EXECUTE", "DEALLOCATE", "VALUES", "TABLE", "(",
}  # fmt: skip
MAX_VALUES_KEPT = 200  # parameter tuples kept per shape (a seeded reservoir sample of its statements)
MAX_PROBLEMS_LISTED = 200  # malformed statements listed one by one; past this only counted


@dataclass
class Problem:
	"""A statement the advisor could not use, and why."""

	kind: str  # malformed | not analysed | rejected by the server
	error: str
	text: str = ""
	statement: int | None = None  # its number in the workload
	line: int | None = None
	count: int = 1

	def as_dict(self) -> dict:
		return dict(vars(self))

	def describe(self) -> str:
		where = f"statement {self.statement}" if self.statement else "statements"
		if self.line:
			where += f" (line {self.line})"
		times = f" x{self.count}" if self.count > 1 else ""
		snippet = f": {self.text}" if self.text else ""
		return f"{where}{times}: {self.kind}: {self.error}{snippet}"


@dataclass
class Shape:
	"""Statements that differ only in their literal values."""

	key: str
	statement: Statement  # the first one seen; runs with each of ``values``
	count: int = 0
	logged_ms: float = 0.0  # total query time the slow log recorded
	values: list[tuple] = field(default_factory=list)
	first_line: int | None = None
	id: str = ""
	total_ms: float | None = None
	weight_source: str | None = None  # "slow log" or "measured"
	uses: list[TableUse] = field(default_factory=list)
	notes: list[str] = field(default_factory=list)
	plan: dict[str, PlanRow] = field(default_factory=dict)  # EXPLAIN on the full tables
	_seen: int = 0

	def add_values(self, values: tuple, rng: random.Random) -> None:
		self._seen += 1
		if len(self.values) < MAX_VALUES_KEPT:
			self.values.append(values)
			return
		slot = rng.randrange(self._seen)
		if slot < MAX_VALUES_KEPT:
			self.values[slot] = values

	def draw(self, n: int, seed: int = 0) -> list[tuple]:
		"""``n`` parameter tuples from the statements of this shape (the same for the same seed)."""
		if not self.values:
			return []
		rng = random.Random(seed)
		return [self.values[rng.randrange(len(self.values))] for _ in range(n)]

	@property
	def tables(self) -> list[str]:
		return [u.table for u in self.uses]


@dataclass
class Workload:
	source: str
	statements: int = 0
	shapes: list[Shape] = field(default_factory=list)
	problems: list[Problem] = field(default_factory=list)
	unlisted_problems: int = 0
	notes: list[str] = field(default_factory=list)
	from_slow_log: bool = False  # weighted by the logged query times

	def problem(self, problem: Problem) -> None:
		if (
			len([p for p in self.problems if p.kind == "malformed"]) >= MAX_PROBLEMS_LISTED
			and problem.kind == "malformed"
		):
			self.unlisted_problems += 1
			return
		self.problems.append(problem)


def _snippet(text: str, limit: int = 160) -> str:
	flat = " ".join(text.split())
	return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def build_workload(
	items: Iterable[tuple[str, int | None, int | None, float | None]], source: str, seed: int = 0
) -> Workload:
	"""Shapes from ``(text, line, number, logged milliseconds or None)`` items."""
	workload = Workload(source)
	shapes: dict[str, Shape] = {}
	other_kinds: dict[str, int] = {}
	placeholders = 0
	rng = random.Random(seed)
	for text, line, number, logged_ms in items:
		workload.statements += 1
		try:
			statement = parse_statement(text)
		except UnsupportedStatementError as exc:
			workload.problem(Problem("not analysed", str(exc), _snippet(text), number, line))
			continue
		except SQLSyntaxError as exc:
			workload.problem(Problem("malformed", str(exc), _snippet(text), number, line))
			continue
		if statement.kind not in KNOWN_KINDS:
			workload.problem(
				Problem("malformed", f"unknown statement {statement.kind!r}", _snippet(text), number, line)
			)
			continue
		if statement.kind != "SELECT":
			other_kinds[statement.kind] = other_kinds.get(statement.kind, 0) + 1
			continue
		if statement.has_placeholders:
			placeholders += 1
			continue
		shape = shapes.get(statement.shape)
		if shape is None:
			shape = shapes[statement.shape] = Shape(statement.shape, statement, first_line=line)
		shape.count += 1
		shape.logged_ms += logged_ms or 0.0
		shape.add_values(statement.values, rng)
	for kind, count in sorted(other_kinds.items()):
		workload.problems.append(
			Problem("not analysed", f"{kind} statements: only SELECT statements are analysed", count=count)
		)
	if placeholders:
		workload.problems.append(
			Problem(
				"not analysed",
				"statements with placeholders (?, %s) instead of values: the advisor times each shape "
				"with the values the workload itself used",
				count=placeholders,
			)
		)
	workload.shapes = list(shapes.values())
	return workload


def read_workload_text(text: str, source: str = "workload", seed: int = 0) -> Workload:
	"""A workload from SQL text: statements separated by ``;`` or one per line."""
	return build_workload(((s.text, s.line, s.number, None) for s in split_statements(text)), source, seed)


def read_workload_file(path, seed: int = 0) -> Workload:
	try:
		with open(path, encoding="utf-8") as fh:
			text = fh.read()
	except OSError as exc:
		raise WorkloadSourceError(f"cannot read workload file {path}: {exc.strerror}") from exc
	except UnicodeDecodeError as exc:
		raise WorkloadSourceError(f"workload file {path} is not UTF-8 text: {exc.reason}") from exc
	return read_workload_text(text, str(path), seed)


# ---------------------------------------------------------------- the slow query log

ENABLE_SLOW_LOG = (
	"A DBA can turn it on (this tool never changes server settings): "
	"SET GLOBAL log_output='FILE,TABLE'; SET GLOBAL slow_query_log=ON; SET GLOBAL long_query_time=0.5; "
	"(and the same in the server's my.cnf to keep it after a restart)"
)


def slow_log_settings(db: Database) -> dict:
	row = db.sql(
		"SELECT @@global.log_output, @@global.slow_query_log, @@global.long_query_time", as_dict=False
	)[0]
	return {"log_output": str(row[0]), "slow_query_log": bool(int(row[1])), "long_query_time": float(row[2])}


def slow_log_access(db: Database, source: str = "`mysql`.`slow_log`") -> str | None:
	"""None if this database user may read ``mysql.slow_log``, else why not (one line)."""
	try:
		db.sql(f"SELECT 1 FROM {source} LIMIT 0")
	except Exception as exc:
		if error_code(exc) in ACCESS_DENIED_CODES:
			return (
				f"the database user may not read mysql.slow_log ({error_text(exc)}); "
				"a DBA can allow it with GRANT SELECT ON mysql.slow_log TO the user, or pass a workload file"
			)
		raise
	return None


SLOW_LOG_TABLE = "mysql.slow_log"


def read_slow_log(
	db: Database,
	since_minutes: int | None = None,
	limit: int = 100_000,
	seed: int = 0,
	*,
	table: str = SLOW_LOG_TABLE,
) -> Workload:
	"""A workload from ``mysql.slow_log`` (statements of the current database, the newest ``limit``,
	of the last ``since_minutes`` if given), weighted by the query time the log recorded.
	``table`` names another table of the same layout (``schema.table``; for tests)."""
	schema, _, name = table.partition(".")
	source = f"{quote_identifier(schema, 'database')}.{quote_identifier(name, 'table')}"
	if since_minutes is not None and (not isinstance(since_minutes, int) or since_minutes < 1):
		raise WorkloadSourceError(f"--since must be a positive number of minutes, got {since_minutes!r}")
	denied = slow_log_access(db, source)
	if denied:
		raise WorkloadSourceError(denied)
	settings = slow_log_settings(db)
	sql = f"SELECT sql_text, TIME_TO_SEC(query_time) * 1000 FROM {source} WHERE db = DATABASE()"
	values: list = []
	if since_minutes is not None:
		sql += " AND start_time >= NOW() - INTERVAL %s MINUTE"
		values.append(since_minutes)
	sql += " ORDER BY start_time DESC LIMIT %s"
	values.append(int(limit))
	rows = db.sql(sql, tuple(values))
	window = f" of the last {since_minutes} minutes" if since_minutes else ""
	if not rows:
		state = (
			f"log_output={settings['log_output']}, slow_query_log={'ON' if settings['slow_query_log'] else 'OFF'}, "
			f"long_query_time={settings['long_query_time']:g} s"
		)
		if "TABLE" not in settings["log_output"].upper() or not settings["slow_query_log"]:
			raise WorkloadSourceError(
				f"the slow query log is not written to mysql.slow_log ({state}). {ENABLE_SLOW_LOG}"
			)
		raise WorkloadSourceError(
			f"{table} holds no statements of this database{window} ({state}): "
			"let the site run a while, or lower long_query_time"
		)
	items = []
	for text, ms in reversed(rows):  # oldest first
		if isinstance(text, bytes | bytearray):
			text = text.decode("utf-8", errors="replace")
		items.append((str(text), None, None, float(ms or 0)))
	workload = build_workload(items, f"{table}{window}", seed)
	workload.from_slow_log = True
	if "TABLE" not in settings["log_output"].upper() or not settings["slow_query_log"]:
		workload.notes.append(
			f"the slow log is no longer written to the table; these are older entries. {ENABLE_SLOW_LOG}"
		)
	return workload
