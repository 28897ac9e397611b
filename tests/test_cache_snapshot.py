"""A value computed from a database snapshot older than an invalidation is never stored as current.

Two real MariaDB connections: a reader (a request, REPEATABLE READ: one snapshot from its first
read on) and a writer (another process) that commits a change and then invalidates, as the
after-commit step does. ``fresh_snapshot`` is the hook the shell passes (end the reader's
transaction when it holds no writes); without it the race stores the old value.
"""

import pytest

from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.context import SecurityContext

ALICE = SecurityContext("alice@example.org", ["Member Manager"])


class Pair:
	def __init__(self, reader, writer):
		self.reader = reader
		self.writer = writer
		self.value = 1

	def read(self):
		return self.reader.sql("SELECT v FROM `tabThing` WHERE name = 'a'")[0][0]

	def write(self, cache):
		"""Another process: commit a change, then invalidate (after its commit)."""
		self.value += 1
		self.writer.sql("UPDATE `tabThing` SET v = %s WHERE name = 'a'", (self.value,))
		self.writer.commit()
		cache.invalidate_doctype("Thing", ["v"])


@pytest.fixture
def pair(scratch_databases):
	reader = scratch_databases.create("snapshot", with_tables=False)
	reader.ddl("CREATE TABLE `tabThing` (name varchar(140) PRIMARY KEY, v int) ENGINE=InnoDB")
	reader.sql("INSERT INTO `tabThing` VALUES ('a', 1)")
	reader.commit()
	writer = reader.clone()
	yield Pair(reader, writer)
	writer.close()
	reader.close()


def call(cache, compute):
	return cache.get_or_compute(
		"thing", (), compute, ctx=ALICE, level="MEMBER_DATA", depends_on=[("Thing", ["v"])]
	)


def end_transaction(reader):
	"""What the shell's hook does when the transaction holds no writes."""

	def hook():
		reader.commit()
		return True

	return hook


def test_without_a_fresh_snapshot_the_race_stores_the_old_value(pair, redis, namespace):
	"""The hazard itself: this is what the hook prevents (the cache alone cannot see snapshots)."""
	cache = SecurityAwareCache(redis, namespace)
	assert pair.read() == 1  # the request's snapshot starts here
	pair.write(cache)  # a concurrent commit, then its invalidation
	assert call(cache, pair.read) == 1  # a miss under the new tokens, computed from the old snapshot
	pair.reader.rollback()  # the next request
	assert pair.read() == 2
	assert call(cache, pair.read) == 1  # stored as current: stale until the TTL


def test_with_a_fresh_snapshot_the_miss_reads_data_newer_than_the_tokens(pair, redis, namespace):
	cache = SecurityAwareCache(redis, namespace, fresh_snapshot=end_transaction(pair.reader))
	assert pair.read() == 1
	pair.write(cache)
	assert call(cache, pair.read) == 2
	pair.reader.rollback()
	computed = []
	assert call(cache, lambda: computed.append(1) or pair.read()) == 2
	assert computed == []  # a hit, and the right value


@pytest.mark.parametrize(
	"point",
	["before_first_read", "after_first_read", "hook_before_refresh", "hook_after_refresh", "in_compute"],
)
def test_no_stale_value_whenever_the_writer_commits(pair, redis, namespace, point):
	cache = SecurityAwareCache(redis, namespace)
	hook_calls = []

	def hook():
		hook_calls.append(point)
		first = len(hook_calls) == 1
		if point == "hook_before_refresh" and first:
			pair.write(cache)
		pair.reader.commit()
		if point == "hook_after_refresh" and first:
			pair.write(cache)
		return True

	cache.fresh_snapshot = hook

	def compute():
		value = pair.read()
		if point == "in_compute":
			pair.write(cache)
		return value

	if point == "before_first_read":
		pair.write(cache)
	pair.read()
	if point == "after_first_read":
		pair.write(cache)
	call(cache, compute)
	assert hook_calls == [point]
	pair.reader.rollback()  # a later request, after the writer's invalidation
	assert call(cache, pair.read) == 2 == pair.read()
	assert call(cache, pair.read) == 2 and len(hook_calls) <= 2  # and it stays right


def test_a_transaction_with_writes_computes_but_does_not_store(pair, redis, namespace):
	cache = SecurityAwareCache(redis, namespace, fresh_snapshot=lambda: False)
	computed = []

	def compute():
		computed.append(1)
		return pair.read()

	assert call(cache, compute) == 1
	assert call(cache, compute) == 1
	assert len(computed) == 2  # nothing was stored
	stats = cache.stats(function="thing")
	assert (stats["misses"], stats["bypasses"], stats["hits"]) == (2, 2, 0)
	assert list(redis.scan_iter(match=cache.keys.pattern("cache", "lock"))) == []  # the lock was released
	assert list(redis.scan_iter(match=cache.keys.pattern("cache", "e2"))) == []


def test_an_early_refresh_also_starts_a_fresh_snapshot(redis, namespace):
	now = [1_000_000.0]
	allowed = [True]
	calls = []

	def hook():
		calls.append(now[0])
		return allowed[0]

	cache = SecurityAwareCache(
		redis, namespace, ttls={"UTILITY": 100}, clock=lambda: now[0], rng=lambda: 0.999, fresh_snapshot=hook
	)
	values = iter(range(1, 100))

	def compute():
		import time

		time.sleep(0.02)  # the compute time scales how early a refresh may come
		return next(values)

	get = lambda: cache.get_or_compute("u", (), compute, ctx=ALICE, level="UTILITY")  # noqa: E731
	assert get() == 1 and len(calls) == 1
	now[0] += 99.99  # close to expiry: this draw refreshes early
	allowed[0] = False  # ... in a transaction with writes: the new value is returned, not stored
	assert get() == 2 and len(calls) == 2
	assert cache.stats(function="u")["bypasses"] == 1
	now[0] = 1_000_000.0 + 10  # far from expiry again: the stored entry is still the first value
	assert get() == 1


def test_fresh_snapshot_must_be_callable(redis, namespace):
	from verenigingen.performance.exceptions import InvalidCacheArgumentError

	with pytest.raises(InvalidCacheArgumentError, match="fresh_snapshot must be callable"):
		SecurityAwareCache(redis, namespace, fresh_snapshot="commit")
