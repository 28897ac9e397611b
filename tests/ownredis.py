"""A redis-server of one test alone, on a free port, without persistence: it may be stopped
(SIGSTOP: connections are accepted, nothing is answered), killed or restarted without touching
the shared Redis other tests and helpers use. And a port where nothing listens."""

import os
import shutil
import signal
import socket
import subprocess
import time

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return s.getsockname()[1]


def closed_port() -> int:
	"""A port nothing listens on (bound and released: connecting is refused at once)."""
	return free_port()


def wait_until(condition, timeout=10.0, what="condition") -> None:
	"""Poll ``condition`` (a real state of a server or a connection) until it holds, at most ``timeout`` s."""
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		if condition():
			return
		time.sleep(0.02)
	raise AssertionError(f"timed out waiting for {what}")


class OwnRedis:
	def __init__(self):
		self.port = free_port()
		self.proc = None
		self.stopped = False

	@property
	def url(self) -> str:
		return f"redis://127.0.0.1:{self.port}/0"

	def start(self) -> "OwnRedis":
		self.proc = subprocess.Popen(
			[
				REDIS_SERVER,
				"--port",
				str(self.port),
				"--bind",
				"127.0.0.1",
				"--save",
				"",
				"--appendonly",
				"no",
			],
			stdout=subprocess.DEVNULL,
			stderr=subprocess.DEVNULL,
		)
		import redis

		probe = redis.Redis(port=self.port, socket_connect_timeout=0.2)
		deadline = time.monotonic() + 10
		while True:
			try:
				probe.ping()
				break
			except redis.ConnectionError:
				if time.monotonic() > deadline:
					raise AssertionError(f"redis-server did not start on port {self.port}") from None
				time.sleep(0.02)
		probe.close()
		return self

	def stop_answering(self) -> None:
		os.kill(self.proc.pid, signal.SIGSTOP)
		self.stopped = True

	def resume(self) -> None:
		if self.stopped:
			os.kill(self.proc.pid, signal.SIGCONT)
			self.stopped = False

	def client(self):
		"""A client that fails fast: no retries (redis-py 6+ retries 3 times with backoff by
		default, which the breaker then pays only for its first failures)."""
		import redis
		from redis.backoff import NoBackoff
		from redis.retry import Retry

		return redis.Redis(
			port=self.port, socket_timeout=0.3, socket_connect_timeout=0.3, retry=Retry(NoBackoff(), 0)
		)

	def kill(self) -> None:
		if self.proc is not None and self.proc.poll() is None:
			os.kill(self.proc.pid, signal.SIGCONT)  # whoever stopped it (a test may send SIGSTOP itself)
			self.stopped = False
			self.proc.kill()
			self.proc.wait(10)
