"""The main job's headline: the read models over real HTTP (a local server process and the load
generator), the figures it prints, what the request hook records, and a rerun's fresh namespace."""

import http.client
import io
import json
import math
import re

import pytest

from tests.conftest import db_settings, redis_settings
from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.histogram import MetricStore, Sample
from verenigingen.performance.keys import unlink_site
from verenigingen.performance.loadgen import percentile, run_load
from verenigingen.performance.readapi import MEMBER_SUMMARY, PAYMENT_HISTORY, ReadAPIServer
from verenigingen.performance.summaries import member_summary, payment_history

ADMIN = ("Verenigingen Administrator",)
TOKENS = {"k1:s1": ("a@example.org", ADMIN), "k2:s2": ("clerk@example.org", ("Accounts User",))}


def _get(port, path, token="k1:s1"):
	conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
	try:
		conn.request("GET", path, headers={"Authorization": f"token {token}"} if token else {})
		response = conn.getresponse()
		return response.status, json.loads(response.read())
	finally:
		conn.close()


def _recorded(redis, namespace) -> dict:
	store = MetricStore(redis, namespace)
	names = store.metric_names(10) | {"request"}
	return store.window(sorted(names), 10)


@pytest.fixture
def members(seeded_db):
	return [r[0] for r in seeded_db.sql("SELECT `name` FROM `tabMember` ORDER BY `name` LIMIT 40")]


def test_requests_over_http_are_real_and_recorded_with_their_status(seeded_db, members, redis, namespace):
	settings = db_settings(seeded_db.database_name)
	with ReadAPIServer(settings, redis_settings(), namespace, use_cache=False, tokens=TOKENS) as server:
		# what a client gets is the read model, as JSON, and the errors are the site's status codes
		status, body = _get(server.port, f"{PAYMENT_HISTORY}?member={members[0]}&limit=5")
		expected = payment_history(seeded_db, members[0], 5)
		assert status == 200 and [p["name"] for p in body["message"]] == [p["name"] for p in expected]
		assert len(body["message"]) <= 5
		assert _get(server.port, f"{MEMBER_SUMMARY}?member={members[1]}")[1]["message"]["name"] == members[1]
		assert _get(server.port, f"{MEMBER_SUMMARY}?member=NOPE")[0] == 404
		assert _get(server.port, f"{MEMBER_SUMMARY}?member={members[1]}", token="k2:s2")[0] == 403
		assert _get(server.port, f"{MEMBER_SUMMARY}?member={members[1]}", token="bad:token")[0] == 401
		assert _get(server.port, f"{MEMBER_SUMMARY}?member={members[1]}", token=None)[0] == 403  # Guest
		assert _get(server.port, f"{PAYMENT_HISTORY}?member={members[1]}&limit=0")[0] == 417
		uncached = _get(server.port, f"{MEMBER_SUMMARY}?member={members[2]}")
		result = run_load(
			"127.0.0.1", server.port, lambda c, n: f"{MEMBER_SUMMARY}?member={members[(7 * c + n) % len(members)]}",
			clients=3, max_requests=240, max_seconds=60, headers=lambda c: {"Authorization": "token k1:s1"},
		)  # fmt: skip
		closing = server.stop()
	assert closing["samples_dropped"] == 0 and closing["cache"] is None
	assert result.stopped_by == "count" and result.requests == 240
	assert dict(result.statuses) == {200: 240}
	assert len(result.per_client_ms) == 3 and sum(len(c) for c in result.per_client_ms) == 240
	p50, p95, p99 = (result.latency(q) for q in (0.5, 0.95, 0.99))
	assert 0 < p50 <= p95 <= p99
	assert result.rps == pytest.approx(240 / result.seconds)
	# the server's request hook recorded every request, the 4xx ones too, none as an error (not 5xx)
	hists = _recorded(redis, namespace)
	assert hists["request"].count == 240 + 8 and hists["request"].errors == 0
	summary_metric = hists[f"endpoint:{MEMBER_SUMMARY}"]
	assert summary_metric.count == 240 + 6
	assert 0 < summary_metric.percentile(0.5) <= summary_metric.percentile(0.99)
	# no cache in this configuration: the site's cache saw no lookup at all
	assert SecurityAwareCache(redis, namespace).stats()["totals"]["hits"] == 0

	with ReadAPIServer(settings, redis_settings(), namespace, use_cache=True, tokens=TOKENS) as server:
		first = _get(server.port, f"{MEMBER_SUMMARY}?member={members[2]}")
		second = _get(server.port, f"{MEMBER_SUMMARY}?member={members[2]}")
		result = run_load(
			"127.0.0.1", server.port, lambda c, n: f"{PAYMENT_HISTORY}?member={members[n % 10]}",
			clients=1, max_requests=100, max_seconds=60, headers=lambda c: {"Authorization": "token k1:s1"},
		)  # fmt: skip
		closing = server.stop()
	assert first == second == uncached  # a miss, then a hit: the same answer as without the cache
	assert (
		uncached[1]["message"]["payments"]["count"]
		== member_summary(seeded_db, members[2])["payments"]["count"]
	)
	stats = SecurityAwareCache(redis, namespace).stats()["functions"]
	assert stats["verenigingen.api.member.member_summary"]["hits"] == 1
	history = stats["verenigingen.api.member.payment_history"]
	assert history["misses"] == 10 and history["hits"] == 90  # one user, ten members, a hundred requests
	assert closing["cache"]["hits"] == 91
	assert _recorded(redis, namespace)["request"].count == 248 + 102


def test_a_failing_server_records_its_5xx_as_errors(redis, namespace):
	settings = {**db_settings("vtest_no_such_database"), "connect_timeout": 5}
	with ReadAPIServer(settings, redis_settings(), namespace, use_cache=False, tokens=TOKENS) as server:
		result = run_load(
			"127.0.0.1", server.port, lambda c, n: f"{MEMBER_SUMMARY}?member=M1", clients=2, max_requests=6,
			max_seconds=60, headers=lambda c: {"Authorization": "token k1:s1"},
		)  # fmt: skip
		server.stop()
	assert dict(result.statuses) == {500: 6}
	hist = _recorded(redis, namespace)["request"]
	assert (hist.count, hist.errors) == (6, 6)


def test_percentile_is_nearest_rank():
	values = list(range(1, 101))
	assert [percentile(values, q) for q in (0.5, 0.95, 0.99, 1.0)] == [50, 95, 99, 100]
	assert percentile([], 0.5) is None
	with pytest.raises(ValueError, match="clients >= 1"):
		run_load("127.0.0.1", 1, lambda c, n: "/", clients=0)


@pytest.mark.slow
def test_requests_step_prints_three_configurations_and_feeds_the_score(
	scratch_databases, redis, namespace, monkeypatch
):
	from verenigingen.performance.dataset import generate_dataset
	from verenigingen.showcase import monitoring
	from verenigingen.showcase import requests as step
	from verenigingen.showcase.env import ShowcaseEnv

	monkeypatch.setattr(step, "MAX_REQUESTS", 60)
	monkeypatch.setattr(step, "RESAMPLES", 50)
	monkeypatch.setattr(step, "MEMBERS_DRAWN", 10)  # so that the cached configuration sees repeats
	db = scratch_databases.create("showcase_http")
	try:
		generate_dataset(db, members=150, seed=4, progress=False)
		out = io.StringIO()
		env = ShowcaseEnv(db=db, redis=redis, namespace=namespace, members=150, seed=4,
			db_settings=db_settings(db.database_name), redis_settings=redis_settings(), out=out)  # fmt: skip
		step.run(env)
		monitoring.run(env)
	finally:
		db.close()
	text = out.getvalue()
	rows = env.results["requests"]["rows"]
	assert [(r["endpoint"], r["configuration"]) for r in rows] == [
		(e, c) for c, _i, _c in step.CONFIGURATIONS for e, _p in step.ENDPOINTS
	]
	for r in rows:
		assert r["requests"] == r["recorded"] == 60 and r["statuses"] == {"200": 60}
		assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
		assert r["rps"] == pytest.approx(60 / r["seconds"], rel=1e-3)
		assert r["cpu_ms_per_request"]["server"] > 0
		cached = r["configuration"] == "indexes + cache"
		assert (r["cache"] is not None and r["cache"]["hits"] > 0) if cached else r["cache"] is None
		assert r["cache"] is None or r["cache"]["hits"] + r["cache"]["misses"] == 60
	for endpoint in ("member summary", "payment history"):
		for label in ("no indexes, no cache", "indexes", "indexes + cache", "L1 (in-process) *"):
			assert any(line.startswith(endpoint) and label in line for line in text.splitlines()), (
				endpoint,
				label,
			)
	assert "recorded 360 of the 360 requests sent" in text
	assert "0.00x" not in text and "improved" not in text
	# the monitoring step's requests component is these requests
	requests = env.results["monitoring"]["components"]["requests"]
	assert requests["inputs"]["count"] == 360
	assert not math.isnan(requests["score"])
	assert "360 HTTP requests" in text


def test_a_rerun_starts_from_a_fresh_namespace(scratch_databases, redis_server_client, capsys):
	from verenigingen.showcase.__main__ import main

	name = f"vtest_{scratch_databases.run_id}_showcase_fresh"
	scratch_databases.created.append(name)
	s, r = db_settings(), redis_settings()
	argv = ["--members", "40", "--database", name, "--steps", "seed,cache", "--host", s["host"], "--port",
		str(s["port"]), "--user", s["user"], "--password", s["password"], "--redis-host", r["host"],
		"--redis-port", str(r["port"])]  # fmt: skip
	ns = f"{name}-showcase"
	try:
		assert main(argv) == 0
		first = SecurityAwareCache(redis_server_client, ns).stats()["totals"]
		MetricStore(redis_server_client, ns).record([Sample("request", 5.0)])  # left over from an older run
		assert main(argv) == 0
		second = SecurityAwareCache(redis_server_client, ns).stats()["totals"]
		leftover = MetricStore(redis_server_client, ns).window(["request"], 10)["request"].count
	finally:
		unlink_site(redis_server_client, ns)
	out = capsys.readouterr().out
	assert first["hits"] > 0 and (second["hits"], second["misses"]) == (first["hits"], first["misses"])
	assert leftover == 0
	assert re.search(r"fresh Redis namespace .*: removed [1-9][\d,]* key\(s\)", out)
	assert re.search(r"^\(step cache took [\d.]+ s\)$", out, re.M)
