"""The query profiler: recording, N+1 detection, EXPLAIN full scans, recommendations, and the
profile of what the app really runs for a member (its read model)."""

import pytest

from verenigingen.performance.exceptions import MemberNotFoundError
from verenigingen.performance.profiler import (
	ProfilingDatabase,
	QueryRecord,
	analyze,
	filtered_columns,
	find_full_scans,
	find_n_plus_one,
	n_plus_one_severity,
	normalize_sql,
	profile_member,
	recommend,
)


def test_normalize_sql_drops_literals_placeholders_and_in_list_lengths():
	a = normalize_sql("SELECT * FROM `tabMember`  WHERE name='M0000001' AND idx = 3")
	b = normalize_sql("select *\nfrom `tabMember` where name = 'M0000002' and idx=14")
	assert a.replace(" ", "") == b.replace(" ", "")
	assert "m0000001" not in a and "3" not in a
	assert normalize_sql("SELECT 1 FROM t WHERE a IN (%s, %s)") == normalize_sql(
		"SELECT 1 FROM t WHERE a IN (%s,%s,%s,%s)"
	)
	assert normalize_sql("SELECT * FROM t WHERE a=%(x)s") == normalize_sql("SELECT * FROM t WHERE a=%s")
	# different columns stay different
	assert normalize_sql("SELECT a FROM t WHERE b=1") != normalize_sql("SELECT a FROM t WHERE c=1")
	# digits inside identifiers are not literals
	assert "t2" in normalize_sql("SELECT * FROM t2 WHERE x=5")


def test_profiling_database_records_every_statement_with_rows(seeded_db):
	profiled = ProfilingDatabase(seeded_db)
	members = profiled.sql("SELECT name FROM `tabMember` ORDER BY name LIMIT 7")
	one = profiled.sql("SELECT * FROM `tabMember` WHERE name=%s", (members[0][0],), as_dict=True)
	assert len(profiled.records) == 2
	assert [r.rows for r in profiled.records] == [7, 1]
	assert profiled.records[1].values == (members[0][0],)
	assert all(r.seconds > 0 for r in profiled.records)
	assert profiled.total_seconds == pytest.approx(sum(r.seconds for r in profiled.records))
	assert one[0]["name"] == members[0][0]
	assert profiled.database_name == seeded_db.database_name


def _records(*sqls):
	return [QueryRecord(sql, None, 0.001, 1) for sql in sqls]


def test_n_plus_one_needs_more_than_three_repeats():
	three = _records(*[f"SELECT iban FROM m WHERE name='MD-{i}'" for i in range(3)])
	assert find_n_plus_one(three) == []
	four = _records(*[f"SELECT iban FROM m WHERE name='MD-{i}'" for i in range(4)], "SELECT 1 FROM x")
	found = find_n_plus_one(four)
	assert [(p.count, p.severity) for p in found] == [(4, "low")]
	assert found[0].total_ms == pytest.approx(4.0)


def test_n_plus_one_severity_grows_with_count():
	assert [n_plus_one_severity(n) for n in (4, 9, 10, 24, 25, 500)] == [
		"low",
		"low",
		"medium",
		"medium",
		"high",
		"high",
	]


def test_filtered_columns_reads_the_where_clause():
	sql = "SELECT a FROM `tabMember Payment` WHERE `member`=%s AND status IN (%s) ORDER BY posting_date"
	assert filtered_columns(sql) == ["member", "status"]
	assert filtered_columns("SELECT * FROM t") == []


def _member_with_sepa_payments(db, at_least=4):
	rows = db.sql(
		"SELECT member FROM `tabMember Payment` WHERE sepa_mandate IS NOT NULL AND sepa_mandate != '' "
		"GROUP BY member HAVING COUNT(*) >= %s ORDER BY member LIMIT 1",
		(at_least,),
	)
	assert rows, "the seeded association has members paying by direct debit"
	return rows[0][0]


def test_profile_member_profiles_the_read_model_the_api_serves(seeded_db):
	from verenigingen.performance.summaries import member_summary

	member = _member_with_sepa_payments(seeded_db)
	report = profile_member(seeded_db, member)
	assert report["profiled"] == ["member_summary"]
	assert report["summary"] == member_summary(seeded_db, member)  # what get_member_summary returns
	assert report["total_queries"] == 3 == sum(s["count"] for s in report["statements"])
	assert report["total_ms"] > 0
	assert report["n_plus_one"] == []  # the read model has none: no loop is planted to find one
	# without indexes on `member`, the payment and mandate lookups read their tables in full
	scanned = {s["table"] for s in report["full_scans"]}
	assert {"tabMember Payment", "tabSEPA Mandate"} <= scanned
	assert "tabMember" not in scanned  # by primary key
	assert {r["kind"] for r in report["recommendations"]} == {"index"}


def test_profile_member_rejects_unknown_and_empty_members(seeded_db):
	with pytest.raises(MemberNotFoundError, match="does not exist"):
		profile_member(seeded_db, "NO-SUCH-MEMBER")
	with pytest.raises(MemberNotFoundError, match="non-empty"):
		profile_member(seeded_db, "  ")


def test_analyze_reports_an_n_plus_one_in_recorded_statements(seeded_db):
	"""Statements recorded elsewhere (the shell records frappe.db.sql while the Member form loads)."""
	profiled = ProfilingDatabase(seeded_db)
	names = [r[0] for r in profiled.sql("SELECT name FROM `tabSEPA Mandate` ORDER BY name LIMIT 12")]
	for name in names:  # this test's own loop: one lookup per row
		profiled.sql("SELECT `iban` FROM `tabSEPA Mandate` WHERE `name`=%s", (name,))
	report = analyze(seeded_db, profiled.records, catalog=())
	assert report["total_queries"] == 13
	assert [(p["count"], p["severity"]) for p in report["n_plus_one"]] == [(12, "medium")]
	assert "batch" in {r["kind"] for r in report["recommendations"]}


def test_an_index_removes_the_full_scan_and_the_catalog_is_named(scratch_databases):
	from verenigingen.performance.dataset import generate_dataset

	db = scratch_databases.create("profiler")
	try:
		generate_dataset(db, members=120, seed=3, progress=False)
		member = _member_with_sepa_payments(db)
		catalog = [
			{
				"name": "member_payment_history",
				"doctype": "Member Payment",
				"columns": ("member", "posting_date"),
			}
		]
		before = profile_member(db, member, catalog=catalog)
		rec = [r for r in before["recommendations"] if r.get("table") == "tabMember Payment"]
		assert rec and rec[0]["catalog_index"] == "member_payment_history"
		assert "member_payment_history" in rec[0]["text"]
		no_catalog = [r for r in before["recommendations"] if r.get("table") == "tabSEPA Mandate"]
		assert no_catalog and no_catalog[0]["catalog_index"] is None and "member" in no_catalog[0]["columns"]

		db.ddl("ALTER TABLE `tabMember Payment` ADD INDEX member_payment_history (member, posting_date)")
		db.ddl("ANALYZE TABLE `tabMember Payment`")
		after = profile_member(db, member, catalog=catalog)
		assert "tabMember Payment" not in {s["table"] for s in after["full_scans"]}
		assert after["summary"] == before["summary"]
	finally:
		db.close()


def test_full_scans_ignore_statements_that_are_not_selects(seeded_db):
	records = [QueryRecord("UPDATE `tabMember` SET idx=idx WHERE 1=0", None, 0.0, 0)]
	assert find_full_scans(seeded_db, records) == []
	assert recommend([], []) == []
