"""A pool of real RQ worker processes for standalone use (the benchmark and the showcase).

Each worker is ``rq.SimpleWorker`` (no fork per job) in its own Python process, listening on the
given queues in order. Inside a bench, bench's own workers do this job.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[3]


class WorkerPool:
	def __init__(self, queues: list[str], host: str = "127.0.0.1", port: int = 6379):
		self.queues = list(queues)
		self.host, self.port = host, int(port)
		self.procs: list[subprocess.Popen] = []

	def start(self, n: int = 1) -> list[subprocess.Popen]:
		env = dict(os.environ, PYTHONPATH=str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
		cmd = [sys.executable, "-m", __name__, self.host, str(self.port), ",".join(self.queues)]
		started = [
			subprocess.Popen(cmd, cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
			for _ in range(n)
		]
		self.procs += started
		return started

	def wait_until_ready(self, redis, n: int, timeout: float = 60.0) -> None:
		"""Return once ``n`` workers listen on the first queue (TimeoutError after ``timeout`` s)."""
		from rq import Queue, Worker

		queue = Queue(self.queues[0], connection=redis)
		deadline = time.monotonic() + timeout
		while Worker.count(connection=redis, queue=queue) < n:
			if time.monotonic() > deadline:
				raise TimeoutError(
					f"fewer than {n} RQ workers came up on {self.queues[0]!r} in {timeout:g} s"
				)
			time.sleep(0.05)

	def stop(self, grace: float = 5.0) -> None:
		"""SIGTERM (RQ's warm shutdown: finish the current job), then SIGKILL after ``grace`` seconds."""
		for proc in self.procs:
			if proc.poll() is None:
				proc.send_signal(signal.SIGTERM)
		deadline = time.monotonic() + grace
		for proc in self.procs:
			try:
				proc.wait(timeout=max(0.1, deadline - time.monotonic()))
			except subprocess.TimeoutExpired:
				proc.kill()
				proc.wait(timeout=5)
		self.procs.clear()

	def __enter__(self):
		return self

	def __exit__(self, *exc) -> None:
		self.stop()


def _work(host: str, port: int, queues: str) -> None:
	import redis
	from rq import SimpleWorker

	worker = SimpleWorker(queues.split(","), connection=redis.Redis(host=host, port=port))
	worker.work(logging_level="WARNING", with_scheduler=False)


if __name__ == "__main__":
	_work(sys.argv[1], int(sys.argv[2]), sys.argv[3])
