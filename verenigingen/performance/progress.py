"""A dependency-free progress bar for long work (dataset seeding, index DDL, baselines).

It draws on a terminal only; elsewhere (CI logs, pipes) it stays silent unless asked, so
logs do not fill with carriage returns. Callers that want no output pass ``enabled=False``.
"""

import sys
import time
from typing import TextIO


class ProgressBar:
	def __init__(
		self,
		total: int,
		label: str = "",
		*,
		stream: TextIO | None = None,
		enabled: bool | None = None,
		width: int = 30,
		clock=time.monotonic,
	):
		if total < 0:
			raise ValueError(f"total must be >= 0, got {total}")
		self.total = total
		self.label = label
		self.stream = stream if stream is not None else sys.stderr
		self.enabled = (
			enabled if enabled is not None else bool(getattr(self.stream, "isatty", lambda: False)())
		)
		self.width = width
		self.done = 0
		self._clock = clock
		self._start = clock()
		self._last_draw = 0.0

	def update(self, n: int = 1) -> None:
		self.done = min(self.total, self.done + n) if self.total else self.done + n
		now = self._clock()
		if self.enabled and (now - self._last_draw >= 0.1 or self.done >= self.total):
			self._last_draw = now
			self._draw(now)

	def render(self, now: float | None = None) -> str:
		now = self._clock() if now is None else now
		fraction = (self.done / self.total) if self.total else 1.0
		filled = int(fraction * self.width)
		elapsed = now - self._start
		rate = self.done / elapsed if elapsed > 0 else 0.0
		eta = (self.total - self.done) / rate if rate > 0 else 0.0
		bar = "#" * filled + "-" * (self.width - filled)
		return (
			f"{self.label} [{bar}] {self.done:,}/{self.total:,} {fraction * 100:5.1f}% "
			f"{elapsed:6.1f}s eta {eta:5.1f}s"
		)

	def _draw(self, now: float) -> None:
		self.stream.write("\r" + self.render(now))
		self.stream.flush()

	def close(self) -> None:
		if self.enabled:
			self._draw(self._clock())
			self.stream.write("\n")
			self.stream.flush()

	def __enter__(self):
		return self

	def __exit__(self, *exc) -> None:
		self.close()
