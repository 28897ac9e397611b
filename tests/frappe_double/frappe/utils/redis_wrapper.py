"""frappe.utils.redis_wrapper: ``frappe.cache`` as Frappe v15 builds it.

``RedisWrapper`` is a redis-py client. The methods it overrides prefix the key with
``"{db_name}|"`` (``make_key``) and most of them pickle the value and keep a copy in the
request-local cache (``frappe.local.cache``); the methods it inherits (``get``, ``set``,
``incr``, ``eval``, ``pipeline`` ...) do neither. Mixing the two on one key reads nothing.
"""

import pickle

import redis

import frappe


class RedisWrapper(redis.Redis):
	def __call__(self):
		"""Old code calls ``frappe.cache()``; v15 returns the client itself."""
		return self

	def connected(self) -> bool:
		try:
			self.ping()
			return True
		except redis.exceptions.ConnectionError:
			return False

	def make_key(self, key, user=None, shared=False):
		if shared:
			return key
		if user:
			if user is True:
				user = frappe.session.user
			key = f"user:{user}:{key}"
		return f"{frappe.conf.db_name}|{key}".encode()

	# ---------------------------------------------------------------- values (pickled)

	def set_value(self, key, val, user=None, expires_in_sec=None, shared=False):
		key = self.make_key(key, user, shared)
		if not expires_in_sec:
			_local_cache()[key] = val
		if expires_in_sec:
			self.setex(name=key, time=expires_in_sec, value=pickle.dumps(val))
		else:
			self.set(key, pickle.dumps(val))

	def get_value(self, key, generator=None, user=None, expires=False, shared=False):
		original = key
		key = self.make_key(key, user, shared)
		local = _local_cache()
		if key in local:
			return local[key]
		raw = self.get(key)
		value = pickle.loads(raw) if raw is not None else None
		if not expires:
			if value is None and generator:
				value = generator()
				self.set_value(original, value, user=user)
			else:
				local[key] = value
		return value

	def get_keys(self, key):
		"""Keys starting with ``key`` (Frappe uses KEYS here)."""
		return self.keys(self.make_key(key + "*"))

	def delete_keys(self, key):
		self.delete_value(self.get_keys(key), make_keys=False)

	def delete_key(self, *args, **kwargs):
		self.delete_value(*args, **kwargs)

	def delete_value(self, keys, user=None, make_keys=True, shared=False):
		if not keys:
			return
		if not isinstance(keys, list | tuple):
			keys = (keys,)
		if make_keys:
			keys = [self.make_key(k, shared=shared, user=user) for k in keys]
		local = _local_cache()
		for key in keys:
			local.pop(key, None)
		self.delete(*keys)

	def exists(self, *names, user=None, shared=None):
		return super().exists(*[self.make_key(n, user=user, shared=shared) for n in names])

	# ---------------------------------------------------------------- lists (prefixed, not pickled)

	def lpush(self, key, value):
		return super().lpush(self.make_key(key), value)

	def rpush(self, key, value):
		return super().rpush(self.make_key(key), value)

	def lpop(self, key):
		return super().lpop(self.make_key(key))

	def rpop(self, key):
		return super().rpop(self.make_key(key))

	def llen(self, key):
		return super().llen(self.make_key(key))

	def lrange(self, key, start, stop):
		return super().lrange(self.make_key(key), start, stop)

	def ltrim(self, key, start, stop):
		return super().ltrim(self.make_key(key), start, stop)

	# ---------------------------------------------------------------- hashes (prefixed, pickled)

	def hset(self, name, key, value, shared=False, *args, **kwargs):
		if key is None:
			return
		_name = self.make_key(name, shared=shared)
		_local_cache().setdefault(_name, {})[key] = value
		super().hset(_name, key, pickle.dumps(value), *args, **kwargs)

	def hexists(self, name, key, shared=False):
		if key is None:
			return False
		return super().hexists(self.make_key(name, shared=shared), key)

	def hgetall(self, name):
		value = super().hgetall(self.make_key(name))
		return {k: pickle.loads(v) for k, v in value.items()}

	def hget(self, name, key, generator=None, shared=False):
		_name = self.make_key(name, shared=shared)
		local = _local_cache().setdefault(_name, {})
		if not key:
			return None
		if key in local:
			return local[key]
		raw = super().hget(_name, key)
		if raw is not None:
			value = pickle.loads(raw)
			local[key] = value
			return value
		if generator:
			value = generator()
			self.hset(name, key, value, shared=shared)
			return value
		return None

	def hdel(self, name, key, shared=False):
		_name = self.make_key(name, shared=shared)
		local = _local_cache()
		if _name in local:
			local[_name].pop(key, None)
		super().hdel(_name, key)

	def hkeys(self, name):
		return super().hkeys(self.make_key(name))

	# ---------------------------------------------------------------- sets (prefixed, not pickled)

	def sadd(self, name, *values):
		super().sadd(self.make_key(name), *values)

	def srem(self, name, *values):
		super().srem(self.make_key(name), *values)

	def sismember(self, name, value):
		return super().sismember(self.make_key(name), value)

	def smembers(self, name):
		return super().smembers(self.make_key(name))


def _local_cache() -> dict:
	"""frappe.local.cache: the request's copy of values read or written through the wrapper."""
	cache = getattr(frappe.local, "cache", None)
	if cache is None:
		cache = frappe.local.cache = {}
	return cache
