"""Baselines: the suite measured for real, the versioned file, comparison and the script's exit status."""

import copy
import importlib.util
import json
import statistics
from pathlib import Path

import pytest

from verenigingen.performance import baselines as bl
from verenigingen.performance.environment import redis_settings
from verenigingen.performance.exceptions import BaselineFileError

ROOT = Path(__file__).resolve().parents[1]
QUICK = dict(runs=10, warmup=2, rounds=2)


def _script():
	spec = importlib.util.spec_from_file_location(
		"establish_baselines", ROOT / "scripts" / "performance" / "establish_baselines.py"
	)
	module = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(module)
	return module


def test_percentile_is_nearest_rank():
	values = list(range(1, 101))
	assert bl.percentile(values, 50) == 50
	assert bl.percentile(values, 95) == 95
	assert bl.percentile(values, 99) == 99
	assert bl.percentile([3.0], 99) == 3.0
	assert bl.percentile([1, 2, 3, 4], 50) == 2
	with pytest.raises(ValueError):
		bl.percentile([], 50)


@pytest.fixture(scope="module")
def measured(seeded_db, redis_server_client):
	"""One real run of the whole suite on the seeded database and Redis (namespace removed after)."""
	import uuid

	from tests.conftest import _delete_namespace

	ns = f"vtest-bl-{uuid.uuid4().hex[:8]}"
	data = bl.establish_baselines(bl.Suite(seeded_db, redis_server_client, ns), **QUICK)
	yield data
	_delete_namespace(redis_server_client, ns)


def test_the_suite_measures_every_database_and_cache_operation(measured, seeded_db):
	ops = measured["operations"]
	assert list(ops) == list(bl.OPERATION_NAMES)
	for name in bl.OPERATION_NAMES:
		if name == "job_submit_round_trip":
			continue
		op = ops[name]
		assert op["status"] == bl.MEASURED, (name, op)
		assert op["runs"] == 10
		assert 0 < op["min_ms"] <= op["p50_ms"] <= op["p95_ms"] <= op["p99_ms"] <= op["max_ms"]
	for name in ("member_by_email", "payment_history", "active_mandate", "sepa_batch_selection"):
		assert ops[name]["queries"] == 1
	members = seeded_db.sql("SELECT COUNT(*) FROM `tabMember`")[0][0]
	# no index on email: the lookup reads the whole table
	assert ops["member_by_email"]["rows_examined"] >= members
	assert ops["member_summary_uncached"]["queries"] == 3  # the read model: member, mandate, totals
	# the cached summary serves its working set from Redis: no SQL in the counted run
	assert ops["member_summary_cached"]["queries"] == 0
	assert ops["cache_hit"]["queries"] == 0
	assert ops["member_summary_cached"]["p50_ms"] < ops["member_summary_uncached"]["p50_ms"]
	env = measured["environment"]
	assert env["dataset"]["members"] == members
	assert env["mariadb"] and env["redis"] and env["python"] and env["cpu_count"] >= 1
	assert bl.validate_baselines(measured) is measured


def test_what_cannot_be_measured_is_reported_with_the_reason(seeded_db):
	data = bl.establish_baselines(bl.Suite(seeded_db), **QUICK)
	for name in ("member_summary_cached", "cache_hit", "job_submit_round_trip"):
		op = data["operations"][name]
		assert op["status"] == bl.NOT_MEASURED and op["reason"], name
		assert "p50_ms" not in op
	assert "no Redis" in data["operations"]["cache_hit"]["reason"]
	assert data["operations"]["payment_history"]["status"] == bl.MEASURED
	report = bl.format_report(data)
	assert "payment_history" in report and "cache_hit: not measured: no Redis" in report


def test_an_index_shows_in_the_rows_examined(scratch_databases):
	from verenigingen.performance.dataset import generate_dataset

	db = scratch_databases.create("baseline_index")
	try:
		generate_dataset(db, members=150, seed=5, progress=False)
		ops = tuple(o for o in bl.OPERATIONS if o.name == "payment_history")
		before = bl.establish_baselines(bl.Suite(db), operations=ops, **QUICK)["operations"][
			"payment_history"
		]
		db.ddl("ALTER TABLE `tabMember Payment` ADD INDEX idx_payment_member_date (member, posting_date)")
		after = bl.establish_baselines(bl.Suite(db), operations=ops, **QUICK)["operations"]["payment_history"]
		payments = db.sql("SELECT COUNT(*) FROM `tabMember Payment`")[0][0]
		assert before["rows_examined"] >= payments
		assert after["rows_examined"] <= 40  # at most the 20 rows shown, read through the index
	finally:
		db.close()


def _doc(**p50s):
	ops = {
		name: {
			"status": "measured",
			"description": name,
			"p50_ms": p50,
			"p95_ms": p50 * 2,
			"p99_ms": p50 * 3,
			"min_ms": p50 / 2,
			"max_ms": p50 * 4,
			"noise": 0.05,
			"runs": 10,
			"queries": 1,
			"rows_examined": 10,
		}
		for name, p50 in p50s.items()
	}
	return {
		"schema": bl.SCHEMA,
		"schema_version": bl.SCHEMA_VERSION,
		"created": "2026-01-01T00:00:00+00:00",
		"environment": {"dataset": {"members": 1}},
		"settings": {"runs": 10, "warmup": 1, "rounds": 2, "seed": 1},
		"operations": ops,
	}


def test_compare_flags_regressions_beyond_the_recorded_noise():
	base = _doc(a=1.0, b=1.0, c=1.0, d=1.0, e=1.0)
	base["operations"]["c"]["noise"] = 0.40  # a noisy operation gets more room
	base["operations"]["e"] = {"status": "not_measured", "description": "e", "reason": "no Redis"}
	now = _doc(a=2.0, b=1.08, c=1.3, d=0.5, e=0.1)
	result = bl.compare_baselines(base, now)
	verdicts = {r["operation"]: r["verdict"] for r in result["operations"]}
	assert verdicts == {"a": "regression", "b": "ok", "c": "ok", "d": "improved", "e": "not_compared"}
	assert result["regressions"] == ["a"] and not result["ok"]
	ratio = {r["operation"]: r["ratio"] for r in result["operations"]}
	assert ratio["a"] == 2.0 and ratio["d"] == 0.5
	assert bl.compare_baselines(base, base)["ok"]
	text = bl.format_comparison(result)
	assert "REGRESSION" in text and "1 regression(s): a" in text and "e: not compared: no Redis" in text


def test_sub_tenth_of_a_millisecond_changes_are_never_verdicts():
	"""A 0.1 ms operation that reads 0.18 ms on a busy machine is jitter, not a regression; the same
	ratio on a slower operation still is one."""
	base = _doc(fast=0.10, slow=10.0)
	now = _doc(fast=0.18, slow=18.0)
	verdicts = {r["operation"]: r["verdict"] for r in bl.compare_baselines(base, now)["operations"]}
	assert verdicts == {"fast": "ok", "slow": "regression"}
	strict = bl.compare_baselines(base, now, min_difference_ms=0.0)
	assert strict["regressions"] == ["fast", "slow"]


@pytest.mark.parametrize(
	("mutate", "message"),
	[
		(lambda d: d.update(schema="other"), "not a baselines file"),
		(lambda d: d.update(schema_version=99), "schema version 99"),
		(lambda d: d.update(operations={}), "no operations"),
		(lambda d: d["operations"]["a"].pop("p95_ms"), "lacks p95_ms"),
		(lambda d: d["operations"]["a"].update(status="maybe"), "no valid status"),
		(lambda d: d["operations"].update(x={"status": "not_measured"}), "gives no reason"),
	],
)
def test_invalid_documents_are_refused_with_what_is_wrong(mutate, message):
	doc = _doc(a=1.0)
	mutate(doc)
	with pytest.raises(BaselineFileError, match=message):
		bl.validate_baselines(copy.deepcopy(doc))


def test_write_and_load_round_trip(tmp_path):
	doc = _doc(a=1.5)
	path = bl.write_baselines(doc, tmp_path / "b.json")
	assert bl.load_baselines(path) == doc
	assert not (tmp_path / "b.json.tmp").exists()
	with pytest.raises(BaselineFileError, match="does not exist"):
		bl.load_baselines(tmp_path / "missing.json")
	(tmp_path / "bad.json").write_text("{not json")
	with pytest.raises(BaselineFileError, match="cannot read"):
		bl.load_baselines(tmp_path / "bad.json")
	with pytest.raises(BaselineFileError):
		bl.write_baselines({"schema": "x"}, tmp_path / "c.json")
	assert not (tmp_path / "c.json").exists()


def test_script_compare_exit_status(tmp_path, capsys):
	script = _script()
	base, same, slower = tmp_path / "base.json", tmp_path / "same.json", tmp_path / "slow.json"
	base.write_text(json.dumps(_doc(a=1.0, b=2.0)))
	same.write_text(json.dumps(_doc(a=1.02, b=1.9)))
	slower.write_text(json.dumps(_doc(a=1.5, b=2.0)))
	assert script.main(["--compare", str(base), "--against", str(same)]) == 0
	assert "no regressions" in capsys.readouterr().out
	assert script.main(["--compare", str(base), "--against", str(slower)]) == 1
	assert "1 regression(s): a" in capsys.readouterr().out
	assert script.main(["--compare", str(tmp_path / "nope.json"), "--against", str(same)]) == 2
	assert "does not exist" in capsys.readouterr().err
	with pytest.raises(SystemExit):
		script.main(["--operations", "no_such_op"])


def test_script_measures_a_seeded_database_and_records_the_comparison(
	tmp_path, scratch_databases, redis, namespace
):
	script = _script()
	db = scratch_databases.create("baseline_script")
	name = db.database_name
	db.close()
	out = tmp_path / "b.json"
	args = ["--members", "60", "--database", name, "--runs", "6", "--warmup", "1", "--rounds", "2"]
	assert script.main([*args, "--output", str(out), "--no-redis", "--report", str(tmp_path / "r.txt")]) == 0
	data = bl.load_baselines(out)
	assert data["environment"]["dataset"]["members"] == 60
	assert data["environment"]["dataset"]["seed"] == 42
	assert "member_by_email" in (tmp_path / "r.txt").read_text()
	# compare a fresh run against it; the comparison is kept in the run's Redis namespace
	code = script.main([*args, "--reuse", "--compare", str(out), "--operations", "payment_history"])
	assert code in (0, 1)
	last = bl.last_comparison(redis, f"{name}-baselines")
	assert last is not None and last["ok"] is (code == 0)
	from tests.conftest import _delete_namespace

	_delete_namespace(redis, f"{name}-baselines")


def test_last_comparison_is_kept_per_site(redis, namespace):
	assert bl.last_comparison(redis, namespace) is None
	bl.record_comparison(redis, namespace, {"ok": False, "regressions": ["a"]}, clock=lambda: 1000.0)
	assert bl.last_comparison(redis, namespace) == {"at": 1000.0, "ok": False, "regressions": ["a"]}
	assert bl.last_comparison(redis, namespace + "-other") is None


@pytest.mark.slow
def test_job_round_trip_through_the_coordinator_and_a_real_worker(seeded_db, redis, namespace):

	from rq import Queue

	from tests.jobfixtures import WorkerPool
	from verenigingen.performance.exceptions import JobRoundTripError
	from verenigingen.performance.jobs import JobCoordinator, RQEnqueuer, prefixed_queues, worker_queue_names

	queues = prefixed_queues(f"{namespace}-")
	coordinator = JobCoordinator(redis, namespace, RQEnqueuer(redis), queues=queues, load_controller=None)
	with pytest.raises(JobRoundTripError, match="did not finish within 0.3 s"):
		bl.coordinator_round_trip(coordinator, timeout=0.3)(0)
	pool = WorkerPool(
		worker_queue_names(queues),
		redis_settings(),
	)
	try:
		pool.start(1)
		suite = bl.Suite(seeded_db, redis, namespace, job_round_trip=bl.coordinator_round_trip(coordinator))
		ops = tuple(o for o in bl.OPERATIONS if o.name == "job_submit_round_trip")
		op = bl.establish_baselines(suite, operations=ops, **QUICK)["operations"]["job_submit_round_trip"]
		assert op["status"] == bl.MEASURED and op["runs"] == 10 and op["min_ms"] > 0
		assert op["queries"] == 0  # a round trip through Redis and RQ, no SQL
	finally:
		pool.stop()
		for name in set(queues.values()):
			Queue(name, connection=redis).delete(delete_jobs=True)


# ---------------------------------------------------------------- the regression gate on real MariaDB


def _sleep_op(name: str, ms: float) -> "bl.Operation":
	"""An operation of ``ms`` milliseconds of server time on real MariaDB (SELECT SLEEP)."""

	def setup(suite):
		return lambda i: suite.db.sql("SELECT SLEEP(%s)", (ms / 1000,))

	return bl.Operation(name, f"SLEEP {ms} ms", setup)


def _doc_of(measured: dict) -> dict:
	return {**_doc(x=1.0), "operations": {"op": measured}}


def _side_by_side(db, op_a, op_b, rounds: int = 6) -> tuple[dict, dict]:
	"""Measure two operations round by round, alternating, and merge each one's rounds: what the
	machine's other load does to one side it does to the other (the test runs beside other suites
	on two cores). The gate itself sees two ordinary baselines documents."""
	suite = bl.Suite(db)
	sides = []
	for _ in range(rounds):
		for op in (op_a, op_b):
			sides.append(bl.measure_operation(suite, op, runs=20, warmup=2, rounds=1))
	merged = []
	for k in range(2):
		parts = sides[k::2]
		runs = sorted(t for p in parts for r in p["rounds_ms"] for t in r)
		merged.append(
			{**parts[0], "rounds_ms": [p["rounds_ms"][0] for p in parts], "p50_ms": statistics.median(runs)}
		)
	return _doc_of(merged[0]), _doc_of(merged[1])


def test_gate_flags_a_real_1_3x_slowdown_of_a_1ms_operation(scratch_db):
	probe = bl.measure_operation(bl.Suite(scratch_db), _sleep_op("op", 0.8), runs=30, warmup=3, rounds=1)
	overhead = probe["p50_ms"] - 0.8  # ~1 ms in all: 0.8 ms of SLEEP plus the round trip
	base, slower = _side_by_side(
		scratch_db, _sleep_op("op", 0.8), _sleep_op("op", 1.3 * probe["p50_ms"] - overhead)
	)
	row = bl.compare_baselines(base, slower)["operations"][0]
	assert row["method"] == "bootstrap" and row["verdict"] == "regression", row
	assert row["interval"][0] > 1 and row["ratio"] >= 1.2 and "slower" in row["change"]
	text = bl.format_comparison(bl.compare_baselines(base, slower))
	assert "REGRESSION" in text and "95% CI" in text


def test_gate_does_not_flag_a_rerun_of_unchanged_code_and_reports_improvements(scratch_db):
	op = _sleep_op("op", 1.0)
	for _ in range(3):  # three reruns of the same code: never a verdict
		base, rerun = _side_by_side(scratch_db, op, op)
		row = bl.compare_baselines(base, rerun)["operations"][0]
		assert row["verdict"] == "ok", row
	slow, fast = _side_by_side(scratch_db, _sleep_op("op", 3.0), op)
	faster = bl.compare_baselines(slow, fast)
	row = faster["operations"][0]
	assert row["verdict"] == "improved" and faster["improvements"] == ["op"]
	assert row["change"].endswith("x faster") and float(row["change"].split("x")[0]) > 2


def test_speed_words():
	assert bl.speed_words(1 / 417) == "417x faster"
	assert bl.speed_words(1.3) == "1.3x slower"
	assert bl.speed_words(1.0) == "same speed"
	assert bl.speed_words(None) == "-"


def test_environment_records_the_commit_and_whether_the_tree_was_dirty(scratch_db):
	env = bl.environment(scratch_db)
	assert env["dataset"]["database"] == scratch_db.database_name
	assert env["commit"] is None or len(env["commit"]) == 40
	assert env["dirty"] in (True, False, None)
	if env["commit"] is not None:
		assert env["dirty"] == bool(bl._git("status", "--porcelain").strip())
