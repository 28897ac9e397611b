"""Alerts with hysteresis: opened after N consecutive breaching readings, resolved after M
consecutive healthy ones, at most one open alert per metric.

The streak counters live in Redis (per site, per metric); the alerts are rows of the
"Performance Alert" DocType written through the database handle. One evaluation runs at a
time per site (a Redis lock), and the open-alert lookup locks the metric's rows
(``SELECT ... FOR UPDATE``) in the same transaction as the insert, so two workers can never
open two alerts for one metric. A reading of ``None`` (not measured) leaves the streaks as
they are: it is neither a breach nor a healthy reading.
"""

import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from .db import Database, quote_identifier, table_name
from .defaults import ALERT_BREACHES, ALERT_HEALTHY, ALERT_THRESHOLDS, SCORE_ALERT_BELOW
from .exceptions import InvalidMetricError
from .keys import KeyBuilder

ALERT_TABLE = table_name("Performance Alert")
LOCK_SECONDS = 60


def breaches(metric: str, value: float, threshold: float) -> bool:
	"""The score breaches when below its threshold; every other metric when above it."""
	return value < threshold if metric == "score" else value > threshold


def severity(metric: str, value: float, threshold: float) -> str:
	if metric == "score":
		return "Critical" if value < threshold / 2 else "Warning"
	return "Critical" if value > threshold * 1.5 else "Warning"


class AlertManager:
	"""Evaluates readings against thresholds for one site."""

	def __init__(
		self,
		redis,
		db: Database,
		namespace: str,
		*,
		breaches_to_open: int = ALERT_BREACHES,
		healthy_to_resolve: int = ALERT_HEALTHY,
		thresholds: Mapping[str, float | None] | None = None,
		score_below: float = SCORE_ALERT_BELOW,
		clock: Callable[[], float] = time.time,
	):
		for name, n in (("breaches_to_open", breaches_to_open), ("healthy_to_resolve", healthy_to_resolve)):
			if not isinstance(n, int) or n < 1:
				raise InvalidMetricError(f"{name} must be a positive whole number, got {n!r}")
		self.redis = redis
		self.db = db
		self.keys = KeyBuilder(namespace)
		self.n = breaches_to_open
		self.m = healthy_to_resolve
		merged = dict(ALERT_THRESHOLDS if thresholds is None else thresholds)
		merged["score"] = score_below
		self.thresholds = {k: float(v) for k, v in merged.items() if v is not None}
		self.clock = clock

	def _state_key(self, metric: str) -> str:
		return self.keys.key("alerts", "state", metric)

	def open_alerts(self) -> list[dict]:
		rows = self.db.sql(
			f"SELECT name, metric, severity, value, threshold, first_seen, last_seen, breaches, message "
			f"FROM {quote_identifier(ALERT_TABLE)} WHERE status='Open' ORDER BY first_seen",
			as_dict=True,
		)
		return [
			{**r, "value": float(r["value"]), "threshold": float(r["threshold"]),
			 "first_seen": str(r["first_seen"]), "last_seen": str(r["last_seen"])}
			for r in rows
		]  # fmt: skip

	def evaluate(self, readings: Mapping[str, float | None]) -> dict:
		"""Apply one reading per metric; return {"opened", "updated", "resolved", "skipped"}."""
		unknown = set(readings) - set(self.thresholds)
		if unknown:
			raise InvalidMetricError(f"no alert threshold for metric(s) {sorted(unknown)}")
		lock_key = self.keys.key("alerts", "lock")
		token = secrets.token_hex(8)
		if not self.redis.set(lock_key, token, nx=True, ex=LOCK_SECONDS):
			return {"opened": [], "updated": [], "resolved": [], "skipped": "another evaluation is running"}
		try:
			return self._evaluate(readings)
		finally:
			if self.redis.get(lock_key) in (token, token.encode()):
				self.redis.delete(lock_key)

	def _evaluate(self, readings: Mapping[str, float | None]) -> dict:
		now = datetime.fromtimestamp(self.clock()).replace(microsecond=0)
		table = quote_identifier(ALERT_TABLE)
		result = {"opened": [], "updated": [], "resolved": [], "skipped": None}
		states = {}
		try:
			for metric, value in sorted(readings.items()):
				if value is None:
					continue
				threshold = self.thresholds[metric]
				raw = self.redis.hgetall(self._state_key(metric))
				state = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
				bad = breaches(metric, float(value), threshold)
				streak_b = state.get("breaches", 0) + 1 if bad else 0
				streak_h = 0 if bad else state.get("healthy", 0) + 1
				states[metric] = {"breaches": streak_b, "healthy": streak_h}
				rows = self.db.sql(
					f"SELECT name FROM {table} WHERE metric=%s AND status='Open' FOR UPDATE", (metric,)
				)
				open_name = rows[0][0] if rows else None
				sev = severity(metric, float(value), threshold)
				if bad and open_name:
					self.db.sql(
						f"UPDATE {table} SET value=%s, severity=%s, last_seen=%s, breaches=%s, modified=%s "
						"WHERE name=%s",
						(value, sev, now, streak_b, now, open_name),
					)
					result["updated"].append({"name": open_name, "metric": metric, "value": value})
				elif bad and streak_b >= self.n:
					name = secrets.token_hex(5)
					message = (
						f"{metric} = {value:g} {'below' if metric == 'score' else 'above'} {threshold:g} "
						f"for {streak_b} consecutive readings"
					)
					self.db.sql(
						f"INSERT INTO {table} (name, creation, modified, modified_by, owner, docstatus, idx, "
						"metric, status, severity, value, threshold, first_seen, last_seen, breaches, message) "
						"VALUES (%s, %s, %s, 'Administrator', 'Administrator', 0, 0, %s, 'Open', %s, %s, %s, "
						"%s, %s, %s, %s)",
						(name, now, now, metric, sev, value, threshold, now, now, streak_b, message),
					)
					result["opened"].append(
						{"name": name, "metric": metric, "severity": sev, "value": value,
						 "threshold": threshold, "message": message}
					)  # fmt: skip
				elif not bad and open_name and streak_h >= self.m:
					self.db.sql(
						f"UPDATE {table} SET status='Resolved', resolved_at=%s, modified=%s WHERE name=%s",
						(now, now, open_name),
					)
					result["resolved"].append({"name": open_name, "metric": metric, "value": value})
			self.db.commit()
		except Exception:
			self.db.rollback()  # no alert row half written, and the streaks below stay as they were
			raise
		pipe = self.redis.pipeline(transaction=True)
		for metric, state in states.items():
			pipe.hset(self._state_key(metric), mapping=state)
		pipe.execute()
		return result
