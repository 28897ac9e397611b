"""The tracker's RESP2 reader and command encoder, byte by byte."""

import pytest

from verenigingen.performance.resp import ProtocolError, Reader, ReplyError, command

MESSAGE = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n$3\r\nk:1\r\n$3\r\nk:2\r\n"


def test_command_is_an_array_of_bulk_strings():
	assert command("PING", b"x", 12) == b"*3\r\n$4\r\nPING\r\n$1\r\nx\r\n$2\r\n12\r\n"
	assert command("SETNAME", "é") == b"*2\r\n$7\r\nSETNAME\r\n$2\r\n\xc3\xa9\r\n"
	with pytest.raises(TypeError):
		command("PING", None)


def test_every_reply_type_and_nesting():
	reader = Reader()
	reader.feed(b"+OK\r\n-ERR no\r\n:42\r\n$-1\r\n*-1\r\n$0\r\n\r\n" + MESSAGE)
	replies = list(reader.replies())
	assert replies[:6] == ["OK", "ERR no", 42, None, None, b""]
	assert isinstance(replies[1], ReplyError)
	assert replies[6] == [b"message", b"__redis__:invalidate", [b"k:1", b"k:2"]]
	assert reader.pending == 0


def test_replies_split_anywhere_come_out_whole_and_once():
	stream = b"+OK\r\n" + MESSAGE + b"*2\r\n$4\r\npong\r\n$3\r\n1.5\r\n"
	for cut in range(1, len(stream)):
		reader = Reader()
		reader.feed(stream[:cut])
		got = list(reader.replies())
		reader.feed(stream[cut:])
		got += list(reader.replies())
		assert got == ["OK", [b"message", b"__redis__:invalidate", [b"k:1", b"k:2"]], [b"pong", b"1.5"]], cut
		assert reader.pending == 0


def test_a_bulk_string_may_hold_crlf():
	reader = Reader()
	reader.feed(b"$4\r\na\r\nb\r\n")
	assert list(reader.replies()) == [b"a\r\nb"]


@pytest.mark.parametrize("junk", [b"?what\r\n", b"$x\r\n", b"$3\r\nabcde\r\n"])
def test_bytes_that_are_not_resp2_raise(junk):
	reader = Reader()
	reader.feed(junk)
	with pytest.raises(ProtocolError):
		list(reader.replies())
