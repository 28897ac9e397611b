"""Redundant indexes per table, the way Percona's pt-duplicate-key-checker finds them.

An index is redundant when another index of the same table has exactly its columns (an exact
duplicate) or starts with all of its columns (a left-prefix duplicate). The primary key and
unique indexes are never suggested (they enforce something), and neither is an index a foreign
key needs (the one named after the constraint, or the only one leading with its columns).
Nothing is ever dropped here: each finding carries the DROP statement to run and the space
the index takes, read from InnoDB's persistent statistics where the server lets us.
"""

from dataclasses import dataclass

from ..db import Database, validate_identifier
from .spec import drop_index_sql


@dataclass(frozen=True)
class IndexInfo:
	"""One index of a table, as the database's catalog describes it."""

	name: str
	columns: tuple[str, ...]
	unique: bool
	index_type: str = "BTREE"
	sub_parts: tuple = ()

	@property
	def primary(self) -> bool:
		return self.name == "PRIMARY"

	def starts_with(self, columns: tuple[str, ...]) -> bool:
		"""True if this index's leading columns are ``columns`` (full column, no prefix length)."""
		n = len(columns)
		return self.columns[:n] == tuple(columns) and all(p is None for p in self.sub_parts[:n])

	def as_dict(self) -> dict:
		return {
			"name": self.name,
			"columns": list(self.columns),
			"unique": self.unique,
			"type": self.index_type,
		}


@dataclass(frozen=True)
class RedundantIndex:
	table: str
	index: IndexInfo
	covered_by: IndexInfo
	kind: str  # "exact duplicate" or "left-prefix duplicate"
	drop_sql: str
	size_bytes: int | None
	size_note: str | None = None

	def as_dict(self) -> dict:
		return {
			"table": self.table,
			"index": self.index.name,
			"columns": list(self.index.columns),
			"covered_by": self.covered_by.name,
			"covered_by_columns": list(self.covered_by.columns),
			"kind": self.kind,
			"drop_sql": self.drop_sql,
			"size_bytes": self.size_bytes,
			"size_note": self.size_note,
		}


def table_indexes(db: Database, table: str) -> dict[str, IndexInfo]:
	"""The indexes of ``table`` in the current database, by name, columns in index order."""
	rows = db.sql(
		"SELECT index_name, column_name, non_unique, index_type, sub_part FROM information_schema.statistics "
		"WHERE table_schema=DATABASE() AND table_name=%s ORDER BY index_name, seq_in_index",
		(validate_identifier(table, "table"),),
	)
	grouped: dict[str, dict] = {}
	for name, column, non_unique, index_type, sub_part in rows:
		entry = grouped.setdefault(
			name, {"columns": [], "sub": [], "unique": not int(non_unique), "type": index_type}
		)
		entry["columns"].append(column)
		entry["sub"].append(sub_part)
	return {
		name: IndexInfo(name, tuple(e["columns"]), e["unique"], e["type"], tuple(e["sub"]))
		for name, e in grouped.items()
	}


def foreign_keys(db: Database, table: str) -> dict[str, tuple[str, ...]]:
	"""Foreign-key constraints of ``table``: constraint name -> its columns in order."""
	rows = db.sql(
		"SELECT constraint_name, column_name FROM information_schema.key_column_usage "
		"WHERE table_schema=DATABASE() AND table_name=%s AND referenced_table_name IS NOT NULL "
		"ORDER BY constraint_name, ordinal_position",
		(table,),
	)
	out: dict[str, list[str]] = {}
	for name, column in rows:
		out.setdefault(name, []).append(column)
	return {k: tuple(v) for k, v in out.items()}


def _needed_by_foreign_key(index: IndexInfo, indexes: dict[str, IndexInfo], fks: dict) -> bool:
	for constraint, columns in fks.items():
		if not index.starts_with(columns):
			continue
		if index.name == constraint:
			return True
		others = [i for i in indexes.values() if i.name != index.name and i.starts_with(columns)]
		if not others:
			return True
	return False


def _comparable(a: IndexInfo, b: IndexInfo) -> bool:
	return a.index_type == b.index_type and a.index_type not in ("FULLTEXT", "SPATIAL")


def index_sizes(db: Database, table: str) -> tuple[dict[str, int], str | None]:
	"""Bytes per index from ``mysql.innodb_index_stats`` (pages x page size), or a note why not."""
	try:
		rows = db.sql(
			"SELECT index_name, stat_value * @@innodb_page_size FROM mysql.innodb_index_stats "
			"WHERE database_name=DATABASE() AND table_name=%s AND stat_name='size'",
			(table,),
		)
	except Exception as exc:  # no SELECT on mysql.*: report the size as unknown, with the reason
		return {}, f"size unknown: {exc.args[-1] if exc.args else exc}"
	return {name: int(size) for name, size in rows}, None


def find_redundant_in_table(db: Database, table: str) -> list[RedundantIndex]:
	"""Redundant indexes of one table, each with the index that covers it."""
	indexes = table_indexes(db, table)
	if not indexes:
		return []
	fks = foreign_keys(db, table)
	sizes, note = index_sizes(db, table)

	def keep_rank(i: IndexInfo) -> tuple:
		# Among exact duplicates keep the primary key, then a unique index, then the one a
		# foreign key is named for, then the first by name.
		return (not i.primary, not i.unique, i.name not in fks, i.name)

	found: list[RedundantIndex] = []
	dropped: set[str] = set()
	for candidate in sorted(indexes.values(), key=lambda i: (len(i.columns), i.name)):
		if candidate.primary or candidate.unique:
			continue
		remaining = {k: v for k, v in indexes.items() if k not in dropped}
		if _needed_by_foreign_key(candidate, remaining, fks):
			continue
		for keeper in sorted(remaining.values(), key=lambda i: (keep_rank(i), -len(i.columns))):
			if keeper.name == candidate.name or not _comparable(candidate, keeper):
				continue
			if keeper.columns == candidate.columns and keeper.sub_parts == candidate.sub_parts:
				if keep_rank(keeper) > keep_rank(candidate):
					continue
				kind = "exact duplicate"
			elif len(keeper.columns) > len(candidate.columns) and keeper.starts_with(candidate.columns):
				if any(p is not None for p in candidate.sub_parts):
					continue
				kind = "left-prefix duplicate"
			else:
				continue
			size = sizes.get(candidate.name)
			found.append(
				RedundantIndex(
					table=table,
					index=candidate,
					covered_by=keeper,
					kind=kind,
					drop_sql=drop_index_sql(table, candidate.name),
					size_bytes=size,
					size_note=note if size is None else None,
				)
			)
			dropped.add(candidate.name)
			break
	return found


def find_redundant(db: Database, tables: list[str] | None = None) -> list[RedundantIndex]:
	"""Redundant indexes of ``tables`` (default: every base table of the current database)."""
	existing = [
		r[0]
		for r in db.sql(
			"SELECT table_name FROM information_schema.tables WHERE table_schema=DATABASE() "
			"AND table_type='BASE TABLE' ORDER BY table_name"
		)
	]
	if tables is not None:
		from ..exceptions import UnknownDocTypeError

		missing = [t for t in tables if t not in existing]
		if missing:
			raise UnknownDocTypeError(f"no such table(s) in {db.database_name}: {', '.join(missing)}")
		existing = [t for t in existing if t in tables]
	out: list[RedundantIndex] = []
	for table in existing:
		out.extend(find_redundant_in_table(db, table))
	return out
