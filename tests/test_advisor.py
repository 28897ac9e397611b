"""The index advisor on real MariaDB, with a schema and a workload the tests make up.

The seeded tables hold 25,000 orders and 30,000 order items (the 2x rule on samples of that
size; the 10x on a million rows is the benchmark's, benchmarks/bench_advisor.py).
"""

import json

import pytest

from tests.advisor_schema import BROKEN, DBA_SHAPES, OTHER, SERVED_SHAPES, SMALL_SHAPES, UNINDEXABLE_SHAPES
from tests.advisor_schema import seed as seed_tables
from tests.advisor_schema import workload as make_workload
from verenigingen.performance.exceptions import WorkloadSourceError
from verenigingen.performance.indexes.advisor import (
	AdvisorSettings,
	advise,
	read_slow_log,
	read_workload_text,
	render_text,
)
from verenigingen.performance.indexes.advisor.query import parse_statement

SIZES = {"orders": 25_000, "items": 30_000, "customers": 2_500, "countries": 200}
SETTINGS = AdvisorSettings(runs=5, seed=3)


def _indexes(db) -> dict:
	rows = db.sql(
		"SELECT table_name, index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index) "
		"FROM information_schema.statistics WHERE table_schema=DATABASE() GROUP BY table_name, index_name"
	)
	return {(t, i): tuple(c.split(",")) for t, i, c in rows}


def _scratch_databases(db) -> set[str]:
	return {
		r[0]
		for r in db.sql(
			"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'vadv\\_scratch\\_%'"
		)
	}


def _key(template: str) -> str:
	"""The shape of a workload template (literals filled with anything)."""
	filled = template.format(
		customer="x",
		status="x",
		day="2024-01-01",
		day_end="2024-01-02",
		warehouse="x",
		company="x",
		order="x",
		k=1,
		k3=1,
	)
	return parse_statement(filled).shape


@pytest.fixture(scope="module")
def shop(scratch_databases):
	db = scratch_databases.create("advisor", with_tables=False)
	seed_tables(db, **SIZES)
	yield db
	db.rollback()
	db.close()


@pytest.fixture(scope="module")
def advice(shop):
	indexes_before = _indexes(shop)
	scratch_before = _scratch_databases(shop)
	text = ";\n".join(make_workload(SIZES, statements=180)) + ";\n"
	result = advise(shop, read_workload_text(text, "made-up workload"), SETTINGS)
	assert _indexes(shop) == indexes_before  # the advisor only ever reads the site's tables
	assert _scratch_databases(shop) == scratch_before  # and leaves no scratch database behind
	return result


def _shape(report, template):
	key = _key(template)
	return next(s for s in report["shapes"] if s["shape"] == key)


def test_every_shape_a_dba_would_index_gets_a_proven_suggestion(advice):
	report = advice.report
	json.dumps(report)  # plain data
	by_name = {s["name"]: s for s in report["suggestions"]}
	for label, template in DBA_SHAPES.items():
		shape = _shape(report, template)
		assert shape["status"] == "suggested", (label, shape["detail"])
		for name in shape["suggestions"]:
			evidence = next(e for e in by_name[name]["shapes"] if e["id"] == shape["id"])
			assert evidence["speedup"] >= 2, (label, evidence)
			assert evidence["after"]["p50_ms"] < evidence["before"]["p50_ms"]
			assert evidence["after"]["plan"][evidence["label"]]["key"] == name  # ANALYZE shows it in use
	for s in report["suggestions"]:
		assert s["ddl"].startswith(f"ALTER TABLE `{s['table']}` ADD INDEX `{s['name']}`")
		assert s["ddl"].endswith("ALGORITHM=INPLACE, LOCK=NONE")
		assert s["estimated_size_bytes"] and s["estimated_size_bytes"] > 100_000
		assert 0 < s["share"] <= 1


def test_what_a_dba_would_write(advice):
	report = advice.report
	by_name = {s["name"]: s for s in report["suggestions"]}

	def columns_for(label):
		shape = _shape(report, DBA_SHAPES[label])
		return [tuple(by_name[n]["columns"]) for n in shape["suggestions"]], [
			by_name[n] for n in shape["suggestions"]
		]

	# equality, then ORDER BY: one index serves the customer lookup and the latest-orders page
	lookup, _ = columns_for("customer orders")
	latest, _ = columns_for("latest orders of a customer")
	assert latest[0][:2] == ("customer", "posting_date")
	assert lookup == latest
	# equality first, then the range
	ranged, _ = columns_for("open orders in a month")
	assert ranged[0][:2] == ("status", "posting_date")
	# the join: the order items reached through their parent
	joined, rows = columns_for("items of a customer's orders")
	assert any(
		cols[0] == "parent" and r["table"] == "tabAdv Order Item"
		for cols, r in zip(joined, rows, strict=True)
	)
	# the covering case: an eighth of the table matches; a plain (company, docstatus) index would
	# look up every one of those rows, the covering one reads the index alone
	covering, rows = columns_for("sales of a company (covering)")
	assert covering == [("company", "docstatus", "grand_total")] and rows[0]["covering"]
	rejected = {(r["table"], tuple(r["columns"])) for r in report["rejected"]}
	assert ("tabAdv Order", ("company", "docstatus")) in rejected


def test_no_suggestion_for_served_small_or_unindexable_shapes(advice):
	report = advice.report
	order = _shape(report, SERVED_SHAPES["order by name"])
	assert (order["status"], order["detail"]) == ("served", "already served by existing index PRIMARY")
	email = _shape(report, SERVED_SHAPES["customer by email"])
	assert email["status"] == "served" and "idx_email" in email["detail"]
	small = _shape(report, SMALL_SHAPES["country currency"])
	assert small["status"] == "too small" and "200 rows (< 1,000)" in small["detail"]
	function = _shape(report, UNINDEXABLE_SHAPES["orders by company, through a function"])
	assert function["status"] == "no index" and "an expression on the column" in function["detail"]
	suggested_tables = {s["table"] for s in report["suggestions"]}
	assert suggested_tables <= {"tabAdv Order", "tabAdv Order Item"}
	for s in report["suggestions"]:
		assert not any(e["id"] in (order["id"], email["id"], small["id"]) for e in s["shapes"])


def test_bad_statements_are_reported_one_by_one_and_skipped(advice):
	w = advice.report["workload"]
	assert w["statements"] == 180 + len(BROKEN) + len(OTHER)
	assert w["analysed_statements"] == 180
	problems = w["problems"]
	first = 181  # the broken ones follow the 180 good statements
	by_number = {p["statement"]: p for p in problems if p["statement"]}
	assert by_number[first]["kind"] == "malformed" and "table name is missing" in by_number[first]["error"]
	assert "unterminated string" in by_number[first + 1]["error"]
	assert by_number[first + 2]["error"] == "unknown statement 'SELEC'"
	server = next(p for p in problems if p["kind"] == "rejected by the server")
	assert "no_such_column" in server["error"] and server["line"] == first + 3
	assert any(p["kind"] == "not analysed" and "UPDATE statements" in p["error"] for p in problems)
	text = render_text(advice.report)
	assert f"statement {first} (line {first}) malformed" in text


def test_unused_and_redundant_indexes_are_listed_never_dropped(advice, shop):
	report = advice.report
	unused = {(u["table"], u["index"]) for u in report["unused_indexes"]}
	assert ("tabAdv Customer", "idx_city") in unused
	assert ("tabAdv Customer", "idx_email") not in unused  # the email lookup uses it
	assert not any(i == "PRIMARY" for _, i in unused)
	[redundant] = report["redundant_indexes"]
	assert (redundant["index"], redundant["covered_by"]) == ("idx_email", "idx_email_group")
	assert ("tabAdv Customer", "idx_city") in _indexes(shop)
	assert report["scratch"]["kind"] == "database" and report["scratch"]["dropped"]
	assert set(report["scratch"]["tables"]) == {"tabAdv Order", "tabAdv Order Item"}


def test_the_scratch_database_is_dropped_when_the_proof_fails(shop, monkeypatch):
	from verenigingen.performance.indexes.advisor import proof

	before = _scratch_databases(shop)

	def broken(self, *args, **kwargs):
		raise RuntimeError("the machine caught fire")

	monkeypatch.setattr(proof, "choose", broken)
	monkeypatch.setattr("verenigingen.performance.indexes.advisor.pipeline.choose", broken)
	workload = read_workload_text(DBA_SHAPES["customer orders"].format(customer="CUST-000001"))
	with pytest.raises(RuntimeError, match="caught fire"):
		advise(shop, workload, AdvisorSettings(runs=1))
	assert _scratch_databases(shop) == before


def test_a_slow_log_table_weighs_shapes_by_logged_time(shop, scratch_databases):
	"""The real mysql.slow_log is the server's to fill (this test never changes a global setting):
	a table of the same layout stands in for it."""
	log = scratch_databases.create("slowlog", with_tables=False)
	log.ddl("CREATE TABLE slow_log LIKE mysql.slow_log")
	log.ddl("ALTER TABLE slow_log ENGINE=InnoDB")
	rows = [
		("SELECT name FROM `tabAdv Order` WHERE customer = 'CUST-000001'", "00:00:02.500000"),
		("SELECT name FROM `tabAdv Order` WHERE customer = 'CUST-000002'", "00:00:01.500000"),
		("SELECT currency FROM `tabAdv Country` WHERE code = 'C001'", "00:00:00.250000"),
		("SELECT broken FROM", "00:00:09"),
	]
	for text, seconds in rows:
		log.sql(
			"INSERT INTO slow_log (start_time, user_host, query_time, lock_time, rows_sent, rows_examined, db, "
			"last_insert_id, insert_id, server_id, sql_text, thread_id, rows_affected) "
			"VALUES (NOW(), 'u', %s, '00:00:00', 1, 1, %s, 0, 0, 1, %s, 1, 0)",
			(seconds, shop.database_name, text),
		)
	log.commit()
	workload = read_slow_log(shop, since_minutes=60, table=f"{log.database_name}.slow_log")
	assert workload.from_slow_log and workload.statements == 4
	shapes = {s.key: s for s in workload.shapes}
	customer = shapes["SELECT `name` FROM `tabAdv Order` WHERE `customer` = ?"]
	assert customer.count == 2 and customer.logged_ms == pytest.approx(4000)
	assert [p.kind for p in workload.problems] == ["malformed"]


def test_the_real_slow_log_explains_how_to_turn_it_on(shop):
	settings = shop.sql("SELECT @@global.log_output, @@global.slow_query_log")[0]
	if "TABLE" in str(settings[0]).upper() and int(settings[1]):
		pytest.skip("this server writes its slow log to mysql.slow_log")
	with pytest.raises(
		WorkloadSourceError,
		match="SET GLOBAL log_output='FILE,TABLE'.*never changes server settings|never changes server settings",
	):
		read_slow_log(shop, since_minutes=5)
	after = shop.sql("SELECT @@global.log_output, @@global.slow_query_log")[0]
	assert after == settings


def test_settings_are_checked():
	with pytest.raises(ValueError, match="runs must be a positive integer"):
		AdvisorSettings(runs=0)
	with pytest.raises(ValueError, match="min_speedup must be above 1"):
		AdvisorSettings(min_speedup=1)


def test_a_sample_holds_the_workloads_rows_and_the_rows_joined_to_them(shop):
	from verenigingen.performance.indexes.advisor.scratch import ScratchSpace

	order_cols = [
		r[0]
		for r in shop.sql(
			"SELECT column_name FROM information_schema.columns WHERE table_schema=DATABASE() AND table_name='tabAdv Order' ORDER BY ordinal_position"
		)
	]
	item_cols = [
		r[0]
		for r in shop.sql(
			"SELECT column_name FROM information_schema.columns WHERE table_schema=DATABASE() AND table_name='tabAdv Order Item' ORDER BY ordinal_position"
		)
	]
	wanted = ["CUST-000007", "CUST-000011"]
	theirs = {
		r[0] for r in shop.sql("SELECT name FROM `tabAdv Order` WHERE customer IN %s", (tuple(wanted),))
	}
	assert theirs
	with ScratchSpace(shop) as scratch:
		copied = scratch.copy(
			"tabAdv Order", order_cols, rows=SIZES["orders"], limit=2_000, seed=1, seeds={"customer": wanted}
		)
		items = scratch.copy(
			"tabAdv Order Item",
			item_cols,
			rows=SIZES["items"],
			limit=2_000,
			seed=1,
			joins=[("parent", "tabAdv Order", "name")],
		)
		assert 1_500 <= copied <= 2_000 and 1_500 <= items <= 2_000
		orders_ref, items_ref = scratch.copies["tabAdv Order"], scratch.copies["tabAdv Order Item"]
		in_copy = {
			r[0] for r in shop.sql(f"SELECT name FROM {orders_ref} WHERE customer IN %s", (tuple(wanted),))
		}
		assert in_copy == theirs  # every row the workload asks for
		orphans = shop.sql(
			f"SELECT COUNT(*) FROM {items_ref} i WHERE i.parent NOT IN (SELECT name FROM {orders_ref})"
		)[0][0]
		joined = shop.sql(
			f"SELECT COUNT(*) FROM {items_ref} i WHERE i.parent IN (SELECT name FROM {orders_ref})"
		)[0][0]
		assert joined > orphans  # items follow the copied orders, the rest is the random fill
		their_items = shop.sql(
			"SELECT COUNT(*) FROM `tabAdv Order Item` WHERE parent IN %s", (tuple(theirs),)
		)[0][0]
		copied_items = shop.sql(f"SELECT COUNT(*) FROM {items_ref} WHERE parent IN %s", (tuple(theirs),))[0][
			0
		]
		assert copied_items == their_items  # every item of the workload's orders
		assert {r[0] for r in shop.sql(f"SHOW INDEX FROM {orders_ref}")} == {
			"tabAdv Order"
		}  # same indexes (only the PK)
		name = scratch.name
	assert not shop.sql("SELECT 1 FROM information_schema.schemata WHERE schema_name=%s", (name,))
