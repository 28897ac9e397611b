"""``bench --site SITE verenigingen jobs status [JOB_ID] | cancel JOB_ID | reconcile``: the priority
job coordinator of the site, through the calls of ``verenigingen.api.jobs`` and the scheduler's
``verenigingen.jobs.reconcile``."""

import time
from datetime import datetime

import click

from .base import in_site, json_option, print_json
from .output import ago, plural, seconds, table


@click.group("jobs")
def jobs():
	"""The site's priority job coordinator."""


@jobs.command("status")
@click.argument("job_id", required=False)
@json_option
@in_site
def status(job_id, as_json):
	"""Every priority's caps, counts, waits and run times; or one job's record."""
	from verenigingen.api.jobs import get_job_status, get_queue_status

	data = get_job_status(job_id) if job_id else get_queue_status()
	if as_json:
		return print_json(data)
	if job_id:
		return _one_job(data)
	rows = []
	for name, p in data["priorities"].items():
		c = p["counts"]
		cap = f"{p['effective_cap']}/{p['cap']}" if p["effective_cap"] != p["cap"] else str(p["cap"])
		rows.append([
			name, p["queue"], cap, p["slots_in_use"], c.get("waiting", 0), c.get("delayed", 0), c.get("running", 0),
			c.get("finished", 0), c.get("failed", 0), seconds(p["oldest_waiting_seconds"]), seconds(p["wait_p95"]),
			seconds(p["run_p95"]), "-" if p["throughput_per_minute"] is None else f"{p['throughput_per_minute']:.1f}",
		])  # fmt: skip
	click.echo(table(
		["priority", "queue", "cap", "in use", "waiting", "delayed", "running", "finished", "failed",
		 "oldest wait", "wait p95", "run p95", "per min"],
		rows, right=tuple(range(2, 13)),
	))  # fmt: skip
	total = {
		k: sum(p["counts"].get(k, 0) for p in data["priorities"].values()) for k in ("running", "waiting")
	}
	load = (data.get("load") or {}).get("state") or "not read"
	click.echo(
		f"\n{total['running']} running, {total['waiting']} waiting; load {load}; "
		f"last reconcile {ago(data.get('last_reconcile'), data.get('time'))}"
	)


def _when(epoch) -> str:
	return "-" if epoch is None else datetime.fromtimestamp(epoch).isoformat(sep=" ", timespec="seconds")


def _one_job(job: dict) -> None:
	fields = [
		("job", job["job_id"]), ("method", job["method"]), ("priority", job["priority"]),
		("status", f"{job['status']} ({job['phase']})"), ("attempts", f"{job['attempts']} of {job['max_retries'] + 1}"),
		("submitted", _when(job["submitted"])), ("started", _when(job["started"])), ("ended", _when(job["ended"])),
		("queue wait", seconds(job["queue_wait"])), ("run time", seconds(job["run_time"])),
		("worker", job["worker"] or "-"), ("depends on", ", ".join(job["depends_on"]) or "-"),
		("next retry", _when(job["next_retry_at"])), ("error", job["error"] or "-"),
	]  # fmt: skip
	width = max(len(k) for k, _ in fields)
	click.echo("\n".join(f"{k.ljust(width)}  {v}" for k, v in fields))
	if job["traceback"]:
		click.echo("\n" + job["traceback"].rstrip())
	click.echo(f"\njob {job['job_id']} is {job['status']}")


@jobs.command("cancel")
@click.argument("job_id")
@json_option
@in_site
def cancel(job_id, as_json):
	"""Cancel a job: a waiting one is removed, a running one's worker is asked to stop."""
	from verenigingen.api.jobs import cancel_job

	data = cancel_job(job_id)
	if as_json:
		return print_json(data)
	if data.get("stop_requested"):
		return click.echo(f"job {job_id} is running: its worker was asked to stop it")
	click.echo(f"job {job_id} is {data['status']}")


@jobs.command("reconcile")
@json_option
@in_site
def reconcile(as_json):
	"""What the scheduler does every minute: reap expired leases, retry, load control, dispatch."""
	from verenigingen.jobs import reconcile as run_reconcile

	started = time.perf_counter()
	data = run_reconcile()
	if as_json:
		return print_json(data)
	reaped = data.get("expired_leases") or {}
	lines = [
		("expired leases", ", ".join(f"{n} {what}" for what, n in reaped.items()) or "none"),
		("unblocked", data.get("unblocked", 0)),
		("dispatched", data.get("dispatched") or 0),
		("load control", data.get("load_control")),
	]
	if data.get("load"):
		lines.append(("load", data["load"].get("state")))
	if data.get("restored_caps"):
		lines.append(
			(
				"restored caps",
				", ".join(f"{p} {c['from']}->{c['to']}" for p, c in data["restored_caps"].items()),
			)
		)
	width = max(len(k) for k, _ in lines)
	click.echo("\n".join(f"{k.ljust(width)}  {v}" for k, v in lines))
	click.echo(
		f"\nreconciled in {seconds(time.perf_counter() - started)}: {plural(sum(reaped.values()), 'expired lease')} reaped"
	)
