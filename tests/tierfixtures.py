"""A second process for the two-process property test: a cache with an in-process tier on the
same Redis and namespace as the test's, driven over a pipe (spawned processes import this module
by its dotted path, as RQ workers import jobfixtures)."""

import time

from verenigingen.performance.cache import Scope, SecurityAwareCache
from verenigingen.performance.context import SecurityContext
from verenigingen.performance.local_tier import LocalTier


def serve(conn, redis_kwargs: dict) -> None:
	"""Requests, each answered on the pipe:

	* ``("site", namespace, derived)``: a fresh cache and tier on ``namespace``; ``"ready"`` once
	  the tier vouches for what it holds;
	* ``("call", fn, user, roles, arg, scope, depends_on, versions)``: get_or_compute whose compute
	  returns who it was computed for and ``versions`` (the model's, sent with the request);
	  answers ``(value, started, computed)``;
	* ``("invalidate", method, args, kwargs)``: answers the monotonic time the call returned;
	* ``("stats",)``: the cache's totals and, under ``tier``, the tier's own figures; ``("stop",)``.
	"""
	import redis

	client = redis.Redis(**redis_kwargs)
	cache = tier = None
	try:
		while True:
			msg = conn.recv()
			kind = msg[0]
			if kind == "stop":
				return
			if kind == "site":
				if tier is not None:
					tier.close()
				tier = LocalTier()
				cache = SecurityAwareCache(client, msg[1], derived_dependencies=msg[2], local=tier)
				tier.start()
				deadline = time.monotonic() + 10
				while not tier.ready() and time.monotonic() < deadline:
					time.sleep(0.005)
				conn.send("ready" if tier.ready() else "not ready")
			elif kind == "call":
				_kind, fn, user, roles, arg, scope, depends_on, versions = msg
				ctx = SecurityContext(user, roles)
				computed = []

				def compute(ctx=ctx, fn=fn, arg=arg, versions=versions, computed=computed):
					computed.append(1)
					return {
						"fn": fn,
						"arg": arg,
						"user": ctx.user,
						"roles": sorted(ctx.roles),
						"read": versions,
					}

				started = time.monotonic()
				value = cache.get_or_compute(
					fn,
					(arg,),
					compute,
					ctx=ctx,
					level="MEMBER_DATA",
					scope=Scope[scope],
					depends_on=depends_on,
				)
				conn.send((value, started, bool(computed)))
			elif kind == "invalidate":
				_kind, method, args, kwargs = msg
				getattr(cache, method)(*args, **kwargs)
				conn.send(time.monotonic())
			elif kind == "stats":
				conn.send({**cache.stats()["totals"], "tier": tier.process_stats()})
	finally:
		if tier is not None:
			tier.close()
		client.close()
