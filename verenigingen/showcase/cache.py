"""Showcase step: the security-aware cache on the demo database: misses, then hits, their
latency, per-user isolation, a role-shared report, and an invalidation after a document change."""

import statistics
import time
import uuid
from datetime import date
from decimal import Decimal

from verenigingen.performance.baselines import speed_words
from verenigingen.performance.cache import Scope, SecurityAwareCache, SecurityLevel
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.summaries import chapter_statistics, member_summary

from .env import ShowcaseEnv
from .fmt import sig

SAMPLE = 50
DEPENDS = ("Member", "SEPA Mandate", "Member Payment")


def _timed(fn):
	started = time.perf_counter()
	value = fn()
	return value, (time.perf_counter() - started) * 1000


def run(env: ShowcaseEnv) -> None:
	env.heading("Cache: misses, hits and invalidation (security-aware, O(1) invalidation)")
	cache = SecurityAwareCache(env.redis, env.namespace)
	cache.invalidate_all()  # start from a clean slate: one counter moves, no key is scanned
	before_stats = cache.stats()["totals"]  # the requests step's server used the same site cache
	admin = SecurityContext("showcase-admin@example.org", ["Verenigingen Administrator"])
	other = SecurityContext("showcase-treasurer@example.org", ["Verenigingen Administrator"])
	members = [r[0] for r in env.db.sql("SELECT name FROM `tabMember` ORDER BY RAND(3) LIMIT %s", (SAMPLE,))]

	def summary(ctx, m):
		return cache.get_or_compute(
			"get_member_summary", (m,), lambda: member_summary(env.db, m), ctx=ctx,
			level=SecurityLevel.MEMBER_DATA, depends_on=DEPENDS,
		)  # fmt: skip

	rows, figures = [], {}
	for label, ctx in (
		("first visit (misses)", admin),
		("second visit (hits)", admin),
		("other user", other),
	):
		times = [_timed(lambda m=m, ctx=ctx: summary(ctx, m))[1] for m in members]
		figures[label] = statistics.median(times)
		rows.append([label, len(times), sig(statistics.median(times)), sig(max(times))])
	env.table(["member summaries", "calls", "median ms", "max ms"], rows)
	speedup = figures["first visit (misses)"] / figures["second visit (hits)"]
	env.line(
		f"hits are {speed_words(1 / speedup)} than computing; another user with the same roles gets own entries"
	)

	stats_calls = []
	for ctx in (admin, other):
		stats_calls.append(
			_timed(
				lambda ctx=ctx: cache.get_or_compute(
					"get_chapter_statistics",
					(),
					lambda: chapter_statistics(env.db),
					ctx=ctx,
					level=SecurityLevel.REPORTING,
					scope=Scope.ROLES,
					depends_on=("Chapter", "Member"),
				)  # fmt: skip
			)[1]
		)
	env.line(
		f"chapter statistics (shared by equal role sets): first user {sig(stats_calls[0])} ms, "
		f"second user {sig(stats_calls[1])} ms (a hit)"
	)

	# A document change: a new payment, committed, then the invalidation the doc_event runs after commit.
	member = members[0]
	before = summary(admin, member)["payments"]["count"]
	name = f"SHOWCASE-{uuid.uuid4().hex[:10]}"
	env.db.sql(
		"INSERT INTO `tabMember Payment` (`name`, `creation`, `modified`, `modified_by`, `owner`, `docstatus`, "
		"`idx`, `member`, `amount`, `posting_date`, `status`, `payment_method`) "
		"VALUES (%s, NOW(6), NOW(6), 'Administrator', 'Administrator', 0, 0, %s, %s, %s, 'Paid', 'iDEAL')",
		(name, member, Decimal("10.00"), date.today()),
	)
	env.db.commit()
	stale = summary(admin, member)["payments"]["count"]
	_value, invalidate_ms = _timed(lambda: cache.invalidate_doctype("Member Payment"))
	after, after_ms = _timed(lambda: summary(admin, member)["payments"]["count"])
	env.line(
		f"payment added to {member} and committed; until the invalidation the cache says {stale} "
		f"(was {before}); invalidate_doctype took {sig(invalidate_ms)} ms; next call recomputed "
		f"in {sig(after_ms)} ms and says {after}"
	)
	env.db.sql("DELETE FROM `tabMember Payment` WHERE `name` = %s", (name,))
	env.db.commit()
	cache.invalidate_doctype("Member Payment")

	totals = cache.stats()["totals"]
	step = {
		k: totals[k] - before_stats.get(k, 0) for k in ("hits", "misses", "invalidation_misses", "errors")
	}
	env.line(
		f"this step: {step['hits']:,.0f} hits, {step['misses']:,.0f} misses ({step['invalidation_misses']:,.0f} "
		f"after invalidation), {step['errors']:,.0f} Redis errors; the site's cache in this run so far "
		f"(the requests step's server included): hit ratio {sig(totals['hit_ratio'])}, "
		f"{sig(totals['compute_ms'])} ms spent computing"
	)
	env.results["cache"] = {
		"miss_median_ms": round(figures["first visit (misses)"], 3),
		"hit_median_ms": round(figures["second visit (hits)"], 3),
		"hit_speedup": round(speedup, 1),
		"invalidate_ms": round(invalidate_ms, 3),
		"payments_before_after": [before, after],
		"step": step,
		"totals": totals,
	}
