"""Small importable job functions for the benchmark and the showcase (workers import by dotted path)."""

import time


def noop() -> None:
	"""Does nothing: measures the machinery, not the work."""


def pause(seconds: float) -> float:
	"""Work for ``seconds`` (in short slices, so a timeout or cancel stops it between them)."""
	deadline = time.monotonic() + seconds
	while time.monotonic() < deadline:
		time.sleep(min(0.01, seconds))
	return seconds


def fail(message: str) -> None:
	"""Always fails with ``message``."""
	raise RuntimeError(message)
