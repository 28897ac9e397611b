"""Command line: ``production_field_validator.py PATH... --app PATH --format text|json|sarif``.

Exit status: 0 without findings, 1 with findings, 2 when called wrongly.
"""

import argparse
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
		description="Find references to DocType fields that do not exist, in Python and form-script JS.",
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
		)
	except ValidatorUsageError as exc:
		print(f"production_field_validator: error: {exc}", file=sys.stderr)
		return EXIT_USAGE
	print(output, file=sys.stderr if args.write_baseline else sys.stdout)
	if args.timing:
		elapsed = time.perf_counter() - started
		print(f"checked {files_checked} file(s) in {elapsed:.2f} s", file=sys.stderr)
	return status


def check(
	paths: Sequence[str | Path],
	apps: Sequence[str | Path],
	*,
	root: Path,
	fmt: str = "text",
	baseline: str | Path | None = None,
	write_baseline_to: str | Path | None = None,
	excludes: Sequence[str] = (),
) -> tuple[str, int, int]:
	"""Check ``paths`` against the DocTypes of ``apps``; paths in the output are relative to ``root``.
	Returns (the report in ``fmt``, the exit status, files checked); with ``write_baseline_to`` the
	findings are recorded there instead and the report says so. ValidatorUsageError on bad input."""
	schema = load_schema(apps)
	files = collect_files(paths, excludes, root)
	result = check_files(schema, files, root)
	findings = result.findings
	if write_baseline_to:
		write_baseline(write_baseline_to, findings, root)
		return f"wrote {len(findings)} finding(s) to {write_baseline_to}", EXIT_OK, result.files_checked
	if baseline:
		findings = filter_baseline(findings, read_baseline(baseline), root)
	status = EXIT_FINDINGS if findings else EXIT_OK
	return render(findings, fmt, result.files_checked, result.errors), status, result.files_checked


if __name__ == "__main__":
	sys.exit(main())
