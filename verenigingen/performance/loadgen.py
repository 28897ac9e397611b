"""A bounded HTTP load generator, and CPU meters for the processes that serve the load.

:func:`run_load` drives a server with ``clients`` threads, each on one keep-alive connection
(``http.client.HTTPConnection``, reused for every request), until ``max_requests`` have been
answered or ``max_seconds`` have passed, whichever comes first. Every request's round-trip
time and status code are kept, per client.

:class:`CPUMeter` reads the CPU seconds used so far by the server process (psutil), by Redis
(``INFO cpu``: ``used_cpu_sys + used_cpu_user``) and by the MariaDB server process (psutil, when
the process listening on the database port is visible on this machine); a figure that cannot be
read is None with the reason in :attr:`CPUMeter.notes`. Redis and MariaDB are shared: their
figures include whatever other clients made them do in the same interval.
"""

import http.client
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
	"""The nearest-rank percentile ``q`` (0 < q <= 1) of values sorted ascending; None if empty."""
	if not sorted_values:
		return None
	rank = max(1, math.ceil(q * len(sorted_values)))
	return sorted_values[rank - 1]


@dataclass
class LoadResult:
	"""What one load run measured: per client, each request's latency (ms) in sending order."""

	clients: int
	seconds: float  # from the first request sent to the last response read
	per_client_ms: list[list[float]]
	statuses: Counter = field(default_factory=Counter)  # status code -> count; "connection error" too
	stopped_by: str = "count"  # "count" (max_requests answered) or "time" (max_seconds passed)

	@property
	def requests(self) -> int:
		return sum(len(c) for c in self.per_client_ms)

	@property
	def rps(self) -> float | None:
		return self.requests / self.seconds if self.seconds > 0 and self.requests else None

	def latency(self, q: float) -> float | None:
		return percentile(sorted(v for c in self.per_client_ms for v in c), q)

	def as_dict(self) -> dict:
		return {
			"clients": self.clients,
			"requests": self.requests,
			"seconds": round(self.seconds, 4),
			"rps": self.rps,
			"p50_ms": self.latency(0.50),
			"p95_ms": self.latency(0.95),
			"p99_ms": self.latency(0.99),
			"statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=lambda kv: str(kv[0]))},
			"stopped_by": self.stopped_by,
		}


def run_load(
	host: str,
	port: int,
	path: Callable[[int, int], str],
	*,
	clients: int = 4,
	max_requests: int = 1000,
	max_seconds: float = 10.0,
	headers: Callable[[int], dict] | None = None,
	timeout: float = 30.0,
) -> LoadResult:
	"""Send GET ``path(client, n)`` (n: the client's n-th request) from ``clients`` threads, one
	keep-alive connection each, until ``max_requests`` are answered or ``max_seconds`` pass.
	``headers(client)`` gives each client's headers (its credentials)."""
	if clients < 1 or max_requests < 1 or max_seconds <= 0:
		raise ValueError(
			f"need clients >= 1, max_requests >= 1 and max_seconds > 0, got {clients}, {max_requests}, {max_seconds}"
		)
	lock = threading.Lock()
	issued = [0]
	per_client: list[list[float]] = [[] for _ in range(clients)]
	statuses: list[Counter] = [Counter() for _ in range(clients)]
	ends = [0.0] * clients
	failures: list[BaseException] = []
	start = threading.Barrier(clients + 1)
	began = [0.0]

	def claim() -> bool:
		with lock:
			if issued[0] >= max_requests:
				return False
			issued[0] += 1
			return True

	def client(i: int) -> None:
		conn = http.client.HTTPConnection(host, port, timeout=timeout)
		head = dict(headers(i) if headers else {})
		n = 0
		try:
			start.wait()
			deadline = began[0] + max_seconds
			while time.perf_counter() < deadline and claim():
				url = path(i, n)
				n += 1
				sent = time.perf_counter()
				try:
					conn.request("GET", url, headers=head)
					response = conn.getresponse()
					response.read()
					status = response.status
				except (OSError, http.client.HTTPException):
					conn.close()  # a fresh connection for the next request
					status = "connection error"
				per_client[i].append((time.perf_counter() - sent) * 1000)
				statuses[i][status] += 1
		except BaseException as exc:  # reported by run_load after every thread has ended
			failures.append(exc)
		finally:
			ends[i] = time.perf_counter()
			conn.close()

	threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
	for t in threads:
		t.start()
	began[0] = time.perf_counter()
	start.wait()
	for t in threads:
		t.join(timeout=max_seconds + timeout + 10)
	if any(t.is_alive() for t in threads):
		raise RuntimeError("a load generator client did not finish in time")
	if failures:
		raise failures[0]
	total = Counter()
	for c in statuses:
		total.update(c)
	result = LoadResult(clients, max(ends) - began[0], per_client, total)
	result.stopped_by = "count" if result.requests >= max_requests else "time"
	return result


# ---------------------------------------------------------------- CPU meters


class CPUMeter:
	"""CPU seconds used so far by the server process, Redis and MariaDB (see the module doc)."""

	def __init__(self, redis, server_pid: int | None, db_host: str, db_port: int):
		import psutil

		self.redis = redis
		self.notes: dict[str, str] = {}
		self._server = psutil.Process(server_pid) if server_pid else None
		if self._server is None:
			self.notes["server"] = "no server process given"
		self._mariadb = None
		if db_host not in LOCAL_HOSTS:
			self.notes["mariadb"] = f"not measurable: MariaDB runs on {db_host}, not on this machine"
		else:
			self._mariadb = _listening_process(("mariadbd", "mysqld"), db_port)
			if self._mariadb is None:
				self.notes["mariadb"] = (
					f"not measurable: no mariadbd/mysqld process listening on port {db_port} is visible here"
				)

	def read(self) -> dict:
		out = {"server": None, "redis": None, "mariadb": None}
		if self._server is not None:
			t = self._server.cpu_times()
			out["server"] = t.user + t.system
		try:
			info = self.redis.info("cpu")
			out["redis"] = float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
		except Exception as exc:  # reported as not measurable with the reason
			self.notes["redis"] = f"not measurable: INFO cpu failed: {exc}"
		if self._mariadb is not None:
			try:
				t = self._mariadb.cpu_times()
				out["mariadb"] = t.user + t.system
			except Exception as exc:  # the process went away or is not readable
				self.notes["mariadb"] = f"not measurable: {type(exc).__name__}: {exc}"
		return out

	@staticmethod
	def per_request_ms(before: dict, after: dict, requests: int) -> dict:
		"""CPU ms per request of each process between two readings (None where not measured)."""
		return {
			k: ((after[k] - before[k]) * 1000 / requests)
			if requests and before.get(k) is not None and after.get(k) is not None
			else None
			for k in ("server", "redis", "mariadb")
		}


def _listening_process(names: tuple[str, ...], port: int):
	"""The visible process named one of ``names`` that listens on TCP ``port``, else None."""
	import psutil

	for proc in psutil.process_iter(["name"]):
		if proc.info["name"] not in names:
			continue
		try:
			conns = getattr(proc, "net_connections", None) or proc.connections  # psutil < 6: connections()
			if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns("tcp")):
				return proc
		except (psutil.AccessDenied, psutil.NoSuchProcess):
			continue
	return None
