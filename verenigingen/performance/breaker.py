"""A circuit breaker for calls to Redis.

After ``failures`` consecutive failures it opens: callers skip Redis (and the connect
timeout they would each pay) for ``pause`` seconds. Then one caller at a time may try
again (half-open); a success closes the breaker, a failure opens it for another pause.
"""

import threading
import time
from collections.abc import Callable

from .defaults import CACHE_BREAKER_FAILURES, CACHE_BREAKER_PAUSE

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"


class CircuitBreaker:
	def __init__(
		self,
		failures: int = CACHE_BREAKER_FAILURES,
		pause: float = CACHE_BREAKER_PAUSE,
		clock: Callable[[], float] = time.monotonic,
	):
		if failures < 1:
			raise ValueError(f"failures must be at least 1, got {failures}")
		if pause < 0:
			raise ValueError(f"pause must be >= 0 seconds, got {pause}")
		self.failures = failures
		self.pause = pause
		self._clock = clock
		self._lock = threading.Lock()
		self._consecutive = 0
		self._opened_at: float | None = None
		self._trial_running = False
		self.times_opened = 0

	@property
	def state(self) -> str:
		with self._lock:
			if self._opened_at is None:
				return CLOSED
			if self._clock() - self._opened_at >= self.pause:
				return HALF_OPEN
			return OPEN

	@property
	def tripped(self) -> bool:
		"""Has a failure opened the breaker (open or half-open)? A cheap, lock-free read."""
		return self._opened_at is not None

	def allow(self) -> bool:
		"""May this call use Redis? False while open; one trial at a time once the pause is over."""
		with self._lock:
			if self._opened_at is None:
				return True
			if self._clock() - self._opened_at < self.pause or self._trial_running:
				return False
			self._trial_running = True
			return True

	def success(self) -> None:
		with self._lock:
			self._consecutive = 0
			self._opened_at = None
			self._trial_running = False

	def failure(self) -> None:
		with self._lock:
			self._consecutive += 1
			if self._trial_running or self._consecutive >= self.failures:
				if self._opened_at is None or self._trial_running:
					self.times_opened += 1
				self._opened_at = self._clock()
			self._trial_running = False
