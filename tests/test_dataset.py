"""The generator is deterministic for a seed and its rows link up consistently."""

import hashlib

import pytest

from verenigingen.performance.dataset import chapter_count, generate_dataset, iter_association
from verenigingen.sepa import validate_iban

TABLES = ("tabChapter", "tabMember", "tabChapter Member", "tabSEPA Mandate", "tabMember Payment")


def _fingerprint(db):
	digest = hashlib.sha256()
	for table in TABLES:
		for row in db.sql(f"SELECT * FROM `{table}` ORDER BY name"):
			digest.update(repr(row).encode())
	return digest.hexdigest()


def test_same_seed_same_rows_other_seed_other_rows(scratch_databases):
	a = scratch_databases.create("det_a")
	b = scratch_databases.create("det_b")
	generate_dataset(a, members=120, seed=11, progress=False)
	generate_dataset(b, members=120, seed=11, progress=False)
	assert _fingerprint(a) == _fingerprint(b)
	generate_dataset(b, members=120, seed=12, progress=False)
	assert _fingerprint(a) != _fingerprint(b)


def test_counts_match_summary_and_are_realistic(seeded_db):
	counts = {t: seeded_db.sql(f"SELECT COUNT(*) FROM `{t}`")[0][0] for t in TABLES}
	assert counts["tabMember"] == 300
	assert counts["tabChapter"] == chapter_count(300)
	assert 300 <= counts["tabChapter Member"] <= 360
	assert 5 * 300 <= counts["tabMember Payment"] <= 15 * 300
	per_member = counts["tabMember Payment"] / 300
	assert 8 <= per_member <= 12  # about ten payments per member
	statuses = dict(seeded_db.sql("SELECT status, COUNT(*) FROM `tabSEPA Mandate` GROUP BY status"))
	assert statuses["Active"] > sum(v for k, v in statuses.items() if k != "Active")  # most are active
	assert statuses.get("Cancelled", 0) + statuses.get("Expired", 0) > 0
	pay = dict(seeded_db.sql("SELECT status, COUNT(*) FROM `tabMember Payment` GROUP BY status"))
	assert pay["Paid"] > counts["tabMember Payment"] * 0.7 and pay["Unpaid"] > 0 and pay["Failed"] > 0
	years = seeded_db.sql("SELECT COUNT(DISTINCT YEAR(posting_date)) FROM `tabMember Payment`")[0][0]
	assert years >= 5


def test_links_are_consistent(seeded_db):
	q = seeded_db.sql
	assert (
		q(
			"SELECT COUNT(*) FROM `tabMember Payment` p LEFT JOIN `tabMember` m ON m.name=p.member WHERE m.name IS NULL"
		)[0][0]
		== 0
	)
	# every mandate named on a payment belongs to that payment's member
	assert (
		q(
			"SELECT COUNT(*) FROM `tabMember Payment` p JOIN `tabSEPA Mandate` s ON s.name=p.sepa_mandate "
			"WHERE s.member <> p.member"
		)[0][0]
		== 0
	)
	assert (
		q(
			"SELECT COUNT(*) FROM `tabMember Payment` WHERE sepa_mandate IS NOT NULL AND sepa_mandate NOT IN (SELECT name FROM `tabSEPA Mandate`)"
		)[0][0]
		== 0
	)
	assert q("SELECT COUNT(*) FROM `tabMember Payment` WHERE sepa_mandate IS NOT NULL")[0][0] > 0
	assert (
		q(
			"SELECT COUNT(*) FROM `tabChapter Member` c LEFT JOIN `tabMember` m ON m.name=c.member WHERE m.name IS NULL"
		)[0][0]
		== 0
	)
	assert (
		q(
			"SELECT COUNT(*) FROM `tabChapter Member` c LEFT JOIN `tabChapter` h ON h.name=c.parent WHERE h.name IS NULL"
		)[0][0]
		== 0
	)
	assert (
		q(
			"SELECT COUNT(*) FROM `tabMember` m LEFT JOIN `tabChapter` h ON h.name=m.primary_chapter WHERE h.name IS NULL"
		)[0][0]
		== 0
	)
	assert (
		q("SELECT COUNT(*) FROM `tabChapter Member` WHERE parentfield<>'members' OR parenttype<>'Chapter'")[
			0
		][0]
		== 0
	)
	for (iban,) in q("SELECT iban FROM `tabSEPA Mandate` LIMIT 50"):
		assert validate_iban(iban) == iban


def test_bad_sizes_are_refused(db):
	with pytest.raises(ValueError, match="members must be a positive integer"):
		next(iter_association(0))
	with pytest.raises(ValueError, match="batch_size"):
		generate_dataset(db, members=5, batch_size=0)


def test_failure_half_way_leaves_no_partial_dataset(scratch_databases, monkeypatch):
	db = scratch_databases.create("partial")
	from verenigingen.performance import dataset

	real = dataset.iter_association

	def broken(*args, **kwargs):
		for i, item in enumerate(real(*args, **kwargs)):
			if i == 700:
				raise RuntimeError("disk full")
			yield item

	monkeypatch.setattr(dataset, "iter_association", broken)
	with pytest.raises(RuntimeError, match="disk full"):
		generate_dataset(db, members=200, seed=1, batch_size=50, progress=False)
	assert all(db.sql(f"SELECT COUNT(*) FROM `{t}`")[0][0] == 0 for t in TABLES)


def test_a_prefixed_run_adds_to_existing_rows_without_touching_them(scratch_databases, monkeypatch):
	"""What seeding a live site needs: no truncation, names of its own (so neither the site's rows nor
	the names Frappe's naming series give later collide), and a failed run removes only its rows."""
	db = scratch_databases.create("prefixed")
	generate_dataset(db, members=40, seed=3, progress=False)
	before = {t: {r[0] for r in db.sql(f"SELECT name FROM `{t}`")} for t in TABLES}
	generate_dataset(db, members=40, seed=3, progress=False, truncate=False, name_prefix="VT-")
	for table in TABLES:
		names = {r[0] for r in db.sql(f"SELECT name FROM `{table}`")}
		added = names - before[table]
		assert before[table] <= names and len(added) == len(before[table])
		assert all(n.startswith("VT-") for n in added)
	assert not db.sql("SELECT 1 FROM `tabMember Payment` WHERE name LIKE 'VT-%%' AND member NOT LIKE 'VT-%%'")

	from verenigingen.performance import dataset

	real = dataset.iter_association

	def broken(*args, **kwargs):
		for i, item in enumerate(real(*args, **kwargs)):
			if i == 300:
				raise RuntimeError("disk full")
			yield item

	monkeypatch.setattr(dataset, "iter_association", broken)
	with pytest.raises(RuntimeError, match="disk full"):
		generate_dataset(
			db, members=40, seed=4, batch_size=50, progress=False, truncate=False, name_prefix="X_"
		)
	for table in TABLES:
		assert not db.sql(f"SELECT 1 FROM `{table}` WHERE name LIKE 'X\\_%%'")
		assert len(db.sql(f"SELECT name FROM `{table}`")) == 2 * len(before[table])
	with pytest.raises(ValueError, match="name_prefix"):
		next(iter_association(5, name_prefix=" x"))
