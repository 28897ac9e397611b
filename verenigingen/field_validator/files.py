"""Which files to check, and checking them."""

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

from .doctypes import Schema
from .errors import ValidatorUsageError
from .findings import CheckResult
from .js_checker import check_js_source
from .python_checker import check_python_source
from .suppression import apply_suppressions

# Folders never worth walking into.
SKIPPED_DIRS = frozenset(
	{".git", "node_modules", "__pycache__", ".venv", "venv", "env", "dist", "build", ".tox", ".mypy_cache"}
)
SUFFIXES = (".py", ".js")
# Bundled/minified JavaScript and Frappe's generated test files say nothing about field names.
SKIPPED_SUFFIXES = (".min.js", ".bundle.js")


def _is_virtualenv(folder: Path) -> bool:
	"""A virtual environment, whatever its name (CI's .ci-venv-frappe-v15/, a user's .venv-py311/):
	installed packages are not the app's code, and some ship files that do not parse on purpose."""
	return (folder / "pyvenv.cfg").is_file()


def _excluded(path: Path, excludes: Iterable[str], base: Path) -> bool:
	try:
		rel = path.resolve().relative_to(base).as_posix()
	except ValueError:
		rel = path.as_posix()
	for pattern in excludes:
		pattern = pattern.rstrip("/")
		if fnmatch.fnmatch(rel, pattern) or rel == pattern or rel.startswith(pattern + "/"):
			return True
	return False


def collect_files(
	paths: Iterable[str | Path], excludes: Iterable[str] = (), base: Path | None = None
) -> list[Path]:
	"""Python and JS files at or below ``paths``, minus excluded ones (patterns relative to ``base``)."""
	base = (base or Path.cwd()).resolve()
	excludes = list(excludes)
	found: list[Path] = []
	for raw in paths:
		path = Path(raw)
		if not path.exists():
			raise ValidatorUsageError(f"{raw}: no such file or folder")
		if path.is_file():
			if path.suffix in SUFFIXES and not _excluded(path, excludes, base):
				found.append(path)
			continue
		for root, dirs, names in os.walk(path):
			dirs[:] = sorted(
				d
				for d in dirs
				if d not in SKIPPED_DIRS
				and not _is_virtualenv(Path(root) / d)
				and not _excluded(Path(root) / d, excludes, base)
			)
			for name in sorted(names):
				candidate = Path(root) / name
				if name.endswith(SUFFIXES) and not name.endswith(SKIPPED_SUFFIXES):
					if not _excluded(candidate, excludes, base):
						found.append(candidate)
	return found


def check_source(schema: Schema, path: Path, source: str, display_path: str | None = None) -> CheckResult:
	"""Check one file's text (Python or JS by suffix), with line suppressions applied."""
	display = display_path or str(path)
	if path.suffix == ".py":
		result = check_python_source(schema, path, source, display)
	elif path.suffix == ".js":
		result = check_js_source(schema, source, display)
	else:
		raise ValidatorUsageError(f"{display}: only .py and .js files can be checked")
	if result.findings:
		result.findings = apply_suppressions(result.findings, source.splitlines())
	return result


def check_files(schema: Schema, files: Iterable[Path], base: Path | None = None) -> CheckResult:
	"""Check every file; paths in findings are relative to ``base`` when they lie below it."""
	base = (base or Path.cwd()).resolve()
	total = CheckResult()
	for path in files:
		try:
			display = path.resolve().relative_to(base).as_posix()
		except ValueError:
			display = str(path)
		try:
			data = path.read_bytes()
		except OSError as exc:
			total.errors.append(f"{display}: cannot read: {exc.strerror or exc}")
			continue
		try:
			source = data.decode("utf-8")
		except UnicodeDecodeError as exc:
			line = data[: exc.start].count(b"\n") + 1
			total.errors.append(
				f"{display}: cannot read: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x})"
			)
			continue
		total.extend(check_source(schema, path, source, display))
	total.findings.sort()
	return total
