"""Metadata locks: bounded waits for the project's DDL, and who is in the way when one gives up.

DDL (ALTER TABLE, DROP TABLE or DATABASE, TRUNCATE) needs an exclusive metadata lock on what it
changes, and every open transaction that has read or written a table holds a shared lock on it
until the transaction ends, idle or not. MariaDB's default ``lock_wait_timeout`` is a year, so one
handle left idle in a transaction makes a DROP DATABASE, or an online ALTER TABLE at its start and
at its end, wait as good as forever, and every later statement on the table queues behind it.

So the project's DDL runs under a session ``lock_wait_timeout`` (:func:`lock_wait_timeout`,
:func:`run_ddl`), and when the wait gives up, :func:`find_lock_holders` names the connections in
the way: exactly, from ``information_schema.METADATA_LOCK_INFO`` where that plugin is loaded,
else, from the processlist, the connections with an open transaction or a running statement on
the database. :func:`old_transactions` lists transactions open longer than a threshold, which the
index manager checks before it starts an online ALTER TABLE.

``INNODB_TRX`` is a cache InnoDB refreshes only once nobody has read it for 0.1 s, so a transaction
that has just started or ended may show late there; the processlist and METADATA_LOCK_INFO are live.
"""

import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from .exceptions import InvalidLockWaitError, MetadataLockTimeoutError

LOCK_WAIT_TIMEOUT_CODE = 1205  # ER_LOCK_WAIT_TIMEOUT, also what a metadata lock wait ends with
ACCESS_DENIED_CODES = (1142, 1227)  # a table, or the PROCESS privilege, this user may not use
MAX_LISTED = 5  # connections a message names; the rest are counted
STATEMENT_CHARS = 160  # characters of a holder's running statement (and of the DDL) a message shows

_SESSIONS_SQL = (
	"SELECT p.ID, p.USER, p.HOST, p.DB, p.COMMAND, p.TIME, p.STATE, LEFT(p.INFO, %s), "
	"TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) "
	"FROM information_schema.PROCESSLIST p "
	"LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID "
	"WHERE p.ID <> CONNECTION_ID() AND p.COMMAND NOT IN ('Daemon', 'Killed')"
)
_LOCKS_SQL = (
	"SELECT THREAD_ID, LOCK_MODE, TABLE_SCHEMA, TABLE_NAME FROM information_schema.METADATA_LOCK_INFO "
	"WHERE THREAD_ID <> CONNECTION_ID() AND TABLE_SCHEMA = %s"
)
_PLUGIN_SQL = (
	"SELECT COUNT(*) FROM information_schema.PLUGINS "
	"WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND PLUGIN_STATUS = 'ACTIVE'"
)
_NAME = r"(?:`[^`]+`|[A-Za-z0-9_$]+)"
_DDL_TARGET = re.compile(
	r"^\s*(?:ALTER|DROP|CREATE|TRUNCATE|RENAME|OPTIMIZE|ANALYZE)\s+"
	r"(?:(?:ONLINE|IGNORE|TEMPORARY|OR\s+REPLACE|UNIQUE|FULLTEXT|SPATIAL)\s+)*"
	r"(?P<kind>TABLE|DATABASE|SCHEMA|INDEX\s+" + _NAME + r"\s+ON)\s+"
	r"(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?P<name>" + _NAME + r"(?:\s*\.\s*" + _NAME + r")?)",
	re.IGNORECASE,
)


@dataclass(frozen=True)
class LockHolder:
	"""A connection that holds (or, from the processlist alone, may hold) a metadata lock."""

	connection_id: int
	user: str
	host: str
	db: str | None
	command: str
	seconds: int | None  # in its current command (Sleep: idle for; Query: running for)
	state: str
	statement: str | None
	transaction_seconds: int | None  # its InnoDB transaction has been open this long (None: none open)
	locks: tuple[str, ...] = ()  # "MDL_SHARED_READ on db.table", from METADATA_LOCK_INFO

	@property
	def age(self) -> int | None:
		"""At least how long it has held what it holds: its transaction's age, and its time in its
		current command (idle in Sleep since its last statement, or running one in Query: a lock
		taken by an earlier statement is held at least that long). None if neither is known."""
		ages = [self.transaction_seconds] if self.transaction_seconds is not None else []
		if self.command in ("Sleep", "Query") and self.seconds is not None:
			ages.append(self.seconds)
		return max(ages) if ages else None

	def describe(self) -> str:
		parts = [f"{self.user}@{self.host}", f"db {self.db or '(none)'}"]
		parts.append(f"{self.command} for {self.seconds} s" if self.seconds is not None else self.command)
		if self.transaction_seconds is not None:
			parts.append(f"transaction open for {self.transaction_seconds} s")
		if self.command == "Query" and self.statement:
			parts.append(f"running {_short(self.statement)!r}")
		if self.locks:
			parts.append("holds " + ", ".join(self.locks))
		return f"connection {self.connection_id} ({'; '.join(parts)})"

	def as_dict(self) -> dict:
		return {
			"connection_id": self.connection_id, "user": self.user, "host": self.host, "db": self.db,
			"command": self.command, "seconds": self.seconds, "state": self.state, "statement": self.statement,
			"transaction_seconds": self.transaction_seconds, "locks": list(self.locks),
		}  # fmt: skip


@dataclass(frozen=True)
class LockHolders:
	"""What a lookup found: ``exact`` when METADATA_LOCK_INFO said who holds a lock on the target."""

	target: str
	holders: tuple[LockHolder, ...]
	exact: bool
	problem: str | None = None  # why the lookup could not run, if it could not
	denied: bool = False  # it could not because this user may not see other connections

	def describe(self) -> str:
		if self.problem:
			return self.problem
		if not self.holders:
			return (
				f"no other connection holds a lock on {self.target} any more"
				if self.exact
				else f"no connection with an open transaction or a running statement on {self.target} was "
				"found (it may have ended meanwhile, or this user lacks the PROCESS privilege)"
			)
		listed = "; ".join(h.describe() for h in self.holders[:MAX_LISTED])
		more = len(self.holders) - MAX_LISTED
		listed += f"; and {more} more" if more > 0 else ""
		if self.exact:
			return f"held by {listed} (from METADATA_LOCK_INFO)"
		return (
			f"connections that may hold it (METADATA_LOCK_INFO is not loaded, so these are the connections "
			f"with an open transaction or a running statement, from the processlist): {listed}"
		)


def seconds_value(value, what: str = "lock_wait_timeout") -> int:
	"""Whole seconds (rounded up) from a number >= 0, else InvalidLockWaitError naming ``what``."""
	if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
		raise InvalidLockWaitError(f"{what} must be a number of seconds >= 0, got {value!r}")
	return math.ceil(value)


def error_code(exc: BaseException) -> int | None:
	"""The server's error number of a PyMySQL error, if it carries one."""
	args = getattr(exc, "args", ())
	return args[0] if args and isinstance(args[0], int) and not isinstance(args[0], bool) else None


def is_lock_wait_timeout(exc: BaseException) -> bool:
	"""Is this (or what it wraps, as frappe.QueryTimeoutError wraps PyMySQL's error) a lock wait timeout?"""
	seen: set[int] = set()
	todo = [exc]
	while todo:
		error = todo.pop()
		if error is None or id(error) in seen:
			continue
		seen.add(id(error))
		args = getattr(error, "args", ())
		if args and args[0] == LOCK_WAIT_TIMEOUT_CODE and not isinstance(args[0], bool):
			return True
		todo += [a for a in args[:1] if isinstance(a, BaseException)]
		todo.append(error.__cause__)  # not __context__: an error raised while handling one is its own
	return False


def metadata_lock_info_loaded(db) -> bool:
	"""Is the METADATA_LOCK_INFO plugin active on the server?"""
	return bool(db.sql(_PLUGIN_SQL)[0][0])


def _sessions(db) -> dict[int, LockHolder]:
	sessions = {}
	for cid, user, host, dbname, command, seconds, state, info, trx in db.sql(
		_SESSIONS_SQL, (STATEMENT_CHARS,)
	):
		sessions[int(cid)] = LockHolder(
			int(cid), user or "", host or "", dbname or None, command or "",
			None if seconds is None else int(seconds), state or "", info,
			None if trx is None else max(0, int(trx)),
		)  # fmt: skip
	return sessions


def _waiting_for_a_lock(session: LockHolder) -> bool:
	return session.command == "Query" and "lock" in session.state.lower() and "wait" in session.state.lower()


def _target(schema: str, tables: tuple[str, ...]) -> str:
	return ", ".join(f"{schema}.{t}" for t in tables) if tables else f"database {schema}"


def find_lock_holders(db, schema: str, tables: Iterable[str] | str | None = None) -> LockHolders:
	"""The other connections holding a metadata lock on ``tables`` of ``schema`` (any of its tables
	when None); where METADATA_LOCK_INFO is not loaded, those with an open transaction or a running
	statement on the database (and, when there are none, those with an open transaction anywhere)."""
	tables = (tables,) if isinstance(tables, str) else tuple(tables or ())
	target = _target(schema, tables)
	try:
		sessions = _sessions(db)
		exact = metadata_lock_info_loaded(db)
		if exact:
			held: dict[int, list[str]] = {}
			for thread_id, mode, lock_schema, lock_table in db.sql(_LOCKS_SQL, (schema,)):
				if tables and lock_table not in tables:
					continue
				what = f"{lock_schema}.{lock_table}" if lock_table else f"database {lock_schema}"
				held.setdefault(int(thread_id), []).append(f"{mode} on {what}")
			holders = [_with_locks(sessions.get(cid), cid, locks) for cid, locks in sorted(held.items())]
			return LockHolders(target, tuple(holders), True)
	except Exception as exc:  # the lookup explains a failure; its own failure must not hide that one
		if error_code(exc) in ACCESS_DENIED_CODES:
			return LockHolders(
				target, (), False, "the lock holders could not be looked up: this database user may not see "
				"other connections (it needs the PROCESS privilege: GRANT PROCESS ON *.* TO the user)",
				denied=True,
			)  # fmt: skip
		return LockHolders(target, (), False, f"the lock holders could not be looked up: {exc}")
	candidates = [
		s
		for s in sessions.values()
		if not _waiting_for_a_lock(s) and (s.transaction_seconds is not None or s.command == "Query")
	]
	on_schema = [s for s in candidates if s.db == schema]
	if not on_schema:  # a transaction may have used the database by a qualified name
		on_schema = [s for s in candidates if s.transaction_seconds is not None]
	on_schema.sort(key=lambda s: (s.db != schema, -(s.age or 0), s.connection_id))
	return LockHolders(target, tuple(on_schema), False)


def _with_locks(session: LockHolder | None, cid: int, locks: list[str]) -> LockHolder:
	if session is None:  # ended between the two reads, or a system thread the processlist hides
		return LockHolder(cid, "?", "?", None, "(gone)", None, "", None, None, tuple(locks))
	return LockHolder(**{**session.__dict__, "locks": tuple(locks)})


def old_transactions(
	db, schema: str, older_than: float, tables: Iterable[str] | str | None = None
) -> LockHolders:
	"""Other connections that have held a transaction (or a running statement) on ``schema`` (its
	``tables``, where METADATA_LOCK_INFO can tell) for ``older_than`` seconds or longer."""
	limit = seconds_value(older_than, "the transaction age threshold")
	found = find_lock_holders(db, schema, tables)
	if found.problem:
		return found
	old = tuple(
		h for h in found.holders if h.age is not None and h.age >= limit and (found.exact or h.db == schema)
	)
	return LockHolders(found.target, old, found.exact)


def ddl_target(statement: str) -> tuple[str | None, str | None]:
	"""(schema, table) a DDL statement changes, as far as its text says; (None, None) if it does not."""
	match = _DDL_TARGET.match(statement)
	if not match:
		return None, None
	parts = [p.strip().strip("`") for p in re.findall(_NAME, match.group("name"))]
	if match.group("kind").upper() in ("DATABASE", "SCHEMA"):
		return parts[0], None
	return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def current_schema(db) -> str | None:
	"""The database the connection is using (``SELECT DATABASE()``): what its unqualified DDL changes."""
	return db.sql("SELECT DATABASE()")[0][0]


def session_lock_wait_timeout(db) -> int:
	return int(db.sql("SELECT @@SESSION.lock_wait_timeout")[0][0])


@contextmanager
def lock_wait_timeout(db, seconds: float | None) -> Iterator[None]:
	"""Run the block with the session's ``lock_wait_timeout`` at ``seconds`` (None: as it is), then
	put the previous value back, so a shared connection (``frappe.db``) keeps its own."""
	if seconds is None:
		yield
		return
	value = seconds_value(seconds)
	previous = session_lock_wait_timeout(db)
	db.sql("SET SESSION lock_wait_timeout = %s", (value,))
	try:
		yield
	except BaseException:
		# A dead connection has no session left to restore; the error in flight says what went wrong.
		with suppress(Exception):
			db.sql("SET SESSION lock_wait_timeout = %s", (previous,))
		raise
	db.sql("SET SESSION lock_wait_timeout = %s", (previous,))


def timeout_error(
	db,
	statement: str,
	*,
	timeout: float | None = None,
	schema: str | None = None,
	tables: Iterable[str] | str | None = None,
) -> MetadataLockTimeoutError:
	"""The error for ``statement`` having given up waiting for a metadata lock, naming who holds it."""
	parsed_schema, parsed_table = ddl_target(statement)
	schema = schema or parsed_schema or current_schema(db) or "?"
	if tables is None and parsed_table is not None:
		tables = (parsed_table,)
	if timeout is None:
		try:
			timeout = session_lock_wait_timeout(db)
		except Exception:  # the message then leaves the number out
			timeout = None
	found = find_lock_holders(db, schema, tables)
	waited = f" after {timeout:g} s" if timeout is not None else ""
	advice = (
		"End that transaction (commit or roll back, or KILL the connection) and try again"
		if found.holders
		else "Try again once the transaction holding it has ended"
	)
	error = MetadataLockTimeoutError(
		f"{_short(statement)} gave up{waited} waiting for a metadata lock on {found.target}: "
		f"{found.describe()}. {advice}"
	)
	error.statement = statement
	error.holders = found.holders
	error.exact = found.exact
	return error


def run_ddl(
	db,
	statement: str,
	*,
	timeout: float | None = None,
	schema: str | None = None,
	tables: Iterable[str] | str | None = None,
) -> None:
	"""``db.ddl(statement)`` waiting at most ``timeout`` seconds for metadata locks (None: the
	session's setting); MetadataLockTimeoutError naming the holders when the wait gives up."""
	with lock_wait_timeout(db, timeout):
		try:
			db.ddl(statement)
		except MetadataLockTimeoutError:
			raise
		except Exception as exc:
			if not is_lock_wait_timeout(exc):
				raise
			raise timeout_error(db, statement, timeout=timeout, schema=schema, tables=tables) from exc


def _short(statement: str) -> str:
	text = " ".join(statement.split())
	return text if len(text) <= STATEMENT_CHARS else text[: STATEMENT_CHARS - 3] + "..."
