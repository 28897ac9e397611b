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
