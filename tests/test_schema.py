"""The schema builder creates the tables Frappe v15 would create for the app's DocTypes."""

import pytest

from verenigingen.performance.exceptions import DocTypeDefinitionError, InvalidIdentifierError
from verenigingen.performance.schema import create_app_tables, create_table_sql, load_doctype, load_doctypes

# What Frappe v15's MariaDBTable.create gives these DocTypes, written out by hand from its rules.
STANDARD = {
	"name": ("varchar(140)", "NO", None),
	"creation": ("datetime(6)", "YES", None),
	"modified": ("datetime(6)", "YES", None),
	"modified_by": ("varchar(140)", "YES", None),
	"owner": ("varchar(140)", "YES", None),
	"docstatus": ("int(1)", "NO", "0"),
	"idx": ("int(8)", "NO", "0"),
}
OPTIONAL = {c: ("text", "YES", None) for c in ("_user_tags", "_comments", "_assign", "_liked_by")}
CHILD = {c: ("varchar(140)", "YES", None) for c in ("parent", "parentfield", "parenttype")}
V = ("varchar(140)", "YES", None)
DATE = ("date", "YES", None)

EXPECTED_COLUMNS = {
	"tabMember": {
		**STANDARD, **OPTIONAL, "member_id": V, "first_name": V, "last_name": V, "full_name": V, "email": V,
		"status": ("varchar(140)", "YES", "'Pending'"), "member_since": DATE, "primary_chapter": V,
		"payment_method": V,
	},
	"tabChapter": {**STANDARD, **OPTIONAL, "chapter_name": V, "region": V, "status": ("varchar(140)", "YES", "'Active'")},
	"tabChapter Member": {
		**STANDARD, **CHILD, "member": V, "status": ("varchar(140)", "YES", "'Active'"),
		"enabled": ("int(1)", "NO", "1"), "chapter_join_date": DATE,
	},
	"tabSEPA Mandate": {
		**STANDARD, **OPTIONAL, "mandate_id": V, "member": V, "iban": V, "bic": V,
		"status": ("varchar(140)", "YES", "'Draft'"), "sign_date": DATE, "expiry_date": DATE,
		"is_active": ("int(1)", "NO", "0"),
	},
	"tabMember Payment": {
		**STANDARD, **OPTIONAL, "member": V, "amount": ("decimal(21,9)", "NO", "0.000000000"),
		"posting_date": DATE, "status": ("varchar(140)", "YES", "'Unpaid'"), "payment_method": V,
		"sepa_mandate": V, "reference": V,
	},
	"tabIndex Change Log": {
		**STANDARD, **OPTIONAL, "action": V, "outcome": V, "index_name": V, "reference_doctype": V,
		"table_name": V, "index_columns": ("text", "YES", None), "catalog": V,
		"created_by_tool": ("int(1)", "NO", "0"), "performed_by": V,
		"duration_ms": ("decimal(21,9)", "NO", "0.000000000"), "ddl": ("text", "YES", None),
		"before_measurement": ("longtext", "YES", None), "after_measurement": ("longtext", "YES", None),
		"error": ("text", "YES", None),
	},
	"tabPerformance Snapshot": {
		**STANDARD, **OPTIONAL, "timestamp": ("datetime(6)", "YES", None), "score": ("decimal(21,9)", "NO", "0.000000000"), "score_measured": ("int(1)", "NO", "0"),
		"missing_components": ("text", "YES", None), "activation_level": ("int(11)", "NO", "0"),
		"components": ("longtext", "YES", None), "metrics": ("longtext", "YES", None),
	},
	"tabPerformance Alert": {
		**STANDARD, **OPTIONAL, "metric": V, "status": ("varchar(140)", "YES", "'Open'"),
		"severity": ("varchar(140)", "YES", "'Warning'"), "value": ("decimal(21,9)", "NO", "0.000000000"), "threshold": ("decimal(21,9)", "NO", "0.000000000"),
		"first_seen": ("datetime(6)", "YES", None), "last_seen": ("datetime(6)", "YES", None), "resolved_at": ("datetime(6)", "YES", None), "breaches": ("int(11)", "NO", "0"),
		"message": ("text", "YES", None),
	},
	"tabCache Invalidation": {**STANDARD, **OPTIONAL, "payload": ("longtext", "YES", None)},  # JSON: longtext + json_valid
}  # fmt: skip

# index name -> (columns, unique)
EXPECTED_INDEXES = {
	"tabMember": {"PRIMARY": (("name",), True), "member_id": (("member_id",), True), "modified": (("modified",), False)},
	"tabChapter": {"PRIMARY": (("name",), True), "chapter_name": (("chapter_name",), True), "modified": (("modified",), False)},
	"tabChapter Member": {"PRIMARY": (("name",), True), "parent": (("parent",), False)},
	"tabSEPA Mandate": {"PRIMARY": (("name",), True), "mandate_id": (("mandate_id",), True), "modified": (("modified",), False)},
	"tabMember Payment": {"PRIMARY": (("name",), True), "modified": (("modified",), False)},
	"tabPerformance Snapshot": {"PRIMARY": (("name",), True), "modified": (("modified",), False)},
	"tabPerformance Alert": {"PRIMARY": (("name",), True), "modified": (("modified",), False)},
	"tabIndex Change Log": {"PRIMARY": (("name",), True), "modified": (("modified",), False)},
	"tabCache Invalidation": {"PRIMARY": (("name",), True), "modified": (("modified",), False)},
}  # fmt: skip


def _columns(db, table):
	rows = db.sql(
		"SELECT column_name, column_type, is_nullable, column_default FROM information_schema.columns "
		"WHERE table_schema=DATABASE() AND table_name=%s",
		(table,),
	)
	return {r[0]: (r[1], r[2], None if r[3] in (None, "NULL") else r[3]) for r in rows}


def _indexes(db, table):
	rows = db.sql(
		"SELECT index_name, column_name, non_unique FROM information_schema.statistics "
		"WHERE table_schema=DATABASE() AND table_name=%s ORDER BY index_name, seq_in_index",
		(table,),
	)
	out = {}
	for name, column, non_unique in rows:
		cols, _ = out.get(name, ((), True))
		out[name] = (cols + (column,), not non_unique)
	return out


@pytest.mark.parametrize("table", sorted(EXPECTED_COLUMNS))
def test_columns_types_and_defaults_match_frappe(scratch_db, table):
	assert _columns(scratch_db, table) == EXPECTED_COLUMNS[table]


@pytest.mark.parametrize("table", sorted(EXPECTED_INDEXES))
def test_indexes_match_frappe_and_no_performance_indexes_yet(scratch_db, table):
	assert _indexes(scratch_db, table) == EXPECTED_INDEXES[table]


def test_tables_use_innodb_dynamic_utf8mb4(scratch_db):
	rows = scratch_db.sql(
		"SELECT table_name, engine, row_format, table_collation FROM information_schema.tables "
		"WHERE table_schema=DATABASE()"
	)
	assert {r[0] for r in rows} == set(EXPECTED_COLUMNS)
	for _name, engine, row_format, collation in rows:
		assert (engine, row_format, collation) == ("InnoDB", "Dynamic", "utf8mb4_unicode_ci")


def test_create_is_idempotent_and_drop_existing_recreates(scratch_databases):
	db = scratch_databases.create("idem")
	assert create_app_tables(db) == []
	db.sql("INSERT INTO `tabChapter` (name, chapter_name) VALUES ('X', 'X')")
	db.commit()
	assert "tabChapter" in create_app_tables(db, drop_existing=True)
	assert db.sql("SELECT COUNT(*) FROM `tabChapter`")[0][0] == 0


def test_search_index_field_gets_an_index_named_after_it():
	meta = {
		"doctype": "DocType",
		"name": "Probe",
		"fields": [
			{"fieldname": "ref", "fieldtype": "Data", "search_index": 1},
			{"fieldname": "notes", "fieldtype": "Text", "search_index": 1},
			{"fieldname": "rows", "fieldtype": "Table", "options": "Probe Row"},
		],
	}
	sql = create_table_sql(meta)
	assert "index `ref`(`ref`)" in sql
	assert "`notes` text" in sql and "index `notes`" not in sql  # text columns get no index
	assert "`rows`" not in sql  # Table fields have no column


def test_bad_names_and_bad_files_are_refused(tmp_path):
	with pytest.raises(InvalidIdentifierError, match="not allowed"):
		create_table_sql({"name": "Bad`; DROP", "fields": []})
	bad = tmp_path / "x.json"
	bad.write_text('{"doctype": "Report"}')
	with pytest.raises(DocTypeDefinitionError, match="not a DocType"):
		load_doctype(bad)
	with pytest.raises(DocTypeDefinitionError, match="does not exist"):
		load_doctypes([tmp_path / "missing"])


def test_app_doctypes_are_valid_frappe_doctype_json():
	doctypes = load_doctypes()
	assert set(doctypes) == {
		"Member", "Chapter", "Chapter Member", "SEPA Mandate", "Member Payment", "Index Change Log",
		"Performance Snapshot", "Performance Alert", "Performance Settings", "Cache Invalidation",
	}  # fmt: skip
	for name, meta in doctypes.items():
		for key in ("doctype", "name", "module", "fields", "permissions", "autoname", "modified"):
			assert key in meta, f"{name} lacks {key}"
		assert meta["module"] == "Verenigingen"
		assert meta["field_order"] == [f["fieldname"] for f in meta["fields"]]
		if not meta.get("istable"):
			roles = {p["role"] for p in meta["permissions"]}
			if name == "Cache Invalidation":  # the cache's outbox: System Manager only, never created by hand
				assert roles == {"System Manager"} and meta["in_create"] == 1
				assert not any(p.get("create") or p.get("write") for p in meta["permissions"])
			else:
				assert roles == {"System Manager", "Verenigingen Administrator"}
	assert doctypes["Chapter Member"]["istable"] == 1
