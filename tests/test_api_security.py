"""API security: every whitelisted function of the app is guarded and type-annotated, the
authorisation matrix holds for every endpoint (discovered, so endpoints added later are covered),
and malformed input is rejected with a message naming the argument."""

import importlib
import inspect
import typing

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


def _dummy(annotation):
	origin = typing.get_origin(annotation)
	if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
		return None if type(None) in typing.get_args(annotation) else _dummy(typing.get_args(annotation)[0])
	if origin is typing.Literal:
		return typing.get_args(annotation)[0]
	for kind, value in ((bool, False), (int, 1), (float, 1.0), (str, "matrix-probe"), (dict, {}), (list, [])):
		if annotation is kind or origin is kind:
			return value
	return None


def _arguments(fn) -> dict:
	"""Well-typed values for the required parameters, so the type check passes and the guard decides."""
	return {
		name: _dummy(p.annotation)
		for name, p in inspect.signature(fn).parameters.items()
		if p.default is inspect.Parameter.empty
		and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
	}


MATRIX = [
	("Guest", (), False),
	("desk.user@example.org", ("Desk User", "Blogger"), False),
	("v.admin@example.org", ("Verenigingen Administrator",), True),
	("sys.manager@example.org", ("System Manager",), True),
]


@pytest.mark.shell
@pytest.mark.parametrize(("user", "roles", "allowed"), MATRIX, ids=[m[0] for m in MATRIX])
def test_authorisation_matrix_over_every_endpoint(frappe_site, user, roles, allowed):
	import frappe

	frappe.flags.in_test = True  # arguments are type-checked, as in a request
	endpoints = _endpoints()
	assert endpoints
	outcomes = {}
	for fn in endpoints:
		frappe_site.login(user, roles)
		name = f"{fn.__module__}.{fn.__name__}"
		try:
			fn(**_arguments(fn))
			outcomes[name] = "ran"
		except frappe.PermissionError:
			outcomes[name] = "denied"
		except Exception as exc:  # the body ran and refused the probe arguments: the guard let it through
			outcomes[name] = f"ran ({type(exc).__name__})"
		finally:
			frappe.db.rollback()
	if allowed:
		assert [n for n, o in outcomes.items() if o == "denied"] == []
	else:
		assert {n: o for n, o in outcomes.items() if o != "denied"} == {}


# ---------------------------------------------------------------- typed input and the profiling endpoint


def _seed(frappe_site, members=25):
	from verenigingen import frappe_bridge
	from verenigingen.performance.dataset import generate_dataset

	generate_dataset(frappe_bridge.database(), members=members, seed=11, progress=False)
	import frappe

	rows = frappe.db.sql(
		"SELECT member FROM `tabMember Payment` WHERE sepa_mandate != '' GROUP BY member "
		"HAVING COUNT(*) >= 4 ORDER BY member LIMIT 1"
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
def test_measure_member_performance_profiles_the_member_form_and_read_model(frappe_site):
	import frappe

	from verenigingen.api.profiling import measure_member_performance

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
