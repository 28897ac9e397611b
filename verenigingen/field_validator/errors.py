"""Exceptions of the field validator, one line each."""


class ValidatorUsageError(Exception):
	"""The validator was called wrongly: a missing folder, an unreadable DocType or baseline file."""
