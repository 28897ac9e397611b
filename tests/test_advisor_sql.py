"""The index advisor's SQL reading: tokenizer, statement splitting, the SELECT subset, shapes."""

import re
from decimal import Decimal

import pytest

from verenigingen.performance.exceptions import SQLSyntaxError, UnsupportedStatementError
from verenigingen.performance.indexes.advisor.query import ColumnRef, Predicate, parse_statement
from verenigingen.performance.indexes.advisor.tokens import IDENT, QIDENT, STRING, split_statements, tokenize
from verenigingen.performance.indexes.advisor.workload import read_workload_text


def test_tokens_keep_backticked_names_with_spaces_and_decode_literals():
	tokens = tokenize(
		"SELECT `tabSales Invoice`.`name` FROM `tabSales Invoice` "
		"WHERE a = 'it''s \\n' AND b = \"x\" AND c = -1.50 AND d = _utf8mb4'é' AND e = X'4142' -- trailing"
	)
	assert [t.value for t in tokens if t.kind == QIDENT] == ["tabSales Invoice", "name", "tabSales Invoice"]
	assert [t.value for t in tokens if t.kind == STRING] == ["it's \n", "x", "é"]
	assert Decimal("1.50") in [t.value for t in tokens]
	assert b"AB" in [t.value for t in tokens]
	assert tokens[-1].text == "X'4142'"  # the comment is gone
	assert tokenize("SELECT `a``b`")[1].value == "a`b"


@pytest.mark.parametrize(
	("sql", "message"),
	[
		("SELECT 'abc FROM t", "unterminated string at line 1, column 8"),
		("SELECT a\nFROM `t WHERE", "unterminated `identifier` at line 2, column 6"),
		("SELECT /* never closed", "unterminated /* comment"),
		("SELECT a FROM t WHERE b = {x}", "unexpected character '{'"),
	],
)
def test_tokenizer_names_what_is_wrong_and_where(sql, message):
	with pytest.raises(SQLSyntaxError, match=re.escape(message)):
		tokenize(sql)


def test_split_by_semicolon_or_by_line_and_survive_an_unterminated_quote():
	text = (
		"SELECT a FROM t WHERE x = 'multi\nline';\n"
		"SELECT b FROM t WHERE y = 'never closed;\n"
		"SELECT c FROM t\n"
		"  WHERE z IN (1,\n 2)\n"
		"SELECT d FROM t -- a comment; not a separator\n"
		"\n-- only a comment\n"
		"UPDATE t SET e = 1"
	)
	parts = split_statements(text)
	assert [p.text.split()[1] for p in parts] == ["a", "b", "c", "d", "t"]
	assert [p.line for p in parts] == [1, 3, 4, 7, 10]
	assert [p.number for p in parts] == [1, 2, 3, 4, 5]
	assert parts[0].text.endswith("'multi\nline'")  # a string may span lines
	assert parts[2].text == "SELECT c FROM t\n  WHERE z IN (1,\n 2)"


def test_shape_replaces_literals_and_collapses_in_lists():
	a = parse_statement(
		"select name from `tabX` where status = 'Open' and qty > 5 and item in ('a', 'b') limit 20"
	)
	b = parse_statement("SELECT name FROM tabX WHERE status='Paid' AND qty>7 AND item IN ('c') LIMIT 50")
	assert (
		a.shape
		== b.shape
		== "SELECT `name` FROM `tabX` WHERE `status` = ? AND `qty` > ? AND `item` IN (?+) LIMIT ?"
	)
	assert a.values == ("Open", 5, ("a", "b"), 20)
	assert a.template() == "select name from `tabX` where status = %s and qty > %s and item in %s limit %s"
	ordered = parse_statement("SELECT a, b FROM t GROUP BY 1 ORDER BY 2 DESC")
	assert ordered.values == () and ordered.shape.endswith("GROUP BY 1 ORDER BY 2 DESC")


def test_template_escapes_percent_and_swaps_tables_keeping_their_names():
	s = parse_statement(
		"SELECT a % 2 FROM `tabX` JOIN `tabY` y ON y.p = `tabX`.name WHERE `tabX`.b LIKE 'x%'"
	)
	assert (
		s.template() == "SELECT a %% %s FROM `tabX` JOIN `tabY` y ON y.p = `tabX`.name WHERE `tabX`.b LIKE %s"
	)
	moved = s.template({0: "`scratch`.`tabX`", 1: "`scratch`.`tabY`"}, {1: ["idx_p"]})
	assert moved.startswith(
		"SELECT a %% %s FROM `scratch`.`tabX` AS `tabX` JOIN `scratch`.`tabY` y IGNORE INDEX (`idx_p`) ON"
	)
	assert parse_statement("SELECT 'x%' FROM t").template() == "SELECT %s FROM t"


def test_parsed_select_reads_predicates_joins_order_group_and_aliases():
	s = parse_statement(
		"SELECT o.name, i.item_code, SUM(i.qty) AS total FROM `tabAdv Order` AS o "
		"LEFT JOIN `tabAdv Order Item` i ON i.parent = o.name AND i.docstatus = 1 "
		"WHERE o.customer IN ('a', 'b') AND o.posting_date BETWEEN '2024-01-01' AND '2024-02-01' "
		"AND (o.status = 'Open' AND o.company = 'A') AND o.remarks LIKE 'urgent%' AND o.title LIKE '%x' "
		"AND IFNULL(o.owner, '') = 'me' AND o.a = 1 OR o.b = 2 "
		"GROUP BY i.item_code ORDER BY o.posting_date DESC, o.name DESC LIMIT 10"
	).parsed
	assert [(t.name, t.alias) for t in s.tables] == [("tabAdv Order", "o"), ("tabAdv Order Item", "i")]
	# a top-level OR makes the whole WHERE one unusable condition; the ON clause still counts
	assert s.predicates == [
		Predicate("join", ColumnRef("i", "parent"), ColumnRef("o", "name")),
		Predicate("eq", ColumnRef("i", "docstatus"), slot=0),  # its value is the statement's first
	]
	assert any("OR is not analysed" in u for u in s.unusable)
	assert s.order_by == [(ColumnRef("o", "posting_date"), True), (ColumnRef("o", "name"), True)]
	assert s.group_by == [ColumnRef("i", "item_code")] and s.limit
	assert "total" in s.select_aliases


def test_sargable_and_unsargable_conditions():
	s = parse_statement(
		"SELECT * FROM t WHERE a = 1 AND 2 < b AND c IN (1, 2) AND d BETWEEN 1 AND 9 AND e LIKE 'ab%' "
		"AND f IS NULL AND g LIKE '%ab' AND h <> 3 AND IFNULL(i, 0) = 1 AND j NOT IN (1) AND k IS NOT NULL "
		"AND l = m AND n = (SELECT 1) AND DATE(p) = '2024-01-01' AND q >= NOW() - INTERVAL 7 DAY"
	).parsed
	kinds = {(p.kind, p.column.name) for p in s.predicates}
	assert kinds == {
		("eq", "a"), ("range", "b"), ("eq", "c"), ("range", "d"), ("range", "e"), ("eq", "f"), ("range", "q"),
		("join", "l"),  # l = m: two columns; whether of one table is for the schema to say
	}  # fmt: skip
	assert s.star == {None}
	why = " | ".join(s.unusable)
	for text in (
		"g LIKE '%ab'",
		"h <> 3",
		"IFNULL ( i , 0 ) = 1",
		"j NOT IN",
		"k IS NOT NULL",
		"subquery",
		"DATE ( p )",
	):
		assert text in why, text


@pytest.mark.parametrize(
	("sql", "error", "message"),
	[
		("SELECT a FROM t UNION SELECT a FROM u", UnsupportedStatementError, "UNION"),
		("SELECT a FROM (SELECT a FROM t) x", UnsupportedStatementError, "derived tables"),
		("SELECT a FROM t INTO OUTFILE '/tmp/x'", UnsupportedStatementError, "writes"),
		("SELECT a FROM t WHERE b = 1 FOR UPDATE", UnsupportedStatementError, "locks"),
		("SELECT SLEEP(5) FROM t", UnsupportedStatementError, "SLEEP"),
		("SELECT 1", UnsupportedStatementError, "no FROM"),
		("SELECT a FROM WHERE b = 1", SQLSyntaxError, "table name is missing"),
		("SELECT a FROM t WHERE (b = 1", SQLSyntaxError, "never closed"),
		("SELECT a FROM t WHERE b = 1)", SQLSyntaxError, "without its"),
		("SELECT a FROM t ORDER a", SQLSyntaxError, "ORDER without BY"),
		("SELECT FROM t", SQLSyntaxError, "without a select list"),
		("SELECT a FROM t WHERE", SQLSyntaxError, "WHERE without a condition"),
		("SELECT a FROM t JOIN", SQLSyntaxError, "table name is missing"),
	],
)
def test_statements_outside_the_subset_or_malformed_say_why(sql, error, message):
	with pytest.raises(error, match=message):
		parse_statement(sql)


def test_index_hints_and_frappe_style_qualified_names():
	s = parse_statement(
		"select `tabSales Invoice`.`name` from `tabSales Invoice` force index (posting_date) "
		"where `tabSales Invoice`.`docstatus` = 1 and `tabSales Invoice`.`company` = 'X' "
		"order by `tabSales Invoice`.`modified` desc limit 20 offset 0"
	).parsed
	assert [t.name for t in s.tables] == ["tabSales Invoice"]
	assert {p.column for p in s.predicates} == {
		ColumnRef("tabSales Invoice", "docstatus"),
		ColumnRef("tabSales Invoice", "company"),
	}
	assert s.notes == ["index hint FORCE INDEX on tabSales Invoice"]


def test_workload_counts_shapes_and_reports_each_bad_statement():
	w = read_workload_text(
		"SELECT a FROM t WHERE b = 1;\nSELECT a FROM t WHERE b = 2;\nSELECT a FROM t WHERE b = 'x' AND c = 3;\n"
		"SELECT a FROM WHERE;\nSELEC a FROM t;\nUPDATE t SET a = 1;\nINSERT INTO t VALUES (1);\n"
		"SELECT a FROM t WHERE b = ?;\nSELECT a FROM t UNION SELECT a FROM u;\n"
	)
	assert w.statements == 9
	assert sorted((s.key, s.count) for s in w.shapes) == [
		("SELECT `a` FROM `t` WHERE `b` = ?", 2),
		("SELECT `a` FROM `t` WHERE `b` = ? AND `c` = ?", 1),
	]
	described = [(p.kind, p.statement, p.count) for p in w.problems]
	assert ("malformed", 4, 1) in described and ("malformed", 5, 1) in described
	assert ("not analysed", 9, 1) in described
	assert ("not analysed", None, 1) in described  # the placeholder statement, counted
	assert any("INSERT statements" in p.error for p in w.problems)
	assert any("UPDATE statements" in p.error for p in w.problems)
	assert next(p for p in w.problems if p.statement == 5).error == "unknown statement 'SELEC'"
	shape = next(s for s in w.shapes if s.count == 2)
	assert shape.draw(5, seed=1) == shape.draw(5, seed=1) and set(shape.draw(20)) <= {(1,), (2,)}
	assert {t.kind for t in tokenize("SELECT x")} == {IDENT}
