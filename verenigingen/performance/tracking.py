"""Server-assisted invalidation for the in-process cache tier: one connection per tier on which
Redis reports, the moment it happens, that a key under a prefix changed.

Redis (6 and later) tracks keys for a client (``CLIENT TRACKING``). In broadcast mode
(``BCAST PREFIX p``) it reports every change of a key that starts with ``p``, whoever made it: a
write or delete, an expiry, an eviction; a ``FLUSHDB``/``FLUSHALL`` is reported as "everything".
Under RESP2 the reports go, as messages on ``__redis__:invalidate``, to the connection named by
``REDIRECT``. The tracker points ``REDIRECT`` at its own connection and then subscribes it, so one
connection both asks for the reports and receives them: losing it loses both, and the tracker
knows at once (the socket reads end of file). It speaks RESP2 itself on a raw socket
(:mod:`.resp`), so a cache hit can ask the kernel in one ``poll(0)`` whether a report is waiting,
the same way with every redis-py version.

**What the tracker vouches for.** A heartbeat ``PING <sent at>`` goes out every ``heartbeat``
seconds while the tier is in use. Redis handles commands in order and writes a broadcast in the
same event-loop turn as the change, so when the reply to a ping sent at ``s`` arrives, every
change Redis handled before ``s`` has been received and applied (a change handled in the ping's own
turn happened after the ping reached Redis, hence after ``s``). The tier serves an entry only while
the last such ``s`` is less than ``stale_after`` seconds old: whatever happens to the connection
(slow, stuck, cut without a FIN), no process serves a value more than ``stale_after`` seconds after
the invalidation that outdated it returned. A ping unanswered for ``slow_after`` seconds drops the
connection; every drop, reconnect, unreadable reply or fork makes the owner empty its store.

The owner (:class:`~.local_tier.LocalTier`) passes the lock that guards its store; the tracker
calls ``on_keys(keys)`` and ``on_flush(cause)`` with that lock held.
"""

import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .exceptions import InvalidCacheArgumentError
from .resp import ProtocolError, Reader, ReplyError, command

CHANNEL = b"__redis__:invalidate"
_RECV = 65536
POLL_INTERVAL = 0.0001  # seconds: a lookup this soon after the last poll of the connection skips it

# Causes the tracker reports to on_flush. "reset" (a new connection) empties a store that holds
# nothing it could vouch for anyway; the others are counted as flushes.
LOST = "connection_lost"  # the connection closed, failed or was killed (CLIENT KILL, Redis restart)
REDIS_FLUSH = "redis_flush"  # FLUSHDB/FLUSHALL: Redis reported that every key changed
SLOW = "slow"  # a heartbeat went unanswered for slow_after seconds
PROTOCOL = "protocol"  # a reply the tracker cannot read, or did not expect
ERROR = "error"  # the tracking thread itself failed (recorded in last_error; it starts over)
RESET = "reset"  # a new connection is up: start from an empty store


class TrackingError(Exception):
	"""Redis refused to set up tracking (no CLIENT TRACKING before Redis 6, an ACL, a bad password)."""


@dataclass(frozen=True)
class Address:
	"""Where and how to connect: a TCP host and port, or a unix socket path, and credentials."""

	host: str | None = None
	port: int | None = None
	path: str | None = None
	username: str | None = None
	password: str | None = None
	connect_timeout: float = 2.0

	@classmethod
	def of(cls, redis) -> "Address":
		"""The address of a redis-py client's connection pool (redis-py 4.5 to 7.x)."""
		pool = getattr(redis, "connection_pool", None)
		kwargs = getattr(pool, "connection_kwargs", None)
		if kwargs is None:
			raise InvalidCacheArgumentError(
				f"the local tier needs a redis-py client with a connection pool, got {redis!r}"
			)
		if "ssl" in getattr(pool.connection_class, "__name__", "").lower():
			raise InvalidCacheArgumentError("the local tier does not support TLS connections to Redis")
		username, password = kwargs.get("username"), kwargs.get("password")
		provider = kwargs.get("credential_provider")
		if provider is not None:
			credentials = tuple(provider.get_credentials())
			username, password = (None, *credentials) if len(credentials) == 1 else credentials[:2]
		timeout = kwargs.get("socket_connect_timeout") or kwargs.get("socket_timeout") or 2.0
		if kwargs.get("path"):
			return cls(path=kwargs["path"], username=username, password=password, connect_timeout=timeout)
		if not kwargs.get("host"):
			raise InvalidCacheArgumentError(
				f"the local tier needs a Redis host and port or a unix socket path, got {sorted(kwargs)}"
			)
		return cls(
			host=kwargs["host"],
			port=int(kwargs.get("port") or 6379),
			username=username,
			password=password,
			connect_timeout=float(timeout),
		)

	def connect(self) -> socket.socket:
		if self.path:
			sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
			sock.settimeout(self.connect_timeout)
			try:
				sock.connect(self.path)
			except OSError:
				sock.close()
				raise
		else:
			sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
			sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
		return sock


class InvalidationTracker:
	"""The tracking connection of one tier, with the thread that keeps it read and alive."""

	def __init__(
		self,
		address: Address,
		prefix: str,
		*,
		name: str,
		lock,
		on_keys: Callable[[list[str]], None],
		on_flush: Callable[[str], None],
		heartbeat: float,
		stale_after: float,
		slow_after: float,
		idle_after: float,
		on_tick: Callable[[], None] | None = None,
		tick_seconds: float = 1.0,
		reconnect_min: float = 0.05,
		reconnect_max: float = 5.0,
	):
		self.address = address
		self.prefix = prefix
		self.name = name
		self.lock = lock
		self._on_keys = on_keys
		self._on_flush = on_flush
		self.heartbeat = heartbeat
		self.stale_after = stale_after
		self.slow_after = slow_after
		self.idle_after = idle_after
		self._on_tick = on_tick
		self.tick_seconds = tick_seconds
		self.reconnect_min = reconnect_min
		self.reconnect_max = reconnect_max
		self._start_lock = threading.Lock()
		self._fresh_process_state()

	def _fresh_process_state(self) -> None:
		"""Everything that belongs to one process (set again in a forked child)."""
		self._sock: socket.socket | None = None
		self._reader = Reader()
		self.poller = select.poll()  # the hit path polls it; replaced (never emptied) on each change
		self._up = False
		self.confirmed_at = float("-inf")  # send time of the newest answered heartbeat (monotonic)
		self._ping_sent_at: float | None = None
		self._ping_token = b""
		self._last_ping = float("-inf")
		self.last_use = float("-inf")
		self.polled_at = float("-inf")
		self.client_id: int | None = None
		self.state = "not started"
		self.last_error: str | None = None
		self.connects = 0
		self._doomed: list[socket.socket] = []
		self._thread: threading.Thread | None = None
		self._closed = False
		self._stop = threading.Event()
		self._wake_r, self._wake_w = socket.socketpair()
		self._wake_r.setblocking(False)
		self._wake_w.setblocking(False)
		self._last_tick = time.monotonic()

	# ------------------------------------------------------------ used by the tier (hot path first)
	def vouches(self, now: float) -> bool:
		"""May the tier serve what it holds now? Connected, and a heartbeat answered recently."""
		return self._up and now - self.confirmed_at <= self.stale_after

	def service(self, now: float) -> None:
		"""Called by lookups (at most every POLL_INTERVAL): apply what has arrived on the connection
		(one ``poll(0)`` tells). A thread busy with hits thus keeps the tier fresh without waiting
		for the tracking thread to get the GIL; if that thread is late with a heartbeat (twice the
		interval), this one writes it (a non-blocking write; nothing waits for the answer)."""
		self.polled_at = now
		try:
			ready = self.poller.poll(0)
		except RuntimeError:  # another thread is polling the same object right now: look anyway
			ready = True
		late = self._ping_sent_at is None and now - self._last_ping >= 2 * self.heartbeat and self._up
		if ready or late:  # late: the tracking thread is starved of the GIL; this thread writes a heartbeat
			with self.lock:
				self._drain_locked()
				self._heartbeat_locked(now)

	def nudge(self, now: float) -> None:
		"""The tier could not vouch: make sure the thread runs and a heartbeat is on its way."""
		thread = self._thread
		if thread is None or not thread.is_alive():
			self.start()
			return
		with self.lock:
			if self._sock is not None and self._ping_sent_at is None:
				self._send_ping_locked(now)

	def start(self) -> None:
		"""Start (or, if it died, restart) the thread that connects and reads; never after close()."""
		with self._start_lock:
			if self._closed or (self._thread is not None and self._thread.is_alive()):
				return
			self._stop.clear()
			self.state = "connecting"
			self._thread = threading.Thread(target=self._run, name=f"vperf-tier-{self.name}", daemon=True)
			self._thread.start()

	def close(self) -> None:
		"""Stop the thread and close the connection (the owner then empties its store)."""
		self._closed = True
		self._stop.set()
		self._wake()
		thread = self._thread
		if thread is not None and thread is not threading.current_thread():
			thread.join(5.0)
		with self.lock:
			self._drop_locked(None, "closed")
		self._close_doomed()
		self.state = "closed"

	def after_fork_in_child(self, lock) -> None:
		"""In a forked child: forget the parent's connection without touching it, start afresh."""
		for sock in (self._sock, *self._doomed, self._wake_r, self._wake_w):
			if sock is not None:
				sock.close()  # the child's copy of the descriptor only: the parent's connection stays up
		self.lock = lock
		self._start_lock = threading.Lock()
		self._fresh_process_state()

	def describe(self, now: float) -> dict:
		return {
			"state": self.state,
			"vouching": self.vouches(now),
			"confirmed_age_ms": None if self.confirmed_at == float("-inf") else round((now - self.confirmed_at) * 1000, 3),
			"client_id": self.client_id,
			"connects": self.connects,
			"last_error": self.last_error,
		}  # fmt: skip

	# ------------------------------------------------------------ the connection, under the lock
	def _drain_locked(self) -> None:
		sock = self._sock
		if sock is None:
			return
		while True:
			try:
				data = sock.recv(_RECV)
			except (BlockingIOError, InterruptedError):
				break
			except OSError as exc:
				self._drop_locked(LOST, f"reading the tracking connection failed: {exc}")
				return
			if not data:
				self._drop_locked(LOST, "Redis closed the tracking connection")
				return
			self._reader.feed(data)
			if len(data) < _RECV:
				break
		try:
			for reply in self._reader.replies():
				self._handle_locked(reply)
				if self._sock is not sock:
					return
		except ProtocolError as exc:
			self._drop_locked(PROTOCOL, f"unreadable reply on the tracking connection: {exc}")

	def _handle_locked(self, reply) -> None:
		if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message" and reply[1] == CHANNEL:
			keys = reply[2]
			if keys is None:
				self._on_flush(REDIS_FLUSH)
			elif isinstance(keys, list) and all(isinstance(k, bytes) for k in keys):
				self._on_keys([k.decode("utf-8", "surrogateescape") for k in keys])
			else:
				self._drop_locked(PROTOCOL, f"unexpected invalidation payload {keys!r:.80}")
			return
		if isinstance(reply, list) and len(reply) == 2 and reply[0] == b"pong":
			if reply[1] == self._ping_token and self._ping_sent_at is not None:
				self.confirmed_at = max(self.confirmed_at, self._ping_sent_at)
				self._ping_sent_at = None
				return
		self._drop_locked(PROTOCOL, f"unexpected reply on the tracking connection: {reply!r:.80}")

	def _send_ping_locked(self, now: float) -> None:
		token = repr(now).encode()
		try:
			sent = self._sock.send(command("PING", token))
		except (BlockingIOError, InterruptedError):
			sent = 0
		except OSError as exc:
			self._drop_locked(LOST, f"writing the tracking connection failed: {exc}")
			return
		if sent != len(command("PING", token)):
			self._drop_locked(SLOW, "the tracking connection does not take a heartbeat")
			return
		self._ping_token = token
		self._ping_sent_at = now
		self._last_ping = now

	def _heartbeat_locked(self, now: float) -> None:
		if self._sock is None:
			return
		if self._ping_sent_at is not None:
			if now - self._ping_sent_at > self.slow_after:
				self._drop_locked(SLOW, f"no heartbeat answer within {self.slow_after} s")
			return
		if now - self.last_use < self.idle_after and now - self._last_ping >= self.heartbeat:
			self._send_ping_locked(now)

	def _drop_locked(self, cause: str | None, error: str | None) -> None:
		"""Down: stop vouching, hand the socket to the thread to close, tell the owner (``cause``)."""
		sock = self._sock
		self._up = False
		self._sock = None
		self._ping_sent_at = None
		self.client_id = None
		self.poller = select.poll()
		if sock is not None:
			self._doomed.append(sock)
			self._wake()
		if error:
			self.last_error = error
			self.state = f"down: {error}"
		if cause is not None:
			self._on_flush(cause)

	def _wake(self) -> None:
		try:
			self._wake_w.send(b"x")
		except OSError:
			pass  # the wake-up pipe is full (the thread is already due to wake) or closed (shutting down)

	# ------------------------------------------------------------ the thread
	def _run(self) -> None:
		self._delay = self.reconnect_min
		while not self._stop.is_set():
			try:
				self._step()
			except Exception as exc:  # a fault here must not leave the tier vouching with nobody reading
				with self.lock:
					self._drop_locked(ERROR, f"tracking thread failed: {type(exc).__name__}: {exc}")
				self._stop.wait(self._delay)
				self._delay = min(self._delay * 2, self.reconnect_max)
		self._close_doomed()

	def _step(self) -> None:
		self._close_doomed()
		if self._sock is None:
			try:
				self._connect()
				self._delay = self.reconnect_min
			except (OSError, TrackingError, ProtocolError) as exc:
				self.last_error = f"{type(exc).__name__}: {exc}"
				self.state = f"down: {self.last_error}"
				self._stop.wait(self._delay)
				self._delay = min(self._delay * 2, self.reconnect_max)
				return
		sock = self._sock
		if sock is not None:
			timeout = self._timeout(time.monotonic())
			try:
				ready, _, _ = select.select([sock, self._wake_r], [], [], timeout)
			except (OSError, ValueError):  # the socket was closed under us: the loop reconnects
				ready = []
			if self._wake_r in ready:
				self._empty_wake()
			with self.lock:
				if self._sock is sock:
					self._drain_locked()
					self._heartbeat_locked(time.monotonic())
		self._tick()

	def _timeout(self, now: float) -> float:
		if self._ping_sent_at is not None:
			wait = self._ping_sent_at + self.slow_after - now
		elif now - self.last_use < self.idle_after:
			wait = self._last_ping + self.heartbeat - now
		else:
			wait = self.tick_seconds
		return max(0.0, min(wait, self.tick_seconds))

	def _tick(self) -> None:
		now = time.monotonic()
		if self._on_tick is None or now - self._last_tick < self.tick_seconds:
			return
		self._last_tick = now
		self._on_tick()

	def _connect(self) -> None:
		sock = self.address.connect()
		try:
			reader = Reader()
			setup = []
			if self.address.password is not None:
				auth = (
					(self.address.username, self.address.password)
					if self.address.username
					else (self.address.password,)
				)
				setup.append(command("AUTH", *auth))
			setup += [command("CLIENT", "SETNAME", self.name), command("CLIENT", "ID")]
			sock.sendall(b"".join(setup))
			replies = _read(sock, reader, len(setup))
			for reply in replies[:-1]:
				if reply != "OK":
					raise TrackingError(f"Redis refused the tracking connection's setup: {reply}")
			client_id = replies[-1]
			if not isinstance(client_id, int):
				raise TrackingError(f"CLIENT ID answered {client_id!r}")
			sock.sendall(
				command("CLIENT", "TRACKING", "on", "REDIRECT", client_id, "BCAST", "PREFIX", self.prefix)
				+ command("SUBSCRIBE", CHANNEL)
			)
			tracking, subscribed = _read(sock, reader, 2)
			if tracking != "OK":
				raise TrackingError(f"CLIENT TRACKING answered {tracking!r} (Redis 6 or later is needed)")
			if not (isinstance(subscribed, list) and subscribed[:2] == [b"subscribe", CHANNEL]):
				raise TrackingError(f"SUBSCRIBE answered {subscribed!r}")
			sock.setblocking(False)
		except BaseException:
			sock.close()
			raise
		poller = select.poll()
		poller.register(sock, select.POLLIN)
		with self.lock:
			self._on_flush(RESET)
			self._sock = sock
			self._reader = reader  # may already hold reports of changes made since tracking began
			self.client_id = client_id
			self._ping_sent_at = None
			self._last_ping = time.monotonic()
			self.confirmed_at = self._last_ping  # the store is empty: every later read is vouched from here
			self._up = True
			self.poller = poller
			self.connects += 1
			self.state = "tracking"
			self._drain_locked()

	def _close_doomed(self) -> None:
		with self.lock:
			doomed, self._doomed = self._doomed, []
		for sock in doomed:
			try:
				sock.close()
			except OSError:
				pass  # already closed: nothing left to release

	def _empty_wake(self) -> None:
		try:
			while self._wake_r.recv(4096):
				pass
		except (BlockingIOError, InterruptedError, OSError):
			return


def _read(sock: socket.socket, reader: Reader, count: int) -> list:
	"""``count`` replies, read with the socket's (blocking, timed) settings; errors are raised."""
	out: list = []
	replies = reader.replies()
	while len(out) < count:
		for reply in replies:
			if isinstance(reply, ReplyError):
				raise TrackingError(str(reply))
			out.append(reply)
			if len(out) == count:
				return out
		data = sock.recv(_RECV)
		if not data:
			raise ConnectionError("Redis closed the connection during the tracking setup")
		reader.feed(data)
		replies = reader.replies()
	return out
