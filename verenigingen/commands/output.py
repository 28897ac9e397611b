"""Human output of the bench commands: aligned tables, figures and verdicts in words, progress."""

import sys
import threading
import time
from collections.abc import Callable

import click

from verenigingen.performance.progress import ProgressBar
from verenigingen.performance.texttable import render_table


def table(headers: list[str], rows: list[list], *, right: tuple[int, ...] = ()) -> str:
	"""Columns padded to their widest cell; the columns in ``right`` (numbers) aligned right."""
	return render_table(headers, rows, right=right, none="-")


def ms(value) -> str:
	if value is None:
		return "-"
	return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def seconds(value) -> str:
	if value is None:
		return "-"
	if value >= 120:
		return f"{value / 60:.1f} min"
	return f"{value:.1f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def percent(fraction) -> str:
	return "-" if fraction is None else f"{fraction * 100:.1f}%"


def size(n) -> str:
	if n is None:
		return "-"
	for unit in ("B", "KiB", "MiB", "GiB"):
		if n < 1024 or unit == "GiB":
			return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
		n /= 1024
	return f"{n} GiB"


def ago(then, now=None) -> str:
	if then is None:
		return "never"
	return f"{seconds(max(0.0, (now or time.time()) - then))} ago"


def speedup(ratio) -> str:
	"""A before/after time ratio in words: "417x faster", "1.3x slower", "no difference"."""
	if ratio is None:
		return "not measured"
	if ratio >= 1.1:
		return f"{ratio:,.0f}x faster" if ratio >= 10 else f"{ratio:.1f}x faster"
	if ratio <= 1 / 1.1:
		return f"{1 / ratio:.1f}x slower"
	return "no difference"


def plural(n: int, word: str, many: str | None = None) -> str:
	return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _stderr_is_terminal() -> bool:
	return bool(getattr(sys.stderr, "isatty", lambda: False)())


class StepProgress:
	"""Progress of long work on stderr (stdout stays for the result and --json): a bar on a terminal,
	one line per step elsewhere. ``update(step, steps, fraction, label)`` is the index manager's
	progress callback; the watcher thread of a running DDL calls it too."""

	def __init__(self, what: str, steps: int, *, on_step: Callable[[], None] | None = None):
		self.what = what
		self.steps = steps
		# a bar on a terminal; elsewhere the step lines below say the same, so the bar stays silent
		self.bar = ProgressBar(max(1, steps) * 100, what, enabled=_stderr_is_terminal())
		self.on_step = on_step
		self._done = 0
		self._started: dict[int, float] = {}
		self._lock = threading.Lock()

	def update(self, step: int, steps: int, fraction: float, label: str) -> None:
		main = threading.current_thread() is threading.main_thread()
		if main and self.on_step is not None:
			self.on_step()  # e.g. stop here after Ctrl-C, between two statements
		with self._lock:
			target = step * 100 + int(fraction * 100)
			if target > self._done:
				self.bar.update(target - self._done)
				self._done = target
			self.bar.label = f"{self.what} {label}"
		if not main or self.bar.enabled:
			return
		if fraction == 0.0:
			self._started[step] = time.perf_counter()
			click.echo(f"[{step + 1}/{steps}] {self.what} {label} ...", err=True)
		elif fraction >= 1.0 and step in self._started:
			click.echo(
				f"[{step + 1}/{steps}] done in {seconds(time.perf_counter() - self._started[step])}", err=True
			)

	def close(self) -> None:
		self.bar.close()
