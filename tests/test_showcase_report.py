"""The main job's baseline, readiness and HTML report steps."""

import io
import re
import xml.etree.ElementTree as ET

import pytest

from verenigingen.showcase import report as rep


def _op(p50):
	return {"status": "measured", "p50_ms": p50, "p95_ms": p50 * 2, "queries": 1, "rows_examined": 10}


def _results():
	before = {
		"environment": {"mariadb": "10.11"},
		"operations": {"a": _op(100.0), "b": _op(0.2), "c": {"status": "not_measured", "reason": "no Redis"}},
	}
	after = {
		"environment": {"mariadb": "10.11"},
		"operations": {"a": _op(1.0), "b": _op(0.2), "c": {"status": "not_measured", "reason": "no Redis"}},
	}
	readiness = {
		"score": 62.5,
		"weights": {"cache": 20, "jobs": 15, "baselines": 5},
		"components": [
			{"component": "cache", "status": "operational", "evidence": {"ttl_ms": 5}, "recommendation": ""},
			{"component": "jobs", "status": "degraded", "evidence": {}, "recommendation": "start <workers>"},
			{"component": "baselines", "status": "failed", "evidence": {}, "recommendation": "measure"},
		],
	}
	return {
		"dataset": {"members": 10, "seed": 1, "counts": {"Member": 10}},
		"baselines": {"before": before, "after": after},
		"baselines_compare": {"operations": [{"operation": "a", "ratio": 0.01, "verdict": "improved"}]},
		"readiness": readiness,
		"cache": {"hits": 3},
	}  # fmt: skip


def test_report_is_self_contained_html_with_both_charts():
	page = rep.render(_results())
	assert page.startswith("<!DOCTYPE html>")
	assert "<script" not in page and "src=" not in page and "href=" not in page
	svgs = re.findall(r"<svg.*?</svg>", page, re.S)
	assert len(svgs) == 2
	for svg in svgs:
		ET.fromstring(svg)  # well-formed
	latency = ET.fromstring(svgs[0])
	ns = "{http://www.w3.org/2000/svg}"
	titles = [t.text for t in latency.iter(f"{ns}title")]
	assert titles == ["a before: 100.000 ms", "a after: 1.000 ms", "b before: 0.200 ms", "b after: 0.200 ms"]
	widths = {t.text: float(r.get("width")) for r in latency.iter(f"{ns}rect") for t in r.iter(f"{ns}title")}
	# a log axis: 100 ms is 2.7 decades above 0.2 ms, 1 ms is 0.7 decades above it
	assert widths["a before: 100.000 ms"] > widths["a after: 1.000 ms"] > widths["b after: 0.200 ms"]
	assert "not measured" in svgs[0] and "62.5 / 100" in page
	assert "start &lt;workers&gt;" in page  # escaped
	assert "100x faster" in page and "0.01x" not in page and "cache" in page
	# readiness evidence is a list of "key: value" lines, not JSON
	assert "ttl_ms: 5" in page and "{&quot;" not in page and '{"' not in page


def test_report_says_what_was_not_measured():
	page = rep.render({})
	assert "No latency was measured" in page and "did not run" in page and "not measured" in page


@pytest.mark.slow
def test_baseline_readiness_and_report_steps_on_a_small_database(
	scratch_databases, redis, namespace, tmp_path, monkeypatch
):
	from tests.conftest import db_settings, redis_settings
	from verenigingen.performance.dataset import generate_dataset
	from verenigingen.showcase import baselines as steps
	from verenigingen.showcase import readiness
	from verenigingen.showcase.env import ShowcaseEnv

	monkeypatch.chdir(tmp_path)
	monkeypatch.setattr(steps, "RUNS", 6)
	monkeypatch.setattr(steps, "ROUNDS", 2)
	monkeypatch.setattr(steps, "WARMUP", 1)
	db = scratch_databases.create("showcase_steps")
	try:
		generate_dataset(db, members=80, seed=2, progress=False)
		out = io.StringIO()
		env = ShowcaseEnv(db=db, redis=redis, namespace=namespace, members=80, seed=2,
			db_settings=db_settings(db.database_name), redis_settings=redis_settings(), out=out)  # fmt: skip
		steps.before(env)
		steps.after(env)
		readiness.run(env)
		rep.run(env)
		before = env.results["baselines"]["before"]["operations"]
		after = env.results["baselines"]["after"]["operations"]
		assert all(op["status"] == "measured" for op in before.values()), before
		# the catalogs turned the email lookup's full scan into an index lookup
		assert after["member_by_email"]["rows_examined"] < before["member_by_email"]["rows_examined"]
		comps = {c["component"]: c["status"] for c in env.results["readiness"]["components"]}
		assert comps["database"] == "operational" and comps["cache"] == "operational"
		assert comps["jobs"] in ("operational", "degraded") and comps["baselines"] == "operational"
		page = (tmp_path / "reports" / "showcase.html").read_text()
		assert "member_by_email" in page and "<svg" in page
		assert "readiness score" in out.getvalue()
	finally:
		db.close()


def test_report_draws_the_performance_score_components_and_names_the_missing_ones():
	results = _results()
	results["monitoring"] = {
		"score": 91.2,
		"components": {
			"requests": {"score": 1.0, "weight": 0.3, "effective_weight": 0.4},
			"database": {"score": 0.5, "weight": 0.2, "effective_weight": 0.6},
		},
		"missing": {"jobs": "no background jobs recorded in the window"},
	}
	page = rep.render(results)
	svgs = re.findall(r"<svg.*?</svg>", page, re.S)
	assert len(svgs) == 3
	chart = ET.fromstring(svgs[1])
	assert chart.get("aria-label") == "performance score components"
	ns = "{http://www.w3.org/2000/svg}"
	bars = {t.text: float(r.get("width")) for r in chart.iter(f"{ns}rect") for t in r.iter(f"{ns}title")}
	assert bars == {"requests: 1.000": 380.0, "database: 0.500": 190.0}
	assert "91.2 / 100" in page and "jobs: no background jobs recorded in the window" in page
	assert "The performance score was not measured." in rep.render(_results())


def _requests_results():
	def row(config, endpoint, rps, p50, cache=None):
		return {"configuration": config, "endpoint": endpoint, "requests": 1500, "seconds": 1500 / rps, "rps": rps,
			"p50_ms": p50, "p95_ms": p50 * 3, "p99_ms": p50 * 5, "statuses": {"200": 1500}, "recorded": 1500,
			"cpu_ms_per_request": {"server": 0.71234, "redis": 0.1, "mariadb": None}, "cache": cache}  # fmt: skip

	return {
		"settings": {"clients": 4, "users": 2, "max_requests": 1500, "max_seconds": 8, "members_drawn": 200},
		"rows": [
			row("no indexes, no cache", "member summary", 267.4, 8.8123),
			row("indexes", "member summary", 637.0, 2.51),
			row("indexes + cache", "member summary", 1789.0, 1.96, {"hits": 1100, "misses": 400}),
		],
		"l1_row": {"configuration": "indexes + cache + L1 (in-process)", "note": "not built yet"},
		"comparisons": [
			{
				"endpoint": "member summary",
				"configuration": "indexes",
				"change": "3.51x faster",
				"interval": [0.257, 0.323],
				"min_effect": 0.2,
				"verdict": "faster",
			},
		],  # fmt: skip
		"cpu_notes": {
			"mariadb": "not measurable: no mariadbd process listening on port 3306 is visible here"
		},
		"environment": {"cpu_count": 2, "platform": "Linux", "load_average": "1.00, 1.00, 1.00"},
	}


def test_report_charts_and_tabulates_the_http_requests():
	results = _results()
	results["requests"] = _requests_results()
	results["step_seconds"] = {"seed": 1.234, "requests": 25.61}
	page = rep.render(results)
	svgs = re.findall(r"<svg.*?</svg>", page, re.S)
	assert len(svgs) == 4
	rps = ET.fromstring(svgs[0])
	assert rps.get("aria-label") == "requests per second"
	ns = "{http://www.w3.org/2000/svg}"
	bars = {t.text: float(r.get("width")) for r in rps.iter(f"{ns}rect") for t in r.iter(f"{ns}title")}
	assert bars["member summary, indexes + cache: 1,790 req/s"] == 460.0  # the longest bar is the plot width
	assert bars["member summary, no indexes, no cache: 267 req/s"] == pytest.approx(
		460 * 267.4 / 1789, abs=0.05
	)
	assert ET.fromstring(svgs[1]).get("aria-label") == "p95 latency"
	# the table: text left, numbers right, 3 significant digits, the L1 row marked, CPU not measurable said so
	assert (
		'<td class="txt">no indexes, no cache</td><td class="num">1,500</td><td class="num">267</td>' in page
	)
	assert '<td class="num">8.81</td>' in page and '<td class="num">0.712</td>' in page
	assert "indexes + cache + L1 (in-process) *" in page and "not built yet" in page
	assert "n/m" in page and "not measurable: no mariadbd process" in page
	assert "73.3 %" in page  # cache hits of the cached configuration
	assert "3.51x faster" in page and "effect &gt;= 1.20x" in page
	# time per step, and a total
	assert '<td class="txt">requests</td><td class="num">25.6</td>' in page
	assert '<td class="txt">total</td><td class="num">26.8</td>' in page


def test_tables_align_numbers_right_and_text_left():
	table = rep.html_table(["name", "ms", "note"], [["a", 1.23456, "x"], ["b", 12345.6, "-"]])
	assert '<td class="txt">a</td><td class="num">1.23</td><td class="txt">x</td>' in table
	assert '<td class="num">12,300</td>' in table
