"""Property test: random calls by users with random role sets, role changes and document
changes, checked against a reference model of who may see what and what is current.

The model keeps a version per DocType (and per field of one of them). Every computed value
records who it was computed for and the versions it read. Whatever the sequence:

* no value crosses a scope: a user-scoped value was computed for this user with these
  roles, a roles-scoped one for exactly these roles;
* no value computed before the last invalidation of one of its dependencies is returned:
  the versions it read are the current ones.

The last test runs the same fuzz in two processes, each with an in-process tier (LocalTier):
leaks stay impossible, and an old value may only come from the other process within the window
Redis needs to report the invalidation to it.
"""

import multiprocessing
import random
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verenigingen.performance.cache import Scope, SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.keys import unlink_site
from verenigingen.performance.local_tier import LocalTier

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
call_operation = st.tuples(
	st.just("call"), st.sampled_from(USERS), st.sampled_from(sorted(FUNCTIONS)), st.integers(0, 2)
)
operation = st.one_of(
	call_operation,
	st.tuples(st.just("roles"), st.sampled_from(USERS), role_sets),
	st.tuples(st.just("insert"), st.sampled_from(DOCTYPES)),
	st.tuples(
		st.just("update"), st.sampled_from(DOCTYPES), st.frozensets(st.sampled_from(FIELDS), min_size=1)
	),
	st.tuples(st.just("user_changed"), st.sampled_from(USERS)),
	st.tuples(st.just("role_changed"), st.sampled_from(ROLES)),
	st.tuples(st.just("clear_all")),
)
operations = st.lists(operation, max_size=40)


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


# ---------------------------------------------------------------- two processes, tiers on

WINDOW = 0.1  # seconds after an invalidation returned from which no process may serve the old value


@pytest.fixture(scope="module")
def second_process(redis_server_client):
	"""Another process with its own cache and in-process tier (tests/tierfixtures.py)."""
	from verenigingen.performance.freshness import client_kwargs

	from .tierfixtures import serve

	context = multiprocessing.get_context("spawn")
	mine, theirs = context.Pipe()
	proc = context.Process(target=serve, args=(theirs, client_kwargs(redis_server_client)), daemon=True)
	proc.start()
	theirs.close()

	def ask(*msg):
		mine.send(msg)
		if not mine.poll(30):
			raise TimeoutError(f"the second process did not answer {msg[0]!r}")
		return mine.recv()

	yield ask
	mine.send(("stop",))
	proc.join(10)
	if proc.is_alive():
		proc.kill()


# (process, operation, times): calls weigh more and repeat, so that entries reach the tiers
process_ops = st.lists(
	st.tuples(
		st.sampled_from((0, 1)),
		st.one_of(call_operation, call_operation, call_operation, operation),
		st.integers(1, 5),
	),
	min_size=10,
	max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=process_ops, roles=st.dictionaries(st.sampled_from(USERS), role_sets))
def test_two_processes_with_tiers_never_leak_and_are_stale_only_within_the_window(
	redis_server_client, second_process, ops, roles
):
	"""The fuzz above, each operation run by this process or another, both with a LocalTier: no
	value ever crosses a scope, and a value older than an invalidation is only ever returned by a
	call that started less than WINDOW after that invalidation returned (Redis's report to the
	other process is on its way); in this process, never (it drops its own entries first)."""
	run_in_two_processes(redis_server_client, second_process, ops, roles)


def test_a_long_random_run_in_two_processes_uses_both_tiers(redis_server_client, second_process):
	"""The same checks over one long seeded sequence, long enough that both tiers serve hits."""
	rng = random.Random(20260915)
	ops = []
	for _ in range(600):
		kind = rng.choice(
			("call",) * 6 + ("roles", "insert", "update", "user_changed", "role_changed", "clear_all")
		)
		if kind == "call":
			op = ("call", rng.choice(USERS), rng.choice(sorted(FUNCTIONS)), rng.randrange(3))
		elif kind == "roles":
			op = ("roles", rng.choice(USERS), frozenset(r for r in ROLES if rng.random() < 0.5))
		elif kind in ("insert", "update"):
			fields = frozenset(rng.sample(FIELDS, rng.randint(1, 2)))
			op = (kind, rng.choice(DOCTYPES), fields) if kind == "update" else (kind, rng.choice(DOCTYPES))
		elif kind == "user_changed":
			op = (kind, rng.choice(USERS))
		elif kind == "role_changed":
			op = (kind, rng.choice(ROLES))
		else:
			op = (kind,)
		ops.append((rng.randrange(2), op, rng.randint(1, 5)))
	served = run_in_two_processes(redis_server_client, second_process, ops, {})
	assert served["this process"] > 0 and served["other process"] > 0, served


def run_in_two_processes(redis, second_process, ops, roles) -> dict:
	"""Run (process, operation, times) triples against a model; return the tier hits of each process."""
	namespace = f"vprop-{uuid.uuid4().hex[:10]}"
	tier = LocalTier()
	cache = SecurityAwareCache(redis, namespace, derived_dependencies=DERIVED, local=tier)
	model = Model()
	model.roles.update(roles)
	changed_at: dict[tuple[str, int], tuple[float, int]] = {}  # (read, version) -> (when, by process)

	def call(who, user, fn, arg):
		scope, depends_on, reads = FUNCTIONS[fn]
		if who == 0:
			ctx = SecurityContext(user, model.roles[user])
			started = time.monotonic()
			value = cache.get_or_compute(
				fn, (arg,), lambda: {
					"fn": fn, "arg": arg, "user": ctx.user, "roles": sorted(ctx.roles),
					"read": {r: model.versions[r] for r in reads},
				}, ctx=ctx, level="MEMBER_DATA", scope=scope, depends_on=depends_on,
			)  # fmt: skip
		else:
			versions = {r: model.versions[r] for r in reads}
			value, started, _computed = second_process(
				"call", fn, user, sorted(model.roles[user]), arg, scope.name, depends_on, versions
			)
		assert value["fn"] == fn and value["arg"] == arg
		if scope is Scope.USER:
			assert value["user"] == user and value["roles"] == sorted(model.roles[user]), "a leak"
		elif scope is Scope.ROLES:
			assert value["roles"] == sorted(model.roles[user]), "a leak"
		for read, got in value["read"].items():
			current = model.versions[read]
			assert got <= current
			if got < current:
				when, by = changed_at[(read, got + 1)]
				assert by != who, "a process served a value older than its own invalidation"
				assert started - when < WINDOW, "a stale value outside the window"

	def invalidate(who, op):
		kind = op[0]
		before = dict(model.versions)
		if kind == "roles":
			model.roles[op[1]] = op[2]  # a role change: the shell also invalidates the user
			request = ("invalidate_user", (op[1],), {})
		elif kind in ("insert", "update"):
			fields = op[2] if kind == "update" else None
			model.change(op[1], fields)
			for derived in DERIVED.get(op[1], ()):
				model.change(derived)
			request = ("invalidate_doctype", (op[1],), {"changed_fields": fields})
		elif kind == "user_changed":
			request = ("invalidate_user", (op[1],), {})
		elif kind == "role_changed":
			request = ("invalidate_role", (op[1],), {})
		else:
			request = ("invalidate_all", (), {})
		if who == 0:
			getattr(cache, request[0])(*request[1], **request[2])
			returned = time.monotonic()
		else:
			returned = second_process("invalidate", *request)
		for read, version in model.versions.items():
			if version != before[read]:
				changed_at[(read, version)] = (returned, who)

	try:
		tier.start()
		assert second_process("site", namespace, DERIVED) == "ready"
		deadline = time.monotonic() + 10
		while not tier.ready() and time.monotonic() < deadline:
			time.sleep(0.005)  # this process's tracking connection coming up, not a wait for data
		for who, op, times in ops:
			if op[0] == "call":
				for _ in range(times):
					call(who, *op[1:])
			else:
				invalidate(who, op)
		return {
			"this process": tier.process_stats()["hits"],
			"other process": second_process("stats")["tier"]["hits"],
		}
	finally:
		tier.close()
		unlink_site(redis, namespace)
