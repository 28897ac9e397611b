"""A seeded, deterministic generator of a realistic association.

``generate_dataset(db, members=N, seed=S)`` fills the app's tables (created by
:mod:`.schema`) with N members spread over chapters, their chapter memberships,
SEPA mandates (most active, some cancelled or expired) and about ten payments per
member over several years. The same seed and size always give the same rows.
Rows go in as batched multi-row inserts, one transaction per batch.
"""

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from ..sepa import make_iban
from .db import Database, quote_identifier, table_name
from .progress import ProgressBar

# Dates are relative to a fixed day, not today, so a seed always gives the same rows.
DEFAULT_REFERENCE_DATE = date(2026, 10, 1)
DEFAULT_BATCH_SIZE = 5000

FIRST_NAMES = (
	"Anna", "Bram", "Claire", "Daan", "Eva", "Finn", "Greet", "Hugo", "Iris", "Jan", "Kim", "Lars",
	"Maud", "Noah", "Olga", "Pim", "Quinten", "Rosa", "Sem", "Tess", "Umar", "Vera", "Wout", "Yara",
	"Zoë", "Lotte", "Milan", "Sanne", "Thijs", "Fleur", "Ruben", "Nina", "Jesse", "Lieke", "Mees",
)  # fmt: skip
LAST_NAMES = (
	"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
	"Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen",
	"Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "Kok", "Jacobs",
)  # fmt: skip
REGIONS = ("Noord-Holland", "Zuid-Holland", "Utrecht", "Gelderland", "Noord-Brabant", "Limburg",
	"Overijssel", "Groningen", "Friesland", "Drenthe", "Flevoland", "Zeeland")  # fmt: skip
CITIES = ("Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen", "Tilburg", "Almere",
	"Breda", "Nijmegen", "Arnhem", "Haarlem", "Enschede", "Maastricht", "Leiden", "Zwolle", "Delft")  # fmt: skip
BANKS = (("INGB", "INGBNL2A"), ("RABO", "RABONL2U"), ("ABNA", "ABNANL2A"), ("SNSB", "SNSBNL2A"),
	("TRIO", "TRIONL2U"), ("ASNB", "ASNBNL21"), ("KNAB", "KNABNL2H"), ("BUNQ", "BUNQNL2A"))  # fmt: skip

MEMBER_STATUSES = (("Active", 80), ("Pending", 4), ("Suspended", 3), ("Expired", 8), ("Terminated", 5))
PAYMENT_METHODS = (("SEPA Direct Debit", 70), ("Bank Transfer", 14), ("iDEAL", 13), ("Cash", 3))
SETTLED_PAYMENT_STATUSES = (("Paid", 91), ("Failed", 4), ("Refunded", 1), ("Cancelled", 2), ("Unpaid", 2))
AMOUNTS = (Decimal("5.00"), Decimal("7.50"), Decimal("10.00"), Decimal("12.50"), Decimal("15.00"),
	Decimal("25.00"), Decimal("30.00"))  # fmt: skip

MEMBER_COLUMNS = ("name", "creation", "modified", "modified_by", "owner", "docstatus", "idx", "member_id",
	"first_name", "last_name", "full_name", "email", "status", "member_since", "primary_chapter",
	"payment_method")  # fmt: skip
CHAPTER_COLUMNS = ("name", "creation", "modified", "modified_by", "owner", "docstatus", "idx",
	"chapter_name", "region", "status")  # fmt: skip
CHAPTER_MEMBER_COLUMNS = ("name", "creation", "modified", "modified_by", "owner", "docstatus", "idx",
	"parent", "parentfield", "parenttype", "member", "status", "enabled", "chapter_join_date")  # fmt: skip
MANDATE_COLUMNS = ("name", "creation", "modified", "modified_by", "owner", "docstatus", "idx",
	"mandate_id", "member", "iban", "bic", "status", "sign_date", "expiry_date", "is_active")  # fmt: skip
PAYMENT_COLUMNS = ("name", "creation", "modified", "modified_by", "owner", "docstatus", "idx", "member",
	"amount", "posting_date", "status", "payment_method", "sepa_mandate", "reference")  # fmt: skip

OWNER = "Administrator"


@dataclass
class DatasetSummary:
	"""What a generator run created: row counts per DocType and the seed and size it used."""

	seed: int
	members: int
	reference_date: date
	counts: dict[str, int] = field(default_factory=dict)
	seconds: float = 0.0

	def as_dict(self) -> dict:
		return {
			"seed": self.seed,
			"members": self.members,
			"reference_date": self.reference_date.isoformat(),
			"counts": dict(self.counts),
			"seconds": round(self.seconds, 3),
		}


def _weighted(rng: random.Random, table: tuple) -> Callable[[], str]:
	values = [v for v, _ in table]
	cum = []
	total = 0
	for _, w in table:
		total += w
		cum.append(total)

	def pick() -> str:
		r = rng.random() * total
		for value, bound in zip(values, cum, strict=True):
			if r < bound:
				return value
		return values[-1]

	return pick


def chapter_count(members: int) -> int:
	"""How many chapters an association of this size has (one per ~500 members, 3 to 200)."""
	return max(3, min(200, members // 500))


def _stamp(d: date) -> datetime:
	return datetime(d.year, d.month, d.day, 9, 0, 0)


class _Writer:
	"""Buffers rows per table and flushes them as multi-row inserts, one transaction per batch."""

	def __init__(self, db: Database, batch_size: int, progress: ProgressBar | None):
		self.db = db
		self.batch_size = batch_size
		self.progress = progress
		self.buffers: dict[str, list] = {}
		self.statements: dict[str, str] = {}
		self.counts: dict[str, int] = {}

	def register(self, doctype: str, columns: tuple[str, ...]) -> None:
		cols = ", ".join(quote_identifier(c, "column") for c in columns)
		marks = ", ".join(["%s"] * len(columns))
		self.statements[doctype] = (
			f"INSERT INTO {quote_identifier(table_name(doctype), 'table')} ({cols}) VALUES ({marks})"
		)
		self.buffers[doctype] = []
		self.counts[doctype] = 0

	def add(self, doctype: str, row: tuple) -> None:
		buf = self.buffers[doctype]
		buf.append(row)
		if len(buf) >= self.batch_size:
			self.flush(doctype)

	def flush(self, doctype: str | None = None) -> None:
		for name in [doctype] if doctype else list(self.buffers):
			rows = self.buffers[name]
			if not rows:
				continue
			self.db.sql_many(self.statements[name], rows)
			self.db.commit()
			self.counts[name] += len(rows)
			if self.progress is not None:
				self.progress.update(len(rows))
			self.buffers[name] = []


def iter_association(
	members: int, seed: int = 42, reference_date: date = DEFAULT_REFERENCE_DATE
) -> Iterator[tuple[str, tuple]]:
	"""Yield (doctype, row) pairs of the whole association, deterministically for a seed."""
	if not isinstance(members, int) or isinstance(members, bool) or members < 1:
		raise ValueError(f"members must be a positive integer, got {members!r}")
	rng = random.Random(seed)
	member_status = _weighted(rng, MEMBER_STATUSES)
	payment_method = _weighted(rng, PAYMENT_METHODS)
	settled_status = _weighted(rng, SETTLED_PAYMENT_STATUSES)

	n_chapters = chapter_count(members)
	chapters = []
	for i in range(n_chapters):
		city = CITIES[i % len(CITIES)]
		name = f"{city} {i // len(CITIES) + 1:02d}" if i >= len(CITIES) else city
		region = REGIONS[i % len(REGIONS)]
		founded = _stamp(reference_date - timedelta(days=3650 + i))
		chapters.append(name)
		status = "Active" if i % 17 else "Inactive"
		yield "Chapter", (name, founded, founded, OWNER, OWNER, 0, 0, name, region, status)

	chapter_idx = [0] * n_chapters
	cm_seq = 0
	mandate_seq = 0
	payment_seq = 0
	ten_years = 3650
	for m in range(1, members + 1):
		member_id = f"M{m:07d}"
		first = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
		last = LAST_NAMES[rng.randrange(len(LAST_NAMES))]
		email = f"{first}.{last}.{m}@example.org".lower().replace(" ", "")
		status = member_status()
		since = reference_date - timedelta(days=rng.randrange(30, ten_years))
		chapter_no = rng.randrange(n_chapters)
		method = payment_method()
		created = _stamp(since)
		yield "Member", (
			member_id, created, created, OWNER, OWNER, 0, 0, member_id, first, last, f"{first} {last}",
			email, status, since, chapters[chapter_no], method,
		)  # fmt: skip

		# Chapter memberships: the primary chapter, and a second one for about one member in ten.
		memberships = [chapter_no]
		if rng.random() < 0.1 and n_chapters > 1:
			memberships.append((chapter_no + 1 + rng.randrange(n_chapters - 1)) % n_chapters)
		for pos, ch in enumerate(memberships):
			cm_seq += 1
			chapter_idx[ch] += 1
			join = since + timedelta(days=pos * rng.randrange(1, 400))
			enabled = 0 if status in ("Terminated", "Expired") else 1
			cm_status = "Active" if enabled else "Inactive"
			yield "Chapter Member", (
				f"CM{cm_seq:09d}", _stamp(join), _stamp(join), OWNER, OWNER, 0, chapter_idx[ch],
				chapters[ch], "members", "Chapter", member_id, cm_status, enabled, min(join, reference_date),
			)  # fmt: skip

		# Mandates: SEPA payers have one current mandate; some have an older, ended one.
		current_mandate = previous_mandate = None
		sign = since
		if method == "SEPA Direct Debit":
			bank, bic = BANKS[rng.randrange(len(BANKS))]
			if rng.random() < 0.15:
				mandate_seq += 1
				old_sign = since
				old_end = since + timedelta(days=rng.randrange(60, 700))
				old_status = "Cancelled" if rng.random() < 0.6 else "Expired"
				iban = make_iban("NL", f"{bank}{rng.randrange(10**10):010d}")
				previous_mandate = f"MD-{mandate_seq:08d}"
				yield "SEPA Mandate", (
					f"MD-{mandate_seq:08d}", _stamp(old_sign), _stamp(old_end), OWNER, OWNER, 0, 0,
					f"MD-{mandate_seq:08d}", member_id, iban, bic, old_status, old_sign, old_end, 0,
				)  # fmt: skip
			mandate_seq += 1
			start = (old_end + timedelta(days=1)) if previous_mandate else since
			sign = min(start + timedelta(days=rng.randrange(0, 60)), reference_date)
			if status in ("Terminated", "Expired"):
				expiry = sign + timedelta(days=365 * rng.randrange(1, 6))
				m_status = "Cancelled" if expiry >= reference_date or rng.random() < 0.5 else "Expired"
			else:
				# A current mandate of a member in good standing runs past the reference date.
				expiry = reference_date + timedelta(days=rng.randrange(30, 5 * 365))
				m_status = "Active"
			if m_status == "Active" and rng.random() < 0.04:
				m_status = "Suspended"
			iban = make_iban("NL", f"{bank}{rng.randrange(10**10):010d}")
			current_mandate = f"MD-{mandate_seq:08d}"
			yield "SEPA Mandate", (
				current_mandate, _stamp(sign), _stamp(sign), OWNER, OWNER, 0, 0, current_mandate, member_id,
				iban, bic, m_status, sign, expiry, 1 if m_status == "Active" else 0,
			)  # fmt: skip

		# Payments: about ten per member, spread from membership start to the reference date.
		n_payments = rng.randrange(5, 16)
		span = (reference_date - since).days
		amount = AMOUNTS[rng.randrange(len(AMOUNTS))]
		for k in range(n_payments):
			payment_seq += 1
			offset = (span * (k + 1)) // (n_payments + 1)
			posting = since + timedelta(days=offset)
			age = (reference_date - posting).days
			p_status = "Unpaid" if age < 45 and rng.random() < 0.7 else settled_status()
			mandate = (previous_mandate if posting < sign else current_mandate) or current_mandate
			yield "Member Payment", (
				f"MPAY-{payment_seq:08d}", _stamp(posting), _stamp(posting), OWNER, OWNER, 0, 0, member_id,
				amount, posting, p_status, method, mandate, f"{member_id}-{posting:%Y%m}-{k + 1}",
			)  # fmt: skip


def expected_rows(members: int) -> int:
	"""An upper-bound estimate of the rows a run inserts, for the progress bar."""
	return members * 14 + chapter_count(members)


def generate_dataset(
	db: Database,
	*,
	members: int,
	seed: int = 42,
	reference_date: date = DEFAULT_REFERENCE_DATE,
	batch_size: int = DEFAULT_BATCH_SIZE,
	progress: bool | None = None,
	truncate: bool = True,
) -> DatasetSummary:
	"""Fill the app's tables with a generated association; return what was created.

	With ``truncate`` (the default) the five tables are emptied first so the run is
	repeatable. ``progress``: True draws a bar, False shows nothing, None (the default) draws a bar
	on a terminal and writes a progress line every few seconds to anything else (a pipe, a log).
	"""
	import time

	if batch_size < 1:
		raise ValueError(f"batch_size must be >= 1, got {batch_size}")
	start = time.perf_counter()
	doctypes = {
		"Chapter": CHAPTER_COLUMNS,
		"Member": MEMBER_COLUMNS,
		"Chapter Member": CHAPTER_MEMBER_COLUMNS,
		"SEPA Mandate": MANDATE_COLUMNS,
		"Member Payment": PAYMENT_COLUMNS,
	}
	if truncate:
		for doctype in doctypes:
			db.ddl(f"TRUNCATE TABLE {quote_identifier(table_name(doctype), 'table')}")
	bar = ProgressBar(expected_rows(members), f"seeding {members:,} members", enabled=progress)
	writer = _Writer(db, batch_size, bar)
	for doctype, columns in doctypes.items():
		writer.register(doctype, columns)
	try:
		for doctype, row in iter_association(members, seed, reference_date):
			writer.add(doctype, row)
		writer.flush()
		bar.finish()  # the total was an estimate: end at what was inserted, 100 %
	except BaseException:
		# No half-seeded database: drop what earlier batches committed, then re-raise.
		db.rollback()
		if truncate:
			for doctype in doctypes:
				db.ddl(f"TRUNCATE TABLE {quote_identifier(table_name(doctype), 'table')}")
		raise
	finally:
		bar.close()  # after a failure: where it stopped
	summary = DatasetSummary(seed=seed, members=members, reference_date=reference_date, counts=writer.counts)
	summary.seconds = time.perf_counter() - start
	return summary
