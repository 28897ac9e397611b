"""A dependency-free progress display for long work (dataset seeding, index DDL, baselines).

On a terminal it draws a bar in place (carriage returns). Anywhere else (a pipe, a CI log) it
writes a plain line every ``interval`` seconds and one at the end, so piped output shows
progress too without filling logs with carriage returns. ``enabled=False`` silences it;
``enabled=True`` draws the bar whatever the stream is. When the work is done, :meth:`finish`
makes the total what was done (callers often start from an estimate), so the last line reads
100 %.
"""

import sys
import time
from typing import TextIO

LINE_INTERVAL = 5.0  # seconds between progress lines when the output is not a terminal


class ProgressBar:
	def __init__(
		self,
		total: int,
		label: str = "",
		*,
		stream: TextIO | None = None,
		enabled: bool | None = None,
		width: int = 30,
		interval: float = LINE_INTERVAL,
		clock=time.monotonic,
	):
		if total < 0:
			raise ValueError(f"total must be >= 0, got {total}")
		if interval <= 0:
			raise ValueError(f"interval must be > 0, got {interval}")
		self.total = total
		self.label = label
		self.stream = stream if stream is not None else sys.stderr
		if enabled is None:
			self.mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
		else:
			self.mode = "bar" if enabled else "off"
		self.width = width
		self.interval = interval
		self.done = 0
		self._clock = clock
		self._start = clock()
		self._last_draw = self._start
		self._closed = False

	@property
	def enabled(self) -> bool:
		return self.mode != "off"

	def update(self, n: int = 1) -> None:
		self.done += n
		now = self._clock()
		if self.mode == "bar" and (now - self._last_draw >= 0.1 or self.done >= self.total):
			self._last_draw = now
			self._draw(now)
		elif self.mode == "lines" and now - self._last_draw >= self.interval:
			self._last_draw = now
			self.stream.write(self.render(now) + "\n")
			self.stream.flush()

	def render(self, now: float | None = None) -> str:
		now = self._clock() if now is None else now
		fraction = min(1.0, self.done / self.total) if self.total else 1.0
		filled = int(fraction * self.width)
		elapsed = now - self._start
		rate = self.done / elapsed if elapsed > 0 else 0.0
		eta = max(0, self.total - self.done) / rate if rate > 0 else 0.0
		bar = "#" * filled + "-" * (self.width - filled)
		return (
			f"{self.label} [{bar}] {self.done:,}/{self.total:,} {fraction * 100:5.1f}% "
			f"{elapsed:6.1f}s eta {eta:5.1f}s"
		)

	def _draw(self, now: float) -> None:
		self.stream.write("\r" + self.render(now))
		self.stream.flush()

	def finish(self) -> None:
		"""The work is complete: the total becomes what was done and the display ends at 100 %."""
		self.total = self.done
		self.close()

	def close(self) -> None:
		if self._closed:
			return
		self._closed = True
		if self.mode == "bar":
			self._draw(self._clock())
			self.stream.write("\n")
			self.stream.flush()
		elif self.mode == "lines":
			self.stream.write(self.render() + "\n")
			self.stream.flush()

	def __enter__(self):
		return self

	def __exit__(self, *exc) -> None:
		self.close()
