"""``bench --site SITE verenigingen indexes status|plan|apply|rollback|redundant|suggest``.

``status``, ``plan`` and ``redundant`` answer what ``verenigingen.api.indexes.database_index_manager_api``
answers. ``apply`` and ``rollback`` run the DDL in the foreground, with progress (the API sends it
to a background job, as a web request must not run it); Ctrl-C stops them cleanly.
"""

import click

from verenigingen.performance.defaults import (
	INDEX_APPLY_MEASURE_REPEATS,
	INDEX_CONFIRM_ROWS,
	INDEX_CONFIRM_ROWS_CONFIG_KEY,
)

from .base import EXIT_INTERRUPTED, CommandError, error_text, in_site, json_option, print_json, user_path
from .output import StepProgress, ms, plural, seconds, size, speedup, table

catalog_option = click.option(
	"--catalog",
	"catalog_name",
	default="all",
	show_default=True,
	help="Index catalog: performance, sepa, monitoring or all.",
)


@click.group("indexes")
def indexes():
	"""The index catalogs of the site's database."""


def _api(action: str, **kwargs) -> dict:
	from verenigingen.api.indexes import database_index_manager_api

	return database_index_manager_api(action=action, **kwargs)


def _manager():
	import frappe

	from verenigingen import frappe_bridge
	from verenigingen.performance.indexes import IndexManager

	return IndexManager(frappe_bridge.database(), user=frappe.session.user)


@indexes.command("status")
@catalog_option
@json_option
@in_site
def status(catalog_name, as_json):
	"""Each catalog index: present, missing or in conflict, and the last change this tool made."""
	data = _api("status", catalog_name=catalog_name)
	if as_json:
		return print_json(data)
	rows = []
	for i in data["indexes"]:
		last = i.get("last_change") or {}
		change = (
			f"{last['action']} {last['outcome']} {last.get('at') or ''} by {last.get('by')}" if last else "-"
		)
		rows.append([i["index"], i["doctype"], ", ".join(i["columns"]), i["state"], change])
	click.echo(table(["index", "doctype", "columns", "state", "last change by this tool"], rows))
	counts = ", ".join(f"{n} {state}" for state, n in sorted(data["counts"].items()))
	verdict = "healthy" if data["healthy"] else "NOT healthy"
	auto = "" if data["auto_apply"] else "; automatic apply on migrate is off"
	click.echo(f"\ncatalog {catalog_name} on {data['database']}: {verdict} ({counts}){auto}")


@indexes.command("plan")
@catalog_option
@json_option
@in_site
def plan(catalog_name, as_json):
	"""What apply would do: each index compared by columns with what the tables hold."""
	data = _api("plan", catalog_name=catalog_name)
	if as_json:
		return print_json(data)
	rows = [
		[i["index"], i["doctype"], ", ".join(i["columns"]), i["action"], i["reason"]] for i in data["items"]
	]
	click.echo(table(["index", "doctype", "columns", "action", "reason"], rows))
	create = sum(1 for i in data["items"] if i["action"] == "create")
	problems = (
		f"; {plural(data['problems'], 'problem')}: apply would change nothing" if data["problems"] else ""
	)
	click.echo(f"\n{plural(create, 'index', 'indexes')} to create (catalog {catalog_name}){problems}")


def _confirm_threshold(limit) -> int:
	from verenigingen import frappe_bridge

	if limit is not None:
		return limit
	return int(frappe_bridge.site_config(INDEX_CONFIRM_ROWS_CONFIG_KEY) or INDEX_CONFIRM_ROWS)


@indexes.command("apply")
@catalog_option
@click.option("--yes", is_flag=True, help="Go ahead on tables with more rows than --confirm-rows.")
@click.option(
	"--confirm-rows",
	type=click.IntRange(min=0),
	default=None,
	help=f"Tables with more rows than this need --yes (default {INDEX_CONFIRM_ROWS:,}, or site config "
	f"{INDEX_CONFIRM_ROWS_CONFIG_KEY}).",
)
@click.option(
	"--allow-locking", is_flag=True, help="Allow DDL that locks the table where online DDL is impossible."
)
@click.option(
	"--repeats",
	type=click.IntRange(min=0),
	default=INDEX_APPLY_MEASURE_REPEATS,
	show_default=True,
	help="Probe runs before and after each index (0: no measurement).",
)
@json_option
@in_site
def apply(catalog_name, yes, confirm_rows, allow_locking, repeats, as_json):
	"""Add the catalog's missing indexes online, in the foreground, measured before and after."""
	import frappe

	from verenigingen.performance.indexes import catalog

	manager = _manager()
	the_plan = manager.plan(catalog(catalog_name))
	if the_plan.problems:
		reasons = "; ".join(p.reason for p in the_plan.problems)
		raise CommandError(f"the plan has problems, nothing was changed: {reasons}")
	creates = the_plan.to_create
	limit = _confirm_threshold(confirm_rows)
	rows = manager.estimated_rows(i.spec.table for i in creates)
	large = {t: n for t, n in rows.items() if n > limit}
	if large and not yes:
		tables = ", ".join(f"{t} (about {n:,} rows)" for t, n in sorted(large.items()))
		raise CommandError(
			f"{tables} over {limit:,} rows: adding an index takes a while; run again with --yes"
		)
	frappe.db.commit()  # index DDL never follows pending writes
	outcomes = _run_ddl(
		"adding",
		len(creates),
		lambda progress: manager.apply(
			the_plan, allow_locking=allow_locking, progress=progress, measure_repeats=repeats
		),
	)
	if as_json:
		return print_json([o.as_dict() for o in outcomes])
	created = [o for o in outcomes if o.action == "created"]
	if created:
		click.echo(table(
			["index", "table", "rows", "p50 before ms", "p50 after ms", "access", "took", "verdict"],
			[_result_row(o, rows) for o in created],
			right=(2, 3, 4),
		))  # fmt: skip
	present = sum(1 for o in outcomes if o.action == "skipped")
	took = seconds(sum(o.duration_ms or 0 for o in created) / 1000)
	click.echo(
		(f"\nadded {plural(len(created), 'index', 'indexes')} in {took}" if created else "nothing to add")
		+ f" (catalog {catalog_name}); {present} present or not applicable"
		+ (
			"; with locking: " + ", ".join(o.index for o in created if o.locking)
			if any(o.locking for o in created)
			else ""
		)
	)


def _result_row(outcome, rows: dict) -> list:
	from verenigingen.performance.indexes import compare

	before, after = outcome.before, outcome.after
	cmp = compare(before, after)
	verdict = speedup(cmp["speedup"]) if cmp["speedup"] is not None else cmp["note"]
	access = f"{(before and before.access_type) or '-'} -> {(after and after.access_type) or '-'}"
	n = (after or before).table_rows if (after or before) else rows.get(outcome.table)
	return [
		outcome.index, outcome.table, f"{n:,}" if n is not None else "-", ms(before and before.p50_ms),
		ms(after and after.p50_ms), access, seconds((outcome.duration_ms or 0) / 1000), verdict,
	]  # fmt: skip


def _run_ddl(what: str, steps: int, run):
	"""Run the manager's DDL with progress and clean Ctrl-C handling; the outcomes, or CommandError."""
	from verenigingen import frappe_bridge

	from .interrupt import StopOnInterrupt

	stop = StopOnInterrupt(frappe_bridge.database())
	progress = StepProgress(what, steps, on_step=stop.check)
	try:
		with stop:
			return run(progress.update)
	except KeyboardInterrupt as exc:
		if stop.aborted:
			raise CommandError(
				"aborted: the change log may not match the tables now; check with: indexes status",
				EXIT_INTERRUPTED,
			) from exc
		raise CommandError(
			"interrupted: the change log and the tables agree (what this run added was dropped again)",
			EXIT_INTERRUPTED,
		) from exc
	except Exception as exc:
		if stop.requested:
			raise CommandError(f"interrupted: {error_text(exc)}", EXIT_INTERRUPTED) from exc
		raise
	finally:
		progress.close()


@indexes.command("rollback")
@click.option("--index", "index_names", multiple=True, help="Only this index (repeatable).")
@click.option("--dry-run", is_flag=True, help="Say what would be dropped; drop nothing.")
@json_option
@in_site
def rollback(index_names, dry_run, as_json):
	"""Drop the indexes this tool created (per its change log), and only those."""
	import frappe

	manager = _manager()
	names = list(index_names) or None
	if dry_run:
		outcomes = manager.rollback(names, dry_run=True)
	else:
		frappe.db.commit()
		steps = len(manager.rollback(names, dry_run=True))
		outcomes = _run_ddl("dropping", steps, lambda progress: manager.rollback(names, progress=progress))
	if as_json:
		return print_json([o.as_dict() for o in outcomes])
	if not outcomes:
		return click.echo("nothing of this tool's to roll back")
	click.echo(
		table(
			["index", "table", "action", "reason"], [[o.index, o.table, o.action, o.reason] for o in outcomes]
		)
	)
	dropped = sum(1 for o in outcomes if o.action in ("dropped", "would drop"))
	verb = "would drop" if dry_run else "dropped"
	click.echo(f"\n{verb} {plural(dropped, 'index', 'indexes')} this tool created")


@indexes.command("redundant")
@click.option("--doctype", "doctypes", multiple=True, help="Only this DocType's table (repeatable).")
@json_option
@in_site
def redundant(doctypes, as_json):
	"""Indexes another index already covers (exact or left-prefix duplicates). Nothing is dropped."""
	data = _api("redundant", doctypes=",".join(doctypes) or None)
	if as_json:
		return print_json(data)
	found = data["redundant"]
	if not found:
		return click.echo("no redundant indexes")
	rows = [
		[r["table"], r["index"], ", ".join(r["columns"]), r["covered_by"], r["kind"], size(r["size_bytes"])]
		for r in found
	]
	click.echo(table(["table", "index", "columns", "covered by", "kind", "size"], rows, right=(5,)))
	click.echo("\nto drop them:\n" + "\n".join(f"  {r['drop_sql']};" for r in found))
	click.echo(
		f"\n{plural(len(found), 'redundant index', 'redundant indexes')}, {size(data['bytes'])}; nothing was dropped"
	)


@indexes.command("suggest")
@click.option(
	"--workload", "workload_file", metavar="FILE", help="SQL statements to advise on (default: the slow log)"
)
@click.option(
	"--since", "since_minutes", type=int, metavar="MINUTES", help="only the slow log's last MINUTES"
)
@click.option("--max-suggestions", type=click.IntRange(1, 100), default=10, show_default=True)
@json_option
@in_site
def suggest(workload_file, since_minutes, max_suggestions, as_json):
	"""Indexes the index advisor suggests for this site's workload, each proven on a scratch copy
	(the slow log's statements, or --workload FILE); nothing is changed on the site."""
	from verenigingen import frappe_bridge
	from verenigingen.performance.indexes.advisor import (
		AdvisorSettings,
		advise,
		read_slow_log,
		read_workload_text,
		render_text,
		slow_log_access,
	)

	db = frappe_bridge.database()
	if workload_file:
		path = user_path(workload_file)
		try:
			text = path.read_text(encoding="utf-8")
		except (OSError, UnicodeDecodeError) as exc:
			raise CommandError(f"cannot read {workload_file}: {exc}") from exc
		source = read_workload_text(text, str(path))
	else:
		denied = slow_log_access(db)
		if denied:
			raise CommandError(f"cannot read the site's slow log: {denied}")
		source = read_slow_log(db, since_minutes)
	frappe_bridge.database().commit()  # the scratch copies are built with DDL: no open transaction
	advice = advise(
		db,
		source,
		AdvisorSettings(max_suggestions=max_suggestions),
		progress=lambda m: click.echo(m, err=True),
	)
	if as_json:
		return print_json(advice.report)
	click.echo(render_text(advice.report))
	click.echo(f"\n{plural(len(advice.report['suggestions']), 'suggestion')}; nothing was changed")


def _plain(value) -> str:
	return (
		", ".join(map(str, value))
		if isinstance(value, list | tuple)
		else ("-" if value is None else str(value))
	)
