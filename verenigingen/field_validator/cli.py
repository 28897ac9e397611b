"""Command line: ``production_field_validator.py PATH... --app PATH --format text|json|sarif``.

Exit status: 0 without findings, 1 with findings, 2 when called wrongly or when a file cannot be
read or parsed (unless ``--skip-unparseable``: such files are then listed and left out).
"""

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .baseline import filter_baseline, read_baseline, write_baseline
from .doctypes import load_schema
from .errors import ValidatorUsageError
from .files import check_files, collect_files
from .reporting import FORMATS, render

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
	parser = argparse.ArgumentParser(
		prog="production_field_validator",
		description="Find references to DocType fields that do not exist, in Python and form-script JS. "
		"Exit status: 0 no findings, 1 findings, 2 bad usage or a file that cannot be read or parsed.",
	)
	parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to check (default: .)")
	parser.add_argument(
		"--app",
		action="append",
		metavar="PATH",
		help="Frappe app whose DocTypes, fixtures, controllers and hooks are read; repeatable "
		"(default: the current folder). Pass Frappe's own app folder to know its DocTypes too.",
	)
	parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
	parser.add_argument(
		"--baseline", metavar="FILE", help="ignore the findings recorded in this baseline file"
	)
	parser.add_argument(
		"--write-baseline", metavar="FILE", help="record the current findings in FILE and exit 0"
	)
	parser.add_argument(
		"--exclude",
		action="append",
		default=[],
		metavar="PATTERN",
		help="skip files or folders matching this glob or path prefix (relative to the current folder)",
	)
	parser.add_argument(
		"--skip-unparseable",
		action="store_true",
		help="list files that cannot be read or parsed (not UTF-8, a syntax error) and go on without "
		"them, instead of failing with exit status 2",
	)
	parser.add_argument("--timing", action="store_true", help="print the time taken to stderr")
	return parser


def main(argv: Sequence[str] | None = None) -> int:
	parser = build_parser()
	try:
		args = parser.parse_args(argv)
	except SystemExit as exc:  # argparse exits 2 on bad usage, 0 for --help
		return int(exc.code or 0)
	started = time.perf_counter()
	root = Path.cwd()
	try:
		output, status, files_checked = check(
			args.paths or ["."],
			args.app or [root],
			root=root,
			fmt=args.format,
			baseline=args.baseline,
			write_baseline_to=args.write_baseline,
			excludes=args.exclude,
			skip_unparseable=args.skip_unparseable,
		)
	except UnparseableFilesError as exc:
		for error in exc.errors:
			print(f"production_field_validator: error: {error}", file=sys.stderr)
		print(f"production_field_validator: {exc}", file=sys.stderr)
		return EXIT_USAGE
	except ValidatorUsageError as exc:
		print(f"production_field_validator: error: {exc}", file=sys.stderr)
		return EXIT_USAGE
	print(output, file=sys.stderr if args.write_baseline else sys.stdout)
	if args.timing:
		elapsed = time.perf_counter() - started
		print(f"checked {files_checked} file(s) in {elapsed:.2f} s", file=sys.stderr)
	return status


class UnparseableFilesError(ValidatorUsageError):
	"""Files that could not be read or parsed (``errors``: one line each, naming file and line)."""

	def __init__(self, errors: Sequence[str]):
		self.errors = list(errors)
		super().__init__(
			f"{len(self.errors)} file(s) could not be read or parsed; "
			"fix them, or pass --skip-unparseable to check the others"
		)


def check(
	paths: Sequence[str | Path],
	apps: Sequence[str | Path],
	*,
	root: Path,
	fmt: str = "text",
	baseline: str | Path | None = None,
	write_baseline_to: str | Path | None = None,
	excludes: Sequence[str] = (),
	skip_unparseable: bool = False,
) -> tuple[str, int, int]:
	"""Check ``paths`` against the DocTypes of ``apps``; paths in the output are relative to ``root``.
	Returns (the report in ``fmt``, the exit status, files checked); with ``write_baseline_to`` the
	findings are recorded there instead and the report says so. ValidatorUsageError on bad input;
	UnparseableFilesError when a file could not be read or parsed, unless ``skip_unparseable``."""
	if write_baseline_to:
		_check_writable(str(write_baseline_to), "--write-baseline")
	schema = load_schema(apps)
	files = collect_files(paths, excludes, root)
	result = check_files(schema, files, root)
	findings = result.findings
	if result.errors and not skip_unparseable:
		raise UnparseableFilesError(result.errors)
	if write_baseline_to:
		write_baseline(write_baseline_to, findings, root)
		return f"wrote {len(findings)} finding(s) to {write_baseline_to}", EXIT_OK, result.files_checked
	if baseline:
		findings = filter_baseline(findings, read_baseline(baseline), root)
	status = EXIT_FINDINGS if findings else EXIT_OK
	return render(findings, fmt, result.files_checked, result.errors), status, result.files_checked


def _check_writable(path: str, flag: str) -> None:
	"""Fail before the scan, not after it, when ``path`` cannot be written."""
	target = Path(path)
	folder = target.parent
	if target.is_dir():
		raise ValidatorUsageError(f"{flag} {path}: is a folder, not a file")
	if not folder.is_dir():
		raise ValidatorUsageError(f"{flag} {path}: the folder {folder} does not exist")
	if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
		raise ValidatorUsageError(f"{flag} {path}: not writable")


if __name__ == "__main__":
	sys.exit(main())
