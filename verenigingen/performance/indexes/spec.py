"""What an index is for: :class:`IndexSpec` and the :class:`Probe` query it exists to speed up."""

import random
from dataclasses import dataclass, field

from ..db import Database, quote_identifier, table_name, validate_identifier
from ..exceptions import InvalidIndexSpecError

OWN_APP = "verenigingen"


@dataclass(frozen=True)
class Probe:
	"""The representative query of an index and where its parameter values come from.

	``sql`` is the query with ``%s`` placeholders. ``sample_sql`` selects candidate parameter
	tuples from the data itself (each row one tuple, in the order of the placeholders), with one
	``%s`` for a row limit; :meth:`draw` picks ``n`` of them with a seeded generator, so before and
	after measurements use the same realistic values.
	"""

	sql: str
	sample_sql: str
	sample_size: int = 500

	def __post_init__(self):
		if self.sql.count("%s") < 1:
			raise InvalidIndexSpecError(f"probe SQL must take parameters (%s), got {self.sql!r}")
		if self.sample_sql.count("%s") != 1:
			raise InvalidIndexSpecError(
				f"probe sample SQL must have exactly one %s (the row limit), got {self.sample_sql!r}"
			)

	def candidates(self, db: Database) -> list[tuple]:
		"""Candidate parameter tuples drawn from the data (empty if the table has no fitting rows)."""
		return [tuple(r) for r in db.sql(self.sample_sql, (int(self.sample_size),))]

	def draw(self, db: Database, n: int, seed: int = 0) -> list[tuple]:
		"""``n`` parameter tuples for the probe, spread over the candidates."""
		pool = self.candidates(db)
		if not pool:
			return []
		rng = random.Random(seed)
		return [pool[rng.randrange(len(pool))] for _ in range(n)]


@dataclass(frozen=True)
class IndexSpec:
	"""One index the app wants: its name, DocType, columns, why, and the query it serves.

	``app`` names the app owning the DocType: specs of other apps' DocTypes (ERPNext) are applied
	only where their tables exist, and single-column ones become a ``search_index`` Property
	Setter inside Frappe so ``bench migrate`` keeps them.
	"""

	name: str
	doctype: str
	columns: tuple[str, ...]
	purpose: str
	probe: Probe | None = None
	app: str = OWN_APP
	catalog: str = field(default="custom", compare=False)

	def __post_init__(self):
		columns = (self.columns,) if isinstance(self.columns, str) else tuple(self.columns)
		object.__setattr__(self, "columns", columns)
		validate_identifier(self.name, "index name")
		if self.name.upper() == "PRIMARY":
			raise InvalidIndexSpecError("an index may not be named PRIMARY")
		table_name(self.doctype)
		if not columns:
			raise InvalidIndexSpecError(f"index {self.name!r} needs at least one column")
		for column in columns:
			validate_identifier(column, "column")
		if len(set(columns)) != len(columns):
			raise InvalidIndexSpecError(f"index {self.name!r} names a column twice: {columns}")
		if not isinstance(self.purpose, str) or not self.purpose.strip():
			raise InvalidIndexSpecError(f"index {self.name!r} needs a purpose")

	@property
	def table(self) -> str:
		return table_name(self.doctype)

	@property
	def is_foreign(self) -> bool:
		"""True for a DocType of another app (ERPNext)."""
		return self.app != OWN_APP

	def add_index_sql(self, *, online: bool = True) -> str:
		"""``ALTER TABLE ... ADD INDEX``; online (in place, no lock) unless told otherwise."""
		cols = ", ".join(quote_identifier(c, "column") for c in self.columns)
		sql = (
			f"ALTER TABLE {quote_identifier(self.table, 'table')} "
			f"ADD INDEX {quote_identifier(self.name, 'index name')} ({cols})"
		)
		return sql + (", ALGORITHM=INPLACE, LOCK=NONE" if online else "")

	def as_dict(self) -> dict:
		return {
			"name": self.name,
			"doctype": self.doctype,
			"table": self.table,
			"columns": list(self.columns),
			"purpose": self.purpose,
			"app": self.app,
			"catalog": self.catalog,
			"probe": self.probe.sql if self.probe else None,
		}


def drop_index_sql(table: str, index: str) -> str:
	"""``ALTER TABLE ... DROP INDEX`` for a validated table and index name."""
	return (
		f"ALTER TABLE {quote_identifier(table, 'table')} DROP INDEX {quote_identifier(index, 'index name')}"
	)
