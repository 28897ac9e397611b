"""Per-priority samples of queue wait and run time, and the statistics queue_status() reports.

Each priority keeps its most recent samples in two capped Redis lists (``"<time> <seconds>"``
entries, newest first, written by the FINISH script). Statistics summarise the samples of a recent
window: p50 and p95 by nearest rank, and throughput as finished jobs per minute over the span the
samples cover.
"""

import math
from collections.abc import Sequence

from ..keys import KeyBuilder
from .priority import Priority


def sample_key(keys: KeyBuilder, priority: Priority, kind: str) -> str:
	return keys.key("jobs", "samples", priority.value, kind)


def parse_samples(raw: Sequence, now: float, window: float) -> list[tuple[float, float]]:
	"""(time, seconds) pairs of the samples no older than ``window`` seconds."""
	out = []
	for entry in raw:
		text = entry.decode() if isinstance(entry, bytes) else entry
		at, _, value = text.partition(" ")
		at = float(at)
		if now - at <= window:
			out.append((at, float(value)))
	return out


def percentile(values: Sequence[float], fraction: float) -> float | None:
	"""The nearest-rank percentile (``fraction`` 0.5 for p50), None for no values."""
	if not values:
		return None
	ordered = sorted(values)
	rank = max(1, math.ceil(fraction * len(ordered)))
	return ordered[rank - 1]


def summarise(
	waits: list[tuple[float, float]], runs: list[tuple[float, float]], now: float, window: float
) -> dict:
	"""p50/p95 of wait and run time, and throughput: finished jobs per minute over the span the
	window's run samples cover (from the oldest of them to now, at least one second), so a burst
	shows its own rate rather than being spread over the whole window."""
	wait_values = [v for _, v in waits]
	run_values = [v for _, v in runs]
	span = max(now - min(at for at, _ in runs), 1.0) if runs else window
	return {
		"wait_p50": _round(percentile(wait_values, 0.50)),
		"wait_p95": _round(percentile(wait_values, 0.95)),
		"run_p50": _round(percentile(run_values, 0.50)),
		"run_p95": _round(percentile(run_values, 0.95)),
		"samples": len(run_values),
		"throughput_per_minute": round(len(run_values) * 60.0 / span, 3) if run_values else 0.0,
	}


def _round(value: float | None) -> float | None:
	return None if value is None else round(value, 6)
