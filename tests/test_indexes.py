"""The index manager on real MariaDB with generated data."""

import threading
import time

import pytest

from verenigingen.performance.dataset import generate_dataset
from verenigingen.performance.exceptions import (
	IndexApplyError,
	IndexConflictError,
	InvalidIdentifierError,
	InvalidIndexSpecError,
	OnlineDDLUnsupportedError,
	PendingWritesError,
	UnknownCatalogError,
	UnknownColumnError,
	UnknownDocTypeError,
)
from verenigingen.performance.indexes import ChangeLog, IndexManager, IndexSpec, Probe, catalog, compare
from verenigingen.performance.indexes.catalog import (
	MANDATE_EXPIRY,
	MEMBER_EMAIL,
	PAYMENT_HISTORY,
	SALES_INVOICE_CUSTOMER,
	SEPA_BATCH,
)


def _indexes(db, table):
	rows = db.sql(
		"SELECT index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index) FROM information_schema.statistics "
		"WHERE table_schema=DATABASE() AND table_name=%s GROUP BY index_name",
		(table,),
	)
	return {name: tuple(cols.split(",")) for name, cols in rows}


def _all_indexes(db):
	tables = [r[0] for r in db.sql("SHOW TABLES")]
	return {t: _indexes(db, t) for t in tables}


@pytest.fixture
def fresh(scratch_databases):
	"""A factory of fresh databases with the app's tables, seeded with ``members`` if given."""
	handles = []

	def make(label: str = "idx", members: int = 0):
		handle = scratch_databases.create(label)
		handles.append(handle)
		if members:
			generate_dataset(handle, members=members, seed=11, progress=False)
		return handle

	yield make
	for handle in handles:
		handle.rollback()
		handle.close()


class RecordingDatabase:
	"""The real database, with every statement recorded (to prove which SQL ran)."""

	def __init__(self, db):
		self._db = db
		self.statements: list[str] = []

	@property
	def database_name(self):
		return self._db.database_name

	def sql(self, query, values=None, *, as_dict=False):
		self.statements.append(query)
		return self._db.sql(query, values, as_dict=as_dict)

	def sql_many(self, query, rows):
		self.statements.append(query)
		return self._db.sql_many(query, rows)

	def ddl(self, query):
		self.statements.append(query)
		return self._db.ddl(query)

	def commit(self):
		self._db.commit()

	def rollback(self):
		self._db.rollback()

	def ddl_run(self) -> list[str]:
		return [s for s in self.statements if s.lstrip().upper().startswith(("ALTER", "DROP", "CREATE"))]


# ---------------------------------------------------------------- specs and catalogs


@pytest.mark.parametrize(
	("kwargs", "error", "match"),
	[
		({"name": "idx`x"}, InvalidIdentifierError, "index name"),
		({"doctype": "Member`; DROP TABLE x"}, InvalidIdentifierError, "table"),
		({"columns": ("member", "a;b")}, InvalidIdentifierError, "column"),
		({"columns": ()}, InvalidIndexSpecError, "at least one column"),
		({"columns": ("member", "member")}, InvalidIndexSpecError, "twice"),
		({"purpose": " "}, InvalidIndexSpecError, "purpose"),
		({"name": "PRIMARY"}, InvalidIndexSpecError, "PRIMARY"),
	],
)
def test_bad_specs_are_refused_with_a_clear_error(kwargs, error, match):
	base = {"name": "idx_ok", "doctype": "Member Payment", "columns": ("member",), "purpose": "p"}
	with pytest.raises(error, match=match):
		IndexSpec(**{**base, **kwargs})


def test_probe_needs_parameters_and_a_sample_limit():
	with pytest.raises(InvalidIndexSpecError, match="parameters"):
		Probe("SELECT 1 FROM `tabMember`", "SELECT name FROM `tabMember` LIMIT %s")
	with pytest.raises(InvalidIndexSpecError, match="row limit"):
		Probe("SELECT 1 FROM `tabMember` WHERE name=%s", "SELECT name FROM `tabMember`")


def test_catalogs_hold_the_issue_specs():
	perf = {(s.doctype, s.columns) for s in catalog("performance")}
	assert ("Member Payment", ("member", "posting_date")) in perf
	assert ("SEPA Mandate", ("member", "status")) in perf
	assert ("Chapter Member", ("member", "enabled")) in perf
	assert ("Member", ("email", "status")) in perf
	assert {s.doctype for s in catalog("performance") if s.is_foreign} == {"Sales Invoice", "Payment Entry"}
	sepa = {(s.doctype, s.columns) for s in catalog("sepa")}
	assert sepa == {
		("Member Payment", ("status", "payment_method", "posting_date")),
		("SEPA Mandate", ("status", "expiry_date")),
	}
	tracking = {(s.doctype, s.columns) for s in catalog("monitoring")}
	assert tracking == {
		("Performance Snapshot", ("timestamp", "score")),
		("Performance Alert", ("metric", "status")),
	}
	assert all(len(s.columns) > 1 for s in catalog("monitoring"))  # composite: survives bench migrate
	assert len(catalog("all")) == sum(len(catalog(n)) for n in ("performance", "sepa", "monitoring"))
	with pytest.raises(UnknownCatalogError, match="unknown index catalog 'fast'"):
		catalog("fast")


# ---------------------------------------------------------------- input safety


def test_bad_identifiers_and_unknown_doctypes_are_refused_without_running_sql(fresh):
	rec = RecordingDatabase(fresh("safety"))
	manager = IndexManager(rec)
	with pytest.raises(InvalidIdentifierError):
		manager.inspect("Member`; DROP TABLE `tabMember")
	with pytest.raises(InvalidIdentifierError):
		manager.rollback(["idx`; DROP"])
	assert rec.statements == []  # refused before any SQL at all
	with pytest.raises(UnknownDocTypeError, match="'No Such Thing' has no table"):
		manager.inspect("No Such Thing")
	with pytest.raises(UnknownColumnError, match="no column.*shoe_size"):
		manager.check_columns("Member", ["email", "shoe_size"])
	spec = IndexSpec("idx_shoe", "Member", ("shoe_size",), "a column that does not exist")
	with pytest.raises(IndexConflictError, match="shoe_size"):
		manager.apply(manager.plan([spec]))
	# Only catalog look-ups ran, with the names as parameters; no DDL, no name spelled into SQL.
	assert rec.ddl_run() == []
	assert not any("No Such Thing" in s or "shoe_size" in s for s in rec.statements)


# ---------------------------------------------------------------- plan


def test_plan_compares_columns_and_a_conflict_changes_nothing(fresh):
	db = fresh("plan")
	db.ddl(
		"ALTER TABLE `tabMember Payment` ADD INDEX `by_member_day_amount` (`member`, `posting_date`, `amount`)"
	)
	db.ddl("ALTER TABLE `tabSEPA Mandate` ADD INDEX `idx_mandate_member_status` (`iban`)")
	manager = IndexManager(db)
	plan = manager.plan(catalog("all"))
	by_name = {i.spec.name: i for i in plan.items}
	assert by_name["idx_payment_member_date"].action == "present"
	assert by_name["idx_payment_member_date"].existing_index == "by_member_day_amount"
	assert by_name["idx_mandate_member_status"].action == "conflict"
	assert "(iban)" in by_name["idx_mandate_member_status"].reason
	assert by_name["idx_sinv_customer_date"].action == "missing_table"
	assert "erpnext" in by_name["idx_sinv_customer_date"].reason
	assert by_name["idx_payment_sepa_batch"].action == "create"
	before = _all_indexes(db)
	with pytest.raises(IndexConflictError, match="nothing was changed"):
		manager.apply(plan)
	assert _all_indexes(db) == before
	assert "tabIndex Change Log" in before  # the log table exists, but holds nothing
	assert ChangeLog(db).entries() == []


def test_dry_run_changes_nothing(fresh):
	db = fresh("dry")
	manager = IndexManager(db)
	before = _all_indexes(db)
	outcomes = manager.apply(manager.plan(catalog("sepa")), dry_run=True)
	assert [o.action for o in outcomes] == ["would create", "would create"]
	assert all("ALGORITHM=INPLACE, LOCK=NONE" in o.ddl for o in outcomes)
	assert _all_indexes(db) == before


# ---------------------------------------------------------------- apply, verify, rollback


def test_apply_twice_uses_the_indexes_and_rollback_removes_only_the_tools(fresh):
	db = fresh("apply", members=1500)
	db.ddl("ALTER TABLE `tabMember` ADD INDEX `mine_by_region` (`primary_chapter`, `status`)")
	manager = IndexManager(db, user="ops@example.org")
	specs = catalog("all")
	status_before = manager.status(specs)
	assert status_before["healthy"] is False and status_before["counts"]["missing"] == 8
	progress = []
	outcomes = manager.apply(manager.plan(specs), progress=lambda *a: progress.append(a), measure_repeats=3)
	created = [o for o in outcomes if o.action == "created"]
	assert {o.index for o in created} == {s.name for s in specs if not s.is_foreign}
	assert {o.index for o in outcomes if o.action == "skipped"} == {
		"idx_sinv_customer_date",
		"idx_pe_party_date",
	}
	for outcome in created:
		if outcome.index in {s.name for s in catalog("monitoring")}:
			# the monitoring tables are empty here: nothing to draw probe values from, nothing claimed
			assert (
				outcome.before.p50_ms is None
				and outcome.before.note == "no rows to draw probe parameters from"
			)
			continue
		assert outcome.before.p50_ms > 0 and outcome.after.p50_ms > 0
		assert outcome.before.key is None and outcome.after.key == outcome.index
		assert outcome.ddl.endswith("ALGORITHM=INPLACE, LOCK=NONE") and not outcome.locking
	assert progress[-1][2] == 1.0 and progress[-1][1] == len(created)
	for spec in specs:
		if spec.is_foreign or spec.catalog == "monitoring":  # empty here; see the test below
			continue
		result = manager.verify(spec)
		assert result.present and result.uses_index, result
	entries = ChangeLog(db).entries()
	assert len(entries) == len(created)
	assert {e.performed_by for e in entries} == {"ops@example.org"}
	assert all(e.action == "Apply" and e.outcome == "Success" and e.created_by_tool for e in entries)
	tracking = {s.name for s in catalog("monitoring")}
	assert all(
		e.before_measurement["p50_ms"] > 0 and e.after_measurement["key"] == e.index_name
		for e in entries
		if e.index_name not in tracking
	)
	assert manager.status(specs)["healthy"] is True

	again = manager.apply(manager.plan(specs))
	assert {o.action for o in again} == {"skipped"}
	assert len(ChangeLog(db).entries()) == len(created)  # a no-op logs nothing

	dropped = manager.rollback()
	assert {o.index for o in dropped if o.action == "dropped"} == {o.index for o in created}
	after = _all_indexes(db)
	assert after["tabMember"]["mine_by_region"] == ("primary_chapter", "status")  # not the tool's: kept
	for outcome in created:
		assert outcome.index not in after[outcome.table]
	assert manager.rollback() == []  # nothing of the tool's is left
	assert [e.action for e in ChangeLog(db).entries()].count("Rollback") == len(created)


def test_rollback_refuses_unknown_names_and_leaves_changed_indexes(fresh):
	db = fresh("rb")
	manager = IndexManager(db)
	manager.apply(manager.plan([SEPA_BATCH]), measure_repeats=0)
	with pytest.raises(UnknownColumnError, match="no index mine created by this tool"):
		manager.rollback(["mine"])
	# Someone replaced the tool's index with one on other columns: rollback leaves it alone.
	db.ddl("ALTER TABLE `tabMember Payment` DROP INDEX `idx_payment_sepa_batch`")
	db.ddl("ALTER TABLE `tabMember Payment` ADD INDEX `idx_payment_sepa_batch` (`reference`)")
	outcomes = manager.rollback(["idx_payment_sepa_batch"])
	assert [o.action for o in outcomes] == ["skipped"]
	assert _indexes(db, "tabMember Payment")["idx_payment_sepa_batch"] == ("reference",)
	assert manager.rollback() == []  # no longer the tool's: not tried again
	assert _indexes(db, "tabMember Payment")["idx_payment_sepa_batch"] == ("reference",)


def test_specs_of_other_apps_apply_where_their_tables_exist(fresh):
	db = fresh("erp")
	db.ddl(
		"CREATE TABLE `tabSales Invoice` (name varchar(140) primary key, customer varchar(140), "
		"posting_date date, INDEX customer(customer)) ENGINE=InnoDB"
	)
	manager = IndexManager(db)
	plan = manager.plan(catalog("performance"))
	actions = {i.spec.name: i.action for i in plan.items}
	assert actions["idx_sinv_customer_date"] == "create"  # customer alone does not lead with both
	assert actions["idx_pe_party_date"] == "missing_table"
	manager.apply(manager.plan([SALES_INVOICE_CUSTOMER]), measure_repeats=0)
	assert _indexes(db, "tabSales Invoice")["idx_sinv_customer_date"] == ("customer", "posting_date")


def test_offline_only_table_stops_the_apply_and_leaves_no_partial_state(fresh):
	db = fresh("myisam")
	db.ddl(
		"CREATE TABLE `tabLegacy Ledger` (name varchar(140) primary key, member varchar(140), posting_date date) ENGINE=MyISAM"
	)
	legacy = IndexSpec(
		"idx_legacy_member", "Legacy Ledger", ("member", "posting_date"), "legacy lookups", app="legacy"
	)
	manager = IndexManager(db)
	before = _all_indexes(db)
	with pytest.raises(OnlineDDLUnsupportedError, match="allow_locking"):
		manager.apply(manager.plan([PAYMENT_HISTORY, legacy]), measure_repeats=0)
	assert _all_indexes(db) == before  # the payment index it had added was dropped again
	log = [(e.action, e.outcome, e.index_name) for e in ChangeLog(db).entries()]
	assert ("Apply", "Failed", "idx_legacy_member") in log
	assert ("Rollback", "Success", "idx_payment_member_date") in log
	outcomes = manager.apply(manager.plan([legacy]), allow_locking=True, measure_repeats=0)
	assert outcomes[0].action == "created" and outcomes[0].locking
	assert "LOCK=NONE" not in outcomes[0].ddl
	assert _indexes(db, "tabLegacy Ledger")["idx_legacy_member"] == ("member", "posting_date")


def test_failed_ddl_raises_and_drops_what_the_apply_added(fresh):
	db = fresh("fail")
	# Another session holds the table's metadata lock in an open transaction: the DDL times out.
	holder = db.clone()
	holder.sql("SELECT COUNT(*) FROM `tabSEPA Mandate`")
	holder_id = holder.connection.thread_id()
	manager = IndexManager(db, lock_wait_timeout=1)
	try:
		with pytest.raises(IndexApplyError, match="idx_mandate_status_expiry.*1 index.*dropped again"):
			manager.apply(manager.plan([MEMBER_EMAIL, MANDATE_EXPIRY]), measure_repeats=0)
	finally:
		holder.rollback()
		holder.close()
	assert "idx_member_email_status" not in _indexes(db, "tabMember")
	assert "idx_mandate_status_expiry" not in _indexes(db, "tabSEPA Mandate")
	failed = [e for e in ChangeLog(db).entries() if e.outcome == "Failed"]
	assert [e.index_name for e in failed] == ["idx_mandate_status_expiry"]
	assert "metadata lock" in failed[0].error and f"connection {holder_id} " in failed[0].error


def _claims(db) -> set:
	"""The indexes the change log says this tool created and still owns."""
	return {(e.table_name, e.index_name) for e in ChangeLog(db).tool_created()}


def test_an_interrupt_between_indexes_drops_what_the_apply_added_and_keeps_the_log_true(fresh):
	db = fresh("interrupt")
	manager = IndexManager(db)
	calls = []

	def progress(step, steps, fraction, label):
		calls.append((step, fraction))
		if step == 1 and fraction == 0.0:
			raise KeyboardInterrupt  # Ctrl-C reaching Python between the first index and the second

	with pytest.raises(KeyboardInterrupt):
		manager.apply(manager.plan([MEMBER_EMAIL, MANDATE_EXPIRY]), progress=progress, measure_repeats=0)
	assert (0, 1.0) in calls  # the first index was added before the interrupt
	assert "idx_member_email_status" not in _indexes(db, "tabMember")
	assert "idx_mandate_status_expiry" not in _indexes(db, "tabSEPA Mandate")
	assert _claims(db) == set()
	log = [(e.action, e.outcome, e.index_name) for e in ChangeLog(db).entries()]
	assert log == [
		("Apply", "Success", "idx_member_email_status"),
		("Apply", "Failed", "idx_mandate_status_expiry"),
		("Rollback", "Success", "idx_member_email_status"),
	]


def test_a_failure_after_the_ddl_drops_the_new_index_so_no_index_is_left_unlogged(fresh):
	db = fresh("after", members=30)
	manager = IndexManager(db)
	real_measure = manager.measure
	measured = []

	def measure(spec, repeats=5, *, seed=0):
		measured.append(spec.name)
		if len(measured) == 2:  # the measurement after the DDL
			raise RuntimeError("probe failed after the index was added")
		return real_measure(spec, repeats, seed=seed)

	manager.measure = measure
	with pytest.raises(IndexApplyError, match="stopped after adding idx_member_email_status.*1 index"):
		manager.apply(manager.plan([MEMBER_EMAIL]), measure_repeats=2)
	assert "idx_member_email_status" not in _indexes(db, "tabMember")
	assert _claims(db) == set()
	log = [(e.action, e.outcome) for e in ChangeLog(db).entries()]
	assert log == [("Rollback", "Success")]


def test_ddl_is_refused_while_writes_are_pending(fresh):
	db = fresh("pending")
	db.sql("INSERT INTO `tabChapter` (name, chapter_name) VALUES ('Pending', 'Pending')")
	manager = IndexManager(db)
	with pytest.raises(PendingWritesError, match="uncommitted writes"):
		manager.apply(manager.plan([MEMBER_EMAIL]))
	db.rollback()
	assert "idx_member_email_status" not in _indexes(db, "tabMember")
	assert db.sql("SELECT COUNT(*) FROM `tabChapter`")[0][0] == 0  # the pending write was not committed


# ---------------------------------------------------------------- measure


def test_measure_reports_percentiles_plan_and_says_when_a_table_is_too_small(fresh):
	db = fresh("measure", members=1500)
	manager = IndexManager(db)
	payments = db.sql("SELECT COUNT(*) FROM `tabMember Payment`")[0][0]
	m = manager.measure(PAYMENT_HISTORY, 6)
	assert m.runs == 6 and m.table_rows == payments and payments >= 10_000
	assert 0 < m.p50_ms <= m.p95_ms
	assert m.access_type == "ALL" and m.key is None and m.rows_estimated > 0
	assert m.note is None
	small = manager.measure(MEMBER_EMAIL, 3)
	assert small.table_rows == 1500 and "too small" in small.note
	assert compare(small, small)["speedup"] is None and "too small" in compare(small, small)["note"]
	assert compare(m, m)["speedup"] == pytest.approx(1.0)
	empty = IndexManager(fresh("empty")).measure(PAYMENT_HISTORY, 3)
	assert empty.runs == 0 and empty.p50_ms is None and "no rows" in empty.note
	with pytest.raises(ValueError, match="repeats"):
		manager.measure(PAYMENT_HISTORY, 0)


# ---------------------------------------------------------------- redundancy


def test_planted_duplicate_and_prefix_indexes_are_found_never_dropped(fresh):
	db = fresh("dup", members=200)
	t = "ALTER TABLE `tabMember Payment` ADD INDEX"
	db.ddl(f"{t} `a_member` (`member`)")
	db.ddl(f"{t} `b_member` (`member`)")
	db.ddl(f"{t} `c_member_date` (`member`, `posting_date`)")
	db.ddl(f"{t} `d_name` (`name`)")  # duplicates the primary key
	db.ddl("ALTER TABLE `tabMember` ADD INDEX `plain_member_id` (`member_id`)")  # duplicates the unique one
	db.ddl("ALTER TABLE `tabMember` ADD UNIQUE INDEX `uniq_email` (`email`)")
	db.ddl("ALTER TABLE `tabMember` ADD INDEX `email_status` (`email`, `status`)")  # covers the unique one
	db.ddl(
		"CREATE TABLE `tabFK Child` (name varchar(140) primary key, member varchar(140), "
		"INDEX `dup_member` (member), CONSTRAINT `fk_member` FOREIGN KEY (member) REFERENCES `tabMember`(name)) ENGINE=InnoDB"
	)
	db.ddl("ALTER TABLE `tabFK Child` ADD INDEX `z_member` (`member`)")  # a duplicate of the FK's index
	db.ddl("ANALYZE TABLE `tabMember Payment`, `tabMember`, `tabFK Child`")
	before = _all_indexes(db)
	found = {(r.table, r.index.name): r for r in IndexManager(db).find_redundant()}
	assert _all_indexes(db) == before  # never dropped
	assert set(found) == {
		("tabMember Payment", "a_member"),
		("tabMember Payment", "b_member"),
		("tabMember Payment", "d_name"),
		("tabMember", "plain_member_id"),
		("tabFK Child", "z_member"),
	}
	assert found[("tabMember Payment", "a_member")].kind == "left-prefix duplicate"
	assert found[("tabMember Payment", "a_member")].covered_by.name == "c_member_date"
	assert found[("tabMember Payment", "d_name")].covered_by.name == "PRIMARY"
	assert found[("tabMember", "plain_member_id")].covered_by.name == "member_id"
	assert found[("tabFK Child", "z_member")].covered_by.name == "dup_member"
	r = found[("tabMember Payment", "d_name")]
	assert r.drop_sql == "ALTER TABLE `tabMember Payment` DROP INDEX `d_name`"
	assert r.size_bytes and r.size_bytes >= 16384
	only = IndexManager(db).find_redundant(["Member"])
	assert {x.index.name for x in only} == {"plain_member_id"}
	with pytest.raises(UnknownDocTypeError):
		IndexManager(db).find_redundant(["Nope"])


def test_app_tables_have_no_redundant_indexes(fresh):
	assert IndexManager(fresh("clean")).find_redundant() == []


# ---------------------------------------------------------------- concurrency


@pytest.mark.slow
def test_writers_keep_writing_while_an_index_is_added_online(fresh):
	db = fresh("online", members=30_000)
	payments = db.sql("SELECT COUNT(*) FROM `tabMember Payment`")[0][0]
	assert payments > 250_000
	writer_db = db.clone(autocommit=True)
	stop = threading.Event()
	inserted, updated, errors, stamps = [], [], [], []

	def write():
		n = 0
		while not stop.is_set():
			n += 1
			name = f"CONC-{n:07d}"
			try:
				writer_db.sql(
					"INSERT INTO `tabMember Payment` (name, member, amount, posting_date, status, payment_method) "
					"VALUES (%s, %s, 10, CURDATE(), 'Unpaid', 'SEPA Direct Debit')",
					(name, f"M{(n % 30_000) + 1:07d}"),
				)
				inserted.append(name)
				target = f"MPAY-{(n * 7919) % payments + 1:08d}"
				writer_db.sql("UPDATE `tabMember Payment` SET status='Refunded' WHERE name=%s", (target,))
				updated.append(target)
				stamps.append(time.perf_counter())
			except Exception as exc:  # every failure is a test failure: collect, assert below
				errors.append(repr(exc))

	thread = threading.Thread(target=write)
	thread.start()
	deadline = time.monotonic() + 30
	while len(inserted) < 50 and time.monotonic() < deadline:
		time.sleep(0.01)
	marks = {}
	manager = IndexManager(db)

	def progress(step, steps, fraction, label):
		marks.setdefault("start", time.perf_counter()) if fraction == 0.0 else marks.update(
			end=time.perf_counter()
		)

	outcomes = manager.apply(manager.plan([SEPA_BATCH]), progress=progress, measure_repeats=0)
	n_during = sum(1 for s in stamps if marks["start"] <= s <= marks["end"])
	stop.set()
	thread.join(timeout=30)
	writer_db.close()
	assert outcomes[0].action == "created" and not outcomes[0].locking
	assert errors == []
	assert n_during > 0, "no write happened while the index was being added"
	placeholders = ", ".join(["%s"] * len(inserted))
	assert db.sql(f"SELECT COUNT(*) FROM `tabMember Payment` WHERE name IN ({placeholders})", inserted)[0][
		0
	] == len(inserted)
	distinct = sorted(set(updated))
	marks_q = ", ".join(["%s"] * len(distinct))
	assert db.sql(
		f"SELECT COUNT(*) FROM `tabMember Payment` WHERE status='Refunded' AND name IN ({marks_q})", distinct
	)[0][0] == len(distinct)
	assert db.sql("SELECT COUNT(*) FROM `tabMember Payment`")[0][0] == payments + len(inserted)
	assert manager.verify(SEPA_BATCH).present


def test_performance_tracking_indexes_serve_the_monitoring_lookups(scratch_databases):
	"""The monitoring catalog's indexes make the snapshot window and open-alert lookups use them."""
	db = scratch_databases.create("tracking")
	db.sql(
		"INSERT INTO `tabPerformance Snapshot` (name, `timestamp`, score) "
		"SELECT CONCAT('SNAP-', seq), TIMESTAMP('2026-01-01') + INTERVAL seq * 5 MINUTE, seq % 100 "
		"FROM seq_1_to_20000"
	)
	db.sql(
		"INSERT INTO `tabPerformance Alert` (name, metric, status, severity) "
		"SELECT CONCAT('ALERT-', seq), CONCAT('metric_', seq % 400), IF(seq % 10 = 0, 'Open', 'Resolved'), "
		"'Warning' FROM seq_1_to_8000"
	)
	db.commit()
	manager = IndexManager(db, user="ops@example.org")
	specs = catalog("monitoring")
	outcomes = manager.apply(manager.plan(specs), measure_repeats=3)
	assert sorted(o.index for o in outcomes if o.action == "created") == sorted(s.name for s in specs)
	for spec in specs:
		result = manager.verify(spec)
		assert result.present and result.uses_index and result.probe_key == spec.name, result
