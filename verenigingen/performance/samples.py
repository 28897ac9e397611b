"""Request samples gathered in the process and written to the per-minute histograms in batches.

:class:`SampleBuffer` is what keeps the request hook cheap: a request appends its samples; one
request in many writes them all to :class:`.histogram.MetricStore` in one pipelined round trip.
Each write carries a batch token (:mod:`.batches`), so samples resent after a failed write are
counted once, and a circuit breaker keeps a Redis that is down from costing requests anything.
"""

import threading
import time
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError

from . import batches
from .breaker import CircuitBreaker
from .defaults import MONITORING_BUFFER_MAX_PENDING, MONITORING_BUFFER_SAMPLES, MONITORING_BUFFER_SECONDS
from .exceptions import InvalidMetricError
from .histogram import MetricStore, Sample


class SampleBuffer:
	"""Gathers samples in the process and writes them in one pipelined round trip once
	``max_samples`` have gathered or ``max_age`` seconds have passed since the oldest.

	Each sample keeps the minute it was taken in, so a flush that spans a minute boundary still
	lands every sample in its own minute. This is what makes the request hook cheap: most requests
	cost a list append; one in ``max_samples`` (or one a second) pays the Redis round trip. What a
	process has not flushed when it dies is lost (at most ``max_samples`` samples or ``max_age``
	seconds of them); a failed flush keeps up to ``max_pending`` samples for the next one and
	drops the oldest beyond that, counting them in ``dropped``. A flush that failed part way is
	resent with the batch tokens it was first sent with, so Redis counts each sample once
	(:mod:`.batches`). After failed flushes ``breaker`` opens and :meth:`add` stops trying Redis
	for its pause (one trial at a time after it), so a Redis that is down costs a request nothing
	but a list append. Thread-safe.
	"""

	def __init__(
		self,
		*,
		max_samples: int = MONITORING_BUFFER_SAMPLES,
		max_age: float = MONITORING_BUFFER_SECONDS,
		max_pending: int = MONITORING_BUFFER_MAX_PENDING,
		clock: Callable[[], float] = time.time,
		breaker: CircuitBreaker | None = None,
	):
		if max_samples < 1 or max_age < 0 or max_pending < max_samples:
			raise InvalidMetricError(
				f"need max_samples >= 1, max_age >= 0 and max_pending >= max_samples, got "
				f"{max_samples!r}, {max_age!r}, {max_pending!r}"
			)
		self.max_samples, self.max_age, self.max_pending = int(max_samples), float(max_age), int(max_pending)
		self.clock = clock
		self.breaker = breaker or CircuitBreaker()
		self.dropped = 0
		self.failed_flushes = 0
		self.last_error: str | None = None
		# (minute, sample, batch token or None): a token once a flush carried the sample
		self._pending: list[tuple[int, Sample, str | None]] = []
		self._oldest: float | None = None
		self._lock = threading.Lock()

	def __len__(self) -> int:
		return len(self._pending)

	def add(self, store: MetricStore, samples: Sequence[Sample]) -> int:
		"""Buffer ``samples``; flush to ``store`` when due. Returns what a flush recorded (else 0).
		Never raises for Redis: a failed flush keeps the samples (see ``failed_flushes``,
		``last_error``) and opens the breaker."""
		if not samples:
			return 0
		now = self.clock()
		minute = int(now // 60)
		with self._lock:
			self._pending.extend((minute, s, None) for s in samples)
			if self._oldest is None:
				self._oldest = now
			due = len(self._pending) >= self.max_samples or now - self._oldest >= self.max_age
		if not due or not self.breaker.allow():
			return 0
		try:
			return self.flush(store)
		except RedisError:
			return 0

	def flush(self, store: MetricStore) -> int:
		"""Write everything buffered in one pipelined round trip; return how many were recorded.
		Raises the Redis error of a failed flush (the samples are kept for the next one)."""
		with self._lock:
			pending, self._pending, self._oldest = self._pending, [], None
		if not pending:
			return 0
		fresh = batches.new_token(self.clock)
		carried, groups = [], {}
		for minute, sample, token in pending:
			if token is not None and not batches.resendable(token, self.clock):
				self.dropped += 1  # Redis may have forgotten whether it applied this one
				continue
			token = token or fresh
			carried.append((minute, sample, token))
			groups.setdefault((token, minute), []).append(sample)
		pipe = store.redis.pipeline(transaction=False)
		for (token, minute), samples in groups.items():
			store.record(samples, at=minute * 60, pipeline=pipe, batch=token)
		try:
			results = pipe.execute() if groups else []
		except Exception as exc:
			with self._lock:  # keep them for the next flush, newest first within the bound
				kept = (carried + self._pending)[-self.max_pending :]
				self.dropped += len(carried) + len(self._pending) - len(kept)
				self._pending = kept
				self._oldest = self._oldest or self.clock()
				self.failed_flushes += 1
				self.last_error = f"{type(exc).__name__}: {exc}"
			self.breaker.failure()
			raise
		self.breaker.success()
		return sum(int(r) for r in results)
