"""Bounded, mergeable latency histograms with fixed log-scale buckets, kept per minute in Redis.

Bucket ``i`` (``i >= 1``) holds the values ``v`` with ``MIN * g**(i-1) < v <= MIN * g**i``,
``g = (1 + a) / (1 - a)`` and ``a`` = :data:`RELATIVE_ERROR`; bucket 0 holds every value up
to ``MIN``. A percentile is reported as the bucket's midpoint ``2 * MIN * g**i / (g + 1)``,
which is within ``a`` (2 %) of every value in the bucket, so p50/p95/p99 are within 2 % of
the exact nearest-rank percentile of the same samples (values under ``MIN`` = 1 µs read as
1 µs, values over ``MAX`` = 1 h as 1 h). The buckets are the same for every histogram, so
histograms merge by adding counts, and one holds at most :data:`BUCKETS` counters whatever
the traffic.

:class:`MetricStore` keeps one Redis hash per metric per minute (fields ``b<i>`` bucket
counts, ``n`` count, ``s`` sum in ms, ``e`` errors) plus a per-minute set of the metric
names, every key expiring after the retention. :meth:`MetricStore.record` writes all the
samples of one request in a single Lua call, which also caps the number of distinct
"capped" metrics (endpoints) per minute and checks the site's activation level.
"""

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from . import batches
from .defaults import (
	BATCH_MEMORY_SECONDS,
	METRIC_MAX_PER_MINUTE,
	METRIC_OVERFLOW_NAME,
	METRIC_RETENTION_SECONDS,
	MONITORING_ACTIVATION_LEVEL,
)
from .exceptions import InvalidMetricError
from .keys import KeyBuilder

RELATIVE_ERROR = 0.02  # stated relative error of every percentile
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
MIN_MS = 0.001  # 1 µs: smaller values fall in bucket 0
MAX_MS = 3_600_000.0  # 1 h: larger values are counted in the last bucket
_LOG_GAMMA = math.log(GAMMA)
BUCKETS = int(math.ceil(math.log(MAX_MS / MIN_MS) / _LOG_GAMMA)) + 1  # counters a histogram can hold


def bucket_of(value_ms: float) -> int:
	"""The bucket index of a value in milliseconds."""
	if value_ms != value_ms or value_ms < 0:  # NaN or negative
		raise InvalidMetricError(f"a duration must be a non-negative number of ms, got {value_ms!r}")
	if value_ms <= MIN_MS:
		return 0
	if value_ms >= MAX_MS:
		return BUCKETS - 1
	return max(1, int(math.ceil(math.log(value_ms / MIN_MS) / _LOG_GAMMA - 1e-12)))


def bucket_value(index: int) -> float:
	"""The value reported for bucket ``index``: within RELATIVE_ERROR of every value in it."""
	if index <= 0:
		return MIN_MS
	return MIN_MS * 2 * GAMMA**index / (GAMMA + 1)


def bucket_upper(index: int) -> float:
	"""The largest value bucket ``index`` holds."""
	return MIN_MS * GAMMA**index


@dataclass
class Histogram:
	"""Counts per fixed bucket, a total count, a sum (ms) and an error count. Merge by adding."""

	counts: dict[int, int] = field(default_factory=dict)
	count: int = 0
	total_ms: float = 0.0
	errors: int = 0

	def add(self, value_ms: float, *, error: bool = False, n: int = 1) -> None:
		b = bucket_of(value_ms)
		self.counts[b] = self.counts.get(b, 0) + n
		self.count += n
		self.total_ms += value_ms * n
		if error:
			self.errors += n

	def merge(self, other: "Histogram") -> "Histogram":
		for b, c in other.counts.items():
			self.counts[b] = self.counts.get(b, 0) + c
		self.count += other.count
		self.total_ms += other.total_ms
		self.errors += other.errors
		return self

	@property
	def mean_ms(self) -> float | None:
		return self.total_ms / self.count if self.count else None

	@property
	def error_rate(self) -> float | None:
		return self.errors / self.count if self.count else None

	def percentile(self, q: float) -> float | None:
		"""The nearest-rank ``q`` quantile (0 < q <= 1) in ms, within RELATIVE_ERROR; None if empty."""
		if not 0 < q <= 1:
			raise InvalidMetricError(f"a quantile must be in (0, 1], got {q!r}")
		total = sum(self.counts.values())
		if total == 0:
			return None
		rank = max(1, math.ceil(q * total - 1e-9))
		seen = 0
		for b in sorted(self.counts):
			seen += self.counts[b]
			if seen >= rank:
				return bucket_value(b)
		return bucket_value(max(self.counts))

	def count_at_most(self, threshold_ms: float) -> int:
		"""Samples whose bucket lies at or under ``threshold_ms`` (bucket resolution: 2 %)."""
		limit = bucket_of(threshold_ms)
		return sum(c for b, c in self.counts.items() if b <= limit)

	def summary(self) -> dict:
		return {
			"count": self.count,
			"errors": self.errors,
			"error_rate": self.error_rate,
			"mean_ms": self.mean_ms,
			"p50_ms": self.percentile(0.5),
			"p95_ms": self.percentile(0.95),
			"p99_ms": self.percentile(0.99),
		}

	@classmethod
	def from_fields(cls, fields: dict) -> "Histogram":
		"""Read the hash MetricStore writes (bytes or str keys and values)."""
		h = cls()
		for raw_key, raw_value in fields.items():
			key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
			value = raw_value.decode() if isinstance(raw_value, bytes) else raw_value
			if key.startswith("b"):
				h.counts[int(key[1:])] = h.counts.get(int(key[1:]), 0) + int(value)
			elif key == "n":
				h.count = int(value)
			elif key == "s":
				h.total_ms = float(value)
			elif key == "e":
				h.errors = int(value)
		return h


@dataclass(frozen=True)
class Sample:
	"""One observation: ``metric`` took ``value_ms``; ``capped`` metrics (endpoints) share the
	per-minute cap and overflow into :data:`METRIC_OVERFLOW_NAME`."""

	metric: str
	value_ms: float
	error: bool = False
	capped: bool = False


# KEYS: [index, level, applied batches, (metric key, overflow key) per sample]
# ARGV: [ttl, cap, default level, min level, batch token ('' for none), applied ttl,
#        (member, overflow member, bucket, value, error, capped) per sample]
# A call with a batch token that was applied before does nothing (see performance/batches.py).
_RECORD_LUA = """
local level = tonumber(redis.call('GET', KEYS[2]) or ARGV[3])
if level < tonumber(ARGV[4]) then return 0 end
if ARGV[5] ~= '' then
	if redis.call('SADD', KEYS[3], ARGV[5]) == 0 then return 0 end
	redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6]))
end
local ttl = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local idx = KEYS[1]
local n = (#KEYS - 3) / 2
for j = 0, n - 1 do
	local key = KEYS[4 + 2 * j]
	local a = 7 + 6 * j
	local member = ARGV[a]
	if ARGV[a + 5] == '1' and redis.call('SISMEMBER', idx, member) == 0 and redis.call('SCARD', idx) >= cap then
		key = KEYS[5 + 2 * j]
		member = ARGV[a + 1]
	end
	redis.call('SADD', idx, member)
	redis.call('HINCRBY', key, ARGV[a + 2], 1)
	redis.call('HINCRBY', key, 'n', 1)
	redis.call('HINCRBYFLOAT', key, 's', ARGV[a + 3])
	if ARGV[a + 4] == '1' then redis.call('HINCRBY', key, 'e', 1) end
	redis.call('EXPIRE', key, ttl)
end
redis.call('EXPIRE', idx, ttl)
return n
"""


def validate_metric_name(metric: str) -> str:
	if not isinstance(metric, str) or not metric or len(metric) > 200:
		raise InvalidMetricError(f"a metric name must be 1 to 200 characters of text, got {metric!r}")
	return metric


class MetricStore:
	"""Per-minute histograms of one site in Redis. ``clock`` returns epoch seconds."""

	def __init__(
		self,
		redis,
		namespace: str,
		*,
		clock: Callable[[], float] = time.time,
		retention_seconds: int = METRIC_RETENTION_SECONDS,
		max_metrics_per_minute: int = METRIC_MAX_PER_MINUTE,
		default_level: int = MONITORING_ACTIVATION_LEVEL,
	):
		if retention_seconds < 120:
			raise InvalidMetricError(f"retention_seconds must be at least 120, got {retention_seconds!r}")
		if max_metrics_per_minute < 1:
			raise InvalidMetricError(
				f"max_metrics_per_minute must be positive, got {max_metrics_per_minute!r}"
			)
		self.redis = redis
		self.keys = KeyBuilder(namespace)
		self.clock = clock
		self.retention_seconds = int(retention_seconds)
		self.max_metrics_per_minute = int(max_metrics_per_minute)
		self.default_level = int(default_level)
		self._script = redis.register_script(_RECORD_LUA)

	# ------------------------------------------------------------ keys
	def metric_key(self, minute: int, metric: str) -> str:
		return self.keys.key("metrics", "m", minute, metric)

	def index_key(self, minute: int) -> str:
		return self.keys.key("metrics", "idx", minute)

	def level_key(self) -> str:
		return self.keys.key("monitoring", "level")

	def minute(self, at: float | None = None) -> int:
		return int((self.clock() if at is None else at) // 60)

	# ------------------------------------------------------------ writing
	def set_level(self, level: int) -> None:
		"""Store the site's activation level, which the recording script reads."""
		self.redis.set(self.level_key(), int(level))

	def level(self) -> int:
		raw = self.redis.get(self.level_key())
		return int(raw) if raw is not None else self.default_level

	def applied_key(self, token: str) -> str:
		"""The set of the batch tokens applied in the minute ``token`` was made in."""
		return self.keys.key("metrics", "applied", batches.token_minute(token))

	def record(
		self,
		samples: Sequence[Sample],
		*,
		at: float | None = None,
		min_level: int = 1,
		pipeline=None,
		batch: str | None = None,
	) -> int | None:
		"""Add ``samples`` to this minute's histograms in one Redis call; return how many were
		recorded (0 when the site's activation level is below ``min_level``). With ``pipeline`` the
		call is only queued on it (the caller executes it) and None is returned. With ``batch`` (a
		token of :func:`.batches.new_token`, unique per call) a call resent after a failure is
		applied at most once."""
		if not samples:
			return 0
		minute = self.minute(at)
		keys = [self.index_key(minute), self.level_key()]
		keys.append(self.applied_key(batch) if batch else keys[0])
		args: list = [
			self.retention_seconds, self.max_metrics_per_minute, self.default_level, min_level,
			f"{batch}:{minute}" if batch else "", BATCH_MEMORY_SECONDS,
		]  # fmt: skip
		for s in samples:
			validate_metric_name(s.metric)
			keys.append(self.metric_key(minute, s.metric))
			keys.append(self.metric_key(minute, METRIC_OVERFLOW_NAME))
			args += [
				s.metric, METRIC_OVERFLOW_NAME, f"b{bucket_of(s.value_ms)}", repr(float(s.value_ms)),
				"1" if s.error else "0", "1" if s.capped else "0",
			]  # fmt: skip
		if pipeline is not None:
			self._script(keys=keys, args=args, client=pipeline)
			return None
		return int(self._script(keys=keys, args=args))

	# ------------------------------------------------------------ reading
	def _minutes(self, minutes: int, end: float | None) -> range:
		if minutes < 1:
			raise InvalidMetricError(f"a window must cover at least one minute, got {minutes!r}")
		last = self.minute(end)
		return range(last - minutes + 1, last + 1)

	def metric_names(self, minutes: int, *, end: float | None = None) -> set[str]:
		"""Every metric recorded in the last ``minutes`` minutes."""
		pipe = self.redis.pipeline(transaction=False)
		for m in self._minutes(minutes, end):
			pipe.smembers(self.index_key(m))
		names: set[str] = set()
		for members in pipe.execute():
			names |= {x.decode() if isinstance(x, bytes) else x for x in members}
		return names

	def per_minute(self, metrics: Iterable[str], minutes: int, *, end: float | None = None) -> dict:
		"""{metric: [(minute, Histogram), ...]} over the last ``minutes`` minutes (one round trip)."""
		metrics = list(metrics)
		span = list(self._minutes(minutes, end))
		pipe = self.redis.pipeline(transaction=False)
		for metric in metrics:
			for m in span:
				pipe.hgetall(self.metric_key(m, metric))
		raw = iter(pipe.execute())
		return {metric: [(m, Histogram.from_fields(next(raw))) for m in span] for metric in metrics}

	def window(
		self, metrics: Iterable[str], minutes: int, *, end: float | None = None
	) -> dict[str, Histogram]:
		"""{metric: Histogram merged over the last ``minutes`` minutes}."""
		out = {}
		for metric, rows in self.per_minute(metrics, minutes, end=end).items():
			merged = Histogram()
			for _m, h in rows:
				merged.merge(h)
			out[metric] = merged
		return out
