"""What a shell test may change on a real Frappe site, recorded before the test and put back after it.

The shell suite run with ``--frappe-site`` writes through documents and commits (background jobs read
what it committed); this module is how it leaves the site as it found it:

* rows: every row added to a tracked table (the app's DocTypes, Users and their roles, Roles, User
  Permissions, Custom DocPerms, Property Setters, Error and Notification Logs, ...) is deleted, by name;
* ``tabSeries`` counters and the app's single DocTypes (``tabSingles``) get their old values back;
* indexes the test added to the app's tables are dropped, ones it dropped are added again;
* tables the test created are dropped;
* RQ jobs of the site the test enqueued are deleted from the bench's queues and registries.

Run as a script it counts the rows of every table of a site (and the app's Redis keys), so a run of
the suite can be checked by hand::

    ../../env/bin/python tests/site_state.py --site SITE --save /tmp/before.json
    ../../env/bin/python -m pytest tests --frappe-site SITE
    ../../env/bin/python tests/site_state.py --site SITE --compare /tmp/before.json
"""

import json
from pathlib import Path

APP_DOCTYPE_DIR = Path(__file__).resolve().parents[1] / "verenigingen" / "verenigingen" / "doctype"

# Frappe's DocTypes a shell test (or what it calls: User.insert, log_error, notify_alert, the index
# manager) adds rows to.
FRAMEWORK_DOCTYPES = (
	"User",
	"Has Role",
	"User Social Login",
	"Block Module",
	"User Email",
	"DocShare",
	"Notification Settings",
	"Role",
	"User Permission",
	"Custom DocPerm",
	"Property Setter",
	"Error Log",
	"Notification Log",
	"Contact",
	"Contact Email",
	"Version",
	"Comment",
	"Activity Log",
	"DefaultValue",
	"Deleted Document",  # what frappe.delete_doc of a test's own documents leaves behind
)


def app_doctypes() -> tuple[list[str], list[str]]:
	"""(DocTypes with a table, single DocTypes) of the app, from their JSON."""
	tables, singles = [], []
	for path in sorted(APP_DOCTYPE_DIR.glob("*/*.json")):
		data = json.loads(path.read_text())
		if data.get("doctype") != "DocType":
			continue
		(singles if data.get("issingle") else tables).append(data["name"])
	return tables, singles


def _existing_tables(db) -> set[str]:
	return {
		r[0] for r in db.sql("SELECT table_name FROM information_schema.tables WHERE table_schema=DATABASE()")
	}


def _indexes(db, tables) -> dict[str, dict[str, tuple]]:
	"""{table: {index: (non_unique, (columns...))}} of ``tables`` (the primary key left out)."""
	if not tables:
		return {}
	marks = ", ".join(["%s"] * len(tables))
	rows = db.sql(
		"SELECT table_name, index_name, non_unique, column_name FROM information_schema.statistics "
		f"WHERE table_schema=DATABASE() AND table_name IN ({marks}) AND index_name != 'PRIMARY' "
		"ORDER BY table_name, index_name, seq_in_index",
		tuple(tables),
	)
	out: dict[str, dict[str, tuple]] = {t: {} for t in tables}
	for table, index, non_unique, column in rows:
		unique, columns = out[table].get(index, (int(non_unique), ()))
		out[table][index] = (unique, (*columns, column))
	return out


class SiteLedger:
	"""A record of the site's state a test may change (see the module docstring)."""

	def __init__(self, db):
		self.db = db
		tables, self.singles = app_doctypes()
		present = _existing_tables(db)
		self.app_tables = [f"tab{d}" for d in tables if f"tab{d}" in present]
		self.tracked = [t for t in self.app_tables] + [
			f"tab{d}" for d in FRAMEWORK_DOCTYPES if f"tab{d}" in present
		]
		self.tables = present
		self.names = {t: {r[0] for r in db.sql(f"SELECT name FROM `{t}`")} for t in self.tracked}
		self.series = db.sql("SELECT name, current FROM `tabSeries`")
		marks = ", ".join(["%s"] * len(self.singles)) or "''"
		self.singles_rows = db.sql(
			f"SELECT doctype, field, value FROM `tabSingles` WHERE doctype IN ({marks})", tuple(self.singles)
		)
		self.indexes = _indexes(db, self.app_tables)

	def restore(self) -> dict:
		"""Put the recorded state back (committed); return what had to be undone."""
		db = self.db
		db.rollback()
		undone: dict = {}
		for table in self.tracked:
			added = [r[0] for r in db.sql(f"SELECT name FROM `{table}`") if r[0] not in self.names[table]]
			for start in range(0, len(added), 500):
				batch = added[start : start + 500]
				marks = ", ".join(["%s"] * len(batch))
				db.sql(f"DELETE FROM `{table}` WHERE name IN ({marks})", tuple(batch))
			if added:
				undone[table] = len(added)
		if set(db.sql("SELECT name, current FROM `tabSeries`")) != set(self.series):
			db.sql("DELETE FROM `tabSeries`")
			for name, current in self.series:
				db.sql("INSERT INTO `tabSeries` (name, current) VALUES (%s, %s)", (name, current))
			undone["tabSeries"] = True
		if self.singles:
			marks = ", ".join(["%s"] * len(self.singles))
			now = db.sql(
				f"SELECT doctype, field, value FROM `tabSingles` WHERE doctype IN ({marks})",
				tuple(self.singles),
			)
			if sorted(map(tuple, now)) != sorted(map(tuple, self.singles_rows)):
				db.sql(f"DELETE FROM `tabSingles` WHERE doctype IN ({marks})", tuple(self.singles))
				for row in self.singles_rows:
					db.sql("INSERT INTO `tabSingles` (doctype, field, value) VALUES (%s, %s, %s)", tuple(row))
				undone["tabSingles"] = True
		db.commit()
		ddl = self._schema_changes()
		for statement in ddl:
			db.sql(statement)
		if ddl:
			undone["ddl"] = ddl
		return undone

	def _schema_changes(self) -> list[str]:
		"""DDL that undoes the test's tables and indexes (run after the commit)."""
		statements = []
		present = _existing_tables(self.db)
		for table in sorted(present - self.tables):
			statements.append(f"DROP TABLE `{table}`")
		now = _indexes(self.db, self.app_tables)
		for table in self.app_tables:
			before, after = self.indexes[table], now.get(table, {})
			for index in sorted(after):
				if index not in before or after[index] != before[index]:
					statements.append(f"ALTER TABLE `{table}` DROP INDEX `{index}`")
			for index in sorted(before):
				if index not in after or after[index] != before[index]:
					non_unique, columns = before[index]
					kind = "INDEX" if non_unique else "UNIQUE INDEX"
					cols = ", ".join(f"`{c}`" for c in columns)
					statements.append(f"ALTER TABLE `{table}` ADD {kind} `{index}` ({cols})")
		return statements


class QueueLedger:
	"""The site's RQ jobs on the bench's queues and their registries, recorded so the jobs a test
	enqueued (and what ran of them) can be deleted afterwards."""

	def __init__(self):
		self.ids = self._job_ids()

	@staticmethod
	def _job_ids() -> set[str]:
		import frappe
		from frappe.utils.background_jobs import get_queue, get_queue_list

		prefix = f"{frappe.local.site}::"
		ids: set[str] = set()
		for name in get_queue_list():
			queue = get_queue(name)
			ids.update(queue.job_ids)
			for registry in (
				queue.started_job_registry,
				queue.finished_job_registry,
				queue.failed_job_registry,
				queue.deferred_job_registry,
				queue.scheduled_job_registry,
			):
				ids.update(registry.get_job_ids())
		return {i for i in ids if i.startswith(prefix)}

	def restore(self) -> int:
		from rq.exceptions import NoSuchJobError
		from rq.job import Job

		from frappe.utils.background_jobs import get_queue, get_queue_list, get_redis_conn

		added = self._job_ids() - self.ids
		connection = get_redis_conn()
		for job_id in added:
			try:
				Job.fetch(job_id, connection=connection).delete()
			except NoSuchJobError:
				pass
		for name in get_queue_list():  # ids whose job hash is gone but that a list still names
			queue = get_queue(name)
			for job_id in added:
				queue.remove(job_id)
				for registry in (
					queue.finished_job_registry,
					queue.failed_job_registry,
					queue.started_job_registry,
				):
					registry.remove(job_id)
		return len(added)


# ---------------------------------------------------------------- the by-hand check


def site_counts(db, redis_clients, namespace: str) -> dict:
	"""Rows of every table, the app's single DocTypes, ``tabSeries``, and the app's Redis keys."""
	from verenigingen.performance.keys import KeyBuilder

	counts = {}
	for table in sorted(_existing_tables(db)):
		counts[table] = db.sql(f"SELECT COUNT(*) FROM `{table}`")[0][0]
	_, singles = app_doctypes()
	marks = ", ".join(["%s"] * len(singles)) or "''"
	state = {
		"rows": counts,
		"series": {r[0]: r[1] for r in db.sql("SELECT name, current FROM `tabSeries`")},
		"singles": sorted(
			[
				list(r)
				for r in db.sql(
					f"SELECT doctype, field, value FROM `tabSingles` WHERE doctype IN ({marks})",
					tuple(singles),
				)
			]
		),
		"redis_app_keys": {},
	}
	for label, client in redis_clients.items():
		n = 0
		for pattern in KeyBuilder(namespace).site_patterns():
			n += sum(1 for _ in client.scan_iter(match=pattern, count=500))
		state["redis_app_keys"][label] = n
	return state


def _main(argv=None) -> int:
	import argparse
	import os
	import sys

	import redis

	parser = argparse.ArgumentParser(description="Count a Frappe site's rows (and the app's Redis keys).")
	parser.add_argument("--site", required=True)
	parser.add_argument(
		"--sites-path", default=None, help="the bench's sites folder (default: from this app)"
	)
	parser.add_argument("--save", help="write the counts to this JSON file")
	parser.add_argument("--compare", help="compare with counts saved earlier; exit 1 on a difference")
	args = parser.parse_args(argv)
	sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
	import frappe

	from tests.benchsite import find_sites_path

	sites_path = find_sites_path(args.site, args.sites_path)
	cwd = os.getcwd()
	os.chdir(sites_path)
	try:
		frappe.init(args.site, sites_path=str(sites_path))
		frappe.connect()
		clients = {
			"cache": redis.Redis.from_url(frappe.conf.redis_cache),
			"queue": redis.Redis.from_url(frappe.conf.redis_queue),
		}
		state = site_counts(frappe.db, clients, frappe.conf.db_name)
		frappe.db.rollback()
		frappe.destroy()
	finally:
		os.chdir(cwd)
	if args.save:
		Path(args.save).write_text(json.dumps(state, indent=1, sort_keys=True, default=str))
	if not args.compare:
		watched = [f"tab{d}" for d in (*app_doctypes()[0], *FRAMEWORK_DOCTYPES)]
		for table in watched:
			if table in state["rows"]:
				print(f"{table}: {state['rows'][table]}")
		print(f"app Redis keys: {state['redis_app_keys']}")
		return 0
	before = json.loads(Path(args.compare).read_text())
	diffs = []
	for table in sorted(set(before["rows"]) | set(state["rows"])):
		a, b = before["rows"].get(table), state["rows"].get(table)
		if a != b:
			diffs.append(f"{table}: {a} -> {b}")
	for key in ("series", "singles", "redis_app_keys"):
		if json.loads(json.dumps(before[key], default=str)) != json.loads(
			json.dumps(state[key], default=str)
		):
			diffs.append(f"{key}: {before[key]} -> {state[key]}")
	watched = [f"tab{d}" for d in (*app_doctypes()[0], *FRAMEWORK_DOCTYPES)]
	for table in watched:
		if table in state["rows"]:
			print(f"{table}: before {before['rows'].get(table)}, after {state['rows'][table]}")
	print(f"app Redis keys: before {before['redis_app_keys']}, after {state['redis_app_keys']}")
	print("\n".join(diffs) if diffs else f"no difference in {len(state['rows'])} tables")
	return 1 if diffs else 0


if __name__ == "__main__":
	raise SystemExit(_main())
