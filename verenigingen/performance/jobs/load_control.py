"""Load-driven concurrency: lower the caps of NORMAL, LOW and BULK while the machine is under
pressure and restore them when load has fallen back under lower thresholds (hysteresis).

The controller is pure: it takes a reading and the current caps and says what the caps should
become. Where the reading comes from is injectable (psutil by default), so tests feed readings.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .. import defaults
from .priority import THROTTLED, Priority


@dataclass(frozen=True)
class LoadReading:
	cpu_percent: float
	memory_percent: float

	def as_dict(self) -> dict:
		return {"cpu_percent": round(self.cpu_percent, 1), "memory_percent": round(self.memory_percent, 1)}


def psutil_reading(interval: float = 0.2) -> LoadReading:
	"""CPU use over ``interval`` seconds and memory use now, from psutil."""
	import psutil

	return LoadReading(psutil.cpu_percent(interval=interval), psutil.virtual_memory().percent)


class LoadController:
	"""Decides effective caps from load readings.

	Above ``cpu_high`` or ``memory_high`` each throttled cap is halved (rounding up) on every
	reconcile until it reaches 1; once CPU is under ``cpu_low`` and memory under ``memory_low``
	the base caps come back. Between the two marks nothing changes."""

	def __init__(
		self,
		source: Callable[[], LoadReading] = psutil_reading,
		*,
		cpu_high: float = defaults.JOB_LOAD_CPU_HIGH,
		memory_high: float = defaults.JOB_LOAD_MEMORY_HIGH,
		cpu_low: float = defaults.JOB_LOAD_CPU_LOW,
		memory_low: float = defaults.JOB_LOAD_MEMORY_LOW,
	):
		if cpu_low > cpu_high or memory_low > memory_high:
			raise ValueError(
				f"low thresholds must not exceed high ones (cpu {cpu_low} > {cpu_high} or "
				f"memory {memory_low} > {memory_high})"
			)
		self.source = source
		self.cpu_high, self.memory_high = cpu_high, memory_high
		self.cpu_low, self.memory_low = cpu_low, memory_low

	def read(self) -> LoadReading:
		return self.source()

	def state(self, reading: LoadReading) -> str:
		"""``pressure`` above a high mark, ``calm`` under both low marks, else ``between``."""
		if reading.cpu_percent > self.cpu_high or reading.memory_percent > self.memory_high:
			return "pressure"
		if reading.cpu_percent < self.cpu_low and reading.memory_percent < self.memory_low:
			return "calm"
		return "between"

	def decide(
		self, reading: LoadReading, base: Mapping[Priority, int], effective: Mapping[Priority, int]
	) -> dict[Priority, int]:
		"""The effective caps to use after ``reading`` (only throttled priorities appear)."""
		state = self.state(reading)
		out = {}
		for p in THROTTLED:
			current = effective.get(p, base[p])
			if state == "pressure":
				out[p] = max(1, -(-current // 2)) if current > 1 else 1
			elif state == "calm":
				out[p] = base[p]
			else:
				out[p] = current
		return out
