"""The app's read models over real HTTP, outside a bench: a WSGI app on Werkzeug (the HTTP layer
Frappe itself runs on) serving the member summary and the payment history the way the site's
whitelisted methods (``verenigingen.api.member``) do, and a server process to run it in.

Each request goes through the pieces a site request goes through:

* the request hooks of ``verenigingen.monitoring``: the time from before the request to after it,
  with its endpoint and status code, is added to a :class:`~.histogram.SampleBuffer` that writes
  to the site's :class:`~.histogram.MetricStore` (5xx counts as an error), so monitoring scores
  these requests as it scores a site's;
* authentication (``Authorization: token <key>:<secret>``, Frappe's API token form; a bad token is
  401, none is Guest) and the app's role guard (``admin_only``: 403 without an admin role);
* the argument checks and the member lookup of the method (417 for a bad argument, 404 for an
  unknown member), then the read model of ``summaries`` on a PyMySQL
  :class:`~.db.PyMySQLDatabase` of the serving thread, through the :class:`~.cache.SecurityAwareCache`
  with the asker's :class:`~.context.SecurityContext` when the cache is on, under the cache names,
  levels and dependencies of the shell's ``secure_cache``;
* the response as Frappe's JSON (``{"message": ...}``), and a rollback at the end of the request,
  so the next request of the thread reads fresh data.

One difference from a site, which makes the figures slightly better than a bench's: Frappe
opens a database connection per request; here each serving thread keeps its own.

``python -m verenigingen.performance.readapi`` reads one JSON line of settings on stdin, binds
127.0.0.1 on a free port, prints ``listening <port>``, serves until its stdin closes, then
writes the buffered request samples and cache statistics and prints one JSON line of what it
wrote. :class:`ReadAPIServer` starts and stops it.
"""

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from . import summaries
from .cache import SecurityAwareCache, SecurityLevel
from .context import SecurityContext
from .db import PyMySQLDatabase
from .exceptions import PerformanceError
from .histogram import MetricStore
from .monitoring import endpoint_name, request_samples
from .samples import SampleBuffer

HOST = "127.0.0.1"  # the server binds this address only
ADMIN_ROLES = ("System Manager", "Verenigingen Administrator")  # the app's admin_only default
MEMBER_SUMMARY = "/api/method/verenigingen.api.member.get_member_summary"
PAYMENT_HISTORY = "/api/method/verenigingen.api.member.get_payment_history"
# path -> (cache name as the shell's secure_cache names it, level, dependencies)
ROUTES = {
	MEMBER_SUMMARY: (
		"verenigingen.api.member.member_summary",
		SecurityLevel.MEMBER_DATA,
		summaries.MEMBER_SUMMARY_DEPENDS,
	),
	PAYMENT_HISTORY: (
		"verenigingen.api.member.payment_history",
		SecurityLevel.FINANCIAL,
		summaries.PAYMENT_HISTORY_DEPENDS,
	),
}


class ReadAPIError(PerformanceError):
	"""The read API server could not be started or did not stop cleanly."""


class _HTTPError(Exception):
	def __init__(self, status: int, exc_type: str, message: str):
		super().__init__(message)
		self.status = status
		self.exc_type = exc_type


def _json_default(value):
	"""Frappe's JSON handler for what the read models return: Decimal as a number, dates as ISO text."""
	if isinstance(value, Decimal):
		return float(value)
	if isinstance(value, datetime | date):
		return value.isoformat()
	raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ReadAPI:
	"""The WSGI application. Thread-safe: each serving thread gets its own database handle."""

	def __init__(
		self,
		db_settings: Mapping,
		redis,
		namespace: str,
		*,
		use_cache: bool,
		tokens: Mapping[str, SecurityContext],
		buffer: SampleBuffer | None = None,
		admin_roles: tuple[str, ...] = ADMIN_ROLES,
	):
		self.db_settings = dict(db_settings)
		self.redis = redis
		self.namespace = namespace
		self.store = MetricStore(redis, namespace)
		self.buffer = buffer if buffer is not None else SampleBuffer()
		self.cache = SecurityAwareCache(redis, namespace) if use_cache else None
		self.tokens = dict(tokens)
		self.admin_roles = tuple(admin_roles)
		self._local = threading.local()
		self._handles: list[PyMySQLDatabase] = []
		self._handles_lock = threading.Lock()

	# ------------------------------------------------------------ WSGI
	def __call__(self, environ, start_response):
		from werkzeug.wrappers import Request, Response

		request = Request(environ)
		started = time.perf_counter()  # before_request
		try:
			body, status = {"message": self._handle(request)}, 200
		except _HTTPError as exc:
			body, status = {"exc_type": exc.exc_type, "exception": str(exc)}, exc.status
		except Exception as exc:  # as Frappe: any other failure is a 500 with its type, logged by the server
			body, status = {"exc_type": type(exc).__name__, "exception": str(exc)}, 500
		finally:
			self._end_transaction()
		response = Response(
			json.dumps(body, default=_json_default), status=status, mimetype="application/json"
		)
		# after_request, as verenigingen.monitoring.after_request records it
		duration_ms = (time.perf_counter() - started) * 1000
		self.buffer.add(self.store, request_samples(endpoint_name(request.path), duration_ms, status))
		return response(environ, start_response)

	def _handle(self, request):
		route = ROUTES.get(request.path)
		if route is None:
			raise _HTTPError(404, "DoesNotExistError", f"no method at {request.path}")
		if request.method not in ("GET", "POST"):
			raise _HTTPError(405, "MethodNotAllowed", f"{request.method} is not allowed")
		ctx = self._authenticate(request.headers.get("Authorization"))
		if ctx is None or not ctx.has_any_role(*self.admin_roles):
			raise _HTTPError(
				403,
				"PermissionError",
				f"Not permitted: this requires one of the roles {', '.join(self.admin_roles)}",
			)
		args = request.values
		member = args.get("member", "")
		if not member.strip():
			raise _HTTPError(417, "ValidationError", f"member must be the name of a Member, got {member!r}")
		db = self.database()
		if not db.sql("SELECT `name` FROM `tabMember` WHERE `name` = %s", (member,)):
			raise _HTTPError(404, "DoesNotExistError", f"Member {member} not found")
		name, level, depends = route
		if request.path == MEMBER_SUMMARY:
			key = {"member": member}

			def compute():
				return summaries.member_summary(db, member)
		else:
			raw = args.get("limit", str(summaries.PAYMENT_HISTORY_LIMIT))
			try:
				limit = int(raw)
			except ValueError:
				limit = None
			if limit is None or not 1 <= limit <= summaries.PAYMENT_HISTORY_MAX:
				raise _HTTPError(
					417,
					"ValidationError",
					f"limit must be a whole number from 1 to {summaries.PAYMENT_HISTORY_MAX}, got {raw!r}",
				)
			key = {"member": member, "limit": limit}

			def compute():
				return summaries.payment_history(db, member, limit)

		if self.cache is None:
			return compute()
		return self.cache.get_or_compute(name, key, compute, ctx=ctx, level=level, depends_on=depends)

	def _authenticate(self, header: str | None) -> SecurityContext | None:
		"""The asker of ``Authorization: token key:secret``; None for Guest (no header); 401 for a bad token."""
		if not header:
			return None
		kind, _, token = header.partition(" ")
		ctx = self.tokens.get(token.strip()) if kind.lower() == "token" else None
		if ctx is None:
			raise _HTTPError(401, "AuthenticationError", "Invalid authentication token")
		return ctx

	# ------------------------------------------------------------ database handles
	def database(self) -> PyMySQLDatabase:
		"""The serving thread's database handle (opened on its first request)."""
		handle = getattr(self._local, "db", None)
		if handle is None:
			handle = PyMySQLDatabase(**self.db_settings)
			self._local.db = handle
			with self._handles_lock:
				self._handles.append(handle)
		return handle

	def _end_transaction(self) -> None:
		handle = getattr(self._local, "db", None)
		if handle is not None:
			try:
				handle.rollback()  # reads only: end the snapshot so the next request sees fresh data
			except Exception:  # a broken connection: drop it, the thread's next request opens another
				self._local.db = None
				handle.close()

	def release(self) -> None:
		"""Close the calling thread's database handle (its connection is done)."""
		handle = getattr(self._local, "db", None)
		if handle is None:
			return
		self._local.db = None
		with self._handles_lock:
			if handle in self._handles:
				self._handles.remove(handle)
		handle.close()

	def close(self) -> dict:
		"""Write the buffered request samples and cache statistics; close every handle. Returns
		how many samples were written and how many a failed write had to drop."""
		written = self.buffer.flush(self.store)
		cache = self.cache.stats()["totals"] if self.cache is not None else None
		with self._handles_lock:
			handles, self._handles = self._handles, []
		for handle in handles:
			handle.close()
		return {"samples_written": written, "samples_dropped": self.buffer.dropped, "cache": cache}


# ---------------------------------------------------------------- the server process


def make_server(app: ReadAPI, port: int = 0):
	"""A threaded WSGI server for ``app`` on 127.0.0.1:``port`` (0: a free port), one thread per
	connection, serving the requests of a connection one after another (HTTP/1.1 keep-alive).

	Werkzeug's own development server closes every connection: after each response it drains
	whatever the client sent next, which on a kept-alive connection would be the next request. So
	the app (Werkzeug's Request and Response) runs on the standard library's WSGI server, with a
	handler that loops over the requests of its connection. A request with a body closes its
	connection after the response (an unread body cannot be told from the next request)."""
	from socketserver import ThreadingMixIn
	from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

	class Response11(ServerHandler):
		http_version = "1.1"
		close_after = False  # set by the request handler; also when the body's length is unknown

		def cleanup_headers(self) -> None:
			super().cleanup_headers()
			if "Content-Length" not in self.headers:
				self.close_after = True  # the client can only tell the end of the body by the close
			if self.close_after:
				self.headers["Connection"] = "close"

	class Handler(WSGIRequestHandler):
		protocol_version = "HTTP/1.1"

		def setup(self) -> None:
			super().setup()
			# headers and body are separate writes: without this, Nagle's algorithm holds the body
			# back until the client's delayed ACK (~40 ms a response)
			self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

		def handle(self) -> None:
			self.close_connection = True
			self._one()
			while not self.close_connection:
				self._one()

		def _one(self) -> None:
			self.raw_requestline = self.rfile.readline(65537)
			if not self.raw_requestline:  # the client closed the connection
				self.close_connection = True
				return
			if len(self.raw_requestline) > 65536:
				self.requestline = self.request_version = self.command = ""
				self.send_error(414)
				self.close_connection = True
				return
			if not self.parse_request():  # it sent an error response; keep-alive decided by parse_request
				return
			handler = Response11(
				self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True
			)
			handler.request_handler = self
			length = self.headers.get("Content-Length")
			has_body = self.headers.get("Transfer-Encoding") is not None or length not in (None, "", "0")
			handler.close_after = self.close_connection or has_body
			handler.run(self.server.get_app())
			if handler.close_after:
				self.close_connection = True

		def finish(self) -> None:
			try:
				super().finish()
			finally:
				app.release()  # the connection's thread ends: its database handle goes with it

		def log_message(self, *args) -> None:  # no access log line per request
			return

	class Server(ThreadingMixIn, WSGIServer):
		daemon_threads = True

	server = Server((HOST, port), Handler)
	server.set_app(app)
	return server


def _serve(settings: dict) -> None:
	import redis as redis_lib

	client = redis_lib.Redis(**settings["redis"], socket_timeout=10)
	tokens = {t: SecurityContext(u["user"], u["roles"]) for t, u in settings["tokens"].items()}
	app = ReadAPI(
		settings["db"], client, settings["namespace"], use_cache=bool(settings["use_cache"]), tokens=tokens,
		buffer=SampleBuffer(),
	)  # fmt: skip
	server = make_server(app)
	thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
	thread.start()
	sys.stdout.write(f"listening {server.server_port}\n")
	sys.stdout.flush()
	try:
		sys.stdin.read()  # until the parent closes our stdin
	finally:
		server.shutdown()
		server.server_close()
		thread.join(timeout=10)
		sys.stdout.write(json.dumps(app.close()) + "\n")
		sys.stdout.flush()


class ReadAPIServer:
	"""Runs :class:`ReadAPI` in a server process of its own (so its CPU time is its own).

	``with ReadAPIServer(db_settings, redis_settings, namespace, use_cache=..., tokens=...) as s:``
	then ``s.port``, ``s.pid``; on exit (or :meth:`stop`) the process writes what it buffered and
	stops, and :attr:`closing` holds what it reported."""

	def __init__(
		self,
		db_settings: Mapping,
		redis_settings: Mapping,
		namespace: str,
		*,
		use_cache: bool,
		tokens: Mapping[str, tuple[str, tuple[str, ...]]],
		timeout: float = 30,
	):
		self.settings = {
			"db": dict(db_settings),
			"redis": {
				"host": redis_settings.get("host", HOST),
				"port": int(redis_settings.get("port", 6379)),
			},
			"namespace": namespace,
			"use_cache": bool(use_cache),
			"tokens": {t: {"user": u, "roles": list(r)} for t, (u, r) in tokens.items()},
		}
		self.timeout = timeout
		self.proc: subprocess.Popen | None = None
		self.port: int | None = None
		self.closing: dict | None = None
		self._lines: queue.Queue = queue.Queue()

	@property
	def pid(self) -> int:
		return self.proc.pid

	def _next_line(self, what: str) -> str:
		try:
			line = self._lines.get(timeout=self.timeout)
		except queue.Empty:
			raise ReadAPIError(f"the read API server did not {what} within {self.timeout} s") from None
		if line is None:
			raise ReadAPIError(f"the read API server exited before it could {what} (see its errors above)")
		return line

	def __enter__(self) -> "ReadAPIServer":
		root = Path(__file__).resolve().parents[2]
		env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
		self.proc = subprocess.Popen(
			[sys.executable, "-m", "verenigingen.performance.readapi"],
			stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
		)  # fmt: skip

		def pump():
			for line in self.proc.stdout:
				self._lines.put(line.strip())
			self._lines.put(None)

		threading.Thread(target=pump, daemon=True).start()
		self.proc.stdin.write(json.dumps(self.settings) + "\n")
		self.proc.stdin.flush()
		try:
			line = self._next_line("start")
			if not line.startswith("listening "):
				raise ReadAPIError(f"the read API server said {line!r} instead of its port")
			self.port = int(line.split()[1])
		except BaseException:
			self._kill()
			raise
		return self

	def stop(self) -> dict:
		"""Close the server's stdin: it stops serving, writes its samples and exits. Returns what it wrote."""
		if self.closing is not None or self.proc is None:
			return self.closing or {}
		try:
			self.proc.stdin.close()
			self.closing = json.loads(self._next_line("stop"))
			self.proc.wait(timeout=self.timeout)
		except BaseException:
			self._kill()
			raise
		return self.closing

	def _kill(self) -> None:
		if self.proc is not None and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait(timeout=10)

	def __exit__(self, *exc) -> None:
		if exc[0] is not None:
			self._kill()
			return
		self.stop()


if __name__ == "__main__":
	_serve(json.loads(sys.stdin.readline()))
