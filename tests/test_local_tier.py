"""The in-process tier of the cache, against real Redis: what it serves, what makes it drop
entries, its bounds, and what happens when the tracking connection, Redis or the process change
under it (killed connection, restart, flush, freeze, fork)."""

import datetime
import os
import signal
import threading
import time
from decimal import Decimal

import pytest
import redis as redis_py

from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.exceptions import InvalidCacheArgumentError
from verenigingen.performance.keys import unlink_site
from verenigingen.performance.local_tier import MISS, LocalTier, copier
from verenigingen.performance.serialization import encode

from .ownredis import REDIS_SERVER
from .ownredis import wait_until as _wait_until

ALICE = SecurityContext("alice@example.org", ["Member Manager"])
BOB = SecurityContext("bob@example.org", ["Member Manager"])
# Generous timing where a test is not about the bound, so a loaded machine cannot make it flaky.
RELAXED = {"heartbeat": 0.01, "stale_after": 5.0, "slow_after": 10.0}


class CountingRedis(redis_py.Redis):
	"""Counts the commands and pipelines the test's own thread sends (not the tier's thread)."""

	calls = 0

	def _note(self):
		if threading.current_thread() is threading.main_thread():
			self.calls += 1

	def execute_command(self, *args, **kwargs):
		self._note()
		return super().execute_command(*args, **kwargs)

	def pipeline(self, transaction=True, shard_hint=None):
		pipe = super().pipeline(transaction, shard_hint)
		execute = pipe.execute

		def counted(*args, **kwargs):
			self._note()
			return execute(*args, **kwargs)

		pipe.execute = counted
		return pipe


class Source:
	def __init__(self):
		self.value = 1
		self.reads = 0

	def compute(self):
		self.reads += 1
		return {"value": self.value, "rows": [{"n": 1}], "at": datetime.date(2026, 1, 1)}


@pytest.fixture
def tiers():
	made = []

	def make(redis, namespace, **options):
		tier = LocalTier(**{**RELAXED, **options})
		made.append(tier)
		return SecurityAwareCache(redis, namespace, local=tier), tier

	yield make
	for tier in made:
		tier.close()


def call(cache, source, ctx=ALICE, arg=1):
	return cache.get_or_compute(
		"f", (arg,), source.compute, ctx=ctx, level="MEMBER_DATA", depends_on=["Member"]
	)


def served_locally(cache, source, ctx=ALICE, arg=1) -> bool:
	"""Call once; was it a hit of the tier?"""
	before = cache.stats(function="f")["local_hits"]
	call(cache, source, ctx, arg)
	return cache.stats(function="f")["local_hits"] > before


def warm(cache, tier, source, ctx=ALICE, arg=1):
	"""Call until a call is served by the tier (the tracking connection is up, the entry held)."""
	_wait_until(lambda: served_locally(cache, source, ctx, arg), what="the tier to serve the entry")


def test_a_tier_hit_makes_no_redis_call_and_hands_out_a_private_copy(namespace, tiers):
	counting = CountingRedis(port=int(os.environ.get("VERENIGINGEN_REDIS_PORT", 6379)))
	cache, tier = tiers(counting, namespace)
	source = Source()
	warm(cache, tier, source)
	counting.calls = 0
	first = call(cache, source)
	first["rows"][0]["n"] = 99
	first["value"] = "changed by the caller"
	again = call(cache, source)
	assert counting.calls == 0 and source.reads == 1
	assert again == {"value": 1, "rows": [{"n": 1}], "at": datetime.date(2026, 1, 1)}
	assert again is not first and again["rows"] is not first["rows"]
	assert cache.stats(function="f")["local_hits"] >= 2


def test_entries_are_keyed_like_redis_so_nobody_gets_anothers_value(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace)

	def compute_for(ctx):
		return lambda: {"for": ctx.user, "roles": sorted(ctx.roles)}

	def ask(ctx):
		return cache.get_or_compute("f", (1,), compute_for(ctx), ctx=ctx, level="MEMBER_DATA")

	_wait_until(lambda: ask(ALICE) and tier.size() > 0, what="alice's entry held")
	assert ask(ALICE)["for"] == "alice@example.org"
	assert ask(BOB)["for"] == "bob@example.org"  # another user: another key, never alice's value
	promoted = SecurityContext("alice@example.org", ["Member Manager", "Treasurer"])
	assert ask(promoted)["roles"] == ["Member Manager", "Treasurer"]  # other roles: another key
	assert ask(ALICE)["for"] == "alice@example.org"


def test_the_invalidating_process_reads_its_own_write_at_once(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace)
	source = Source()
	warm(cache, tier, source)
	source.value = 2
	cache.invalidate_doctype("Member")  # no waiting: the tier dropped the entry before returning
	assert call(cache, source)["value"] == 2
	source.value = 3
	cache.invalidate_role("Member Manager")  # a role change reaches it like any invalidation
	assert call(cache, source)["value"] == 3


def test_a_change_made_elsewhere_is_dropped_when_redis_reports_it(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace)
	elsewhere = SecurityAwareCache(redis, namespace)  # another process's cache, no tier
	source = Source()
	warm(cache, tier, source)
	invalidated = tier.process_stats()["counters"]["invalidated"]
	source.value = 2
	elsewhere.invalidate_doctype("Member")
	_wait_until(
		lambda: (call(cache, source), tier.process_stats()["counters"]["invalidated"])[1] > invalidated,
		what="Redis's report to reach the tier",
	)
	assert call(cache, source)["value"] == 2


def test_a_counter_that_expires_or_is_deleted_drops_what_depends_on_it(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace)
	source = Source()
	warm(cache, tier, source)
	redis.delete(cache.generations.doctype_key("Member"))  # eviction or expiry looks the same
	source.value = 2
	_wait_until(lambda: call(cache, source)["value"] == 2, what="the deleted counter to drop the entry")


def test_an_install_that_overlaps_a_report_on_its_keys_is_refused(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace)
	warm(cache, tier, Source())
	keys = ["g:1", "g:2"]
	payload = encode({"v": 1})
	mark = tier.mark()
	tier.invalidate(["g:2"])  # a report that arrived while the lookup was in flight
	assert tier.put(mark, "k:1", keys, ["t1", "t2"], payload, time.time() + 60) is False
	mark = tier.mark()
	tier.invalidate(["g:other"])  # unrelated keys do not stop it
	assert tier.put(mark, "k:1", keys, ["t1", "t2"], payload, time.time() + 60) is True
	assert tier.get("k:1", keys) == {"v": 1}
	held = tier.size()
	tier.invalidate(["g:1"])
	assert tier.get("k:1", keys) is MISS and tier.size() == held - 1
	assert tier.put(tier.mark(), "k:1", keys, ["t1", "t2"], payload, time.time() + 60) is True
	assert tier.get("k:1", ["g:1"]) is MISS  # asked under other generation keys: never served


def test_memory_is_bounded_by_entries_and_by_bytes_least_recently_used_first(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace, max_entries=3)
	warm(cache, tier, Source(), arg=0)
	sources = {i: Source() for i in range(4)}
	for i in (1, 2):
		warm(cache, tier, sources[i], arg=i)
	call(cache, sources[0], arg=0)  # 0 is now the most recently used
	warm(cache, tier, sources[3], arg=3)  # one too many: 1, the least recently used, goes
	assert tier.size() == 3
	assert tier.process_stats()["counters"]["evictions"] == 1

	served = [served_locally(cache, sources[i], arg=i) for i in (0, 3, 1)]
	assert served == [True, True, False]  # 1 was evicted, not 0

	small, small_tier = tiers(redis, namespace + "-b", max_bytes=len(encode(Source().compute())) * 2)
	for i in range(5):
		warm(small, small_tier, Source(), arg=i)
		assert small_tier.process_stats()["bytes"] <= small_tier.max_bytes
	assert small_tier.size() == 2
	big = Source()
	big.value = "x" * 10_000  # larger than the whole tier: served from Redis, never held
	for _ in range(3):
		call(small, big, arg=99)
	assert small_tier.process_stats()["counters"]["too_large"] >= 1
	unlink_site(redis, namespace + "-b")


def test_copies_keep_types_and_share_only_immutable_parts():
	value = {
		"list": [1, {"a": [2]}],
		"tuple": (1, [2], "x"),
		"frozen": (1, "y", Decimal("1.50")),
		"map": {(1, "k"): {"deep": True}},
		"when": datetime.datetime(2026, 1, 1, 12, 0),
	}
	make = copier(value)
	a, b = make(), make()
	assert a == b == value
	assert a["list"][1]["a"] is not b["list"][1]["a"]
	assert a["tuple"][1] is not b["tuple"][1] and isinstance(a["tuple"], tuple)
	assert a["frozen"] is value["frozen"]  # all immutable: shared
	assert a["map"][(1, "k")] is not b["map"][(1, "k")]
	with pytest.raises(TypeError):
		copier({"s": {1, 2}})  # never produced by the codec


def test_expiry_and_arguments(redis, namespace, tiers):
	now = [1_000_000.0]
	tier = LocalTier(**RELAXED)
	try:
		cache = SecurityAwareCache(redis, namespace, local=tier, clock=lambda: now[0], early_beta=0)
		source = Source()
		warm(cache, tier, source)
		now[0] += 899  # MEMBER_DATA lives 900 s
		assert call(cache, source) and source.reads == 1
		now[0] += 2
		assert call(cache, source)["value"] == 1  # Redis still has it (its TTL runs on real time)
		assert tier.process_stats()["counters"]["miss_expired"] == 1
		assert tier.size() == 0  # and the tier does not take back what is past its time
		with pytest.raises(InvalidCacheArgumentError, match="already serves"):
			SecurityAwareCache(redis, namespace, local=tier)
	finally:
		tier.close()
	for bad in ({"max_entries": 0}, {"max_bytes": True}, {"heartbeat": 0.1, "stale_after": 0.05}):
		with pytest.raises(InvalidCacheArgumentError):
			LocalTier(**bad)
	with pytest.raises(InvalidCacheArgumentError, match="LocalTier"):
		SecurityAwareCache(redis, namespace, local={"max_entries": 5})


def test_stats_report_local_and_redis_hits_and_the_tier(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace)
	source = Source()
	warm(cache, tier, source)
	for _ in range(5):
		call(cache, source)
	stats = cache.stats()
	totals = stats["totals"]
	assert totals["local_hits"] >= 5 and totals["redis_hits"] >= 1
	assert totals["hits"] == totals["local_hits"] + totals["redis_hits"]
	local = stats["local"]
	assert local["processes"] == 1 and local["entries"] == 1 and local["bytes"] > 0
	assert local["counters"]["installs"] >= 1
	assert local["process"]["tracking"]["state"] == "tracking"
	assert set(local["flushes"]) == {"connection_lost", "redis_flush", "slow", "protocol", "error", "fork"}


def test_a_fault_in_the_tracking_thread_empties_the_tier_and_it_starts_over(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace, tick_seconds=0.02)
	source = Source()
	warm(cache, tier, source)
	faults = []

	def failing_tick():
		if not faults:
			faults.append(1)
			raise RuntimeError("boom")

	tier._on_tick = failing_tick
	_wait_until(lambda: tier.process_stats()["flushes"]["error"] == 1, what="the fault to be handled")
	assert "RuntimeError: boom" in tier.tracker.last_error
	_wait_until(lambda: tier.tracker.connects == 2, what="the tracker to start over")
	warm(cache, tier, source)
	assert source.reads == 1


def test_the_tier_finds_redis_as_the_client_does():
	from verenigingen.performance.tracking import Address

	tcp = Address.of(redis_py.Redis(host="10.0.0.5", port=6380, password="pw", username="app"))
	assert (tcp.host, tcp.port, tcp.username, tcp.password) == ("10.0.0.5", 6380, "app", "pw")
	unix = Address.of(redis_py.Redis(unix_socket_path="/tmp/redis.sock"))
	assert unix.path == "/tmp/redis.sock" and unix.host is None
	with pytest.raises(InvalidCacheArgumentError, match="TLS"):
		Address.of(redis_py.Redis(ssl=True))
	with pytest.raises(InvalidCacheArgumentError, match="connection pool"):
		Address.of(object())


def test_a_killed_tracking_connection_empties_the_tier_until_it_is_back(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace)
	elsewhere = SecurityAwareCache(redis, namespace)
	source = Source()
	warm(cache, tier, source)
	killed = tier.tracker.client_id
	assert redis.client_kill_filter(_id=killed) == 1  # our own connection, by its id
	source.value = 2
	elsewhere.invalidate_doctype("Member")  # made while nobody tells this process
	assert call(cache, source)["value"] == 2  # never the old value
	assert tier.process_stats()["flushes"]["connection_lost"] == 1
	_wait_until(lambda: tier.tracker.client_id not in (None, killed), what="the tracker to reconnect")
	warm(cache, tier, source)
	assert call(cache, source)["value"] == 2 and tier.tracker.connects == 2


def test_a_forked_child_starts_empty_and_the_parent_keeps_tracking(redis, namespace, tiers):
	cache, tier = tiers(redis, namespace)
	source = Source()
	warm(cache, tier, source)
	parent_id = tier.tracker.client_id
	read, write = os.pipe()
	pid = os.fork()
	if pid == 0:  # the child: report, then leave without running the parent's cleanup
		try:
			stats = tier.process_stats()
			ok = stats["entries"] == 0 and stats["flushes"]["fork"] == 1 and tier.tracker.client_id is None
			reads = source.reads
			ok = ok and call(cache, source) == {
				"value": 1,
				"rows": [{"n": 1}],
				"at": datetime.date(2026, 1, 1),
			}
			warm(cache, tier, source)  # its own tracking connection, its own entries
			ok = ok and tier.tracker.client_id not in (None, parent_id) and source.reads == reads
			tier.close()
			os.write(write, b"1" if ok else b"0")
		finally:
			os._exit(0)
	os.close(write)
	os.waitpid(pid, 0)
	assert os.read(read, 1) == b"1"
	os.close(read)
	assert tier.tracker.client_id == parent_id  # the child closed only its copy of the socket
	clients = {int(c["id"]) for c in redis.client_list()}
	assert parent_id in clients
	source.value = 2
	SecurityAwareCache(redis, namespace).invalidate_doctype("Member")
	_wait_until(lambda: call(cache, source)["value"] == 2, what="the parent to see the change")


skip_without_server = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary not installed")


@skip_without_server
def test_a_redis_restart_empties_the_tier_and_nothing_old_is_served(own_redis, tiers):
	client = own_redis.client()
	cache, tier = tiers(client, "site1")
	source = Source()
	warm(cache, tier, source)
	own_redis.kill()
	source.value = 2
	own_redis.start()  # same port, empty
	_wait_until(lambda: tier.tracker.connects == 2, what="the tracker to reconnect")
	assert tier.process_stats()["flushes"]["connection_lost"] == 1
	assert call(cache, source)["value"] == 2
	warm(cache, tier, source)
	assert call(cache, source)["value"] == 2


@skip_without_server
def test_a_flush_of_the_redis_database_empties_the_tier(own_redis, tiers):
	client = own_redis.client()
	cache, tier = tiers(client, "site1")
	source = Source()
	warm(cache, tier, source)
	client.flushdb()  # our own server: nothing else lives there
	source.value = 2
	_wait_until(lambda: tier.process_stats()["flushes"]["redis_flush"] == 1, what="the flush report")
	assert call(cache, source)["value"] == 2


@skip_without_server
def test_a_frozen_redis_makes_the_tier_stop_serving_then_drop_the_connection(own_redis, tiers):
	client = own_redis.client()
	cache, tier = tiers(client, "site1", heartbeat=0.01, stale_after=0.05, slow_after=0.3)
	source = Source()
	warm(cache, tier, source)
	os.kill(own_redis.proc.pid, signal.SIGSTOP)
	try:
		# heartbeats go unanswered: past stale_after the tier no longer vouches for what it holds,
		# though it still holds it; past slow_after it drops the connection and empties itself
		_wait_until(
			lambda: tier.get("x", []) is MISS and not tier.tracker.vouches(time.monotonic()), what="unvouched"
		)
		_wait_until(lambda: tier.process_stats()["flushes"]["slow"] == 1, what="the slow flush")
		assert tier.size() == 0
	finally:
		os.kill(own_redis.proc.pid, signal.SIGCONT)
	_wait_until(lambda: tier.tracker.connects == 2, what="the tracker to reconnect")
	warm(cache, tier, source)


def test_threads_of_one_process_never_see_a_value_older_than_a_returned_invalidation(redis, namespace, tiers):
	"""Several threads read while one changes the data and invalidates: a lookup that began after
	invalidate_doctype returned never returns what was current before (the tier drops its own
	entries before returning, and refuses installs that overlap the change)."""
	cache, tier = tiers(redis, namespace)
	truth = {"v": 0}
	returned = [float("-inf")]  # returned[k]: when the invalidation for version k returned
	failures, reads = [], [0]
	stop = threading.Event()

	def lookup():
		return cache.get_or_compute(
			"f", (), lambda: dict(truth), ctx=ALICE, level="MEMBER_DATA", depends_on=["Member"]
		)

	def reader():
		while not stop.is_set():
			done = len(returned) - 1  # versions whose invalidation had returned before this lookup
			value = lookup()["v"]
			reads[0] += 1
			if value < done:
				failures.append((value, done))

	_wait_until(lambda: lookup() is not None and tier.process_stats()["hits"] > 0, what="tier hits")
	threads = [threading.Thread(target=reader) for _ in range(3)]
	for t in threads:
		t.start()
	try:
		for k in range(1, 151):
			truth["v"] = k
			cache.invalidate_doctype("Member")
			returned.append(time.monotonic())
			time.sleep(0.001)  # let the readers take the new value into the tier between changes
	finally:
		stop.set()
		for t in threads:
			t.join(10)
	assert failures == []
	assert tier.process_stats()["hits"] > 0 and reads[0] > 150  # the tier served some of them
