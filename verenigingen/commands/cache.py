"""``bench --site SITE verenigingen cache stats|clear [--function NAME]``: the app cache of the site,
through the calls of ``verenigingen.api.cache``."""

import click

from .base import CommandError, in_site, json_option, print_json
from .output import ms, percent, plural, size, table

function_option = click.option("--function", "function", help="One cached function (its dotted name).")


@click.group("cache")
def cache():
	"""The site's security-aware app cache."""


def _known_function(name: str) -> None:
	"""CommandError unless ``name`` is a cached function of this site (it has statistics, or a module
	of the app declares it)."""
	import verenigingen.api.member  # noqa: F401  (declares the app's cached functions)
	from verenigingen.caching import declared_functions, site_cache

	known = set(site_cache().stats()["functions"]) | set(declared_functions())
	if name not in known:
		raise CommandError(
			f"no cached function {name!r} on this site; known: {', '.join(sorted(known)) or 'none'}"
		)


@cache.command("stats")
@function_option
@json_option
@in_site
def stats(function, as_json):
	"""Hits, misses, hit ratio, compute time, entries and memory, per level and per function."""
	from verenigingen.api.cache import get_cache_stats
	from verenigingen.caching import site_cache

	if function:
		_known_function(function)
		data = site_cache().stats(function=function)
	else:
		data = get_cache_stats()
	if as_json:
		return print_json(data)
	if function:
		click.echo(
			table(
				["function", "level", "hits", "misses", "hit ratio", "compute ms"],
				[_row(function, data, data["level"])],
				right=(2, 3, 4, 5),
			)
		)
		return click.echo(f"\n{function}: {_ratio_words(data)}")
	levels = [
		[name, f"{row['ttl']:,} s", f"{row['hits']:,.0f}", f"{row['misses']:,.0f}", percent(row["hit_ratio"]),
		 f"{row.get('entries', 0):,}", size(row.get("memory_bytes"))]
		for name, row in data["levels"].items()
	]  # fmt: skip
	click.echo(
		table(
			["level", "ttl", "hits", "misses", "hit ratio", "entries", "memory"],
			levels,
			right=(1, 2, 3, 4, 5, 6),
		)
	)
	if data["functions"]:
		rows = [_row(name, row, row["level"]) for name, row in sorted(data["functions"].items())]
		click.echo(
			"\n"
			+ table(
				["function", "level", "hits", "misses", "hit ratio", "compute ms"], rows, right=(2, 3, 4, 5)
			)
		)
	state = "" if data["available"] else "; Redis did not answer (figures incomplete)"
	click.echo(
		f"\ncache of {data['namespace']}: {_ratio_words(data['totals'])}; breaker {data['breaker']}{state}"
	)


def _row(name: str, row: dict, level) -> list:
	return [
		name,
		level or "-",
		f"{row['hits']:,.0f}",
		f"{row['misses']:,.0f}",
		percent(row["hit_ratio"]),
		ms(row["compute_ms"]),
	]


def _ratio_words(row: dict) -> str:
	lookups = row["hits"] + row["misses"]
	if not lookups:
		return "no lookups yet"
	return f"hit ratio {percent(row['hit_ratio'])} over {plural(int(lookups), 'lookup')}"


@cache.command("clear")
@function_option
@json_option
@in_site
def clear(function, as_json):
	"""Invalidate every entry of the site's app cache (or of one function): O(1), nothing is scanned."""
	from verenigingen.api.cache import clear_cache
	from verenigingen.caching import site_cache

	if function:
		_known_function(function)
		data = {
			"cleared": True,
			"function": function,
			"applied_now": site_cache().invalidate_function(function),
		}
	else:
		data = clear_cache()
	if not data["applied_now"]:
		raise CommandError("Redis did not take the invalidation: nothing was cleared")
	if as_json:
		return print_json(data)
	click.echo(
		f"cleared every cached entry of {function}" if function else "cleared every entry of the app cache"
	)
