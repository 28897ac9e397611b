import pytest

from verenigingen.performance.context import SecurityContext, roles_digest
from verenigingen.performance.exceptions import (
	InvalidKeyPartError,
	InvalidNamespaceError,
	InvalidSecurityContextError,
)
from verenigingen.performance.keys import KeyBuilder


def test_keys_name_the_site_under_the_apps_own_root():
	assert KeyBuilder("site_a").key("cache", "gen", "Member") == "vperf|site_a|cache:gen:Member"
	# the job coordinator's keys live on the queue Redis, where use_rq_auth allows rq:* only
	assert KeyBuilder("site_a").key("jobs", "job", "j1") == "rq:vperf|site_a|jobs:job:j1"


def test_no_key_is_under_the_prefix_frappe_clear_cache_deletes(redis, namespace):
	"""frappe.clear_cache() deletes "{db_name}|*": the app's state must not live there."""
	kb = KeyBuilder(namespace)
	for component in ("cache", "jobs", "monitoring", "alerts", "baselines"):
		key = kb.key(component, "x")
		assert not key.startswith(f"{namespace}|")
		redis.set(key, 1)
	assert list(redis.scan_iter(match=f"{namespace}|*")) == []
	assert sorted(k for p in kb.site_patterns() for k in redis.scan_iter(match=p)) == sorted(
		kb.key(c, "x").encode() for c in ("cache", "jobs", "monitoring", "alerts", "baselines")
	)


def test_unlink_site_removes_every_root_of_one_site_only(redis, namespace):
	from verenigingen.performance.keys import unlink_site

	kb, other = KeyBuilder(namespace), KeyBuilder(namespace + "x")
	redis.mset({kb.key("cache", "a"): 1, kb.key("jobs", "b"): 1, other.key("jobs", "b"): 1})
	try:
		assert unlink_site(redis, namespace) == 2
		assert redis.exists(other.key("jobs", "b")) == 1
	finally:
		unlink_site(redis, namespace + "x")


def test_parts_cannot_collide_through_separators():
	kb = KeyBuilder("s")
	assert kb.key("c", "a:b", "c") != kb.key("c", "a", "b:c")
	assert kb.key("c", "a%3Ab") != kb.key("c", "a:b")


@pytest.mark.parametrize("bad", ["", "a|b", "a*", "a b", "a?", None, "x[1]"])
def test_unsafe_namespaces_are_refused(bad):
	with pytest.raises(InvalidNamespaceError):
		KeyBuilder(bad)


@pytest.mark.parametrize("bad", ["", None, 1.5, True, b"x"])
def test_bad_parts_are_refused(bad):
	with pytest.raises(InvalidKeyPartError):
		KeyBuilder("s").key("c", bad)


def test_scan_pattern_of_one_site_does_not_match_another(redis, namespace):
	kb = KeyBuilder(namespace)
	other = KeyBuilder(namespace + "x")
	redis.set(kb.key("cache", "v", "1"), 1)
	redis.set(other.key("cache", "v", "1"), 1)
	try:
		found = list(redis.scan_iter(match=kb.pattern("cache")))
		assert found == [kb.key("cache", "v", "1").encode()]
	finally:
		redis.delete(other.key("cache", "v", "1"))


def test_security_context_is_validated_and_digest_is_order_free():
	ctx = SecurityContext("a@example.org", ["B", "A", "A"])
	assert ctx.roles == frozenset({"A", "B"})
	assert ctx.roles_digest == roles_digest(["A", "B"]) == SecurityContext("x", ("B", "A")).roles_digest
	assert ctx.roles_digest != roles_digest(["A"])
	with pytest.raises(InvalidSecurityContextError):
		SecurityContext("", [])
	with pytest.raises(InvalidSecurityContextError, match="not one string"):
		SecurityContext("u", "System Manager")
	with pytest.raises(AttributeError):
		ctx.user = "other"  # immutable


def test_unlink_matching_deletes_only_the_pattern_in_batches(redis, namespace):
	from verenigingen.performance.keys import unlink_matching

	kb = KeyBuilder(namespace)
	other = KeyBuilder(namespace + "x")
	redis.mset({kb.key("jobs", "j", i): 1 for i in range(1234)})
	redis.set(kb.key("cache", "keep"), 1)
	redis.set(other.key("jobs", "j", 1), 1)
	try:
		assert unlink_matching(redis, kb.pattern("jobs"), batch=100) == 1234
		assert list(redis.scan_iter(match=kb.pattern("jobs"))) == []
		assert redis.exists(kb.key("cache", "keep"), other.key("jobs", "j", 1)) == 2
		with pytest.raises(ValueError, match="batch must be >= 1"):
			unlink_matching(redis, kb.pattern("jobs"), batch=0)
	finally:
		redis.delete(other.key("jobs", "j", 1))
