"""Create, in any MariaDB database, the tables Frappe v15 would create for DocTypes.

The definitions are read from DocType JSON files and turned into ``CREATE TABLE``
statements that follow Frappe's MariaDB rules (``frappe/database/schema.py`` and
``frappe/database/mariadb/schema.py`` of version-15): the type map, NOT NULL and
defaults for numeric types, ``UNIQUE`` on unique fields, an index per
``search_index`` field, the standard columns, ``_user_tags``/``_comments``/
``_assign``/``_liked_by`` on parent tables, ``parent``/``parentfield``/``parenttype``
and ``index parent(parent)`` on child tables, ``index modified(modified)`` on parents.
"""

import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from .db import Database, quote_identifier, table_name
from .exceptions import DocTypeDefinitionError

VARCHAR_LEN = 140

# Frappe v15 MariaDB type map: fieldtype -> (column type, size). Types absent here have no column.
TYPE_MAP: dict[str, tuple[str, str | None]] = {
	"Currency": ("decimal", "21,9"),
	"Int": ("int", "11"),
	"Long Int": ("bigint", "20"),
	"Float": ("decimal", "21,9"),
	"Percent": ("decimal", "21,9"),
	"Check": ("int", "1"),
	"Small Text": ("text", None),
	"Long Text": ("longtext", None),
	"Code": ("longtext", None),
	"Text Editor": ("longtext", None),
	"Markdown Editor": ("longtext", None),
	"HTML Editor": ("longtext", None),
	"Date": ("date", None),
	"Datetime": ("datetime", "6"),
	"Time": ("time", "6"),
	"Text": ("text", None),
	"Data": ("varchar", str(VARCHAR_LEN)),
	"Link": ("varchar", str(VARCHAR_LEN)),
	"Dynamic Link": ("varchar", str(VARCHAR_LEN)),
	"Password": ("text", None),
	"Select": ("varchar", str(VARCHAR_LEN)),
	"Rating": ("decimal", "3,2"),
	"Read Only": ("varchar", str(VARCHAR_LEN)),
	"Attach": ("text", None),
	"Attach Image": ("text", None),
	"Signature": ("longtext", None),
	"Color": ("varchar", str(VARCHAR_LEN)),
	"Barcode": ("longtext", None),
	"Geolocation": ("longtext", None),
	"Duration": ("decimal", "21,9"),
	"Icon": ("varchar", str(VARCHAR_LEN)),
	"Phone": ("varchar", str(VARCHAR_LEN)),
	"Autocomplete": ("varchar", str(VARCHAR_LEN)),
	"JSON": ("json", None),
}

NOT_NULL_TYPES = ("Check", "Int", "Currency", "Float", "Percent")
STANDARD_COLUMNS = ("name", "creation", "modified", "modified_by", "owner", "docstatus", "idx")
CHILD_TABLE_COLUMNS = ("parent", "parentfield", "parenttype")
OPTIONAL_COLUMNS = ("_user_tags", "_comments", "_assign", "_liked_by")
TABLE_FIELDTYPES = ("Table", "Table MultiSelect")

APP_DOCTYPE_DIR = Path(__file__).resolve().parents[1] / "verenigingen" / "doctype"


def load_doctype(path: str | Path) -> dict:
	"""Read one DocType JSON file; raise DocTypeDefinitionError naming the file if it is not one."""
	path = Path(path)
	try:
		data = json.loads(path.read_text(encoding="utf-8"))
	except (OSError, ValueError) as exc:
		raise DocTypeDefinitionError(f"cannot read DocType definition {path}: {exc}") from exc
	if not isinstance(data, dict) or data.get("doctype") != "DocType" or not data.get("name"):
		raise DocTypeDefinitionError(
			f"{path} is not a DocType definition (needs doctype='DocType' and a name)"
		)
	return data


def find_doctype_files(app_dirs: Iterable[str | Path] | None = None) -> list[Path]:
	"""Every ``doctype/<name>/<name>.json`` below the given folders (default: this app's)."""
	roots = [Path(p) for p in app_dirs] if app_dirs else [APP_DOCTYPE_DIR]
	found = []
	for root in roots:
		if not root.exists():
			raise DocTypeDefinitionError(f"folder {root} does not exist")
		for candidate in sorted(root.rglob("*.json")):
			if candidate.parent.parent.name == "doctype" and candidate.stem == candidate.parent.name:
				found.append(candidate)
	return found


def load_doctypes(app_dirs: Iterable[str | Path] | None = None) -> dict[str, dict]:
	"""All DocType definitions below the given folders, by DocType name."""
	return {d["name"]: d for d in (load_doctype(p) for p in find_doctype_files(app_dirs))}


def _escape_default(value: str) -> str:
	return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def column_type(fieldtype: str) -> str | None:
	"""The MariaDB column type of a fieldtype (``varchar(140)``), or None if it has no column."""
	spec = TYPE_MAP.get(fieldtype)
	if not spec:
		return None
	coltype, size = spec
	return f"{coltype}({size})" if size else coltype


def column_definition(field: dict) -> str | None:
	"""The column definition Frappe gives a DocField, or None for fields without a column."""
	fieldtype = field.get("fieldtype")
	coltype = column_type(fieldtype)
	if coltype is None or field.get("is_virtual"):
		return None
	definition = coltype
	default = field.get("default")
	if fieldtype in NOT_NULL_TYPES:
		definition += " NOT NULL"
	if fieldtype in ("Check", "Int"):
		definition += f" DEFAULT {int(float(default or 0))}"
	elif fieldtype in ("Currency", "Float", "Percent"):
		definition += f" DEFAULT {float(Decimal(str(default or 0)))}"
	elif (
		default not in (None, "")
		and not str(default).startswith(":")
		and default not in ("Today", "__user", "Now")
	):
		definition += f" DEFAULT {_escape_default(default)}"
	if field.get("unique") and coltype not in ("text", "longtext"):
		definition += " UNIQUE"
	return definition


def table_columns(meta: dict) -> list[tuple[str, str]]:
	"""(column, definition) pairs of the DocType's own fields, in field order, standard ones excluded."""
	columns = []
	seen = set(STANDARD_COLUMNS)
	fields = list(meta.get("fields", []))
	if not meta.get("istable"):
		fields += [{"fieldname": c, "fieldtype": "Text"} for c in OPTIONAL_COLUMNS]
		if meta.get("track_seen"):
			fields.append({"fieldname": "_seen", "fieldtype": "Text"})
	for field in fields:
		name = field.get("fieldname")
		definition = column_definition(field)
		if not name or definition is None or name in seen:
			continue
		seen.add(name)
		columns.append((name, definition))
	return columns


def create_table_sql(meta: dict) -> str:
	"""The ``CREATE TABLE`` statement Frappe v15 runs for this DocType on MariaDB."""
	table = quote_identifier(table_name(meta["name"]), "table")
	parts = [f"{quote_identifier(name, 'column')} {definition}" for name, definition in table_columns(meta)]
	for field in meta.get("fields", []):
		coltype = column_type(field.get("fieldtype"))
		if (
			field.get("search_index")
			and not field.get("unique")
			and coltype
			and coltype not in ("text", "longtext")
		):
			col = quote_identifier(field["fieldname"], "column")
			parts.append(f"index {col}({col})")
	if meta.get("istable"):
		parts += [f"{c} varchar({VARCHAR_LEN})" for c in CHILD_TABLE_COLUMNS]
		parts.append("index parent(parent)")
	else:
		parts.append("index modified(modified)")
	body = ",\n\t".join(
		[
			f"name varchar({VARCHAR_LEN}) primary key",
			"creation datetime(6)",
			"modified datetime(6)",
			f"modified_by varchar({VARCHAR_LEN})",
			f"owner varchar({VARCHAR_LEN})",
			"docstatus int(1) not null default '0'",
			"idx int(8) not null default '0'",
			*parts,
		]
	)
	return (
		f"create table {table} (\n\t{body})\n"
		"ENGINE=InnoDB ROW_FORMAT=DYNAMIC CHARACTER SET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
	)


def create_app_tables(
	db: Database, doctypes: dict[str, dict] | None = None, *, drop_existing: bool = False
) -> list[str]:
	"""Create the tables of ``doctypes`` (default: this app's) in ``db``; return the table names.

	Existing tables are kept unless ``drop_existing`` is set, so the call is idempotent.
	"""
	doctypes = doctypes if doctypes is not None else load_doctypes()
	existing = {row[0] for row in db.sql("SHOW TABLES")}
	created = []
	for name in sorted(doctypes):
		meta = doctypes[name]
		if meta.get("issingle") or meta.get("is_virtual"):
			continue
		tname = table_name(name)
		if tname in existing:
			if not drop_existing:
				continue
			db.ddl(f"DROP TABLE {quote_identifier(tname, 'table')}")
		db.ddl(create_table_sql(meta))
		created.append(tname)
	return created


def child_tables(meta: dict) -> dict[str, str]:
	"""fieldname -> child DocType of the DocType's Table fields."""
	return {
		f["fieldname"]: f["options"]
		for f in meta.get("fields", [])
		if f.get("fieldtype") in TABLE_FIELDTYPES and f.get("options")
	}
