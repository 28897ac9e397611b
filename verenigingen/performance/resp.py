"""The little of RESP2 (the Redis protocol) the invalidation tracker speaks on its own socket.

The tracking connection is a raw socket rather than a redis-py connection so that a cache hit
can ask the kernel, in one ``poll``, whether an invalidation is waiting, with no parser buffer of
redis-py's in between, the same way on redis-py 4.5 and 7.x.

``command(*args)`` encodes a command; ``Reader`` turns bytes into replies as they arrive: simple
strings (``str``), errors (:class:`ReplyError`), integers, bulk strings (``bytes``, ``None`` for a
null) and arrays (``list``, ``None`` for a null), nested as Redis sends them.
"""


class ReplyError(str):
	"""An error reply (``-ERR ...``)."""


class ProtocolError(Exception):
	"""The bytes received are not RESP2."""


def command(*args) -> bytes:
	"""One command as a RESP2 array of bulk strings."""
	out = [b"*%d\r\n" % len(args)]
	for arg in args:
		if isinstance(arg, str):
			arg = arg.encode("utf-8")
		elif isinstance(arg, int | float):
			arg = repr(arg).encode("ascii")
		elif not isinstance(arg, bytes):
			raise TypeError(f"a command argument must be text, bytes or a number, got {type(arg).__name__}")
		out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
	return b"".join(out)


class _Incomplete(Exception):
	"""The buffer ends inside a reply: wait for more bytes."""


class Reader:
	"""Incremental reader: ``feed(data)``, then ``replies()`` yields every complete reply."""

	__slots__ = ("_buf", "_pos")

	def __init__(self):
		self._buf = bytearray()
		self._pos = 0

	def feed(self, data: bytes) -> None:
		self._buf += data

	@property
	def pending(self) -> int:
		"""Bytes received that are not yet part of a complete reply."""
		return len(self._buf) - self._pos

	def replies(self):
		while self._pos < len(self._buf):
			try:
				value, self._pos = self._parse(self._pos)
			except _Incomplete:
				break
			yield value
		if self._pos:
			del self._buf[: self._pos]
			self._pos = 0

	def _line(self, pos: int) -> tuple[bytes, int]:
		end = self._buf.find(b"\r\n", pos)
		if end < 0:
			raise _Incomplete
		return bytes(self._buf[pos:end]), end + 2

	def _parse(self, pos: int):
		kind = self._buf[pos]
		line, pos = self._line(pos + 1)
		if kind == 0x2B:  # +
			return line.decode("utf-8", "replace"), pos
		if kind == 0x2D:  # -
			return ReplyError(line.decode("utf-8", "replace")), pos
		try:
			number = int(line)
		except ValueError:
			raise ProtocolError(f"bad length or integer {line[:40]!r}") from None
		if kind == 0x3A:  # :
			return number, pos
		if kind == 0x24:  # $
			if number < 0:
				return None, pos
			end = pos + number
			if len(self._buf) < end + 2:
				raise _Incomplete
			if self._buf[end : end + 2] != b"\r\n":
				raise ProtocolError("bulk string not terminated by CRLF")
			return bytes(self._buf[pos:end]), end + 2
		if kind == 0x2A:  # *
			if number < 0:
				return None, pos
			items = []
			for _ in range(number):
				if pos >= len(self._buf):
					raise _Incomplete
				item, pos = self._parse(pos)
				items.append(item)
			return items, pos
		raise ProtocolError(f"unknown RESP2 type byte {bytes([kind])!r}")
