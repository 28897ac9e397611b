"""Property test: random calls by users with random role sets, role changes and document
changes, checked against a reference model of who may see what and what is current.

The model keeps a version per DocType (and per field of one of them). Every computed value
records who it was computed for and the versions it read. Whatever the sequence:

* no value crosses a scope: a user-scoped value was computed for this user with these
  roles, a roles-scoped one for exactly these roles;
* no value computed before the last invalidation of one of its dependencies is returned:
  the versions it read are the current ones.
"""

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verenigingen.performance.cache import Scope, SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.keys import unlink_site

USERS = ("u1@x", "u2@x", "u3@x")
ROLES = ("A", "B", "C")
DOCTYPES = ("Member", "Chapter", "Member Payment")
FIELDS = ("status", "email", "first_name")
DERIVED = {"Member Payment": ["Member"]}

# name: (scope, depends_on, what the function reads from the model)
FUNCTIONS = {
	"member_user": (Scope.USER, ["Member"], ("Member", "Member Payment")),
	"chapter_roles": (Scope.ROLES, ["Chapter"], ("Chapter",)),
	"member_status": (
		Scope.USER,
		[("Member", ["status"])],
		("Member.rows", "Member.status", "Member Payment"),
	),
	"public_chapters": (Scope.PUBLIC, ["Chapter"], ("Chapter",)),
}

role_sets = st.frozensets(st.sampled_from(ROLES))
operations = st.lists(
	st.one_of(
		st.tuples(
			st.just("call"), st.sampled_from(USERS), st.sampled_from(sorted(FUNCTIONS)), st.integers(0, 2)
		),
		st.tuples(st.just("roles"), st.sampled_from(USERS), role_sets),
		st.tuples(st.just("insert"), st.sampled_from(DOCTYPES)),
		st.tuples(
			st.just("update"), st.sampled_from(DOCTYPES), st.frozensets(st.sampled_from(FIELDS), min_size=1)
		),
		st.tuples(st.just("user_changed"), st.sampled_from(USERS)),
		st.tuples(st.just("role_changed"), st.sampled_from(ROLES)),
		st.tuples(st.just("clear_all")),
	),
	max_size=40,
)


class Model:
	def __init__(self):
		self.versions = {d: 0 for d in DOCTYPES}
		self.versions.update({"Member.rows": 0, **{f"Member.{f}": 0 for f in FIELDS}})
		self.roles = {u: frozenset({"A"}) for u in USERS}
		self.computed = 0

	def change(self, doctype: str, fields=None):
		self.versions[doctype] += 1
		if doctype == "Member":
			if fields is None:
				self.versions["Member.rows"] += 1
			for f in fields or ():
				self.versions[f"Member.{f}"] += 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, roles=st.dictionaries(st.sampled_from(USERS), role_sets))
def test_no_value_crosses_a_scope_or_outlives_an_invalidation(redis_server_client, ops, roles):
	namespace = f"vprop-{uuid.uuid4().hex[:10]}"
	cache = SecurityAwareCache(redis_server_client, namespace, derived_dependencies=DERIVED)
	model = Model()
	model.roles.update(roles)
	try:
		for op in ops:
			kind = op[0]
			if kind == "call":
				_, user, fn, arg = op
				ctx = SecurityContext(user, model.roles[user])
				scope, depends_on, reads = FUNCTIONS[fn]

				def compute(ctx=ctx, reads=reads, fn=fn, arg=arg):
					model.computed += 1
					return {
						"fn": fn,
						"arg": arg,
						"user": ctx.user,
						"roles": sorted(ctx.roles),
						"read": {r: model.versions[r] for r in reads},
					}

				value = cache.get_or_compute(
					fn, (arg,), compute, ctx=ctx, level="MEMBER_DATA", scope=scope, depends_on=depends_on
				)
				assert value["fn"] == fn and value["arg"] == arg
				if scope is Scope.USER:
					assert value["user"] == user and value["roles"] == sorted(ctx.roles)
				elif scope is Scope.ROLES:
					assert value["roles"] == sorted(ctx.roles)
				assert value["read"] == {r: model.versions[r] for r in reads}, "a stale value was returned"
			elif kind == "roles":
				model.roles[op[1]] = op[2]  # a role change: the shell also invalidates the user
				cache.invalidate_user(op[1])
			elif kind == "insert":
				model.change(op[1])
				cache.invalidate_doctype(op[1])
				for derived in DERIVED.get(op[1], ()):
					model.change(derived)
			elif kind == "update":
				model.change(op[1], op[2])
				cache.invalidate_doctype(op[1], changed_fields=op[2])
				for derived in DERIVED.get(op[1], ()):
					model.change(derived)
			elif kind == "user_changed":
				cache.invalidate_user(op[1])
			elif kind == "role_changed":
				cache.invalidate_role(op[1])
			else:
				cache.invalidate_all()
	finally:
		unlink_site(redis_server_client, namespace)


def test_the_model_catches_a_cache_that_ignores_invalidation(redis_server_client):
	"""The check above can fail: an invalidation that never reaches the cache is caught."""
	namespace = f"vprop-{uuid.uuid4().hex[:10]}"
	cache = SecurityAwareCache(redis_server_client, namespace)
	versions = {"Member": 0}
	ctx = SecurityContext("u1@x", ["A"])
	try:

		def call():
			return cache.get_or_compute(
				"f", (), lambda: dict(versions), ctx=ctx, level="MEMBER_DATA", depends_on=["Member"]
			)

		call()
		versions["Member"] += 1  # a change nobody told the cache about
		assert call() != versions
		cache.invalidate_doctype("Member")
		assert call() == versions
	finally:
		unlink_site(redis_server_client, namespace)
