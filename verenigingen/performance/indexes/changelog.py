"""The record of every apply and rollback: the "Index Change Log" DocType's table.

Inside Frappe the table exists because the DocType does; standalone the log creates the same
table from the DocType's JSON, so the rows look the same either way. Rows are written with
plain SQL by the core (the manager never holds a Frappe document).
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..db import Database, quote_identifier, table_name
from ..schema import APP_DOCTYPE_DIR, create_table_sql, load_doctype

DOCTYPE = "Index Change Log"
DOCTYPE_JSON: Path = APP_DOCTYPE_DIR / "index_change_log" / "index_change_log.json"

COLUMNS = (
	"action", "outcome", "index_name", "reference_doctype", "table_name", "index_columns", "catalog",
	"created_by_tool", "performed_by", "duration_ms", "ddl", "before_measurement", "after_measurement", "error",
)  # fmt: skip


@dataclass
class ChangeLogEntry:
	name: str
	creation: datetime
	action: str
	outcome: str
	index_name: str
	reference_doctype: str | None
	table_name: str | None
	index_columns: str | None
	catalog: str | None
	created_by_tool: int
	performed_by: str | None
	duration_ms: float
	ddl: str | None
	before_measurement: dict | None
	after_measurement: dict | None
	error: str | None

	def as_dict(self) -> dict:
		out = dict(vars(self))
		out["creation"] = self.creation.isoformat() if self.creation else None
		out["duration_ms"] = float(self.duration_ms or 0)
		return out


class ChangeLog:
	"""Reads and appends rows of the change log table of one database."""

	def __init__(self, db: Database):
		self.db = db
		self.table = quote_identifier(table_name(DOCTYPE), "table")

	def ensure(self) -> bool:
		"""Create the table if it is missing (standalone use); True if it was created."""
		if self.db.sql("SHOW TABLES LIKE %s", (table_name(DOCTYPE),)):
			return False
		self.db.ddl(create_table_sql(load_doctype(DOCTYPE_JSON)))
		return True

	def record(
		self,
		*,
		action: str,
		outcome: str,
		index_name: str,
		user: str,
		reference_doctype: str | None = None,
		table: str | None = None,
		columns: tuple[str, ...] | list[str] = (),
		catalog: str | None = None,
		created_by_tool: bool = False,
		duration_ms: float = 0.0,
		ddl: str | None = None,
		before: dict | None = None,
		after: dict | None = None,
		error: str | None = None,
	) -> str:
		"""Append one row and commit it; return its name."""
		name = uuid.uuid4().hex[:10]
		now = datetime.now()
		values = (
			action, outcome, index_name, reference_doctype, table, ",".join(columns) or None, catalog,
			1 if created_by_tool else 0, user, round(float(duration_ms), 3), ddl,
			json.dumps(before) if before is not None else None,
			json.dumps(after) if after is not None else None, error,
		)  # fmt: skip
		cols = ", ".join(
			quote_identifier(c, "column")
			for c in ("name", "creation", "modified", "owner", "modified_by", *COLUMNS)
		)
		marks = ", ".join(["%s"] * (5 + len(COLUMNS)))
		self.db.sql(
			f"INSERT INTO {self.table} ({cols}) VALUES ({marks})", (name, now, now, user, user, *values)
		)
		self.db.commit()
		return name

	def entries(
		self, *, table: str | None = None, index_name: str | None = None, limit: int = 1000
	) -> list[ChangeLogEntry]:
		"""Rows, oldest first, optionally for one table and index."""
		where, values = [], []
		if table is not None:
			where.append("table_name=%s")
			values.append(table)
		if index_name is not None:
			where.append("index_name=%s")
			values.append(index_name)
		clause = f"WHERE {' AND '.join(where)}" if where else ""
		cols = ", ".join(quote_identifier(c, "column") for c in ("name", "creation", *COLUMNS))
		rows = self.db.sql(
			f"SELECT {cols} FROM {self.table} {clause} ORDER BY creation, name LIMIT %s",
			(*values, int(limit)),
			as_dict=True,
		)
		out = []
		for row in rows:
			for key in ("before_measurement", "after_measurement"):
				row[key] = json.loads(row[key]) if row[key] else None
			out.append(ChangeLogEntry(**row))
		return out

	def tool_created(self) -> list[ChangeLogEntry]:
		"""Apply entries whose index this tool created and has not rolled back since (per table and index).

		A rollback that found the index gone or changed (Skipped) also ends the tool's claim on it."""
		latest: dict[tuple[str, str], ChangeLogEntry] = {}
		for entry in self.entries(limit=1_000_000):
			if entry.outcome != "Success" and not (entry.action == "Rollback" and entry.outcome == "Skipped"):
				continue
			latest[(entry.table_name, entry.index_name)] = entry
		return [e for e in latest.values() if e.action == "Apply" and e.created_by_tool]
