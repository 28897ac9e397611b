"""A static audit of the app's whitelisted functions: is each one role-guarded and type-annotated?

It reads the source (no import, so nothing runs): every function decorated ``@frappe.whitelist``
must carry a role guard (``admin_only`` or ``require_roles(...)``) *below* the whitelist decorator,
so the guard wraps what Frappe registers, and a type annotation on every argument, so Frappe
rejects malformed input before the body runs. Used by the test suite and the readiness check.
"""

import ast
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[1]
GUARDS = frozenset({"admin_only", "require_roles"})


def _name(node) -> str:
	"""The last name of a decorator: frappe.whitelist() -> whitelist, guard.admin_only -> admin_only."""
	if isinstance(node, ast.Call):
		node = node.func
	if isinstance(node, ast.Attribute):
		return node.attr
	if isinstance(node, ast.Name):
		return node.id
	return ""


def _is_whitelist(node) -> bool:
	target = node.func if isinstance(node, ast.Call) else node
	return (
		isinstance(target, ast.Attribute) and target.attr == "whitelist" and _name(target.value) == "frappe"
	)


def scan_whitelisted(root: str | Path = APP_DIR) -> list[dict]:
	"""Every ``@frappe.whitelist`` function under ``root`` (a package folder): module, name, dotted
	path, whether a guard (and a ``rate_limit``) sits below the whitelist decorator, and the arguments
	lacking annotations."""
	root = Path(root)
	found = []
	for path in sorted(root.rglob("*.py")):
		tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
		module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
		for node in ast.walk(tree):
			if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
				continue
			positions = [i for i, d in enumerate(node.decorator_list) if _is_whitelist(d)]
			if not positions:
				continue
			below = {_name(d) for d in node.decorator_list[positions[0] + 1 :]}
			args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
			found.append(
				{
					"module": module,
					"name": node.name,
					"path": f"{module}.{node.name}",
					"guarded": bool(GUARDS & below),
					"rate_limited": "rate_limit" in below,
					"unannotated": [
						a.arg for a in args if a.annotation is None and a.arg not in ("self", "cls")
					],
				}
			)
	return found


def coverage(root: str | Path = APP_DIR) -> dict:
	"""Counts and offenders of :func:`scan_whitelisted`, as plain data."""
	found = scan_whitelisted(root)
	return {
		"endpoints": len(found),
		"guarded": sum(1 for f in found if f["guarded"]),
		"annotated": sum(1 for f in found if not f["unannotated"]),
		"rate_limited": sum(1 for f in found if f["rate_limited"]),
		"unguarded": [f["path"] for f in found if not f["guarded"]],
		"unannotated": {f["path"]: f["unannotated"] for f in found if f["unannotated"]},
	}
