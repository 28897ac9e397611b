"""What a shape asks of each table it reads, with every column resolved against the schema.

:func:`load_table` reads a table's columns (type, byte length, generated or not), its indexes
(the manager's :func:`~..redundancy.table_indexes`) and its size from ``information_schema``.
:func:`resolve` turns a :class:`~.query.ParsedSelect` into one :class:`TableUse` per table of the
statement: the columns it filters by equality, by range, joins on, orders and groups by, and reads.
"""

from dataclasses import dataclass, field

from ...db import Database, quote_identifier, validate_identifier
from ...exceptions import SQLSyntaxError
from ..redundancy import IndexInfo, table_indexes
from .query import ColumnRef, ParsedSelect

# Column types an index cannot hold whole (InnoDB needs a prefix length for them).
UNINDEXABLE_TYPES = {"tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob",
                     "longblob", "json", "geometry", "point", "linestring", "polygon"}  # fmt: skip
MAX_KEY_BYTES = 3072  # InnoDB's limit on an index key with the DYNAMIC row format


@dataclass(frozen=True)
class Column:
	name: str
	data_type: str
	key_bytes: int  # bytes the column takes in an index key at most
	generated: bool

	@property
	def indexable(self) -> bool:
		return self.data_type not in UNINDEXABLE_TYPES and self.key_bytes <= MAX_KEY_BYTES


@dataclass
class TableSchema:
	name: str
	columns: dict[str, Column]  # by name as the catalog spells it
	indexes: dict[str, IndexInfo]
	rows: int
	rows_exact: bool
	_lower: dict[str, str] = field(default_factory=dict, repr=False)

	def __post_init__(self):
		self._lower = {c.lower(): c for c in self.columns}

	def column(self, name: str) -> str | None:
		"""The catalog's spelling of column ``name`` (MariaDB compares column names without case)."""
		return self._lower.get(name.lower())

	@property
	def primary(self) -> tuple[str, ...]:
		index = self.indexes.get("PRIMARY")
		return index.columns if index else ()


def _key_bytes(data_type: str, octets, precision) -> int:
	fixed = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 8, "float": 4, "double": 8,
	         "date": 3, "time": 6, "datetime": 8, "timestamp": 7, "year": 1, "bit": 8, "enum": 2, "set": 8}  # fmt: skip
	if data_type in fixed:
		return fixed[data_type]
	if data_type == "decimal":
		return int(precision or 10) // 2 + 1
	return int(octets or 0) + 2


def load_table(db: Database, table: str, *, exact_below: int) -> TableSchema | None:
	"""The schema of ``table`` in the current database, or None if there is no such table. Rows
	are counted exactly when the catalog's estimate is under ``exact_below`` (so a small table is
	judged small on a real count); above it the estimate is kept."""
	validate_identifier(table, "table")
	rows = db.sql(
		"SELECT table_rows FROM information_schema.tables WHERE table_schema=DATABASE() AND table_name=%s "
		"AND table_type='BASE TABLE'",
		(table,),
	)
	if not rows:
		return None
	estimate = int(rows[0][0] or 0)
	columns = {}
	for name, data_type, octets, precision, extra in db.sql(
		"SELECT column_name, data_type, character_octet_length, numeric_precision, extra "
		"FROM information_schema.columns WHERE table_schema=DATABASE() AND table_name=%s ORDER BY ordinal_position",
		(table,),
	):
		data_type = str(data_type).lower()
		columns[name] = Column(
			name, data_type, _key_bytes(data_type, octets, precision), "GENERATED" in str(extra or "").upper()
		)
	exact = estimate < exact_below
	count = (
		int(db.sql(f"SELECT COUNT(*) FROM {quote_identifier(table, 'table')}")[0][0]) if exact else estimate
	)
	return TableSchema(table, columns, table_indexes(db, table), count, exact)


@dataclass
class TableUse:
	"""What one shape asks of one of its tables."""

	label: str  # what the statement calls it (alias or name)
	table: str
	eq: list[str] = field(default_factory=list)  # =, IN, IS NULL against constants
	range: list[str] = field(default_factory=list)  # <, >, BETWEEN, LIKE 'prefix%'
	join: list[str] = field(default_factory=list)  # = a column of another table
	order: list[str] | None = None  # ORDER BY, when all on this table in one direction
	group: list[str] | None = None  # GROUP BY, when all on this table
	read: set[str] = field(default_factory=set)
	star: bool = False
	eq_slots: dict[str, list[int]] = field(default_factory=dict)  # eq column -> indexes into the values
	join_pairs: list[tuple[str, str, str]] = field(default_factory=list)  # (column, other table, its column)

	def as_dict(self) -> dict:
		return {
			"table": self.table,
			"as": self.label,
			"equality": self.eq,
			"range": self.range,
			"join": self.join,
			"order_by": self.order,
			"group_by": self.group,
			"reads_all_columns": self.star,
		}


def _add(items: list[str], column: str) -> None:
	if column not in items:
		items.append(column)


def resolve(
	parsed: ParsedSelect, schemas: dict[str, TableSchema], database: str
) -> tuple[list[TableUse], list[str]]:
	"""One TableUse per table of the statement, and notes on what could not be resolved.
	SQLSyntaxError if a table does not exist here or a column is ambiguous (the server would refuse it)."""
	uses: list[TableUse] = []
	by_label: dict[str, TableUse] = {}
	for ref in parsed.tables:
		if ref.schema is not None and ref.schema != database:
			raise SQLSyntaxError(f"table {ref.schema}.{ref.name} is in another database; not analysed")
		if schemas.get(ref.name) is None:
			raise SQLSyntaxError(f"table {ref.name!r} does not exist in {database}")
		use = TableUse(ref.label, ref.name)
		if ref.label in by_label:
			raise SQLSyntaxError(f"table alias {ref.label!r} is used twice")
		uses.append(use)
		by_label[ref.label] = use
	notes: list[str] = []

	def locate(col: ColumnRef) -> tuple[TableUse, str] | None:
		if col.qualifier is not None:
			use = by_label.get(col.qualifier)
			if use is None:
				lowered = [u for u in uses if u.label.lower() == col.qualifier.lower()]
				use = lowered[0] if len(lowered) == 1 else None
			if use is None:
				raise SQLSyntaxError(f"column {col}: no table {col.qualifier!r} in the statement")
			name = schemas[use.table].column(col.name)
			if name is None:
				raise SQLSyntaxError(f"column {col}: {use.table} has no column {col.name!r}")
			return use, name
		found = [(u, schemas[u.table].column(col.name)) for u in uses]
		found = [(u, n) for u, n in found if n is not None]
		if len(found) > 1:
			raise SQLSyntaxError(
				f"column {col.name!r} is ambiguous: in {', '.join(u.table for u, _ in found)}"
			)
		return found[0] if found else None  # an alias of the select list, or a keyword

	for col in parsed.columns:
		hit = locate(col)
		if hit:
			hit[0].read.add(hit[1])
	for qualifier in parsed.star:
		for use in uses:
			if qualifier is None or use.label == qualifier:
				use.star = True
	for predicate in parsed.predicates:
		hit = locate(predicate.column)
		if hit is None:
			notes.append(f"{predicate.column}: not a column of the statement's tables")
			continue
		use, name = hit
		if predicate.kind == "join":
			other = locate(predicate.other)
			if other is None:
				notes.append(f"{predicate.other}: not a column of the statement's tables")
				continue
			if other[0] is use:
				notes.append(f"{predicate.column} = {predicate.other}: compares two columns of one table")
				continue
			_add(use.join, name)
			_add(other[0].join, other[1])
			use.join_pairs.append((name, other[0].table, other[1]))
			other[0].join_pairs.append((other[1], use.table, name))
			continue
		_add(use.eq if predicate.kind == "eq" else use.range, name)
		if predicate.kind == "eq" and predicate.slot is not None:
			use.eq_slots.setdefault(name, []).append(predicate.slot)
	for use in uses:
		use.range = [c for c in use.range if c not in use.eq]
		use.join = [c for c in use.join if c not in use.eq]
	if parsed.order_by:
		located = [(locate(c), desc) for c, desc in parsed.order_by]
		if any(h is None for h, _ in located):
			notes.append("ORDER BY names something that is not a column")
		elif len({id(h[0]) for h, _ in located}) > 1:
			notes.append("ORDER BY spans several tables: no index can serve it")
		elif len({desc for _, desc in located}) > 1:
			notes.append("ORDER BY mixes ASC and DESC: not served by an ascending index")
		else:
			located[0][0][0].order = [h[1] for h, _ in located]
	elif parsed.order_note:
		notes.append(f"ORDER BY {parsed.order_note}")
	if parsed.group_by:
		located = [locate(c) for c in parsed.group_by]
		if any(h is None for h in located) or len({id(h[0]) for h in located}) > 1:
			notes.append("GROUP BY spans several tables or names no column: no index can serve it")
		else:
			located[0][0].group = [h[1] for h in located]
	notes.extend(parsed.notes)
	notes.extend(parsed.unusable)
	return uses, notes
