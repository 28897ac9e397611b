"""Readings of the machine and the services, each one measured when it is taken.

* :func:`collect_resources`: CPU, memory, disk of the site's volume, IO rates and load via
  psutil. CPU is read over a window, never from one instant: the share of busy time between
  two ``cpu_times()`` readings at least ``CPU_MIN_WINDOW_SECONDS`` apart (the earlier reading is
  kept in Redis, so the snapshot every five minutes, by whichever worker runs it, covers those
  five minutes; readings closer together keep the older baseline). Without a baseline that
  old, it is the one-minute load average per CPU (capped at 100 %), as ``top`` and ``uptime``
  report it; ``cpu_source`` says which.
* :func:`collect_redis`: ``INFO`` memory, hits and misses, evictions, clients.
* :func:`collect_database`: MariaDB threads running, slow queries and row lock waits per
  minute, buffer pool hit ratio, and each probe query's latency and EXPLAIN.
* :func:`collect_rq`: per queue, its length, workers, failed jobs and the oldest job's wait.

Every reading is a measurement or ``None`` when it could not be taken, with the reason.
"""

import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone

from .db import Database
from .keys import KeyBuilder

CPU_MIN_WINDOW_SECONDS = 60  # shortest span a CPU reading covers; shorter: the load average instead
COUNTER_MAX_AGE_SECONDS = 3600  # previous readings older than this are not used for rates


def _decode_counters(raw: dict) -> dict[str, float]:
	return {
		(k.decode() if isinstance(k, bytes) else k): float(v.decode() if isinstance(v, bytes) else v)
		for k, v in raw.items()
	}


def _store_counters(
	redis, key: str, now: float, counters: dict[str, float], *, min_age: float = 0.0
) -> tuple[dict, float | None]:
	"""Return the stored counters and their age, and store ``counters`` in their place, unless
	the stored ones are younger than ``min_age`` (then they stay, as the baseline of a window)."""
	previous = _decode_counters(redis.hgetall(key))
	at = previous.pop("_at", None)
	usable = at is not None and 0 < now - at <= COUNTER_MAX_AGE_SECONDS
	if not usable or now - at >= min_age:
		pipe = redis.pipeline(transaction=True)
		pipe.delete(key)
		pipe.hset(key, mapping={"_at": repr(now), **{k: repr(float(v)) for k, v in counters.items()}})
		pipe.expire(key, COUNTER_MAX_AGE_SECONDS * 2)
		pipe.execute()
	if not usable:
		return {}, None
	return previous, now - at


def _cpu_busy(times) -> tuple[float, float]:
	total = sum(times)
	idle = times.idle + getattr(times, "iowait", 0.0)
	return total - idle, total


def collect_resources(
	redis, namespace: str, disk_path: str, *, clock: Callable[[], float] = time.time
) -> dict:
	"""CPU, memory, disk, IO and load of this machine (see the module docstring)."""
	import psutil

	keys = KeyBuilder(namespace)
	now = clock()
	cpu = psutil.cpu_times()
	busy, total = _cpu_busy(cpu)
	io = psutil.disk_io_counters()
	counters = {"cpu_busy": busy, "cpu_total": total}
	if io is not None:
		counters.update(io_read=io.read_bytes, io_write=io.write_bytes)
	previous, elapsed = _store_counters(
		redis, keys.key("monitoring", "counters", "resources"), now, counters, min_age=CPU_MIN_WINDOW_SECONDS
	)
	try:
		load1 = os.getloadavg()[0] / (psutil.cpu_count() or 1)
	except OSError:  # no load average on this platform
		load1 = None
	cpu_percent = cpu_interval = None
	if previous and elapsed >= CPU_MIN_WINDOW_SECONDS and total > previous.get("cpu_total", 0):
		d_busy, d_total = busy - previous["cpu_busy"], total - previous["cpu_total"]
		cpu_percent, cpu_interval, cpu_source = round(100.0 * d_busy / d_total, 2), elapsed, "cpu_times"
	elif load1 is not None:
		cpu_percent, cpu_interval, cpu_source = round(min(100.0, 100.0 * load1), 2), 60.0, "load_average_1m"
	else:
		cpu_source = f"no CPU reading: no baseline {CPU_MIN_WINDOW_SECONDS} s old and no load average"
	memory = psutil.virtual_memory()
	disk = psutil.disk_usage(disk_path)
	io_read_rate = io_write_rate = None
	if io is not None and previous and elapsed and "io_read" in previous:
		io_read_rate = max(0.0, (io.read_bytes - previous["io_read"]) / elapsed)
		io_write_rate = max(0.0, (io.write_bytes - previous["io_write"]) / elapsed)
	return {
		"cpu_percent": cpu_percent,
		"cpu_source": cpu_source,
		"cpu_interval_s": round(cpu_interval, 3) if cpu_interval is not None else None,
		"memory_percent": memory.percent,
		"memory_available_mb": round(memory.available / 2**20, 1),
		"disk_path": disk_path,
		"disk_percent": disk.percent,
		"disk_free_gb": round(disk.free / 2**30, 2),
		"io_read_bytes_per_s": io_read_rate,
		"io_write_bytes_per_s": io_write_rate,
		"load_1m_per_cpu": round(load1, 3) if load1 is not None else None,
	}


def collect_redis(redis) -> dict:
	"""Redis INFO figures: memory, keyspace hits/misses (since the server started), evictions, clients."""
	info = redis.info()
	hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
	maxmemory = info.get("maxmemory") or 0
	return {
		"used_memory_mb": round(info.get("used_memory", 0) / 2**20, 2),
		"maxmemory_mb": round(maxmemory / 2**20, 2) if maxmemory else None,
		"memory_ratio": round(info.get("used_memory", 0) / maxmemory, 4) if maxmemory else None,
		"keyspace_hits": hits,
		"keyspace_misses": misses,
		"hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
		"evicted_keys": info.get("evicted_keys", 0),
		"connected_clients": info.get("connected_clients"),
	}


_DB_STATUS = (
	"Threads_running",
	"Slow_queries",
	"Innodb_row_lock_waits",
	"Innodb_buffer_pool_read_requests",
	"Innodb_buffer_pool_reads",
)


def probe_query(db: Database, label: str, sql: str, params: Sequence | str = (), *, repeats: int = 3) -> dict:
	"""Time ``sql`` (median of ``repeats`` runs) and read its EXPLAIN: does it scan a whole table?

	``params`` is a tuple, or a query whose rows are real parameter tuples (the probe then looks
	up rows that exist, cycling through them); with no rows to draw from, the probe is reported
	unmeasured with that reason, never timed on a lookup that finds nothing."""
	try:
		if isinstance(params, str):
			drawn = [tuple(row) for row in db.sql(params)]
			if not drawn:
				return {"label": label, "ms": None, "note": "no rows to draw probe parameters from"}
		else:
			drawn = [tuple(params)]
		plan = db.sql(f"EXPLAIN {sql}", drawn[0], as_dict=True)
		timings = []
		for i in range(repeats):
			started = time.perf_counter()
			db.sql(sql, drawn[i % len(drawn)])
			timings.append((time.perf_counter() - started) * 1000)
	except Exception as exc:  # reported as this probe's error; the other readings still count
		return {"label": label, "ms": None, "error": f"{type(exc).__name__}: {exc}"}
	full_scans = [
		{"table": row.get("table"), "rows": row.get("rows")}
		for row in plan
		if str(row.get("type")).upper() == "ALL"
	]
	return {
		"label": label,
		"ms": round(statistics.median(timings), 3),
		"parameters": [list(p) for p in drawn[:repeats]],
		"full_scan": bool(full_scans),
		"scanned": full_scans,
		"keys_used": [row.get("key") for row in plan if row.get("key")],
	}


def collect_database(
	db: Database,
	redis,
	namespace: str,
	probes: Iterable[tuple[str, str, Sequence]] = (),
	*,
	clock: Callable[[], float] = time.time,
) -> dict:
	"""MariaDB status: threads running, slow queries and lock waits per minute since the previous
	reading, buffer pool hit ratio, and the probe queries' latency (median ms) and plans."""
	placeholders = ", ".join(["%s"] * len(_DB_STATUS))
	rows = db.sql(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({placeholders})", _DB_STATUS)
	status = {name: float(value) for name, value in rows}
	now = clock()
	counters = {k: status.get(k, 0.0) for k in _DB_STATUS if k != "Threads_running"}
	previous, elapsed = _store_counters(
		redis,
		KeyBuilder(namespace).key("monitoring", "counters", "database", db.database_name or "-"),
		now,
		counters,
	)

	def per_minute(name: str) -> float | None:
		if not previous or name not in previous or not elapsed:
			return None
		return round(max(0.0, counters[name] - previous[name]) * 60.0 / elapsed, 3)

	requests = counters["Innodb_buffer_pool_read_requests"]
	reads = counters["Innodb_buffer_pool_reads"]
	if previous and "Innodb_buffer_pool_read_requests" in previous:
		requests -= previous["Innodb_buffer_pool_read_requests"]
		reads -= previous["Innodb_buffer_pool_reads"]
	probe_results = [probe_query(db, label, sql, params) for label, sql, params in probes]
	timed = [p["ms"] for p in probe_results if p.get("ms") is not None]
	return {
		"threads_running": int(status["Threads_running"]) if "Threads_running" in status else None,
		"slow_queries_per_min": per_minute("Slow_queries"),
		"row_lock_waits_per_min": per_minute("Innodb_row_lock_waits"),
		"buffer_pool_hit_ratio": round(1 - reads / requests, 5) if requests > 0 else None,
		"rates_over_s": round(elapsed, 1) if elapsed else None,
		"probe_ms": max(timed) if timed else None,
		"probes": probe_results,
	}


def _as_utc(value: datetime | None) -> datetime | None:
	if value is None:
		return None
	return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def collect_rq(connection, queues: dict[str, str], *, clock: Callable[[], float] = time.time) -> dict:
	"""Per queue label (``short``) and its RQ name: length, workers, failed jobs, oldest wait (s)."""
	from rq import Queue, Worker
	from rq.registry import FailedJobRegistry

	now = clock()
	out = {}
	for label, name in queues.items():
		queue = Queue(name, connection=connection)
		oldest_wait = None
		for job_id in queue.get_job_ids(0, 1):
			job = queue.fetch_job(job_id)
			enqueued = _as_utc(job.enqueued_at) if job is not None else None
			if enqueued is not None:
				oldest_wait = round(max(0.0, now - enqueued.timestamp()), 3)
		out[label] = {
			"queue": name,
			"length": queue.count,
			"workers": len(Worker.all(connection=connection, queue=queue)),
			"failed": FailedJobRegistry(queue=queue).count,
			"oldest_wait_s": oldest_wait,
		}
	return out
