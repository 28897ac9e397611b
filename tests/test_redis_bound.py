"""A dead Redis costs milliseconds, whatever redis-py client the app is handed.

redis-py 6 and later retry a failed command three times with exponential backoff by default
(one GET against a closed port took 5 to 6 s); Frappe v15's client (redis-py 4.5) has no socket
timeout, so a Redis that stops answering hangs a call for ever. The app derives its own client
on the same settings with a bounded connect and read timeout and no retries
(``performance/bounded.py``). Measured here against a port nothing listens on and against a
redis-server of this test's own that is stopped with SIGSTOP (never the shared one), with the
client Frappe v15 makes and with redis-py's default client of whichever version is installed
(CI runs this file with Frappe's pins and with the newest redis-py allowed).
"""

import time

import pytest
import redis as redis_py
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from verenigingen.performance.bounded import bounded_client, call_bound
from verenigingen.performance.breaker import CircuitBreaker
from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.defaults import CACHE_BREAKER_PAUSE, REDIS_CALL_TIMEOUT

from .ownredis import REDIS_SERVER, OwnRedis, closed_port

CTX = SecurityContext("alice@example.org", ["Member Manager"])
REDIS_MAJOR = int(redis_py.__version__.split(".")[0])
CALLS = 200
TRIAL_EVERY = 40  # every 40 calls the breaker's pause is over and a trial call goes to Redis


def frappe_v15_client(url: str):
	"""What Frappe v15 builds (``RedisWrapper.from_url(conf.redis_cache)`` on redis-py 4.5): no
	socket timeout, no retries. On redis-py 6+ the same call would add retries, so there the v15
	settings are spelled out."""
	if REDIS_MAJOR < 6:
		return redis_py.Redis.from_url(url)
	return redis_py.Redis.from_url(url, retry=Retry(NoBackoff(), 0))


def default_client(url: str):
	"""redis-py's own defaults for the installed version (7.x: three retries with backoff)."""
	return redis_py.Redis.from_url(url)


CLIENTS = {"frappe_v15": frappe_v15_client, "redis_py_default": default_client}


class DeadRedis:
	"""A URL whose Redis fails: ``closed`` (nothing listens) or ``stopped`` (SIGSTOP: accepts, never
	answers). ``kill()`` makes it fail; before that a stopped one still works (for warming up)."""

	def __init__(self, mode: str):
		self.mode = mode
		self.server = None
		if mode == "stopped":
			if REDIS_SERVER is None:
				pytest.skip("redis-server binary not installed")
			self.server = OwnRedis().start()
			self.url = self.server.url
		else:
			self.url = f"redis://127.0.0.1:{closed_port()}/0"

	def kill(self) -> None:
		if self.server is not None:
			self.server.stop_answering()

	def close(self) -> None:
		if self.server is not None:
			self.server.kill()


@pytest.fixture(params=["closed", "stopped"])
def dead(request):
	d = DeadRedis(request.param)
	yield d
	d.close()


class Source:
	def __init__(self):
		self.version = 1
		self.reads = 0

	def value(self, key):
		self.reads += 1
		return {"key": key, "version": self.version}


# ---------------------------------------------------------------- the derived client


def test_the_derived_client_keeps_the_settings_and_bounds_every_call():
	source = redis_py.Redis(host="127.0.0.1", port=6390, db=3, password="pw", username="u", socket_timeout=30)
	bound = bounded_client(source, 0.05)
	kw = bound.connection_pool.connection_kwargs
	assert (kw["host"], kw["port"], kw["db"], kw["password"], kw["username"]) == (
		"127.0.0.1",
		6390,
		3,
		"pw",
		"u",
	)
	assert kw["socket_timeout"] == kw["socket_connect_timeout"] == 0.05
	assert (
		kw["retry"].get_retries() == 0 if hasattr(kw["retry"], "get_retries") else kw["retry"]._retries == 0
	)
	assert call_bound(bound) == 0.05 and call_bound(source) is None
	assert bounded_client(source, 0.05) is bound  # one per pool and bound
	assert bounded_client(bound, 0.5) is bound  # already bound tighter: as it is
	assert bounded_client(bound, 0.01) is not bound
	assert source.connection_pool.connection_kwargs["socket_timeout"] == 30  # the owner's is untouched
	for bad in (0, -1, None, True, "50"):
		with pytest.raises(ValueError, match="timeout must be a positive number"):
			bounded_client(source, bad)


def test_a_sentinel_master_stays_a_sentinel_master():
	from redis.sentinel import Sentinel, SentinelConnectionPool

	master = Sentinel([("127.0.0.1", closed_port())]).master_for("mymaster", socket_timeout=30)
	bound = bounded_client(master, 0.05)
	assert isinstance(bound.connection_pool, SentinelConnectionPool)
	assert bound.connection_pool.service_name == "mymaster"
	assert bound.connection_pool.connection_kwargs["socket_timeout"] == 0.05


@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_one_call_fails_within_the_bound(kind, dead):
	client = bounded_client(CLIENTS[kind](dead.url))
	if dead.mode == "stopped":
		assert client.ping()  # a pooled connection is open when Redis stops answering
	dead.kill()
	started = time.perf_counter()
	with pytest.raises(RedisError):
		client.get("anything")
	assert time.perf_counter() - started < 1.0  # 50 ms bound; unbounded: 5 s (retries) or for ever


# ---------------------------------------------------------------- the cache


@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_a_dead_redis_costs_the_cache_milliseconds(kind, dead, namespace):
	"""200 cached calls while Redis is dead, the breaker's pause over every 40 calls so trial
	calls reach Redis too: correct values, no exception, a few ms per call on average."""
	clock = [0.0]
	breaker = CircuitBreaker(clock=lambda: clock[0])
	cache = SecurityAwareCache(CLIENTS[kind](dead.url), namespace, breaker=breaker)
	source = Source()

	def call(i):
		key = i % 10
		return cache.get_or_compute(
			"member", (key,), lambda: source.value(key), ctx=CTX, level="MEMBER_DATA", depends_on=["Member"]
		)

	if dead.mode == "stopped":  # a working cache first: entries of version 1 stay in the frozen Redis
		for i in range(10):
			call(i)
		assert call(3) == {"key": 3, "version": 1} and source.reads == 10
	dead.kill()
	source.version = 2
	times = []
	for i in range(CALLS):
		if i and i % TRIAL_EVERY == 0:
			clock[0] += CACHE_BREAKER_PAUSE
		started = time.perf_counter()
		value = call(i)
		times.append(time.perf_counter() - started)
		assert value == {"key": i % 10, "version": 2}
	average_ms = sum(times) / len(times) * 1000
	assert breaker.times_opened >= CALLS // TRIAL_EVERY  # the trials went to Redis and failed
	assert average_ms < 10, f"{average_ms:.1f} ms per call"
	assert max(times) < 1.0, f"slowest call {max(times):.2f} s"
	assert cache.stats()["available"] is False


# ---------------------------------------------------------------- the Frappe shell


@pytest.fixture
def dead_site(frappe_site, dead):
	"""The site with ``frappe.cache`` (and so RQ's connection in the double) on a dead Redis."""
	import frappe

	if not frappe_site.is_double:
		pytest.skip("replaces frappe.cache: only on the test double")
	live = frappe.cache
	yield frappe_site, dead
	frappe.cache = live


@pytest.mark.shell
@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_the_request_hook_never_hangs_on_a_dead_redis(kind, dead_site):
	import frappe

	from verenigingen import monitoring
	from verenigingen.performance.samples import SampleBuffer

	site, dead = dead_site
	frappe.cache = CLIENTS[kind](dead.url)
	if dead.mode == "stopped":
		frappe.cache.ping()
	dead.kill()
	clock = [0.0]
	buffer = SampleBuffer(max_samples=10, breaker=CircuitBreaker(clock=lambda: clock[0]))
	monitoring._REQUEST_BUFFERS[site.namespace] = buffer
	request = type("Request", (), {"path": "/api/method/verenigingen.api.x"})()
	response = type("Response", (), {"status_code": 200})()
	times = []
	try:
		for i in range(CALLS):
			if i and i % TRIAL_EVERY == 0:
				clock[0] += CACHE_BREAKER_PAUSE
			started = time.perf_counter()
			monitoring.before_request()
			monitoring.after_request(response=response, request=request)  # must not raise
			times.append(time.perf_counter() - started)
	finally:
		monitoring._REQUEST_BUFFERS.pop(site.namespace, None)
	assert buffer.failed_flushes >= CALLS // TRIAL_EVERY
	assert len(buffer) > 0  # the samples are kept for when Redis is back
	assert sum(times) / len(times) * 1000 < 10
	assert max(times) < 1.0


@pytest.mark.shell
@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_job_apis_and_monitoring_fail_fast_on_a_dead_redis(kind, dead_site):
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.api.jobs import get_queue_status

	site, dead = dead_site
	frappe.cache = CLIENTS[kind](dead.url)
	dead.kill()
	site.login("Administrator")
	for what, call in (
		("queue status", get_queue_status),
		("monitoring collection", lambda: frappe_bridge.monitor().collect()),
		("the cache's statistics", lambda: frappe_bridge.redis_client().hgetall("x")),
	):
		started = time.perf_counter()
		with pytest.raises(RedisError):
			call()
		elapsed = time.perf_counter() - started
		assert elapsed < 1.0, f"{what} took {elapsed:.2f} s"


@pytest.mark.shell
def test_the_bound_comes_from_site_config(frappe_site):
	import frappe

	from verenigingen import frappe_bridge

	if not frappe_site.is_double:
		pytest.skip("changes site config: only on the test double")
	assert frappe_bridge.redis_timeout() == REDIS_CALL_TIMEOUT
	assert call_bound(frappe_bridge.redis_client()) == REDIS_CALL_TIMEOUT
	frappe.conf["verenigingen_redis_timeout_ms"] = 200
	try:
		assert frappe_bridge.redis_timeout() == 0.2
		assert call_bound(frappe_bridge.redis_client()) == 0.2
		assert frappe_bridge.redis_timeout(background=True) >= 0.2
		for bad in ("fast", 0, -5):
			frappe.conf["verenigingen_redis_timeout_ms"] = bad
			with pytest.raises(ValueError, match="verenigingen_redis_timeout_ms"):
				frappe_bridge.redis_timeout()
	finally:
		frappe.conf.pop("verenigingen_redis_timeout_ms", None)
