"""The transactional outbox of cache invalidations: what a transaction changed survives the process.

Invalidating after commit (never before: a concurrent reader would cache the old value again)
leaves a gap: if Redis cannot be reached at that moment, the invalidation exists only in the
memory of the process, and a Frappe job runs in a work horse that exits when the job ends. So
the transaction that changes documents also writes one row, in the same transaction, naming
what it changed (:meth:`InvalidationOutbox.record`, upserted as the transaction's batch grows):

* the transaction rolls back: the row is gone with it, nothing is invalidated;
* it commits and Redis is reachable: the after-commit step moves the counters and then, in the
  same pipeline, sets a marker key naming the row (:meth:`InvalidationOutbox.applied`; Redis
  runs the pipeline in order, so a marker means its counters moved); the row is left alone,
  since a write after commit would belong to no transaction;
* it commits and Redis is not reachable (or the process dies first): the row stays.

:meth:`InvalidationOutbox.sweep` (a job every minute) applies the rows that have no marker,
deletes every row it read, commits, and unlinks their markers. Applying a batch twice only
invalidates twice, so every race between the after-commit step and the sweeper is harmless.

Rows live in ``tabCache Invalidation`` (the app's DocType "Cache Invalidation"): ``name`` (the
outbox id), ``payload`` (:class:`~.invalidation.InvalidationBatch` as JSON) and Frappe's
standard columns.
"""

import logging
import os
import re

from redis.exceptions import RedisError as _RedisError

from .cache import SecurityAwareCache
from .db import Database, quote_identifier, table_name
from .defaults import CACHE_OUTBOX_MARKER_TTL, CACHE_OUTBOX_SWEEP_BATCH, CACHE_OUTBOX_SWEEP_MAX_BATCHES
from .exceptions import InvalidCacheArgumentError
from .invalidation import COMPONENT, InvalidationBatch

OUTBOX_DOCTYPE = "Cache Invalidation"
_ID_RE = re.compile(r"^[0-9a-f]{20}$")
log = logging.getLogger(__name__)


def new_outbox_id() -> str:
	"""A fresh outbox row name (80 random bits, hex)."""
	return os.urandom(10).hex()


def _check_id(outbox_id) -> str:
	if not isinstance(outbox_id, str) or not _ID_RE.match(outbox_id):
		raise InvalidCacheArgumentError(f"outbox id must be 20 lowercase hex digits, got {outbox_id!r}")
	return outbox_id


class InvalidationOutbox:
	"""One site's outbox: rows in ``db`` (the caller's transaction), markers in ``cache``'s Redis."""

	def __init__(
		self,
		db: Database,
		cache: SecurityAwareCache,
		*,
		doctype: str = OUTBOX_DOCTYPE,
		marker_ttl: int = CACHE_OUTBOX_MARKER_TTL,
	):
		if isinstance(marker_ttl, bool) or not isinstance(marker_ttl, int) or marker_ttl <= 0:
			raise InvalidCacheArgumentError(
				f"marker_ttl must be a positive number of seconds, got {marker_ttl!r}"
			)
		self.db = db
		self.cache = cache
		self.table = quote_identifier(table_name(doctype), "table")
		self.marker_ttl = marker_ttl

	def marker_key(self, outbox_id: str) -> str:
		"""The Redis key that says the row ``outbox_id`` reached Redis."""
		return self.cache.keys.key(COMPONENT, "outbox", _check_id(outbox_id))

	# ------------------------------------------------------------ in the writing transaction
	def record(self, outbox_id: str, batch: InvalidationBatch, *, user: str = "Administrator") -> None:
		"""Write (or overwrite) the row ``outbox_id`` with ``batch``, in the caller's transaction."""
		if not isinstance(batch, InvalidationBatch) or not batch:
			raise InvalidCacheArgumentError(f"batch must be a non-empty InvalidationBatch, got {batch!r}")
		self.db.sql(
			f"INSERT INTO {self.table} (name, creation, modified, owner, modified_by, docstatus, idx, payload) "
			"VALUES (%s, NOW(6), NOW(6), %s, %s, 0, 0, %s) "
			"ON DUPLICATE KEY UPDATE payload = VALUES(payload), modified = VALUES(modified)",
			(_check_id(outbox_id), user, user, batch.to_json()),
		)

	# ------------------------------------------------------------ after that transaction committed
	def applied(self, outbox_id: str | None, batch: InvalidationBatch) -> bool:
		"""Apply a committed transaction's ``batch``; with ``outbox_id`` (its row was written), mark
		the row applied in the same round trip. True if Redis took it now (else the sweeper will)."""
		marker = self.marker_key(outbox_id) if outbox_id is not None else None
		return self.cache.apply(batch, marker=marker, marker_ttl=self.marker_ttl)

	# ------------------------------------------------------------ the sweeper
	def sweep(
		self, *, batch_size: int = CACHE_OUTBOX_SWEEP_BATCH, max_batches: int = CACHE_OUTBOX_SWEEP_MAX_BATCHES
	) -> dict:
		"""Apply committed rows that never reached Redis, delete every row read, commit.

		Ends the caller's transaction (a scheduled job's own). Returns ``{"rows": n, "applied": n,
		"already_applied": n, "unreadable": n, "redis": "ok" | "unavailable", "more": bool}``; with
		Redis unavailable nothing is deleted. An unreadable payload invalidates everything (more,
		never less) and is logged.
		"""
		if batch_size < 1 or max_batches < 1:
			raise InvalidCacheArgumentError("batch_size and max_batches must be at least 1")
		totals = {
			"rows": 0,
			"applied": 0,
			"already_applied": 0,
			"unreadable": 0,
			"redis": "ok",
			"more": False,
		}
		for _ in range(max_batches):
			rows = self.db.sql(
				f"SELECT name, payload FROM {self.table} ORDER BY creation, name LIMIT %s", (batch_size,)
			)
			if not rows:
				break
			names = [row[0] for row in rows]
			try:
				marks = self.cache.redis.mget([self.marker_key(n) for n in names])
			except _RedisError:
				totals["redis"] = "unavailable"
				break
			merged = InvalidationBatch()
			todo = [row for row, mark in zip(rows, marks, strict=True) if mark is None]
			unreadable = 0
			for name, payload in todo:
				try:
					merged.merge(InvalidationBatch.from_json(payload))
				except InvalidCacheArgumentError as exc:
					log.warning("cache invalidation %s is unreadable, invalidating everything: %s", name, exc)
					unreadable += 1
					merged.add_everything()
			if merged and not self.cache.apply(merged):
				totals["redis"] = "unavailable"
				break
			totals["applied"] += len(todo)
			totals["already_applied"] += len(rows) - len(todo)
			totals["unreadable"] += unreadable
			self.db.sql(
				f"DELETE FROM {self.table} WHERE name IN ({', '.join(['%s'] * len(names))})", tuple(names)
			)
			self.db.commit()
			totals["rows"] += len(names)
			try:
				self.cache.redis.unlink(*[self.marker_key(n) for n in names])
			except _RedisError:
				pass  # the markers expire by themselves after marker_ttl
			if len(rows) < batch_size:
				break
		else:
			totals["more"] = True
		return totals

	def pending(self) -> int:
		"""Rows in the outbox now (committed ones, as the caller's snapshot sees them)."""
		return int(self.db.sql(f"SELECT COUNT(*) FROM {self.table}")[0][0])
