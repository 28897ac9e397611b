"""The cache in the Frappe shell: whitelisted APIs, doc_events after commit, the decorator,
field-selective invalidation and the clear_cache hook."""

from decimal import Decimal

import pytest

pytestmark = pytest.mark.shell

ADMIN_ROLE = "Verenigingen Administrator"


@pytest.fixture
def site(frappe_site):
	"""A site with one member, an active mandate and two payments, committed."""
	import frappe

	frappe.set_user("Administrator")
	frappe.get_doc(
		{"doctype": "Member", "member_id": "M1", "first_name": "Anna", "last_name": "Bakker", "status": "Active",
			"email": "anna@example.org", "primary_chapter": "Utrecht"}
	).insert()  # fmt: skip
	frappe.get_doc(
		{"doctype": "SEPA Mandate", "mandate_id": "MD1", "member": "M1", "status": "Active", "is_active": 1,
			"iban": "NL91ABNA0417164300", "sign_date": "2024-01-01"}
	).insert()  # fmt: skip
	for name, amount in (("P1", "10.00"), ("P2", "12.50")):
		frappe.get_doc(
			{"doctype": "Member Payment", "name": name, "member": "M1", "amount": Decimal(amount),
				"status": "Paid", "posting_date": "2025-01-01"}
		).insert()  # fmt: skip
	frappe.db.commit()
	frappe.set_user("Guest")
	return frappe_site


def _token(key: str):
	import frappe

	value = frappe.cache.get(key)
	return value


def test_member_summary_refuses_users_without_the_role(site):
	import frappe

	from verenigingen.api.member import get_member_summary

	for user, roles in (("Guest", ()), ("clerk@example.org", ["Accounts User"])):
		site.login(user, roles)
		with pytest.raises(frappe.PermissionError):
			get_member_summary("M1")


def test_member_summary_is_cached_per_user_and_correct(site):
	from verenigingen.api.member import get_member_summary, member_summary

	site.login("admin1@example.org", [ADMIN_ROLE])
	first = get_member_summary("M1")
	assert first["full_name"] == "Anna Bakker"
	assert first["active_mandate"]["mandate_id"] == "MD1"
	assert first["payments"]["paid_total"] == Decimal("22.500000000")
	assert get_member_summary("M1") == first
	info = member_summary.cache_info()
	assert (info["misses"], info["hits"]) == (1, 1)
	site.login("admin2@example.org", [ADMIN_ROLE])
	assert get_member_summary("M1") == first
	assert member_summary.cache_info()["misses"] == 2  # another user: own entry


def test_permission_is_checked_before_the_cache_on_every_call(site):
	import frappe

	from verenigingen.api.member import get_member_summary

	site.login("admin1@example.org", [ADMIN_ROLE])
	get_member_summary("M1")  # cached now
	site.login("admin1@example.org", ["Accounts User"])  # the role was taken away
	with pytest.raises(frappe.PermissionError):
		get_member_summary("M1")


def test_bad_member_argument_is_rejected_clearly(site):
	import frappe

	from verenigingen.api.member import get_member_summary

	site.login("admin1@example.org", [ADMIN_ROLE])
	with pytest.raises(frappe.DoesNotExistError, match="Member NOPE not found"):
		get_member_summary("NOPE")
	with pytest.raises(frappe.ValidationError, match="member must be the name of a Member"):
		get_member_summary("  ")


def test_doc_event_invalidates_after_commit_not_before(site):
	import frappe

	from verenigingen.api.member import get_member_summary
	from verenigingen.caching import site_cache

	site.login("admin1@example.org", [ADMIN_ROLE])
	assert get_member_summary("M1")["payments"]["count"] == 2
	gen_key = site_cache().generations.doctype_key("Member Payment")
	before = _token(gen_key)
	frappe.get_doc(
		{"doctype": "Member Payment", "name": "P3", "member": "M1", "amount": Decimal("5.00"), "status": "Paid",
			"posting_date": "2025-02-01"}
	).insert(ignore_permissions=True)  # fmt: skip
	assert _token(gen_key) == before  # not yet: a concurrent reader could re-cache the old value
	frappe.db.commit()
	assert _token(gen_key) != before
	assert get_member_summary("M1")["payments"]["count"] == 3


def test_rolled_back_change_invalidates_nothing(site):
	import frappe

	from verenigingen.caching import site_cache

	site.login("Administrator")
	gen_key = site_cache().generations.doctype_key("Member")
	before = _token(gen_key)
	doc = frappe.get_doc("Member", "M1")
	doc.status = "Suspended"
	doc.save()
	frappe.db.rollback()
	frappe.db.commit()
	assert _token(gen_key) == before


def test_field_selective_invalidation(site):
	import frappe

	from verenigingen.caching import secure_cache

	calls = []

	@secure_cache(level="MEMBER_DATA", depends_on=[("Member", ["status"])], name="test.member_status")
	def member_status(member: str) -> str:
		calls.append(member)
		return frappe.db.get_value("Member", member, "status")

	site.login("Administrator")
	assert member_status("M1") == "Active"
	doc = frappe.get_doc("Member", "M1")
	doc.first_name = "Anne"
	doc.save()
	frappe.db.commit()
	assert member_status("M1") == "Active" and len(calls) == 1  # first_name is not a dependency
	doc = frappe.get_doc("Member", "M1")
	doc.status = "Suspended"
	doc.save()
	frappe.db.commit()
	assert member_status("M1") == "Suspended" and len(calls) == 2
	assert member_status.cache_info()["invalidation_misses"] == 1


def test_decorator_cache_clear_and_argument_keys(site):
	from verenigingen.caching import secure_cache

	calls = []

	@secure_cache(level="UTILITY", name="test.echo")
	def echo(x: int, y: int = 2) -> list:
		calls.append((x, y))
		return [x, y]

	site.login("Administrator")
	assert echo(1) == [1, 2]
	assert echo(1, y=2) == [1, 2] and echo(x=1) == [1, 2]  # the same bound arguments: one entry
	assert echo(1, 3) == [1, 3]
	assert len(calls) == 2
	echo.cache_clear()
	echo(1)
	assert len(calls) == 3
	assert echo.cache_info()["misses"] == 3


def test_user_role_change_invalidates_that_user(site):
	import frappe

	from verenigingen.caching import site_cache

	site.login("Administrator")
	gen_key = site_cache().generations.user_key("clerk@example.org")
	before = _token(gen_key)
	frappe.get_doc(
		{"doctype": "User", "name": "clerk@example.org", "roles": [{"role": "Accounts User"}]}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	assert _token(gen_key) != before


def test_custom_docperm_invalidates_its_role(site):
	import frappe

	from verenigingen.caching import site_cache

	site.login("Administrator")
	gen_key = site_cache().generations.role_key("Accounts User")
	before = _token(gen_key)
	frappe.get_doc(
		{"doctype": "Custom DocPerm", "name": "perm1", "parent": "Member", "role": "Accounts User", "read": 1}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	assert _token(gen_key) != before


def test_clear_cache_hook_invalidates_everything(site):
	import frappe

	from verenigingen.api.member import get_chapter_statistics

	site.login("admin1@example.org", [ADMIN_ROLE])
	from verenigingen.api.member import chapter_statistics

	get_chapter_statistics()
	get_chapter_statistics()
	assert chapter_statistics.cache_info()["hits"] == 1
	frappe.clear_cache()
	get_chapter_statistics()
	assert chapter_statistics.cache_info()["invalidation_misses"] == 1


def test_chapter_statistics_are_shared_by_equal_role_sets(site):
	import frappe

	from verenigingen.api.member import chapter_statistics, get_chapter_statistics

	site.login("Administrator")
	frappe.get_doc(
		{"doctype": "Chapter", "chapter_name": "Utrecht", "region": "Utrecht", "status": "Active"}
	).insert()
	frappe.db.commit()
	site.login("admin1@example.org", [ADMIN_ROLE])
	stats = get_chapter_statistics()
	assert stats == [
		{"chapter": "Utrecht", "region": "Utrecht", "status": "Active", "members": 0, "active_members": 0,
			"primary_members": 1}
	]  # fmt: skip
	site.login("admin2@example.org", [ADMIN_ROLE])
	assert get_chapter_statistics() == stats
	assert chapter_statistics.cache_info()["hits"] == 1
	site.login("clerk@example.org", ["Accounts User"])
	with pytest.raises(frappe.PermissionError):
		get_chapter_statistics()


def test_cache_admin_apis(site):
	import frappe

	from verenigingen.api.cache import clear_cache, get_cache_stats
	from verenigingen.api.member import get_member_summary

	site.login("clerk@example.org", ["Accounts User"])
	for fn in (get_cache_stats, clear_cache):
		with pytest.raises(frappe.PermissionError):
			fn()
	site.login("admin1@example.org", [ADMIN_ROLE])
	get_member_summary("M1")
	get_member_summary("M1")
	stats = get_cache_stats()
	assert stats["namespace"] == site.namespace
	assert stats["levels"]["MEMBER_DATA"]["hits"] == 1 and stats["levels"]["MEMBER_DATA"]["entries"] == 1
	assert clear_cache() == {"cleared": True, "applied_now": True}
	get_member_summary("M1")
	assert get_cache_stats()["totals"]["invalidation_misses"] == 1


def test_after_rename_invalidates_the_doctype_after_commit(site):
	import frappe

	from verenigingen.caching import site_cache
	from verenigingen.events import on_document_change

	site.login("Administrator")
	gen_key = site_cache().generations.rows_key("Member")
	before = _token(gen_key)
	doc = frappe.get_doc("Member", "M1")
	on_document_change(doc, "after_rename", "M0", "M1", False)  # Frappe passes old, new, merge
	assert _token(gen_key) == before
	frappe.db.commit()
	assert _token(gen_key) != before


def test_user_permission_invalidates_old_and_new_user(site):
	import frappe

	from verenigingen.caching import site_cache

	site.login("Administrator")
	gens = site_cache().generations
	perm = frappe.get_doc(
		{
			"doctype": "User Permission",
			"name": "up1",
			"user": "a@example.org",
			"allow": "Chapter",
			"for_value": "X",
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	tokens = {u: _token(gens.user_key(u)) for u in ("a@example.org", "b@example.org")}
	perm.user = "b@example.org"
	perm.save(ignore_permissions=True)
	frappe.db.commit()
	assert all(_token(gens.user_key(u)) != t for u, t in tokens.items())


@pytest.fixture
def tier_site(site):
	"""The site with ``verenigingen_cache_local_tier`` set in its config, and a fresh site cache."""
	import frappe

	from verenigingen import caching, frappe_bridge

	def fresh(config):
		frappe.conf[frappe_bridge.CACHE_LOCAL_TIER_CONFIG_KEY] = config
		key = (frappe_bridge.namespace(), id(frappe_bridge.redis_client()))
		old = caching._sites.pop(key, None)
		if old is not None and old.local is not None:
			old.local.close()
		return caching.site_cache()

	yield fresh
	cache = fresh(None)
	frappe.conf.pop(frappe_bridge.CACHE_LOCAL_TIER_CONFIG_KEY, None)
	assert cache.local is None


def test_the_local_tier_is_off_unless_site_config_turns_it_on(tier_site):
	import time

	import frappe

	from verenigingen.caching import secure_cache
	from verenigingen.performance.local_tier import LocalTier

	assert tier_site(None).local is None
	assert tier_site(False).local is None
	cache = tier_site({"max_entries": 50})
	assert isinstance(cache.local, LocalTier) and cache.local.max_entries == 50

	@secure_cache(level="UTILITY", name="test.tiered")
	def tiered(x: int) -> dict:
		return {"x": x}

	frappe.set_user("Administrator")
	deadline = time.monotonic() + 10
	while tiered.cache_info()["local_hits"] == 0 and time.monotonic() < deadline:
		assert tiered(1) == {"x": 1}  # until the tier is connected and holds the entry
	info = tiered.cache_info()
	assert info["local_hits"] > 0 and info["hits"] == info["local_hits"] + info["redis_hits"]
	assert cache.stats()["local"]["process"]["entries"] == 1


@pytest.mark.parametrize("config", ["yes", {"max_entries": 0}, {"size": 5}])
def test_a_bad_local_tier_config_is_refused_naming_it(tier_site, config):
	from verenigingen.performance.exceptions import InvalidCacheArgumentError

	with pytest.raises(InvalidCacheArgumentError, match="max_entries|verenigingen_cache_local_tier"):
		tier_site(config)


def test_payment_history_is_newest_first_limited_and_cached(site):
	import frappe

	from verenigingen.api.member import get_payment_history, payment_history

	site.login("admin1@example.org", [ADMIN_ROLE])
	frappe.set_user("Administrator")
	frappe.get_doc(
		{"doctype": "Member Payment", "name": "P3", "member": "M1", "amount": Decimal("7.00"),
			"status": "Unpaid", "posting_date": "2025-03-01"}
	).insert()  # fmt: skip
	frappe.db.commit()
	site.login("admin1@example.org", [ADMIN_ROLE])
	history = get_payment_history("M1")
	assert [p["name"] for p in history] == ["P3", "P2", "P1"]  # newest first, then by name
	assert get_payment_history("M1", limit=1) == history[:1]
	assert get_payment_history("M1") == history
	info = payment_history.cache_info()
	assert (info["misses"], info["hits"]) == (2, 1)  # limit is part of the key
	with pytest.raises(frappe.ValidationError, match="limit must be a whole number from 1 to 100, got 0"):
		get_payment_history("M1", limit=0)
	with pytest.raises(frappe.DoesNotExistError, match="Member NOPE not found"):
		get_payment_history("NOPE")
	site.login("clerk@example.org", ["Accounts User"])
	with pytest.raises(frappe.PermissionError):
		get_payment_history("M1")
