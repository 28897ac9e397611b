"""frappe.rate_limiter: ``rate_limit`` is a no-op outside an HTTP request, as in Frappe v15."""

import functools


def rate_limit(key=None, limit=5, seconds=86400, methods="ALL", ip_based=True):
	def ratelimit_decorator(fn):
		@functools.wraps(fn)
		def wrapper(*args, **kwargs):
			return fn(*args, **kwargs)

		return wrapper

	return ratelimit_decorator
