"""``bench --site SITE verenigingen baselines [--compare FILE] [--output FILE]``: the baseline suite
measured on the site's own data, database and Redis (``verenigingen.performance.baselines``).

Exit status: 0 measured (and no regression), 1 a regression against ``--compare``, 2 an error,
as ``scripts/performance/establish_baselines.py``."""

import time

import click

from verenigingen.performance.defaults import BASELINE_ROUNDS, BASELINE_RUNS, BASELINE_WARMUP

from .base import CommandError, one_line_errors, print_json, site_context, user_path
from .output import StepProgress, plural, seconds

EXIT_REGRESSION, EXIT_ERROR = 1, 2


@click.command("baselines")
@click.option("--compare", "compare_with", metavar="FILE", help="Compare this run with the baselines FILE.")
@click.option("--output", metavar="FILE", help="Write the measured baselines to FILE (JSON).")
@click.option("--operations", help="Comma-separated subset of the operations (default: all).")
@click.option("--runs", type=click.IntRange(min=1), default=BASELINE_RUNS, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=BASELINE_WARMUP, show_default=True)
@click.option("--rounds", type=click.IntRange(min=1), default=BASELINE_ROUNDS, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the baselines (and the comparison) as JSON.")
@click.pass_context
def baselines(ctx, compare_with, output, operations, runs, warmup, rounds, as_json):
	"""Measure the baseline suite on this site; write it, or compare it with a baselines file."""
	try:
		with one_line_errors(), site_context(ctx.obj) as site:
			status = _run(site, compare_with, output, operations, runs, warmup, rounds, as_json)
	except CommandError as exc:
		exc.exit_code = EXIT_ERROR if exc.exit_code == 1 else exc.exit_code
		raise
	ctx.exit(status)


def _run(site, compare_with, output, operations, runs, warmup, rounds, as_json) -> int:
	from verenigingen import frappe_bridge
	from verenigingen.performance import baselines as bl

	if runs < rounds:
		raise CommandError(f"--runs ({runs}) must be at least --rounds ({rounds})")
	ops = bl.OPERATIONS
	if operations:
		wanted = [o.strip() for o in operations.split(",") if o.strip()]
		unknown = [o for o in wanted if o not in bl.OPERATION_NAMES]
		if unknown:
			raise CommandError(
				f"unknown operation(s) {', '.join(unknown)}; known: {', '.join(bl.OPERATION_NAMES)}"
			)
		ops = tuple(o for o in bl.OPERATIONS if o.name in wanted)
	baseline = bl.load_baselines(user_path(compare_with)) if compare_with else None
	target = user_path(output, must_exist=False) if output else None
	if target is not None and not target.parent.is_dir():
		raise CommandError(f"{output}: folder {target.parent} does not exist")
	suite = bl.Suite(frappe_bridge.database(), frappe_bridge.redis_client(), frappe_bridge.namespace())
	progress = StepProgress("measuring", len(ops))
	names = [o.name for o in ops]
	started = time.perf_counter()

	def step(name: str) -> None:
		i = names.index(name)
		if i:
			progress.update(i - 1, len(ops), 1.0, names[i - 1])
		progress.update(i, len(ops), 0.0, name)

	try:
		current = bl.establish_baselines(
			suite,
			operations=ops,
			runs=runs,
			warmup=warmup,
			rounds=rounds,
			dataset={"site": site},
			progress=step,
		)
		progress.update(len(ops) - 1, len(ops), 1.0, names[-1])
	finally:
		progress.close()
	if target is not None:
		bl.write_baselines(current, target)
	result = None
	if baseline is not None:
		result = bl.compare_baselines(baseline, current)
		bl.record_comparison(suite.redis, suite.namespace, result)  # the readiness check reads it
	if as_json:
		print_json(current if result is None else {"baselines": current, "comparison": result})
	else:
		click.echo(bl.format_report(current))
		if result is not None:
			click.echo("\n" + bl.format_comparison(result))
		measured = sum(1 for op in current["operations"].values() if op["status"] == bl.MEASURED)
		where = f"; written to {target}" if target else "; not written (give --output FILE)"
		verdict = ""
		if result is not None:
			verdict = f"; {plural(len(result['regressions']), 'regression')} against {compare_with}"
		click.echo(
			f"\nmeasured {measured} of {plural(len(ops), 'operation')} on {site} in "
			f"{seconds(time.perf_counter() - started)}{verdict}{where}"
		)
	return EXIT_REGRESSION if result is not None and not result["ok"] else 0
