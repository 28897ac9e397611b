"""Helpers of the metadata lock tests: wait for InnoDB's view of a transaction to settle, and run
a call that may wait for a lock with a guard that turns a hang into a test failure."""

import threading
import time

import pytest

from verenigingen.performance import locks

TIMEOUT = 2  # seconds the DDL in these tests waits for a lock
GUARD = 60  # seconds after which a call still waiting counts as hanging (a test failure, not a hang)
SETTLE = 5.0  # seconds information_schema.INNODB_TRX may take to show a change (it caches for 0.1 s)
POLL = 0.25  # seconds between reads: InnoDB refreshes that cache only after 0.1 s without a read


def until(condition, what: str):
	"""Poll ``condition`` until it returns something true (InnoDB's INNODB_TRX is a cache it
	refreshes only once nobody has read it for 0.1 s, so a transaction just opened or ended shows
	a moment later); return it."""
	deadline = time.monotonic() + SETTLE
	while True:
		value = condition()
		if value:
			return value
		if time.monotonic() > deadline:
			pytest.fail(f"after {SETTLE} s still not: {what}")
		time.sleep(POLL)


def ends(fn, release):
	"""Run ``fn`` in a thread; return what it raised (None if nothing). If it is still waiting
	after GUARD seconds, ``release`` the lock so it can end, and fail: it would have hung."""
	outcome = {}

	def target():
		try:
			fn()
		except BaseException as exc:  # handed to the test, which asserts on it
			outcome["error"] = exc

	thread = threading.Thread(target=target, daemon=True)
	thread.start()
	thread.join(GUARD)
	if thread.is_alive():
		release()
		thread.join(GUARD)
		pytest.fail(f"still waiting for the lock after {GUARD} s: its lock_wait_timeout was not applied")
	return outcome.get("error")


def settled(db, holder_id: int, schema: str, table: str):
	"""Wait until the lookup sees the holder idle in its transaction (as a lookup a moment later
	will): the processlist may still show its statement running, INNODB_TRX may lag behind."""

	def seen():
		found = locks.find_lock_holders(db, schema, table)
		return any(
			h.connection_id == holder_id
			and h.command == "Sleep"
			and (found.exact or h.transaction_seconds is not None)
			for h in found.holders
		)

	until(seen, f"connection {holder_id} shows idle in its transaction")
