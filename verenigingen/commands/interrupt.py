"""Ctrl-C during index DDL that leaves the tables and the change log in agreement.

A KeyboardInterrupt raised while PyMySQL waits for the server's answer would leave the
connection out of step and the statement running on: an ALTER TABLE goes on to add its index
after the command gave up, and nothing records it. Instead, while :class:`StopOnInterrupt` is
active, the first Ctrl-C stops the statement the site's connection is running from a second
connection (``KILL QUERY``; MariaDB undoes an online ALTER it stops), so the statement fails
with MariaDB's error 1317 on a connection still in step and the index manager's own failure path
records it and drops what this run added. Between two statements, :meth:`check` (called at each
progress step) raises KeyboardInterrupt, which takes the same path. A second Ctrl-C aborts at once.
"""

import signal
import threading

import click

from .base import error_text


class StopOnInterrupt:
	def __init__(self, db):
		self.db = db  # a handle with ``connection`` (PyMySQL) and ``clone()``, as the bridge's
		self.requested = False  # Ctrl-C was pressed
		self.aborted = False  # ... twice: the run stopped without cleaning up
		self._previous = None

	def __enter__(self) -> "StopOnInterrupt":
		if threading.current_thread() is threading.main_thread():
			self._previous = signal.signal(signal.SIGINT, self._handle)
		return self

	def __exit__(self, *exc) -> None:
		if self._previous is not None:
			signal.signal(signal.SIGINT, self._previous)
			self._previous = None

	def check(self) -> None:
		"""Raise KeyboardInterrupt if Ctrl-C was pressed (at a point between two statements)."""
		if self.requested:
			raise KeyboardInterrupt

	def _handle(self, signum, frame) -> None:
		if self.requested:  # the second Ctrl-C: no more waiting
			self.aborted = True
			self.__exit__()
			raise KeyboardInterrupt
		self.requested = True
		click.echo(
			"\ninterrupted: stopping the running statement and undoing this run's changes "
			"(Ctrl-C again to abort without that)",
			err=True,
		)
		self._stop_running_statement()

	def _stop_running_statement(self) -> None:
		# Runs in the main thread while it waits for the server: it must not raise into PyMySQL.
		try:
			thread_id = self.db.connection.thread_id()
			killer = self.db.clone(autocommit=True)
			try:
				killer.sql("KILL QUERY %s", (int(thread_id),))
			finally:
				killer.close()
		except Exception as exc:  # reported: the statement then runs to its end, and the run stops after it
			click.echo(
				f"could not stop the running statement ({error_text(exc)}); stopping after it", err=True
			)
