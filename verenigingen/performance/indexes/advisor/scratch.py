"""The scratch space the advisor proves candidates in: copies of tables holding a sample.

Each copy is made with ``CREATE TABLE ... LIKE`` (the same column types and indexes) and filled
with a sample of the table's rows read with a plain, non-locking SELECT (``RAND(seed)`` picks
them, up to a row limit) and written in multi-row INSERTs, so the site's own tables are only ever
read. The copies live in a scratch database of their own (``vadv_scratch_<run>``); where the user
may not create databases (a Frappe site's user may only use its own), they are tables named
``_vadv_<run>_<n>`` in the current database instead. :meth:`ScratchSpace.close` drops everything
it created, also when the run failed half-way.

The sample is the workload's own rows first (those its equality conditions ask for, and the rows
joined to them), then rows picked at random, so a lookup finds on the copy what it finds on the
full table while a scan reads only the sample. It is written by ``INSERT ... SELECT`` inside the
server under READ COMMITTED (a
consistent read: no lock on the site's rows); where the server refuses that (statement-based
binary logging), the rows go through the client: a plain SELECT, then multi-row INSERTs.
"""

import uuid

from ...db import Database, quote_identifier, validate_identifier
from ...exceptions import AdvisorPrivilegeError
from .timing import ACCESS_DENIED_CODES, error_code, error_text

INSERT_BATCH = 500  # rows per INSERT statement while filling a copy
UNKNOWN_SYSTEM_VARIABLE = 1193  # ER_UNKNOWN_SYSTEM_VARIABLE
SEED_VALUES = 5_000  # workload values per column whose rows a copy takes first, at most
SEED_ROWS_PER_VALUE = 50  # rows a copy takes first per such value, at most (a lookup rarely reads more)

DATABASE = "database"
TABLES = "tables"


class ScratchSpace:
	"""Copies of tables for one advisor run. Use as a context manager."""

	def __init__(self, db: Database, *, run_id: str | None = None, mode: str | None = None):
		self.db = db
		self.run_id = run_id or uuid.uuid4().hex[:12]
		if mode not in (None, DATABASE, TABLES):
			raise ValueError(f"scratch mode must be {DATABASE!r} or {TABLES!r}, got {mode!r}")
		self.requested_mode = mode
		self.mode: str | None = None
		self.name: str | None = None
		self.copies: dict[str, str] = {}  # table -> SQL reference of its copy
		self.sample_rows: dict[str, int] = {}
		self.seed_filters: dict[str, list[tuple[str, tuple]]] = {}  # table -> its seed conditions
		self._created_tables: list[str] = []
		self.dropped = False
		self.why_tables: str | None = None
		self.client_copy_reason: str | None = None  # why rows went through the client, if they did

	# ------------------------------------------------------------------ lifecycle

	def __enter__(self) -> "ScratchSpace":
		self.open()
		return self

	def __exit__(self, *exc) -> None:
		self.close()

	def open(self) -> None:
		if self.requested_mode in (None, DATABASE):
			name = f"vadv_scratch_{self.run_id}"
			try:
				self.db.ddl(f"CREATE DATABASE {quote_identifier(name, 'database')} CHARACTER SET utf8mb4")
			except Exception as exc:
				if error_code(exc) not in ACCESS_DENIED_CODES or self.requested_mode == DATABASE:
					if error_code(exc) in ACCESS_DENIED_CODES:
						raise AdvisorPrivilegeError(
							f"the database user may not create the scratch database {name}: {error_text(exc)}"
						) from exc
					raise
				self.why_tables = f"may not create a scratch database ({error_text(exc)})"
			else:
				self.mode, self.name = DATABASE, name
				return
		self.mode, self.name = TABLES, str(self.db.sql("SELECT DATABASE()")[0][0])

	def close(self) -> None:
		"""Drop every copy (and the scratch database). Safe to call twice."""
		if self.dropped or self.mode is None:
			self.dropped = True
			return
		errors = []
		if self.mode == DATABASE:
			try:
				self.db.ddl(f"DROP DATABASE IF EXISTS {quote_identifier(self.name, 'database')}")
			except Exception as exc:
				errors.append(f"{self.name}: {error_text(exc)}")
		else:
			for table in self._created_tables:
				try:
					self.db.ddl(f"DROP TABLE IF EXISTS {quote_identifier(table, 'table')}")
				except Exception as exc:
					errors.append(f"{table}: {error_text(exc)}")
		self.dropped = not errors
		if errors:
			raise AdvisorPrivilegeError("could not drop the advisor's scratch copies: " + "; ".join(errors))

	def describe(self) -> dict:
		return {
			"kind": self.mode,
			"name": self.name,
			"tables": sorted(self.copies),
			"sample_rows": dict(self.sample_rows),
			"dropped": self.dropped,
			"why_not_a_database": self.why_tables,
			"copied_through_client_because": self.client_copy_reason,
		}

	# ------------------------------------------------------------------ copies

	def _copy_name(self, table: str) -> tuple[str, str]:
		"""(bare name, SQL reference) of ``table``'s copy."""
		if self.mode == DATABASE:
			return table, f"{quote_identifier(self.name, 'database')}.{quote_identifier(table, 'table')}"
		bare = f"_vadv_{self.run_id}_{len(self._created_tables)}"
		return bare, quote_identifier(bare, "table")

	def copy(
		self,
		table: str,
		columns: list[str],
		*,
		rows: int,
		limit: int,
		seed: int,
		seeds: dict[str, list] | None = None,
		joins: list[tuple[str, str, str]] = (),
	) -> int:
		"""Copy ``table`` (``rows`` of it, about) into the scratch space, ``limit`` rows at most:
		all of them if it has no more. Else, in this order: the rows whose column holds one of
		``seeds`` (column -> values; at most SEED_ROWS_PER_VALUE per value, so a selective lookup
		finds all its rows while a value half the table holds does not crowd the sample); the rows
		joined to those seeded rows of tables copied before (``joins``: (column, other table, its
		column)); the rows joined to any copied row of those tables; then rows picked at random.
		Each step but the last takes at most half the limit. ``columns`` are the stored (not
		generated) ones. Returns the rows copied."""
		if table in self.copies:
			return self.sample_rows[table]
		validate_identifier(table, "table")
		bare, ref = self._copy_name(table)
		source = quote_identifier(table, "table")
		try:
			self.db.ddl(f"CREATE TABLE {ref} LIKE {source}")
		except Exception as exc:
			if error_code(exc) in ACCESS_DENIED_CODES:
				raise AdvisorPrivilegeError(
					f"the database user may not create scratch tables in {self.name} ({error_text(exc)}); "
					"the advisor needs CREATE, INSERT, ALTER and DROP there"
				) from exc
			raise
		if self.mode == TABLES:
			self._created_tables.append(bare)
		self.copies[table] = ref
		cols = ", ".join(quote_identifier(c, "column") for c in columns)
		select = f"SELECT {cols} FROM {source}"
		steps: list[tuple[str, tuple, int]] = []  # (SELECT ending in LIMIT %s, its values, its row cap)
		filters: list[tuple[str, tuple]] = []  # this table's seed conditions, for tables joined later
		if rows <= limit:
			steps.append((select + " LIMIT %s", (), limit))
		else:
			# One step per column, capped by its number of values: a column few values cover
			# (a status) stops after a few rows; a selective one (a customer) reads on for all of
			# its rows. Most distinct values first: likely the most selective.
			for column, column_values in sorted((seeds or {}).items(), key=lambda kv: (-len(kv[1]), kv[0])):
				chunk = tuple(column_values[:SEED_VALUES])
				if not chunk:
					continue
				where = f"{quote_identifier(column, 'column')} IN %s"
				filters.append((where, (chunk,)))
				steps.append((f"{select} WHERE {where} LIMIT %s", (chunk,), SEED_ROWS_PER_VALUE * len(chunk)))
			for column, other, other_column in joins:
				mine, theirs = quote_identifier(column, "column"), quote_identifier(other_column, "column")
				for where, values in self.seed_filters.get(other, ()):
					steps.append(
						(
							f"{select} WHERE {mine} IN (SELECT {theirs} FROM {self.copies[other]} WHERE {where}) LIMIT %s",
							values,
							limit,
						)
					)
				steps.append(
					(
						f"{select} WHERE {mine} IN (SELECT {theirs} FROM {self.copies[other]}) LIMIT %s",
						(),
						limit,
					)
				)
			steps.append(
				(select + " WHERE RAND(%s) < %s LIMIT %s", (int(seed), min(1.0, limit / max(rows, 1))), limit)
			)
		self.seed_filters[table] = filters
		copied = self._copy_in_server(ref, cols, steps, limit)
		if copied is None:
			copied = self._copy_through_client(ref, cols, len(columns), steps, limit)
		self.analyze(table)
		self.sample_rows[table] = copied
		return copied

	@staticmethod
	def _room(k: int, steps, count: int, limit: int) -> int:
		"""Rows step ``k`` may add: its cap, and half the limit for every step but the last."""
		cap = steps[k][2]
		if k < len(steps) - 1:
			cap = min(cap, limit // 2)
		return max(0, min(cap, limit - count))

	def _isolation(self) -> str:
		"""The session's isolation level (``tx_isolation`` up to MariaDB 11.0, then ``transaction_isolation``)."""
		for variable in ("transaction_isolation", "tx_isolation"):
			try:
				return str(self.db.sql(f"SELECT @@session.{variable}")[0][0])
			except Exception as exc:
				if error_code(exc) != UNKNOWN_SYSTEM_VARIABLE:
					raise
		return "REPEATABLE-READ"

	def _count(self, ref: str) -> int:
		return int(self.db.sql(f"SELECT COUNT(*) FROM {ref}")[0][0])

	def _copy_in_server(self, ref: str, cols: str, steps, limit: int) -> int | None:
		"""INSERT IGNORE ... SELECT under READ COMMITTED, where InnoDB reads the source as a
		consistent, non-locking read (under REPEATABLE READ it would lock the rows it reads). None
		if the server refuses that (statement-based binary logging cannot log it)."""
		previous = self._isolation()
		self.db.commit()
		self.db.sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
		try:
			count = 0
			for k, (select, values, _cap) in enumerate(steps):
				room = self._room(k, steps, count, limit)
				if room <= 0:
					continue
				self.db.sql(f"INSERT IGNORE INTO {ref} ({cols}) {select}", (*values, room))
				self.db.commit()
				count = self._count(ref)
			return count
		except Exception as exc:
			self.db.rollback()
			if error_code(exc) in ACCESS_DENIED_CODES:
				raise
			self.client_copy_reason = error_text(exc)
			self.db.sql(f"DELETE FROM {ref}")
			self.db.commit()
			return None
		finally:
			level = str(previous).replace("-", " ")
			if level not in ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"):
				level = "REPEATABLE READ"
			self.db.sql(f"SET SESSION TRANSACTION ISOLATION LEVEL {level}")

	def _copy_through_client(self, ref: str, cols: str, ncols: int, steps, limit: int) -> int:
		"""Plain (non-locking) SELECTs of the sample, written back in multi-row INSERT IGNOREs."""
		placeholders = "(" + ", ".join(["%s"] * ncols) + ")"
		count = 0
		for k, (select, values, _cap) in enumerate(steps):
			room = self._room(k, steps, count, limit)
			if room <= 0:
				continue
			data = self.db.sql(select, (*values, room))
			self.db.commit()  # end the read snapshot on the site's table before writing the copy
			for start in range(0, len(data), INSERT_BATCH):
				chunk = data[start : start + INSERT_BATCH]
				self.db.sql(
					f"INSERT IGNORE INTO {ref} ({cols}) VALUES " + ", ".join([placeholders] * len(chunk)),
					tuple(v for row in chunk for v in row),
				)
			self.db.commit()
			count = self._count(ref)
		return count

	def analyze(self, table: str) -> None:
		"""Fresh statistics for a copy (the optimizer then sees the sample as it is)."""
		self.db.ddl(f"ANALYZE TABLE {self.copies[table]}")

	def index_bytes(self, table: str) -> int:
		"""Bytes InnoDB's statistics give for all secondary indexes of a copy."""
		if self.mode == DATABASE:
			schema, bare = self.name, table
		else:
			schema, bare = self.name, self.copies[table].strip("`")
		rows = self.db.sql(
			"SELECT index_length FROM information_schema.tables WHERE table_schema=%s AND table_name=%s",
			(schema, bare),
		)
		return int(rows[0][0] or 0) if rows else 0

	def add_index(self, table: str, name: str, columns: tuple[str, ...]) -> None:
		cols = ", ".join(quote_identifier(c, "column") for c in columns)
		self.db.ddl(
			f"ALTER TABLE {self.copies[table]} ADD INDEX {quote_identifier(name, 'index name')} ({cols})"
		)

	def drop_index(self, table: str, name: str) -> None:
		self.db.ddl(f"ALTER TABLE {self.copies[table]} DROP INDEX {quote_identifier(name, 'index name')}")
