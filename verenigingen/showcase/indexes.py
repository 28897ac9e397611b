"""Showcase step: measure every catalog probe, apply the catalogs online, measure again, compare."""

from verenigingen.performance.baselines import speed_words
from verenigingen.performance.defaults import BASELINE_MIN_EFFECT
from verenigingen.performance.indexes import IndexManager, catalog, compare

from .env import ShowcaseEnv
from .fmt import count, sig

REPEATS = 9  # probe runs per measurement in the showcase


def _ms(value: float | None) -> str:
	"""A latency in ms, or '-' where nothing was measured (an empty table has no probe values)."""
	return sig(value)


def verdict(speedup: float | None, note: str | None) -> tuple[str, str]:
	"""(change in words, verdict): faster or slower only beyond 1 + BASELINE_MIN_EFFECT either way."""
	if speedup is None:
		return "-", note or "not measured"
	ratio = 1 / speedup  # after / before
	if ratio <= 1 / (1 + BASELINE_MIN_EFFECT):
		word = "faster"
	elif ratio >= 1 + BASELINE_MIN_EFFECT:
		word = "slower"
	else:
		word = "no clear change"
	return speed_words(ratio), word


def run(env: ShowcaseEnv) -> None:
	manager = IndexManager(env.db, user="showcase")
	specs = catalog("all")
	env.heading(f"Index manager: the index catalogs on {env.db.database_name}")
	rolled = [o for o in manager.rollback() if o.action == "dropped"]
	if rolled:
		env.line(f"(dropped {len(rolled)} index(es) a previous run had added, to measure from scratch)")
	plan = manager.plan(specs)
	env.table(
		["index", "table", "columns", "plan"],
		[[i.spec.name, i.spec.table, ", ".join(i.spec.columns), i.action] for i in plan.items],
	)
	skipped = [i for i in plan.items if i.action == "missing_table"]
	for item in skipped:
		env.line(f"  {item.spec.name}: {item.reason}")
	env.line(f"\nmeasuring each probe {REPEATS} times, adding the indexes online, measuring again ...")
	outcomes = manager.apply(plan, measure_repeats=REPEATS)
	rows, results = [], []
	for o in outcomes:
		if o.action != "created":
			continue
		cmp = compare(o.before, o.after)
		change, word = verdict(cmp["speedup"], cmp["note"])
		rows.append(
			[
				o.index, count(o.before.table_rows), _ms(o.before.p50_ms), _ms(o.after.p50_ms),
				f"{o.before.access_type} -> {o.after.access_type}", sig(o.duration_ms / 1000), change, word,
			]
		)  # fmt: skip
		results.append(
			{"index": o.index, "before": o.before.as_dict(), "after": o.after.as_dict(), **cmp, "change": change,
				"verdict": word, "min_effect": BASELINE_MIN_EFFECT, "runs": REPEATS}
		)  # fmt: skip
	env.line()
	env.table(
		["index", "rows", "p50 before ms", "p50 after ms", "access", "DDL s", "change", "verdict"], rows
	)
	env.line(
		f"verdict: from the p50 of {REPEATS} probe runs each side; a change under "
		f"{sig(1 + BASELINE_MIN_EFFECT)}x either way is 'no clear change'"
	)
	for spec in specs:
		if spec.is_foreign:
			continue
		check = manager.verify(spec)
		if not check.uses_index:
			env.line(
				f"  note: the plan of {spec.name}'s probe does not use it ({check.probe_key or check.note})"
			)
	env.results["indexes"] = results
