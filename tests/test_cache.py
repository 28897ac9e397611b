"""SecurityAwareCache against a real Redis: isolation, O(1) invalidation, dependencies,
selectivity, stampede protection, early refresh, statistics."""

import threading
import time
import warnings
from decimal import Decimal

import pytest

from verenigingen.performance.cache import ENTRY_FORMAT, Scope, SecurityAwareCache, SecurityLevel
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.exceptions import InvalidCacheArgumentError, UncacheableValueWarning
from verenigingen.performance.keys import unlink_site

ALICE = SecurityContext("alice@example.org", ["Member Manager"])
BOB = SecurityContext("bob@example.org", ["Member Manager"])
CAROL = SecurityContext("carol@example.org", ["Accounts User"])


class Counter:
	"""A compute function that returns a new value on every call and counts the calls."""

	def __init__(self, label="v", cost=0.0):
		self.calls = 0
		self.label = label
		self.cost = cost  # seconds of work a call simulates
		self._lock = threading.Lock()

	def __call__(self):
		if self.cost:
			time.sleep(self.cost)
		with self._lock:
			self.calls += 1
			return {"label": self.label, "n": self.calls}


@pytest.fixture
def cache(redis, namespace):
	return SecurityAwareCache(redis, namespace, derived_dependencies={"Member Payment": ["Member"]})


def get(cache, ctx, compute, *, name="summary", args=("M1",), level=SecurityLevel.MEMBER_DATA, **kw):
	return cache.get_or_compute(name, args, compute, ctx=ctx, level=level, **kw)


def test_second_call_is_a_hit(cache):
	compute = Counter()
	assert get(cache, ALICE, compute) == {"label": "v", "n": 1}
	assert get(cache, ALICE, compute) == {"label": "v", "n": 1}
	assert compute.calls == 1


def test_user_scope_never_shares_between_users_even_with_equal_roles(cache):
	a, b = Counter("alice"), Counter("bob")
	assert get(cache, ALICE, a)["label"] == "alice"
	assert get(cache, BOB, b)["label"] == "bob"
	assert get(cache, ALICE, a)["label"] == "alice"
	assert (a.calls, b.calls) == (1, 1)


def test_role_change_changes_the_key_without_any_invalidation(cache):
	compute = Counter()
	get(cache, ALICE, compute)
	promoted = SecurityContext(ALICE.user, ALICE.roles | {"System Manager"})
	assert get(cache, promoted, compute)["n"] == 2
	assert get(cache, ALICE, compute)["n"] == 1  # the old role set still has its own entry


def test_roles_scope_is_shared_by_equal_role_sets_only(cache):
	compute = Counter()
	kw = dict(name="stats", args=(), level="REPORTING", scope=Scope.ROLES)
	assert get(cache, ALICE, compute, **kw)["n"] == 1
	assert get(cache, BOB, compute, **kw)["n"] == 1  # same roles: shared
	assert get(cache, CAROL, compute, **kw)["n"] == 2  # other roles: own entry
	assert compute.calls == 2


def test_public_scope_is_shared_by_everyone(cache):
	compute = Counter()
	kw = dict(name="holidays", args=(2026,), level="PUBLIC", scope="PUBLIC")
	get(cache, ALICE, compute, **kw)
	get(cache, CAROL, compute, **kw)
	assert compute.calls == 1


def test_arguments_levels_and_sites_are_separate_entries(cache, redis, namespace):
	compute = Counter()
	get(cache, ALICE, compute, args=("M1",))
	get(cache, ALICE, compute, args=("M2",))
	get(cache, ALICE, compute, args=("M1",), level="FINANCIAL")
	other_site = SecurityAwareCache(redis, namespace + "-other")
	try:
		get(other_site, ALICE, compute, args=("M1",))
		assert compute.calls == 4
	finally:
		other_site.invalidate_all()
		unlink_site(redis, namespace + "-other")


def test_argument_digest_ignores_dict_order(cache):
	compute = Counter()
	get(cache, ALICE, compute, args={"a": 1, "b": [1, 2]})
	get(cache, ALICE, compute, args={"b": [1, 2], "a": 1})
	assert compute.calls == 1


def test_invalidate_doctype_only_hits_entries_that_depend_on_it(cache):
	on_member, on_chapter = Counter("m"), Counter("c")
	get(cache, ALICE, on_member, name="a", depends_on=["Member"])
	get(cache, ALICE, on_chapter, name="b", depends_on=["Chapter"])
	assert cache.invalidate_doctype("Member") is True
	get(cache, ALICE, on_member, name="a", depends_on=["Member"])
	get(cache, ALICE, on_chapter, name="b", depends_on=["Chapter"])
	assert (on_member.calls, on_chapter.calls) == (2, 1)


def test_derived_dependency_follows_the_graph_transitively_and_survives_cycles(redis, namespace):
	cache = SecurityAwareCache(
		redis,
		namespace,
		derived_dependencies={
			"Member Payment": ["SEPA Mandate"],
			"SEPA Mandate": ["Member"],
			"Member": ["Member Payment"],
		},
	)
	compute = Counter()
	get(cache, ALICE, compute, depends_on=["Member"])
	cache.invalidate_doctype("Member Payment")
	get(cache, ALICE, compute, depends_on=["Member"])
	assert compute.calls == 2
	assert cache.generations.graph.affected("Member Payment") == ["Member Payment", "SEPA Mandate", "Member"]


def test_field_dependency_ignores_updates_of_other_fields(cache):
	compute = Counter()
	dep = [("Member", ["status", "email"])]
	get(cache, ALICE, compute, depends_on=dep)
	cache.invalidate_doctype("Member", changed_fields=["first_name", "modified"])
	assert get(cache, ALICE, compute, depends_on=dep)["n"] == 1
	cache.invalidate_doctype("Member", changed_fields=["status"])
	assert get(cache, ALICE, compute, depends_on=dep)["n"] == 2
	cache.invalidate_doctype("Member")  # insert, delete, rename: always
	assert get(cache, ALICE, compute, depends_on=dep)["n"] == 3


def test_whole_doctype_dependency_sees_every_field_update(cache):
	compute = Counter()
	get(cache, ALICE, compute, depends_on="Member")
	cache.invalidate_doctype("Member", changed_fields=["first_name"])
	assert get(cache, ALICE, compute, depends_on="Member")["n"] == 2


def test_invalidate_user_role_function_and_all(cache):
	compute = Counter()
	get(cache, ALICE, compute)
	get(cache, CAROL, compute)
	cache.invalidate_user(ALICE.user)
	assert get(cache, ALICE, compute)["n"] == 3
	assert get(cache, CAROL, compute)["n"] == 2
	cache.invalidate_role("Accounts User")
	assert get(cache, CAROL, compute)["n"] == 4
	assert get(cache, ALICE, compute)["n"] == 3
	cache.invalidate_function("summary")
	assert get(cache, ALICE, compute)["n"] == 5
	cache.invalidate_all()
	assert get(cache, CAROL, compute)["n"] == 6


def test_a_lost_generation_counter_is_a_miss_never_a_stale_hit(cache, redis):
	compute = Counter()
	get(cache, ALICE, compute, depends_on=["Member"])
	redis.delete(cache.generations.doctype_key("Member"))  # evicted, or lost in a restart
	assert get(cache, ALICE, compute, depends_on=["Member"])["n"] == 2


def test_an_unreadable_entry_is_a_miss_not_an_error(cache, redis, namespace):
	"""An entry this code cannot parse (damaged, or another release's layout) is dropped and
	recomputed; the call never fails on it, and the fresh entry is a hit again."""
	from verenigingen.performance.keys import KeyBuilder

	compute = Counter()
	get(cache, ALICE, compute)
	entries = list(redis.scan_iter(match=KeyBuilder(namespace).pattern("cache", ENTRY_FORMAT)))
	assert len(entries) == 1
	redis.set(entries[0], b"[2e-06, 1800000000.0]\nnot an entry")
	assert get(cache, ALICE, compute) == {"label": "v", "n": 2}
	assert get(cache, ALICE, compute) == {"label": "v", "n": 2} and compute.calls == 2


def test_invalidation_cost_does_not_depend_on_entry_count(cache, redis):
	for i in range(300):
		get(cache, ALICE, Counter(), args=(i,), depends_on=["Member"])
	entries = cache.keys.pattern("cache", ENTRY_FORMAT)
	before = sum(1 for _ in redis.scan_iter(match=entries, count=1000))
	calls = []
	client = cache.redis  # the cache's own bounded client on the same server
	original = client.pipeline

	def recording_pipeline(*a, **kw):
		pipe = original(*a, **kw)
		real_execute = pipe.execute

		def execute(*ea, **ekw):
			calls.append([c[0][0] for c in pipe.command_stack])
			return real_execute(*ea, **ekw)

		pipe.execute = execute
		return pipe

	client.pipeline = recording_pipeline
	try:
		cache.invalidate_doctype("Member")
	finally:
		del client.pipeline
	assert calls == [["SET", "SET"]]  # the DocType's '*' and '+' counters, nothing per entry
	assert sum(1 for _ in redis.scan_iter(match=entries, count=1000)) == before == 300


def test_value_round_trips_exactly(cache):
	from datetime import date, datetime

	value = {"amount": Decimal("12.50"), "when": date(2026, 1, 2), "at": datetime(2026, 1, 2, 3, 4, 5, 6)}
	get(cache, ALICE, lambda: value)
	got = get(cache, ALICE, lambda: pytest.fail("must be a hit"))
	assert got == value and str(got["amount"]) == "12.50"


def test_unencodable_value_is_returned_uncached_with_a_warning(cache):
	calls = []

	def compute():
		calls.append(1)
		return {"set": {1, 2}}

	with pytest.warns(UncacheableValueWarning, match="set"):
		assert get(cache, ALICE, compute) == {"set": {1, 2}}
	with warnings.catch_warnings():
		warnings.simplefilter("ignore")
		get(cache, ALICE, compute)
	assert len(calls) == 2
	assert cache.stats(function="summary")["uncacheable"] == 2


def test_compute_exception_propagates_and_is_not_cached(cache):
	def boom():
		raise RuntimeError("database went away")

	with pytest.raises(RuntimeError, match="database went away"):
		get(cache, ALICE, boom)
	compute = Counter()
	assert get(cache, ALICE, compute)["n"] == 1  # the failed call left no entry and no lock behind
	assert get(cache, ALICE, compute)["n"] == 1


@pytest.mark.parametrize(
	"kwargs, message",
	[
		(dict(level="SECRET"), "unknown security level 'SECRET'"),
		(dict(scope="GROUP"), "unknown scope 'GROUP'"),
		(dict(depends_on=[42]), "dependency"),
		(dict(depends_on=[("Member", [])]), "empty field list"),
		(dict(args=(object(),)), "arguments of 'summary' cannot key"),
		(dict(ctx=None), "ctx must be a SecurityContext"),
		(dict(name=""), "name must be a non-empty string"),
	],
)
def test_bad_input_is_rejected_with_a_clear_error(cache, kwargs, message):
	call = dict(name="summary", args=("M1",), level="MEMBER_DATA", ctx=ALICE)
	call.update(kwargs)
	with pytest.raises(InvalidCacheArgumentError, match=message):
		cache.get_or_compute(call.pop("name"), call.pop("args"), Counter(), **call)


def test_bad_ttl_is_rejected(redis, namespace):
	with pytest.raises(InvalidCacheArgumentError, match="TTL of level 'ADMIN'"):
		SecurityAwareCache(redis, namespace, ttls={"ADMIN": 0})


def test_ttl_per_level_and_override(redis, namespace):
	cache = SecurityAwareCache(redis, namespace, ttls={"FINANCIAL": 42})
	get(cache, ALICE, Counter(), level="FINANCIAL")
	get(cache, ALICE, Counter(), level="REPORTING")
	ttls = sorted(redis.pttl(k) for k in redis.scan_iter(match=cache.keys.pattern("cache", ENTRY_FORMAT)))
	assert 30_000 < ttls[0] <= 42_000 and 1_700_000 < ttls[1] <= 1_800_000
	assert SecurityLevel.FINANCIAL.default_ttl == 180 and SecurityLevel.PUBLIC.default_ttl == 7200


def test_fifty_threads_missing_one_key_compute_at_most_twice(redis, namespace):
	cache = SecurityAwareCache(redis, namespace, lock_wait=5.0)
	calls = []
	start = threading.Barrier(50)

	def compute():
		calls.append(1)
		time.sleep(0.2)  # a slow query; the waiters must not run it too
		return {"total": 7}

	results = []

	def worker():
		start.wait()
		results.append(get(cache, ALICE, compute, name="slow"))

	threads = [threading.Thread(target=worker) for _ in range(50)]
	for t in threads:
		t.start()
	for t in threads:
		t.join(30)
	assert results == [{"total": 7}] * 50
	assert 1 <= len(calls) <= 2


def test_early_refresh_recomputes_a_hot_entry_before_it_expires(redis, namespace):
	now = [1_000_000.0]
	cache = SecurityAwareCache(
		redis, namespace, ttls={"UTILITY": 100}, clock=lambda: now[0], rng=lambda: 0.999
	)
	compute = Counter(cost=0.05)
	get(cache, ALICE, compute, level="UTILITY")
	assert get(cache, ALICE, compute, level="UTILITY")["n"] == 1
	now[0] += 99.99  # 10 ms before expiry; with a rare draw the refresh happens early
	assert get(cache, ALICE, compute, level="UTILITY")["n"] == 2
	assert cache.stats(function="summary")["early_refreshes"] == 1


def test_early_refresh_off_far_from_expiry(redis, namespace):
	now = [1_000_000.0]
	cache = SecurityAwareCache(redis, namespace, ttls={"UTILITY": 100}, clock=lambda: now[0], rng=lambda: 0.5)
	compute = Counter(cost=0.05)
	for _ in range(20):
		get(cache, ALICE, compute, level="UTILITY")
	assert compute.calls == 1


def test_stats_add_up_across_cache_instances_and_count_real_events(redis, namespace):
	one = SecurityAwareCache(redis, namespace)
	two = SecurityAwareCache(redis, namespace)
	get(one, ALICE, Counter())  # miss
	get(two, ALICE, Counter())  # hit
	get(two, BOB, Counter())  # miss
	one.invalidate_doctype("Member")
	get(one, ALICE, Counter(), name="other", depends_on=["Member"])  # miss
	one.invalidate_doctype("Member")
	get(one, ALICE, Counter(), name="other", depends_on=["Member"])  # invalidation miss
	two.stats()  # flushes two's buffer
	stats = one.stats()
	assert stats["totals"]["hits"] == 1
	assert stats["totals"]["misses"] == 4  # every lookup that was not a hit
	assert stats["totals"]["invalidation_misses"] == 1  # of which one found an outdated entry
	assert stats["totals"]["hit_ratio"] == 0.2
	assert (
		stats["functions"]["summary"]["hits"] == 1 and stats["functions"]["summary"]["level"] == "MEMBER_DATA"
	)
	assert stats["levels"]["MEMBER_DATA"]["entries"] == 3
	assert stats["levels"]["MEMBER_DATA"]["memory_bytes"] > 0
	assert stats["levels"]["PUBLIC"]["hit_ratio"] is None


def test_a_hit_is_one_round_trip(cache, redis):
	get(cache, ALICE, Counter())
	cache.stats()  # nothing buffered, flush just happened
	sent = []
	client = cache.redis  # the cache's own bounded client on the same server
	original = client.execute_command

	def counting(*args, **kwargs):
		sent.append(args[0])
		return original(*args, **kwargs)

	client.execute_command = counting
	try:
		for _ in range(5):
			get(cache, ALICE, Counter())
	finally:
		del client.execute_command
	assert sent == ["EVALSHA"] * 5  # the entry and its counters compared in Redis


def test_waiters_take_over_when_the_computing_caller_fails(redis, namespace):
	"""The first caller's compute raises; a waiter must not sit out the whole lock_wait, nor may
	the failure be cached: one of the waiters computes the value."""
	cache = SecurityAwareCache(redis, namespace, lock_wait=30.0)
	first_started = threading.Event()
	calls = []

	def compute():
		calls.append(1)
		if len(calls) == 1:
			first_started.set()
			time.sleep(0.1)  # the failing query takes a moment
			raise RuntimeError("first compute fails")
		return {"ok": True}

	errors, results = [], []

	def first():
		try:
			get(cache, ALICE, compute, name="flaky")
		except RuntimeError as exc:
			errors.append(exc)

	def waiter():
		first_started.wait(10)
		results.append(get(cache, ALICE, compute, name="flaky"))

	threads = [threading.Thread(target=first)] + [threading.Thread(target=waiter) for _ in range(5)]
	started = time.monotonic()
	for t in threads:
		t.start()
	for t in threads:
		t.join(30)
	assert len(errors) == 1 and results == [{"ok": True}] * 5
	assert len(calls) == 2
	assert time.monotonic() - started < 10  # far below lock_wait: a waiter took over
