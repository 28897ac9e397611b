"""frappe.utils: the few helpers the shell uses."""

import datetime

from frappe._double import CallbackManager  # noqa: F401 - re-exported as Frappe does


def now_datetime() -> datetime.datetime:
	return datetime.datetime.now()


def cint(value, default=0) -> int:
	try:
		return int(float(value))
	except (TypeError, ValueError):
		return default


def flt(value, precision=None) -> float:
	try:
		number = float(value)
	except (TypeError, ValueError):
		return 0.0
	return round(number, precision) if precision is not None else number
