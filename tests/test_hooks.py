"""hooks.py imports, holds only data, and every dotted path in it resolves to a callable."""

import importlib
import types

import pytest


def _dotted_paths(value):
	if isinstance(value, str):
		if value.startswith("verenigingen."):
			yield value
	elif isinstance(value, dict):
		for k, v in value.items():
			yield from _dotted_paths(k)
			yield from _dotted_paths(v)
	elif isinstance(value, list | tuple | set):
		for v in value:
			yield from _dotted_paths(v)


def _hooks():
	module = importlib.import_module("verenigingen.hooks")
	return {
		k: v
		for k, v in vars(module).items()
		if not k.startswith("_") and not isinstance(v, types.ModuleType | types.FunctionType | type)
	}


def test_hooks_are_declarative():
	module = importlib.import_module("verenigingen.hooks")
	defined = [k for k, v in vars(module).items() if isinstance(v, types.FunctionType | type)]
	assert defined == [], f"hooks.py must hold data only, found {defined}"
	hooks = _hooks()
	assert hooks["app_name"] == "verenigingen"
	assert hooks["after_install"] == "verenigingen.install.after_install"


def test_every_dotted_path_resolves_to_a_callable():
	paths = sorted(set(_dotted_paths(_hooks())))
	assert paths, "hooks.py names no functions"
	for path in paths:
		if "/" in path or path.endswith((".js", ".css")):
			continue
		module_name, _, attr = path.rpartition(".")
		module = importlib.import_module(module_name)
		assert callable(getattr(module, attr, None)), f"{path} is not a callable"


def test_app_files_frappe_needs_exist():
	from pathlib import Path

	pkg = Path(importlib.import_module("verenigingen").__file__).parent
	assert (pkg / "modules.txt").read_text().strip() == "Verenigingen"
	patches = (pkg / "patches.txt").read_text()
	assert "[pre_model_sync]" in patches and "[post_model_sync]" in patches
	assert (pkg.parent / "license.txt").exists()
	assert importlib.import_module("verenigingen").__version__


@pytest.mark.shell
def test_after_install_creates_the_admin_role_once(frappe_site):
	import frappe

	from verenigingen.install import ADMIN_ROLE, after_install

	if frappe_site.is_double:
		assert not frappe.db.exists("Role", ADMIN_ROLE)
	after_install()
	after_install()  # idempotent
	assert frappe.db.exists("Role", ADMIN_ROLE) == ADMIN_ROLE
	if frappe_site.is_double:
		assert list(frappe._double.records["Role"]) == [ADMIN_ROLE]


def test_core_never_imports_frappe():
	from pathlib import Path

	core = Path(importlib.import_module("verenigingen.performance").__file__).parent
	offenders = [
		str(p)
		for p in core.rglob("*.py")
		if any(
			line.strip().startswith(("import frappe", "from frappe")) for line in p.read_text().splitlines()
		)
	]
	assert offenders == []


def test_the_app_lists_no_required_apps():
	"""``required_apps = ["frappe"]`` makes install-app try to fetch frappe as an app (a network
	call that fails offline); Frappe apps do not list frappe."""
	from verenigingen import hooks

	assert not getattr(hooks, "required_apps", None)
