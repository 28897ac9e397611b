"""The performance score: 0 to 100 from five measured components, each 0 to 1.

``score = 100 * sum(w_c * s_c) / sum(w_c)`` over the components ``c`` that have data. A
component without data is left out and the remaining weights renormalised; the result names
it under ``missing`` with the reason. No component is ever given a default value.

Components (weights in ``defaults.SCORE_WEIGHTS``):

* **requests**: ``Apdex_T * (1 - server_error_rate)``, where ``Apdex_T = (satisfied +
  tolerating / 2) / count``, satisfied = requests up to T (default 500 ms), tolerating = up
  to 4T, read from the request histogram (bucket resolution 2 %).
* **jobs**: ``(1 - failure_rate) * wait`` over the parts measured: failure_rate = failed / run
  jobs (missing when no job ran), wait = mean over queues with waits and a target of
  ``min(1, target_p95 / p95_wait)`` (missing, with the count, when waits had no target).
* **database**: mean of the parts measured: ``min(1, target_ms / probe_ms)``,
  ``max(0, 1 - slow_queries_per_min / limit)``, ``max(0, 1 - lock_waits_per_min / limit)``.
* **cache**: the app cache's hit ratio ``hits / (hits + misses)``; a hit served by the in-process
  tier counts like one served by Redis (the inputs show the split, when reported).
* **resources**: the tightest of CPU, memory and disk, each
  ``clamp((limit - used%) / (limit - comfort%), 0, 1)`` (1 up to 70 %, 0 from 95 %).
"""

from collections.abc import Mapping

from .defaults import (
	APDEX_T_MS,
	JOB_WAIT_TARGETS_MS,
	LOCK_WAITS_PER_MIN_LIMIT,
	PRIORITY_QUEUES,
	PROBE_TARGET_MS,
	RESOURCE_COMFORT_PERCENT,
	RESOURCE_LIMIT_PERCENT,
	SCORE_WEIGHTS,
	SLOW_QUERIES_PER_MIN_LIMIT,
)
from .exceptions import InvalidMetricError
from .histogram import Histogram

COMPONENTS = ("requests", "jobs", "database", "cache", "resources")


def _clamp(x: float) -> float:
	return max(0.0, min(1.0, x))


def apdex(hist: Histogram, t_ms: float) -> float | None:
	"""Apdex_T of the histogram's samples, or None if it is empty."""
	if t_ms <= 0:
		raise InvalidMetricError(f"Apdex T must be positive, got {t_ms!r}")
	if hist.count == 0:
		return None
	satisfied = hist.count_at_most(t_ms)
	tolerating = hist.count_at_most(4 * t_ms) - satisfied
	return (satisfied + tolerating / 2) / hist.count


def requests_component(hist: Histogram | None, t_ms: float = APDEX_T_MS):
	"""(score, inputs) or (None, reason)."""
	if hist is None or hist.count == 0:
		return None, "no requests recorded in the window"
	a = apdex(hist, t_ms)
	error_rate = hist.errors / hist.count
	return a * (1 - error_rate), {
		"apdex": round(a, 4), "t_ms": t_ms, "count": hist.count, "server_error_rate": round(error_rate, 4),
	}  # fmt: skip


def jobs_component(run: Mapping[str, Histogram], wait: Mapping[str, Histogram], targets_ms=None):
	"""``run``/``wait``: histograms per queue (or priority); errors in ``run`` are failed jobs.

	Two parts, each used only when measured: the success rate (jobs that ran in the window) and
	the wait score (queues with waits *and* a target; a priority name takes its Frappe queue's
	target). A part without data is named under ``missing_parts`` with the reason, never given a
	default; waits recorded under a queue without a target are reported with their count."""
	targets_ms = dict(JOB_WAIT_TARGETS_MS if targets_ms is None else targets_ms)
	runs = sum(h.count for h in run.values())
	waited = {q: h for q, h in wait.items() if h.count}
	if runs == 0 and not waited:
		return None, "no background jobs recorded in the window"
	parts: dict[str, float] = {}
	missing: dict[str, str] = {}
	inputs: dict = {"jobs": runs}
	if runs:
		failed = sum(h.errors for h in run.values())
		parts["success"] = 1 - failed / runs
		inputs.update(failed=failed, failure_rate=round(failed / runs, 4))
	else:
		missing["success"] = "no job finished in the window (waits were recorded, runs were not)"
	wait_scores, untargeted = {}, {}
	for queue, h in waited.items():
		target = targets_ms.get(queue, targets_ms.get(PRIORITY_QUEUES.get(queue, "")))
		if target is None:
			untargeted[queue] = h.count
			continue
		p95 = h.percentile(0.95)
		wait_scores[queue] = {
			"p95_wait_ms": round(p95, 3),
			"target_ms": target,
			"score": _clamp(target / p95),
		}
	inputs["waits"] = wait_scores
	if untargeted:
		inputs["waits_without_target"] = untargeted
	if wait_scores:
		parts["wait"] = sum(w["score"] for w in wait_scores.values()) / len(wait_scores)
	elif untargeted:
		missing["wait"] = (
			f"{sum(untargeted.values())} wait(s) recorded only in queues without a wait target: "
			+ ", ".join(sorted(untargeted))
		)
	else:
		missing["wait"] = "no wait times recorded in the window"
	if not parts:
		return None, "; ".join(f"{k}: {v}" for k, v in missing.items())
	if missing:
		inputs["missing_parts"] = missing
	score = 1.0
	for value in parts.values():
		score *= value
	inputs["parts"] = {k: round(v, 4) for k, v in parts.items()}
	return score, inputs


def database_component(
	probe_ms: float | None,
	slow_per_min: float | None,
	lock_waits_per_min: float | None,
	*,
	probe_target_ms: float = PROBE_TARGET_MS,
	slow_limit: float = SLOW_QUERIES_PER_MIN_LIMIT,
	lock_limit: float = LOCK_WAITS_PER_MIN_LIMIT,
):
	parts = {}
	if probe_ms is not None:
		parts["probe"] = 1.0 if probe_ms <= probe_target_ms else _clamp(probe_target_ms / probe_ms)
	if slow_per_min is not None:
		parts["slow_queries"] = _clamp(1 - slow_per_min / slow_limit)
	if lock_waits_per_min is not None:
		parts["lock_waits"] = _clamp(1 - lock_waits_per_min / lock_limit)
	if not parts:
		return None, "no database probe or status readings"
	inputs = {
		"probe_ms": probe_ms, "slow_queries_per_min": slow_per_min, "row_lock_waits_per_min": lock_waits_per_min,
		"parts": {k: round(v, 4) for k, v in parts.items()},
	}  # fmt: skip
	return sum(parts.values()) / len(parts), inputs


def cache_component(hits: int | None, misses: int | None, local_hits: int | None = None):
	"""``local_hits``: the part of ``hits`` the in-process tier served (None: not reported)."""
	if hits is None or misses is None:
		return None, "cache statistics not available"
	if hits + misses == 0:
		return None, "no cache lookups recorded"
	inputs = {"hits": hits, "misses": misses}
	if local_hits is not None:
		inputs.update(
			local_hits=local_hits,
			redis_hits=hits - local_hits,
			local_hit_share=round(local_hits / hits, 4) if hits else None,
		)
	return hits / (hits + misses), inputs


def resources_component(
	cpu: float | None,
	memory: float | None,
	disk: float | None,
	*,
	comfort: float = RESOURCE_COMFORT_PERCENT,
	limit: float = RESOURCE_LIMIT_PERCENT,
):
	parts = {}
	for name, used in (("cpu", cpu), ("memory", memory), ("disk", disk)):
		if used is not None:
			parts[name] = _clamp((limit - used) / (limit - comfort))
	if not parts:
		return None, "no resource readings"
	tightest = min(parts, key=parts.get)
	return parts[tightest], {
		"cpu_percent": cpu, "memory_percent": memory, "disk_percent": disk,
		"headroom": {k: round(v, 4) for k, v in parts.items()}, "tightest": tightest,
	}  # fmt: skip


def combine(results: Mapping[str, tuple], weights: Mapping[str, float] | None = None) -> dict:
	"""``results``: component -> (score, inputs) or (None, reason). Returns the score document."""
	weights = dict(SCORE_WEIGHTS if weights is None else weights)
	unknown = set(results) - set(weights)
	if unknown:
		raise InvalidMetricError(f"no weight for score component(s) {sorted(unknown)}")
	bad = {k: w for k, w in weights.items() if not isinstance(w, int | float) or w < 0}
	if bad:
		raise InvalidMetricError(f"score weights must be non-negative numbers, got {bad}")
	present = {c: r for c, r in results.items() if r[0] is not None}
	missing = {c: r[1] for c, r in results.items() if r[0] is None}
	for c in weights:
		if c not in results:
			missing[c] = "not measured"
	total_weight = sum(weights[c] for c in present)
	components = {}
	for c, (value, inputs) in present.items():
		components[c] = {
			"score": round(value, 4),
			"weight": weights[c],
			"effective_weight": round(weights[c] / total_weight, 4) if total_weight else 0.0,
			"inputs": inputs,
		}
	score = None
	if total_weight > 0:
		score = round(100 * sum(weights[c] * present[c][0] for c in present) / total_weight, 1)
	return {"score": score, "components": components, "missing": missing}
