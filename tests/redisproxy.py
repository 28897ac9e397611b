"""A TCP proxy in front of a Redis that can lose one reply: the request reaches Redis and is
carried out, but the client's connection is closed instead of the answer being passed on. What
a client then sees is a failed call whose work was done (the case a retry must not repeat)."""

import socket
import threading

from .ownredis import free_port


class ReplyLosingProxy:
	def __init__(self, target_host: str, target_port: int):
		self.target = (target_host, target_port)
		self.port = free_port()
		self._listener = socket.create_server(("127.0.0.1", self.port))
		self._armed: bytes | None = None
		self.lost_replies = 0
		self._lock = threading.Lock()
		self._closing = False
		self._sockets: list[socket.socket] = []
		threading.Thread(target=self._accept, daemon=True).start()

	def lose_reply_to(self, marker: bytes) -> None:
		"""Lose the reply to the next request whose bytes contain ``marker``."""
		with self._lock:
			self._armed = marker

	def close(self) -> None:
		self._closing = True
		self._listener.close()
		for s in self._sockets:
			try:
				s.close()
			except OSError:
				pass

	def _accept(self) -> None:
		while not self._closing:
			try:
				client, _ = self._listener.accept()
			except OSError:
				return
			server = socket.create_connection(self.target)
			self._sockets += [client, server]
			state = {"lose_next_reply": False}
			threading.Thread(target=self._upstream, args=(client, server, state), daemon=True).start()
			threading.Thread(target=self._downstream, args=(server, client, state), daemon=True).start()

	def _upstream(self, client, server, state) -> None:
		try:
			while data := client.recv(65536):
				with self._lock:
					if self._armed is not None and self._armed in data:
						self._armed = None
						state["lose_next_reply"] = True
				server.sendall(data)
		except OSError:
			pass
		finally:
			_close(server)

	def _downstream(self, server, client, state) -> None:
		try:
			while data := server.recv(65536):
				if state["lose_next_reply"]:
					self.lost_replies += 1
					break  # the request was carried out; its answer never arrives
				client.sendall(data)
		except OSError:
			pass
		finally:
			_close(client)
			_close(server)


def _close(sock) -> None:
	try:
		sock.shutdown(socket.SHUT_RDWR)
	except OSError:
		pass
	try:
		sock.close()
	except OSError:
		pass
