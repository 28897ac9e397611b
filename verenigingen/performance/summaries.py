"""Read models the app's APIs serve (and cache): one member's summary, their payment history,
chapter statistics.

Plain SQL on a :class:`~.db.Database` handle, values as parameters. They return plain data
(dicts of str, int, Decimal, date, None) so the cache codec round trips them exactly.
"""

from .db import Database

MEMBER_FIELDS = ("name", "member_id", "full_name", "email", "status", "member_since", "primary_chapter",
	"payment_method")  # fmt: skip
MANDATE_FIELDS = ("name", "mandate_id", "iban", "bic", "status", "sign_date", "expiry_date")
PAYMENT_FIELDS = ("name", "posting_date", "amount", "status", "payment_method", "sepa_mandate")
PAYMENT_HISTORY_LIMIT = 20  # payments a history shows by default
PAYMENT_HISTORY_MAX = 100  # the most one request may ask for
# What each cached read model's entries depend on (a change to one of these DocTypes invalidates them)
MEMBER_SUMMARY_DEPENDS = ("Member", "SEPA Mandate", "Member Payment")
PAYMENT_HISTORY_DEPENDS = ("Member", "Member Payment")


def member_summary(db: Database, member: str) -> dict | None:
	"""The member, their active SEPA mandate (latest signed) and payment totals; None if unknown."""
	cols = ", ".join(f"`{c}`" for c in MEMBER_FIELDS)
	rows = db.sql(f"SELECT {cols} FROM `tabMember` WHERE `name` = %s", (member,), as_dict=True)
	if not rows:
		return None
	summary = dict(rows[0])
	mcols = ", ".join(f"`{c}`" for c in MANDATE_FIELDS)
	mandates = db.sql(
		f"SELECT {mcols} FROM `tabSEPA Mandate` WHERE `member` = %s AND `is_active` = 1 "
		"AND `status` = 'Active' ORDER BY `sign_date` DESC, `name` DESC LIMIT 1",
		(member,),
		as_dict=True,
	)
	summary["active_mandate"] = dict(mandates[0]) if mandates else None
	totals = db.sql(
		"SELECT `status`, COUNT(*) AS `count`, SUM(`amount`) AS `amount`, MAX(`posting_date`) AS `last` "
		"FROM `tabMember Payment` WHERE `member` = %s AND `docstatus` < 2 GROUP BY `status`",
		(member,),
		as_dict=True,
	)
	by_status = {r["status"]: {"count": int(r["count"]), "amount": r["amount"]} for r in totals}
	paid = by_status.get("Paid", {"count": 0, "amount": None})
	summary["payments"] = {
		"count": sum(v["count"] for v in by_status.values()),
		"paid_total": paid["amount"] if paid["amount"] is not None else _zero_amount(),
		"outstanding_total": (by_status.get("Unpaid") or {}).get("amount") or _zero_amount(),
		"last_posting_date": max((r["last"] for r in totals if r["last"] is not None), default=None),
		"by_status": by_status,
	}
	return summary


def payment_history(db: Database, member: str, limit: int = PAYMENT_HISTORY_LIMIT) -> list[dict]:
	"""The member's payments (not cancelled), newest first, at most ``limit`` (1 to PAYMENT_HISTORY_MAX)."""
	if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAYMENT_HISTORY_MAX:
		raise ValueError(f"limit must be a whole number from 1 to {PAYMENT_HISTORY_MAX}, got {limit!r}")
	cols = ", ".join(f"`{c}`" for c in PAYMENT_FIELDS)
	rows = db.sql(
		f"SELECT {cols} FROM `tabMember Payment` WHERE `member` = %s AND `docstatus` < 2 "
		"ORDER BY `posting_date` DESC, `name` DESC LIMIT %s",
		(member, limit),
		as_dict=True,
	)
	return [dict(r) for r in rows]


def chapter_statistics(db: Database) -> list[dict]:
	"""Per chapter: region, status, enabled and total member rows, and members whose primary chapter it is."""
	rows = db.sql(
		"SELECT c.`name`, c.`region`, c.`status`, "
		"COUNT(cm.`name`) AS `members`, COALESCE(SUM(cm.`enabled`), 0) AS `active_members` "
		"FROM `tabChapter` c LEFT JOIN `tabChapter Member` cm "
		"ON cm.`parent` = c.`name` AND cm.`parenttype` = 'Chapter' AND cm.`parentfield` = 'members' "
		"GROUP BY c.`name`, c.`region`, c.`status` ORDER BY c.`name`",
		as_dict=True,
	)
	primary = {
		r["primary_chapter"]: int(r["n"])
		for r in db.sql(
			"SELECT `primary_chapter`, COUNT(*) AS `n` FROM `tabMember` GROUP BY `primary_chapter`",
			as_dict=True,
		)
	}
	return [
		{
			"chapter": r["name"],
			"region": r["region"],
			"status": r["status"],
			"members": int(r["members"]),
			"active_members": int(r["active_members"]),
			"primary_members": primary.get(r["name"], 0),
		}
		for r in rows
	]


def _zero_amount():
	from decimal import Decimal

	return Decimal("0E-9")
