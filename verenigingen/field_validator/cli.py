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
		schema = load_schema(args.app or [root])
		files = collect_files(args.paths or ["."], args.exclude, root)
		result = check_files(schema, files, root)
		findings = result.findings
		if args.write_baseline:
			write_baseline(args.write_baseline, findings, root)
			print(f"wrote {len(findings)} finding(s) to {args.write_baseline}", file=sys.stderr)
			return EXIT_OK
		if args.baseline:
			findings = filter_baseline(findings, read_baseline(args.baseline), root)
	except ValidatorUsageError as exc:
		print(f"production_field_validator: error: {exc}", file=sys.stderr)
		return EXIT_USAGE
	print(render(findings, args.format, result.files_checked, result.errors))
	if args.timing:
		elapsed = time.perf_counter() - started
		print(f"checked {result.files_checked} file(s) in {elapsed:.2f} s", file=sys.stderr)
	return EXIT_FINDINGS if findings else EXIT_OK


if __name__ == "__main__":
	sys.exit(main())
