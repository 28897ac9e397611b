"""The transactional outbox of cache invalidations on real MariaDB and Redis: a row written in
the changing transaction, applied after commit with a marker, swept by the per-minute job."""

import json
import socket

import pytest

from verenigingen.performance.cache import SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.exceptions import InvalidCacheArgumentError
from verenigingen.performance.invalidation import InvalidationBatch
from verenigingen.performance.outbox import InvalidationOutbox, new_outbox_id

ALICE = SecurityContext("alice@example.org", ["Member Manager"])


@pytest.fixture
def site_db(scratch_databases):
	db = scratch_databases.create("outbox")
	db.sql("INSERT INTO `tabMember` (name, member_id, status) VALUES ('M1', 'M1', 'Active')")
	db.commit()
	yield db
	db.close()


def batch(doctype="Member", fields=None) -> InvalidationBatch:
	out = InvalidationBatch()
	out.add_doctype(doctype, fields)
	return out


def status(cache, db, computed=None):
	def compute():
		if computed is not None:
			computed.append(1)
		return db.sql("SELECT status FROM `tabMember` WHERE name = 'M1'")[0][0]

	return cache.get_or_compute(
		"status", ("M1",), compute, ctx=ALICE, level="MEMBER_DATA", depends_on=[("Member", ["status"])]
	)


def rows(db):
	db.commit()  # a new snapshot: see what is committed now
	return db.sql("SELECT name, payload FROM `tabCache Invalidation` ORDER BY creation, name")


def unreachable_redis():
	import redis
	from redis.backoff import NoBackoff
	from redis.retry import Retry

	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		port = s.getsockname()[1]  # nothing listens there once the socket is closed
	return redis.Redis(port=port, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))


# ---------------------------------------------------------------- the batch


def test_batch_merges_without_losing_anything_and_round_trips_as_json():
	b = InvalidationBatch()
	assert not b
	assert b.add_doctype("Member", ["status"]) and not b.add_doctype("Member", ["status"])
	assert b.add_doctype("Member", ["email"]) and b.doctypes["Member"] == {"status", "email"}
	assert b.add_doctype("Member") and b.doctypes["Member"] is None  # unknown fields absorb known ones
	assert not b.add_doctype("Member", ["status"])
	other = InvalidationBatch()
	other.add_user("a@example.org")
	other.add_role("Accounts User")
	other.add_function("api.summary")
	other.add_doctype("Chapter", [])
	assert b.merge(other) and not b.merge(other)
	assert InvalidationBatch.from_json(b.to_json()) == b
	assert json.loads(b.to_json()) == {
		"all": False, "doctypes": {"Chapter": [], "Member": None}, "functions": ["api.summary"],
		"roles": ["Accounts User"], "users": ["a@example.org"],
	}  # fmt: skip


@pytest.mark.parametrize(
	"payload, message",
	[
		("{", "not JSON"),
		("[]", "must be an object"),
		('{"doctypes": {"Member": "status"}}', "changed fields of 'Member' must be a list or null"),
		('{"users": "a"}', "'users' must be a list"),
		('{"all": 1}', "'all' must be true or false"),
		('{"rows": []}', "unknown keys"),
		('{"doctypes": {"": null}}', "doctype must be a non-empty string"),
	],
)
def test_a_bad_payload_is_rejected_naming_what_is_wrong(payload, message):
	with pytest.raises(InvalidCacheArgumentError, match=message):
		InvalidationBatch.from_json(payload)


def test_batch_moves_each_counter_once(redis, namespace):
	cache = SecurityAwareCache(redis, namespace, derived_dependencies={"Member Payment": ["Member"]})
	b = batch("Member Payment")
	b.add_doctype("Member", ["status"])
	keys = b.gen_keys(cache.generations)
	assert len(keys) == len(set(keys))
	assert cache.generations.field_key("Member", "status") in keys
	assert cache.generations.rows_key("Member") in keys  # derived from Member Payment: whole


# ---------------------------------------------------------------- the outbox


def test_the_row_belongs_to_the_writing_transaction(site_db, redis, namespace):
	outbox = InvalidationOutbox(site_db, SecurityAwareCache(redis, namespace))
	oid = new_outbox_id()
	outbox.record(oid, batch(fields=["status"]))
	site_db.rollback()
	assert rows(site_db) == []
	outbox.record(oid, batch(fields=["status"]))
	grown = batch(fields=["status"])
	grown.add_user("a@example.org")
	outbox.record(oid, grown)  # the batch grew: the same row, overwritten
	site_db.commit()
	((name, payload),) = rows(site_db)
	assert name == oid and InvalidationBatch.from_json(payload) == grown


def test_applied_after_commit_marks_the_row_and_the_sweeper_only_deletes_it(site_db, redis, namespace):
	cache = SecurityAwareCache(redis, namespace)
	outbox = InvalidationOutbox(site_db, cache)
	assert status(cache, site_db) == "Active"
	oid = new_outbox_id()
	site_db.sql("UPDATE `tabMember` SET status = 'Suspended' WHERE name = 'M1'")
	outbox.record(oid, batch(fields=["status"]))
	site_db.commit()
	assert outbox.applied(oid, batch(fields=["status"])) is True
	assert redis.exists(outbox.marker_key(oid))
	assert status(cache, site_db) == "Suspended"
	gen = cache.generations.field_key("Member", "status")
	token = redis.get(gen)
	assert outbox.sweep() == {
		"rows": 1, "applied": 0, "already_applied": 1, "unreadable": 0, "redis": "ok", "more": False
	}  # fmt: skip
	assert redis.get(gen) == token  # not applied a second time
	assert rows(site_db) == [] and not redis.exists(outbox.marker_key(oid))
	computed = []
	assert status(cache, site_db, computed) == "Suspended" and computed == []  # still a hit


def test_a_commit_whose_process_died_before_redis_is_applied_by_the_sweeper(site_db, redis, namespace):
	reader = SecurityAwareCache(redis, namespace)
	assert status(reader, site_db) == "Active"
	# The writing process: change and outbox row in one transaction, commit, then it dies before
	# (or fails at) the after-commit step. Nothing of it is left in any process's memory.
	writer_db = site_db.clone()
	writer_db.sql("UPDATE `tabMember` SET status = 'Suspended' WHERE name = 'M1'")
	InvalidationOutbox(writer_db, SecurityAwareCache(unreachable_redis(), namespace)).record(
		new_outbox_id(), batch(fields=["status"])
	)
	writer_db.commit()
	writer_db.close()
	site_db.commit()
	assert status(reader, site_db) == "Active"  # stale: this is what the sweeper is for
	sweeper_db = site_db.clone()
	result = InvalidationOutbox(sweeper_db, SecurityAwareCache(redis, namespace)).sweep()
	sweeper_db.close()
	assert (result["applied"], result["rows"]) == (1, 1)
	assert status(reader, site_db) == "Suspended"
	assert rows(site_db) == []


def test_sweeping_while_redis_is_down_keeps_the_rows(site_db, namespace):
	outbox = InvalidationOutbox(site_db, SecurityAwareCache(unreachable_redis(), namespace))
	outbox.record(new_outbox_id(), batch())
	site_db.commit()
	assert outbox.applied(None, batch()) is False
	result = outbox.sweep()
	assert result["redis"] == "unavailable" and result["rows"] == 0
	assert len(rows(site_db)) == 1


def test_an_unreadable_row_invalidates_everything(site_db, redis, namespace):
	cache = SecurityAwareCache(redis, namespace)
	outbox = InvalidationOutbox(site_db, cache)
	assert status(cache, site_db) == "Active"
	site_db.sql(
		"INSERT INTO `tabCache Invalidation` (name, creation, payload) VALUES (%s, NOW(6), %s)",
		(new_outbox_id(), '{"doctypes": 7}'),
	)
	site_db.commit()
	result = outbox.sweep()
	assert (result["applied"], result["unreadable"], result["rows"]) == (1, 1, 1)
	computed = []
	status(cache, site_db, computed)
	assert computed == [1]  # the global counter moved


def test_sweep_works_in_bounded_batches(site_db, redis, namespace):
	cache = SecurityAwareCache(redis, namespace)
	outbox = InvalidationOutbox(site_db, cache)
	for i in range(5):
		outbox.record(new_outbox_id(), batch(f"Thing {i}"))
	site_db.commit()
	first = outbox.sweep(batch_size=2, max_batches=1)
	assert (first["rows"], first["more"]) == (2, True)
	rest = outbox.sweep(batch_size=2)
	assert (rest["rows"], rest["applied"], rest["more"]) == (3, 3, False)
	assert outbox.pending() == 0


def test_bad_outbox_input_is_rejected(site_db, redis, namespace):
	outbox = InvalidationOutbox(site_db, SecurityAwareCache(redis, namespace))
	with pytest.raises(InvalidCacheArgumentError, match="outbox id must be 20 lowercase hex digits"):
		outbox.record("x'; DROP TABLE", batch())
	with pytest.raises(InvalidCacheArgumentError, match="non-empty InvalidationBatch"):
		outbox.record(new_outbox_id(), InvalidationBatch())
	with pytest.raises(InvalidCacheArgumentError, match="marker_ttl"):
		InvalidationOutbox(site_db, outbox.cache, marker_ttl=0)
	with pytest.raises(InvalidCacheArgumentError, match="marker must be a key of this site"):
		outbox.cache.apply(batch(), marker="elsewhere")
