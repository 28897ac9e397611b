"""The app's two index catalogs: performance (member and payment screens) and SEPA (direct debit).

Specs on DocTypes of other apps (ERPNext's Sales Invoice and Payment Entry) belong to the
performance catalog; the manager applies them only where their tables exist and reports the
others as skipped with the reason.
"""

from ..exceptions import UnknownCatalogError
from .spec import IndexSpec, Probe

_RANDOM = "ORDER BY RAND(7) LIMIT %s"

PAYMENT_HISTORY = IndexSpec(
	name="idx_payment_member_date",
	doctype="Member Payment",
	columns=("member", "posting_date"),
	purpose="payment history of a member, newest first",
	probe=Probe(
		"SELECT name, posting_date, amount, status FROM `tabMember Payment` "
		"WHERE member=%s ORDER BY posting_date DESC LIMIT 20",
		f"SELECT name FROM `tabMember` {_RANDOM}",
	),
	catalog="performance",
)
ACTIVE_MANDATE = IndexSpec(
	name="idx_mandate_member_status",
	doctype="SEPA Mandate",
	columns=("member", "status"),
	purpose="the active SEPA mandate of a member",
	probe=Probe(
		"SELECT name, iban, bic, sign_date FROM `tabSEPA Mandate` "
		"WHERE member=%s AND status=%s ORDER BY sign_date DESC LIMIT 1",
		f"SELECT member, 'Active' FROM `tabSEPA Mandate` {_RANDOM}",
	),
	catalog="performance",
)
CHAPTER_MEMBERSHIP = IndexSpec(
	name="idx_chapter_member_enabled",
	doctype="Chapter Member",
	columns=("member", "enabled"),
	purpose="chapter membership checks of a member",
	probe=Probe(
		"SELECT parent, chapter_join_date FROM `tabChapter Member` WHERE member=%s AND enabled=%s",
		f"SELECT member, 1 FROM `tabChapter Member` {_RANDOM}",
	),
	catalog="performance",
)
MEMBER_EMAIL = IndexSpec(
	name="idx_member_email_status",
	doctype="Member",
	columns=("email", "status"),
	purpose="looking a member up by email",
	probe=Probe(
		"SELECT name, full_name, status FROM `tabMember` WHERE email=%s AND status=%s",
		f"SELECT email, status FROM `tabMember` {_RANDOM}",
	),
	catalog="performance",
)
SALES_INVOICE_CUSTOMER = IndexSpec(
	name="idx_sinv_customer_date",
	doctype="Sales Invoice",
	columns=("customer", "posting_date"),
	purpose="invoices of a customer, newest first (ERPNext)",
	probe=Probe(
		"SELECT name, posting_date FROM `tabSales Invoice` WHERE customer=%s "
		"ORDER BY posting_date DESC LIMIT 20",
		f"SELECT customer FROM `tabSales Invoice` {_RANDOM}",
	),
	app="erpnext",
	catalog="performance",
)
PAYMENT_ENTRY_PARTY = IndexSpec(
	name="idx_pe_party_date",
	doctype="Payment Entry",
	columns=("party", "posting_date"),
	purpose="payments of a party, newest first (ERPNext)",
	probe=Probe(
		"SELECT name, posting_date FROM `tabPayment Entry` WHERE party=%s ORDER BY posting_date DESC LIMIT 20",
		f"SELECT party FROM `tabPayment Entry` {_RANDOM}",
	),
	app="erpnext",
	catalog="performance",
)

# A direct-debit batch collects the unpaid SEPA payments of one month; the sample draws the
# months of the last year of data.
SEPA_BATCH = IndexSpec(
	name="idx_payment_sepa_batch",
	doctype="Member Payment",
	columns=("status", "payment_method", "posting_date"),
	purpose="selecting unpaid SEPA payments for a direct-debit batch",
	probe=Probe(
		"SELECT name, member, amount, sepa_mandate FROM `tabMember Payment` "
		"WHERE status=%s AND payment_method=%s AND posting_date BETWEEN %s AND %s",
		"SELECT DISTINCT 'Unpaid', 'SEPA Direct Debit', "
		"DATE_SUB(posting_date, INTERVAL DAYOFMONTH(posting_date) - 1 DAY), LAST_DAY(posting_date) "
		"FROM `tabMember Payment` WHERE posting_date >= "
		"(SELECT MAX(posting_date) FROM `tabMember Payment`) - INTERVAL 1 YEAR LIMIT %s",
	),
	catalog="sepa",
)
MANDATE_EXPIRY = IndexSpec(
	name="idx_mandate_status_expiry",
	doctype="SEPA Mandate",
	columns=("status", "expiry_date"),
	purpose="the sweep of active mandates expiring in a month",
	probe=Probe(
		"SELECT name, member, expiry_date FROM `tabSEPA Mandate` "
		"WHERE status=%s AND expiry_date BETWEEN %s AND %s",
		"SELECT DISTINCT 'Active', DATE_SUB(expiry_date, INTERVAL DAYOFMONTH(expiry_date) - 1 DAY), "
		"LAST_DAY(expiry_date) FROM `tabSEPA Mandate` WHERE status='Active' LIMIT %s",
	),
	catalog="sepa",
)

# Performance tracking: the monitoring DocTypes' own lookups. Both are composite so that
# ``bench migrate`` (which drops unflagged single-column indexes) keeps them.
SNAPSHOT_TIMESTAMP = IndexSpec(
	name="idx_snapshot_timestamp_score",
	doctype="Performance Snapshot",
	columns=("timestamp", "score"),
	purpose="performance tracking: snapshots of a time window (dashboard series, retention purge)",
	probe=Probe(
		"SELECT timestamp, score FROM `tabPerformance Snapshot` WHERE timestamp >= %s ORDER BY timestamp",
		"SELECT timestamp FROM `tabPerformance Snapshot` ORDER BY RAND(7) LIMIT %s",
	),
	catalog="monitoring",
)
ALERT_METRIC = IndexSpec(
	name="idx_alert_metric_status",
	doctype="Performance Alert",
	columns=("metric", "status"),
	purpose="performance tracking: the open alert of a metric",
	probe=Probe(
		"SELECT name, breaches, first_seen FROM `tabPerformance Alert` WHERE metric=%s AND status=%s",
		"SELECT metric, status FROM `tabPerformance Alert` ORDER BY RAND(7) LIMIT %s",
	),
	catalog="monitoring",
)

CATALOGS: dict[str, tuple[IndexSpec, ...]] = {
	"performance": (
		PAYMENT_HISTORY,
		ACTIVE_MANDATE,
		CHAPTER_MEMBERSHIP,
		MEMBER_EMAIL,
		SALES_INVOICE_CUSTOMER,
		PAYMENT_ENTRY_PARTY,
	),
	"sepa": (SEPA_BATCH, MANDATE_EXPIRY),
	"monitoring": (SNAPSHOT_TIMESTAMP, ALERT_METRIC),
}


def catalog(name: str = "all") -> tuple[IndexSpec, ...]:
	"""The specs of catalog ``name``: ``performance``, ``sepa``, ``monitoring`` or ``all``."""
	if name == "all":
		return tuple(spec for specs in CATALOGS.values() for spec in specs)
	if name not in CATALOGS:
		raise UnknownCatalogError(f"unknown index catalog {name!r}: use one of all, {', '.join(CATALOGS)}")
	return CATALOGS[name]


def find_spec(name: str) -> IndexSpec:
	"""The catalog spec named ``name``."""
	for spec in catalog("all"):
		if spec.name == name:
			return spec
	raise UnknownCatalogError(f"no index spec named {name!r} in the catalogs")
