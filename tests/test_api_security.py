"""API security: every whitelisted function of the app is guarded and type-annotated, the
authorisation matrix holds for every endpoint (discovered, so endpoints added later are covered),
and malformed input is rejected with a message naming the argument."""

import importlib
import uuid

import pytest

from verenigingen.performance.api_audit import coverage, scan_whitelisted


def test_the_scanner_tells_guarded_from_unguarded(tmp_path):
	pkg = tmp_path / "app"
	pkg.mkdir()
	(pkg / "api.py").write_text(
		"import frappe\nfrom g import admin_only, require_roles\n"
		"@frappe.whitelist()\n@admin_only\ndef ok(a: int) -> int:\n\treturn a\n"
		"@frappe.whitelist(methods=['POST'])\n@require_roles('X')\ndef ok2(a: int, *, b: str = '') -> int:\n\treturn a\n"
		"@frappe.whitelist()\ndef open_door(a):\n\treturn a\n"
		"@admin_only\n@frappe.whitelist()\ndef guard_above(a: int):\n\treturn a\n"
		"def not_api(a):\n\treturn a\n"
	)
	found = {f["name"]: f for f in scan_whitelisted(pkg)}
	assert set(found) == {"ok", "ok2", "open_door", "guard_above"}
	assert found["ok"]["guarded"] and found["ok2"]["guarded"]
	assert not found["open_door"]["guarded"] and found["open_door"]["unannotated"] == ["a"]
	# a guard above @frappe.whitelist does not protect what Frappe registered
	assert not found["guard_above"]["guarded"]


def test_every_whitelisted_function_is_guarded_and_annotated(capsys):
	found = scan_whitelisted()
	guarded = [f for f in found if f["guarded"]]
	annotated = [f for f in found if not f["unannotated"]]
	with capsys.disabled():
		print(
			f"\nAPI guard coverage: {len(guarded)}/{len(found)} whitelisted functions guarded, "
			f"{len(annotated)}/{len(found)} fully type-annotated"
		)
		for f in found:
			flags = (
				("guarded" if f["guarded"] else "UNGUARDED")
				+ (", rate-limited" if f["rate_limited"] else "")
				+ ("" if not f["unannotated"] else f", unannotated: {', '.join(f['unannotated'])}")
			)
			print(f"  {f['path']}: {flags}")
	assert found, "the app has whitelisted functions (measure_member_performance at least)"
	assert [f["path"] for f in found if not f["guarded"]] == []
	assert [(f["path"], f["unannotated"]) for f in found if f["unannotated"]] == []


# ---------------------------------------------------------------- the authorisation matrix


def _endpoints() -> list:
	"""The registered (whitelisted) function objects of every module the scan found."""
	import frappe

	endpoints = []
	for entry in scan_whitelisted():
		module = importlib.import_module(entry["module"])
		fn = getattr(module, entry["name"])
		assert fn in frappe.whitelisted, f"{entry['path']} is not registered by frappe.whitelist"
		endpoints.append(fn)
	return endpoints


class Probe:
	"""One endpoint's call in the matrix: well-formed arguments for this site, and what an allowed
	caller must get back. ``arguments(site)`` runs before every call (as Administrator)."""

	def __init__(self, arguments, expect):
		self.arguments, self.expect = arguments, expect


def _no_arguments(site) -> dict:
	return {}


def _job(site) -> str:
	"""A fresh coordinator job (never run) for the job endpoints."""
	from verenigingen import frappe_bridge

	coordinator = frappe_bridge.job_coordinator()
	coordinator.load_controller = None
	return coordinator.submit(
		"verenigingen.tests.site_jobs.whoami",
		{"label": "vtest-matrix"},
		job_id=f"vtest-matrix-{uuid.uuid4().hex[:8]}",
	)


PROBES = {
	"verenigingen.api.cache.get_cache_stats": Probe(
		_no_arguments, lambda r, s: r["namespace"] == s.namespace
	),
	"verenigingen.api.cache.clear_cache": Probe(_no_arguments, lambda r, s: r["cleared"] is True),
	"verenigingen.api.indexes.database_index_manager_api": Probe(
		lambda s: {"action": "status"}, lambda r, s: "counts" in r and "auto_apply" in r
	),
	"verenigingen.api.indexes.get_index_advice": Probe(_no_arguments, lambda r, s: "report" in r),
	"verenigingen.api.jobs.get_queue_status": Probe(_no_arguments, lambda r, s: "priorities" in r),
	"verenigingen.api.jobs.get_job_status": Probe(
		lambda s: {"job_id": _job(s)}, lambda r, s: r["status"] in ("queued", "waiting")
	),
	"verenigingen.api.jobs.cancel_job": Probe(
		lambda s: {"job_id": _job(s)}, lambda r, s: r["status"] == "cancelled"
	),
	"verenigingen.api.member.get_member_summary": Probe(
		lambda s: {"member": MATRIX_MEMBER}, lambda r, s: r["full_name"] == "Matrix Probe"
	),
	"verenigingen.api.member.get_payment_history": Probe(
		lambda s: {"member": MATRIX_MEMBER}, lambda r, s: isinstance(r, list)
	),
	"verenigingen.api.member.get_chapter_statistics": Probe(_no_arguments, lambda r, s: isinstance(r, list)),
	"verenigingen.api.monitoring.get_performance_summary": Probe(
		_no_arguments, lambda r, s: r["enabled"] is True
	),
	"verenigingen.api.monitoring.get_performance_dashboard_data": Probe(
		lambda s: {"window": "1h"}, lambda r, s: r["enabled"] is True
	),
	"verenigingen.api.profiling.measure_member_performance": Probe(
		lambda s: {"member": MATRIX_MEMBER}, lambda r, s: r["member"] == MATRIX_MEMBER
	),
	"verenigingen.api.readiness.validate_performance_infrastructure": Probe(
		_no_arguments, lambda r, s: 0 <= r["score"] <= 100
	),
}
MATRIX_MEMBER = "vtest-matrix-member"

MATRIX = [
	("Guest", (), False),
	("desk.user@example.org", ("Desk User", "Blogger"), False),
	("v.admin@example.org", ("Verenigingen Administrator",), True),
	("sys.manager@example.org", ("System Manager",), True),
]


@pytest.mark.shell
@pytest.mark.parametrize(("user", "roles", "allowed"), MATRIX, ids=[m[0] for m in MATRIX])
def test_authorisation_matrix_over_every_endpoint(frappe_site, user, roles, allowed):
	"""Every endpoint the scan finds, called as each user: an allowed user gets the endpoint's expected
	result, any other user a PermissionError. Anything else (another error, a refusal of an allowed
	user, a result that is not what it should be) fails; an endpoint without a probe fails too."""
	import frappe

	frappe.set_user("Administrator")
	frappe.get_doc(
		{"doctype": "Member", "member_id": MATRIX_MEMBER, "first_name": "Matrix", "last_name": "Probe"}
	).insert()
	frappe.db.commit()
	frappe_site.login(user, roles)
	endpoints = _endpoints()
	missing = [
		f"{fn.__module__}.{fn.__name__}" for fn in endpoints if f"{fn.__module__}.{fn.__name__}" not in PROBES
	]
	assert missing == [], f"add a Probe (arguments, expected result) for {missing}"
	outcomes = {}
	for fn in endpoints:
		name = f"{fn.__module__}.{fn.__name__}"
		probe = PROBES[name]
		frappe.set_user("Administrator")
		arguments = probe.arguments(frappe_site)
		frappe.db.commit()
		frappe.set_user(user)
		frappe.flags.in_test = True  # arguments are type-checked, as in a request
		try:
			result = fn(**arguments)
		except frappe.PermissionError:
			outcomes[name] = "denied"
		except Exception as exc:
			outcomes[name] = f"error {type(exc).__name__}: {exc}"
		else:
			outcomes[name] = (
				"answered" if probe.expect(result, frappe_site) else f"unexpected result {result!r:.200}"
			)
		finally:
			frappe.flags.in_test = False
			frappe.db.rollback()
	expected = "answered" if allowed else "denied"
	assert {n: o for n, o in outcomes.items() if o != expected} == {}


# ---------------------------------------------------------------- typed input and the profiling endpoint


SEED_PREFIX = "VTEST-"  # names of their own: next to the site's rows and Frappe's naming series


def _seed(frappe_site, members=25):
	"""A small association added to the site (committed, as the generator commits per batch; the
	site's ledger removes it after the test); return a member with a mandate and four payments."""
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.performance.dataset import generate_dataset

	generate_dataset(
		frappe_bridge.database(),
		members=members,
		seed=11,
		progress=False,
		truncate=False,
		name_prefix=SEED_PREFIX,
	)
	rows = frappe.db.sql(
		"SELECT member FROM `tabMember Payment` WHERE sepa_mandate != '' AND name LIKE %s GROUP BY member "
		"HAVING COUNT(*) >= 4 ORDER BY member LIMIT 1",
		(SEED_PREFIX + "%",),
	)
	return rows[0][0]


@pytest.mark.shell
def test_malformed_input_is_rejected_naming_the_argument(frappe_site):
	import frappe

	from verenigingen.api.profiling import measure_member_performance

	frappe.flags.in_test = True
	frappe_site.login("v.admin@example.org", ("Verenigingen Administrator",))
	for bad in (5, ["M0000001"], {"name": "x"}):
		with pytest.raises(frappe.FrappeTypeError, match="Argument 'member'.*should be of type 'str'"):
			measure_member_performance(member=bad)
	with pytest.raises(frappe.ValidationError, match="member must name a Member"):
		measure_member_performance(member="  ")
	with pytest.raises(frappe.DoesNotExistError, match="NOPE does not exist"):
		measure_member_performance(member="NOPE")


@pytest.mark.shell
def test_measure_member_performance_profiles_the_member_form_and_read_model(bare_site):
	import frappe

	from verenigingen.api.profiling import measure_member_performance

	frappe_site = bare_site
	member = _seed(frappe_site)
	frappe.flags.in_test = True
	frappe_site.login("v.admin@example.org", ("Verenigingen Administrator",))
	docs_before = frappe.response.get("docs")
	report = measure_member_performance(member=member)
	assert report["member"] == member
	assert report["profiled"] == ["frappe.desk.form.load.getdoc", "member_summary"]
	payments = frappe.db.sql("SELECT COUNT(*) FROM `tabMember Payment` WHERE member=%s", (member,))[0][0]
	assert report["summary"]["payments"]["count"] == payments
	parts = report["queries_by_part"]
	assert parts["form_load"] >= 1 and parts["member_summary"] == 3
	assert report["total_queries"] == sum(parts.values()) and report["total_ms"] > 0
	loaded = [s for s in report["statements"] if "from `tabmember` where" in s["statement"]]
	assert loaded, report["statements"]  # the form load read the member document
	assert "tabMember Payment" in {s["table"] for s in report["full_scans"]}
	assert frappe.response.get("docs") == docs_before  # the form load's docs are not sent back

	frappe_site.login("desk.user@example.org", ("Desk User",))
	with pytest.raises(frappe.PermissionError):
		measure_member_performance(member=member)


def test_coverage_counts_offenders(tmp_path):
	pkg = tmp_path / "app"
	pkg.mkdir()
	(pkg / "a.py").write_text(
		"import frappe\n@frappe.whitelist()\n@admin_only\ndef ok(a: int):\n\treturn a\n"
		"@frappe.whitelist()\n@admin_only\ndef loose(a, b: int):\n\treturn a\n"
		"@frappe.whitelist()\ndef bare(a: int):\n\treturn a\n"
	)
	assert coverage(pkg) == {
		"endpoints": 3,
		"guarded": 2,
		"annotated": 2,
		"rate_limited": 0,
		"unguarded": ["app.a.bare"],
		"unannotated": {"app.a.loose": ["a"]},
	}


EXPENSIVE = (
	"verenigingen.api.profiling.measure_member_performance",
	"verenigingen.api.readiness.validate_performance_infrastructure",
)


def test_expensive_endpoints_are_rate_limited():
	found = {f["path"]: f for f in scan_whitelisted()}
	assert [p for p in EXPENSIVE if not found[p]["rate_limited"]] == []
