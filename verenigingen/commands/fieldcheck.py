"""``bench verenigingen fieldcheck PATH [--app PATH ...] [--format text|json|sarif]``: the static
field-reference validator (``verenigingen.field_validator``) on files of the bench. Needs no site.

Exit status as the validator's: 0 no findings, 1 findings, 2 bad usage."""

import click

from verenigingen.field_validator.reporting import FORMATS

from .base import CommandError, user_folder, user_path


@click.command("fieldcheck")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
	"--app",
	"apps",
	multiple=True,
	metavar="PATH",
	help="A Frappe app whose DocTypes are read (repeatable; default: each PATH that is a folder). "
	"Add the bench's apps/frappe to know Frappe's own DocTypes.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--baseline", metavar="FILE", help="Ignore the findings recorded in this baseline file.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Skip files or folders matching this glob.")
@click.option(
	"--skip-unparseable", is_flag=True, help="Check the other files when one cannot be read or parsed."
)
@click.pass_context
def fieldcheck(ctx, paths, apps, fmt, baseline, exclude, skip_unparseable):
	"""Find references to DocType fields that do not exist, in Python and form-script JS."""
	from verenigingen.field_validator.cli import EXIT_USAGE, UnparseableFilesError, check
	from verenigingen.field_validator.errors import ValidatorUsageError

	try:
		files = [user_path(p) for p in paths]
		app_paths = [user_path(a) for a in apps] or [p for p in files if p.is_dir()]
		if not app_paths:
			raise CommandError(
				"give the app with --app PATH (no PATH is a folder to read DocTypes from)", EXIT_USAGE
			)
		output, status, _files = check(
			files,
			app_paths,
			root=user_folder(),
			fmt=fmt,
			baseline=user_path(baseline) if baseline else None,
			excludes=exclude,
			skip_unparseable=skip_unparseable,
		)
	except CommandError as exc:
		exc.exit_code = EXIT_USAGE
		raise
	except UnparseableFilesError as exc:
		for error in exc.errors:
			click.echo(f"Error: {error}", err=True)
		raise CommandError(str(exc), EXIT_USAGE) from exc
	except ValidatorUsageError as exc:
		raise CommandError(str(exc), EXIT_USAGE) from exc
	click.echo(output)
	ctx.exit(status)
