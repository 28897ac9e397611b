"""Monitoring overhead, measured side by side in one run.

1. Request-hook overhead: the per-request cost of recording (one Lua call: every request plus
   its endpoint histogram) against a bare Redis PING round trip on the same connection, so the
   ratio says how much more than the cheapest possible Redis call the hook costs.
2. Summary latency with a day of data: 1,440 minutes of request, endpoint and job histograms
   in Redis and 288 snapshots in MariaDB, then Monitor.summary() and dashboard("24h") timed.

Run: ``python benchmarks/bench_monitoring.py [--requests N] [--minutes M]`` (``--minutes`` shortens
the day of data, for a quick check that the benchmark runs). The scratch database and the Redis
keys are removed at the end, and the connections closed first, so the drop never waits on them.
"""

import argparse
import random
import statistics
import time
import uuid

import redis as redis_lib

from verenigingen.performance.db import PyMySQLDatabase, drop_database, validate_identifier
from verenigingen.performance.environment import database_settings, redis_settings
from verenigingen.performance.histogram import MetricStore
from verenigingen.performance.keys import unlink_site
from verenigingen.performance.monitoring import Monitor, request_samples
from verenigingen.performance.samples import SampleBuffer
from verenigingen.performance.schema import create_app_tables


def timed(fn, n):
	started = time.perf_counter()
	for i in range(n):
		fn(i)
	return (time.perf_counter() - started) / n


def main() -> None:
	p = argparse.ArgumentParser(description=__doc__)
	p.add_argument("--requests", type=int, default=5000)
	p.add_argument("--minutes", type=int, default=1440, help="minutes of data in the summary part (a day)")
	p.add_argument("--database", default=f"vbench_mon_{uuid.uuid4().hex[:8]}", help="scratch database")
	args = p.parse_args()
	if args.requests < 1 or args.minutes < 1:
		p.error("--requests and --minutes must be at least 1")
	dbname = validate_identifier(args.database, "database")
	r = redis_lib.Redis(**redis_settings())
	ns = f"vbench-{uuid.uuid4().hex[:8]}"
	server = database_settings()
	admin = PyMySQLDatabase(**server, autocommit=True)
	admin.sql(f"CREATE DATABASE `{dbname}`")
	db = None
	try:
		# autocommit: the reads below leave no transaction (and no metadata lock) open behind them
		db = PyMySQLDatabase(**server, database=dbname, autocommit=True)
		create_app_tables(db)
		store = MetricStore(r, ns)
		rng = random.Random(1)
		endpoints = [f"/api/method/app.m{i}" for i in range(40)]
		durations = [rng.lognormvariate(3, 1) for _ in range(args.requests)]
		for _ in range(200):  # warm up the script cache and the connection
			store.record(request_samples(endpoints[0], 10.0, 200))
		ping = timed(lambda i: r.ping(), args.requests)

		def unbuffered(i):  # one Redis call per request: build the store, the samples, write
			MetricStore(r, ns).record(request_samples(endpoints[i % 40], durations[i], 200))

		buffer = SampleBuffer()

		def hook(i):  # what after_request does: build the store and the samples, buffer them
			buffer.add(MetricStore(r, ns), request_samples(endpoints[i % 40], durations[i], 200))

		direct = timed(unbuffered, args.requests)
		rec = timed(hook, args.requests)
		buffer.flush(MetricStore(r, ns))
		print(
			f"request hook: {rec * 1e6:8.1f} µs per request, writes included  "
			f"(one write per request: {direct * 1e6:.1f} µs; Redis PING {ping * 1e6:.1f} µs)"
		)
		print(f"  ratios: hook/PING {rec / ping:.2f}x, hook/one-write-per-request {rec / direct:.2f}x")
		print(f"  aim < 100 µs: {'met' if rec < 100e-6 else 'NOT met'} on this machine")

		# a day of data: 1440 minutes, ~60 requests/min over 40 endpoints, jobs, 288 snapshots
		minutes = args.minutes
		snapshots = max(1, minutes // 5)
		now = time.time()
		day = MetricStore(r, ns, clock=lambda: now)
		pipe_started = time.perf_counter()
		for minute in range(minutes):
			at = now - (minutes - 1 - minute) * 60
			for k in range(60):
				day.record(request_samples(endpoints[k % 40], rng.lognormvariate(3, 1), 200), at=at)
		fill_s = time.perf_counter() - pipe_started
		clock = [now - minutes * 60]
		mon = Monitor(r, db, ns, clock=lambda: clock[0], probes=())
		for _ in range(snapshots):
			clock[0] += 300
			mon.snapshot()
		clock[0] = now
		summary_t = [0.0] * 5
		for i in range(5):
			clock[0] += 1  # a later reading: CPU is taken from the previous one, not sampled anew
			t = time.perf_counter()
			mon.summary()
			summary_t[i] = time.perf_counter() - t
		dash_t = []
		for _ in range(3):
			t = time.perf_counter()
			data = mon.dashboard("24h")
			dash_t.append(time.perf_counter() - t)
		print(
			f"{minutes:,} minutes of data: {minutes * 60:,} requests recorded in {fill_s:.1f} s, {snapshots} snapshots"
		)
		print(f"summary():          median {statistics.median(summary_t) * 1000:7.1f} ms over 5 runs")
		print(
			f"dashboard('24h'):   median {statistics.median(dash_t) * 1000:7.1f} ms over 3 runs "
			f"({len(data['requests']['points'])} request points, {len(data['snapshots'])} snapshots)"
		)
		print(f"ratio dashboard/summary: {statistics.median(dash_t) / statistics.median(summary_t):.2f}x")
	finally:
		if db is not None:
			db.close()
		try:
			drop_database(admin, dbname)
		finally:
			admin.close()
			unlink_site(r, ns)
			r.close()


if __name__ == "__main__":
	main()
