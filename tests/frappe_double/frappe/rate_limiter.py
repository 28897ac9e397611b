"""frappe.rate_limiter.rate_limit (v15): a no-op outside an HTTP request; inside one, the calls per
identity (the request's IP address, and/or a form value named by ``key``) are counted in
``frappe.cache`` under ``make_key("rl:{cmd}:{identity}")`` for ``seconds``, and the call past
``limit`` raises RateLimitExceededError."""

import functools

import frappe


def rate_limit(key=None, limit=5, seconds=86400, methods="ALL", ip_based=True):
	def ratelimit_decorator(fn):
		@functools.wraps(fn)
		def wrapper(*args, **kwargs):
			request = frappe.request
			if not request or (
				methods != "ALL"
				and getattr(request, "method", None)
				and request.method.upper() not in methods
			):
				return fn(*args, **kwargs)
			_limit = limit() if callable(limit) else limit
			ip = frappe.local.request_ip if ip_based is True else None
			form_dict = frappe.form_dict or frappe._dict()
			user_key = form_dict.get(key, "")
			identity = ":".join([ip, user_key]) if key and ip_based else None
			identity = identity or ip or user_key
			if not identity:
				frappe.throw(frappe._("Either key or IP flag is required."))
			cache_key = frappe.cache.make_key(f"rl:{form_dict.cmd}:{identity}")
			if not (frappe.cache.get(cache_key) or 0):
				frappe.cache.setex(cache_key, seconds, 0)
			if frappe.cache.incrby(cache_key, 1) > _limit:
				frappe.throw(
					frappe._(
						"You hit the rate limit because of too many requests. Please try after sometime."
					),
					frappe.RateLimitExceededError,
				)
			return fn(*args, **kwargs)

		return wrapper

	return ratelimit_decorator
