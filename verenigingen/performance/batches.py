"""Batches of counter increments that Redis applies at most once, however often they are resent.

A process that buffers counts (the cache's statistics, the request samples of monitoring) sends
them in one pipelined round trip. When that round trip fails it cannot tell how much of it
Redis applied: a connection can drop after a script ran, or a reply can time out after the
work was done. Resending the batch would then count it twice. So every batch carries a token;
the script that applies it first adds the token to a set of applied tokens and does nothing if
it was there. A batch is resent with the token it was first sent with.

The sets of applied tokens are kept per minute of the tokens' creation and expire after
:data:`BATCH_MEMORY_SECONDS`; a batch older than that (less a margin) is not resent but
dropped, since Redis may have forgotten whether it was applied.
"""

import time
import uuid
from collections.abc import Callable

from .defaults import BATCH_MEMORY_SECONDS

RESEND_WITHIN = BATCH_MEMORY_SECONDS - 60  # a batch first sent longer ago than this is dropped, not resent

# KEYS: [hash, applied set]; ARGV: [token, applied ttl, (field, amount) ...]. Amounts with a '.'
# or an exponent are added with HINCRBYFLOAT, the others with HINCRBY. Returns 1 if applied.
HINCR_ONCE_LUA = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
for i = 3, #ARGV, 2 do
	local amount = ARGV[i + 1]
	if string.find(amount, '[%.eE]') then
		redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], amount)
	else
		redis.call('HINCRBY', KEYS[1], ARGV[i], amount)
	end
end
return 1
"""


def new_token(clock: Callable[[], float] = time.time) -> str:
	"""A batch token: the minute it was made in, then 32 random hex digits."""
	return f"{int(clock() // 60)}-{uuid.uuid4().hex}"


def token_minute(token: str) -> int:
	return int(token.split("-", 1)[0])


def resendable(token: str, clock: Callable[[], float] = time.time) -> bool:
	"""May a batch first sent with ``token`` still be resent (Redis still knows if it was applied)?"""
	return clock() - token_minute(token) * 60 < RESEND_WITHIN


def amount_text(amount: float) -> str:
	"""An amount as the script reads it: integers without a point, other numbers with one."""
	if float(amount).is_integer():
		return str(int(amount))
	return repr(float(amount))
