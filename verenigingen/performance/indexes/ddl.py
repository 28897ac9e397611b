"""How the index manager runs its DDL: never after pending writes, not while old transactions are
open on the database (unless told to wait), each statement waiting at most ``lock_wait_timeout``
for its metadata lock and then naming who holds it, with MariaDB's progress reported while it runs.
"""

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..db import Database
from ..exceptions import OpenTransactionsError, PendingWritesError
from ..locks import (
	ACCESS_DENIED_CODES,
	LockHolder,
	current_schema,
	error_code,
	lock_wait_timeout,
	old_transactions,
	run_ddl,
)


@dataclass(frozen=True)
class OnlineDDL:
	"""DDL on one database, guarded as the index manager needs it."""

	db: Database
	lock_wait_timeout: int
	old_transaction_seconds: float

	def schema(self) -> str:
		"""The connection's own database (the handle's ``database_name`` is the site's name in the shell)."""
		return current_schema(self.db)

	# ------------------------------------------------------------------ before any DDL

	def pending_writes(self) -> bool | None:
		"""Does this connection's transaction hold uncommitted writes? None if the server won't say."""
		own = getattr(self.db, "pending_writes", None)
		if callable(own):
			return bool(own())
		try:
			rows = self.db.sql(
				"SELECT trx_rows_modified FROM information_schema.innodb_trx "
				"WHERE trx_mysql_thread_id = CONNECTION_ID()"
			)
		except Exception as exc:
			if error_code(exc) in ACCESS_DENIED_CODES:
				return None
			raise
		return bool(rows and int(rows[0][0]) > 0)

	def refuse_pending_writes(self) -> None:
		if self.pending_writes():
			raise PendingWritesError(
				"the connection has uncommitted writes: commit or roll back before index DDL "
				"(DDL would commit them implicitly)"
			)

	def open_transactions(self, tables: Iterable[str]) -> list[LockHolder]:
		"""Other connections' transactions open for ``old_transaction_seconds`` or longer here."""
		return list(
			old_transactions(self.db, self.schema(), self.old_transaction_seconds, tuple(tables)).holders
		)

	def refuse_old_transactions(self, tables: Iterable[str], what: str) -> None:
		"""OpenTransactionsError naming them if transactions that old are open on ``tables``.
		A user that may not see other connections (no PROCESS privilege, as a Frappe site's own
		database user) cannot check: the DDL then goes ahead, its lock wait still bounded."""
		tables = tuple(dict.fromkeys(tables))
		found = old_transactions(self.db, self.schema(), self.old_transaction_seconds, tables)
		if found.denied:
			return
		if found.problem:
			raise OpenTransactionsError(
				f"not starting {what}: could not check for old transactions on {found.target} "
				f"({found.problem}); pass wait_for_transactions=True (--wait) to go ahead anyway"
			)
		if found.holders:
			error = OpenTransactionsError(
				f"not starting {what}: {len(found.holders)} transaction(s) open for "
				f"{self.old_transaction_seconds:g} s or longer on {found.target} would block it at its start "
				f"and its end (and every statement on the table queued behind it): "
				f"{found.describe()}. End them, or pass wait_for_transactions=True (--wait) to wait up to "
				f"lock_wait_timeout={self.lock_wait_timeout} s for them"
			)
			error.holders = found.holders
			raise error

	# ------------------------------------------------------------------ the DDL

	@contextmanager
	def bounded(self) -> Iterator[None]:
		"""The session's lock_wait_timeout at ours for the block, then back to what it was."""
		with lock_wait_timeout(self.db, self.lock_wait_timeout):
			yield

	def run(self, sql: str, table: str, on_fraction: Callable[[float], None] | None = None) -> float:
		"""Run one DDL statement on ``table``; report MariaDB's progress of it while it runs.
		Return milliseconds. MetadataLockTimeoutError naming the holder if its lock wait gives up."""
		poller = None
		stop = threading.Event()
		clone = getattr(self.db, "clone", None)
		connection = getattr(self.db, "connection", None)
		if on_fraction is not None and callable(clone) and connection is not None:
			thread_id = connection.thread_id()
			poller = threading.Thread(
				target=_poll_progress, args=(clone, thread_id, stop, on_fraction), daemon=True
			)
			poller.start()
		start = time.perf_counter()
		try:
			run_ddl(self.db, sql, schema=self.schema(), tables=(table,))
		finally:
			stop.set()
			if poller is not None:
				poller.join(timeout=5)
		return (time.perf_counter() - start) * 1000


def _poll_progress(clone, thread_id: int, stop: threading.Event, on_fraction) -> None:
	# MariaDB reports PROGRESS for copying ALTERs (and Aria/MyISAM); an in-place InnoDB ALTER
	# stays at 0, so the bar then moves per index only.
	watcher = clone(autocommit=True)
	last = 0.0
	try:
		while not stop.wait(0.2):
			rows = watcher.sql(
				"SELECT progress FROM information_schema.processlist WHERE id=%s", (thread_id,)
			)
			fraction = min(1.0, float(rows[0][0]) / 100) if rows and rows[0][0] is not None else 0.0
			if fraction > last:
				last = fraction
				on_fraction(fraction)
	finally:
		watcher.close()
