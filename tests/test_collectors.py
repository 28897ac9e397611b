"""Machine readings cover a window, never one instant (a single CPU sample flipped the score)."""

import os

from verenigingen.performance.collectors import CPU_MIN_WINDOW_SECONDS, collect_resources


class Clock:
	def __init__(self, t=1_800_000_000.0):
		self.t = t

	def __call__(self):
		return self.t


def _until_cpu_times_advance():
	import time

	import psutil

	start, deadline = sum(psutil.cpu_times()), time.monotonic() + 5
	while sum(psutil.cpu_times()) == start and time.monotonic() < deadline:
		sum(i * i for i in range(10_000))


def test_cpu_is_read_over_a_window_or_from_the_load_average(redis, namespace):
	clock = Clock()
	first = collect_resources(redis, namespace, "/", clock=clock)
	assert first["cpu_source"] == "load_average_1m"  # no baseline yet: not a 0.25 s sample
	load = os.getloadavg()[0] / os.cpu_count()
	assert abs(first["cpu_percent"] - min(100.0, 100 * load)) < 50  # the same order as uptime says
	clock.t += 10
	second = collect_resources(redis, namespace, "/", clock=clock)
	assert second["cpu_source"] == "load_average_1m"  # 10 s is no window: the baseline stays
	clock.t += CPU_MIN_WINDOW_SECONDS
	_until_cpu_times_advance()  # the fake clock moved 70 s; let the real counters move too
	third = collect_resources(redis, namespace, "/", clock=clock)
	assert third["cpu_source"] == "cpu_times"
	assert third["cpu_interval_s"] == CPU_MIN_WINDOW_SECONDS + 10  # measured from the first reading
	assert 0.0 <= third["cpu_percent"] <= 100.0
	clock.t += 5
	assert collect_resources(redis, namespace, "/", clock=clock)["cpu_source"] == "load_average_1m"


def test_probe_looks_up_real_rows_or_says_it_could_not(seeded_db, scratch_db):
	from verenigingen.performance.collectors import probe_query
	from verenigingen.performance.defaults import PROBE_QUERIES

	label, sql, draw = PROBE_QUERIES[0]
	result = probe_query(seeded_db, label, sql, draw)
	assert result["ms"] is not None and result["parameters"]
	member = result["parameters"][0][0]
	assert seeded_db.sql(sql, (member,))  # the probe's lookup finds payments
	empty = probe_query(scratch_db, label, sql, draw)  # the app's tables, no rows
	assert empty["ms"] is None and empty["note"] == "no rows to draw probe parameters from"
