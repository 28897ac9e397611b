"""frappe.utils.typing_validations: check the arguments of a whitelisted call against the function's
type annotations before it runs, as Frappe v15 does: pydantic's TypeAdapter in lax mode (so "5"
may become 5); a failure raises FrappeTypeError naming the argument, the expected and the given type.

As in Frappe: string and forward-reference annotations are skipped; ``bool`` also accepts int and
float; a parameter's default value's type is always accepted; and the names of positional
arguments come from the registered function's own code object, so a decorator's
``(*args, **kwargs)`` wrapper leaves positional arguments unchecked (keyword ones are checked).
"""

import functools
import inspect
import typing
from collections.abc import Callable
from types import EllipsisType

import frappe

SLACK_DICT = {bool: (int, bool, float)}


def validate_argument_types(func: Callable, apply_condition: Callable = lambda: True):
	@functools.wraps(func)
	def wrapper(*args, **kwargs):
		if apply_condition():
			args, kwargs = transform_parameter_types(func, args, kwargs)
		return func(*args, **kwargs)

	return wrapper


def qualified_name(obj) -> str:
	kind = obj if inspect.isclass(obj) else type(obj)
	if kind.__module__ in ("typing", "types"):
		return obj
	if kind.__module__ == "builtins":
		return kind.__qualname__
	return f"{kind.__module__}.{kind.__qualname__}"


def _raise(name, expected, value, cause=None):
	raise frappe.FrappeTypeError(
		f"Argument '{name}' should be of type '{qualified_name(expected)}' but got "
		f"'{qualified_name(value)}' instead."
	) from cause


@functools.lru_cache(maxsize=2048)
def _adapter(annotation):
	from pydantic import ConfigDict, TypeAdapter

	return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))


def transform_parameter_types(func: Callable, args: tuple, kwargs: dict):
	from pydantic import ValidationError as PydanticValidationError

	if not (args or kwargs) or not func.__annotations__:
		return args, kwargs
	new_args, new_kwargs = list(args), kwargs
	names = func.__code__.co_varnames[: func.__code__.co_argcount]
	if not args:
		given = kwargs
	elif kwargs:
		given = dict(zip(names, args or func.__defaults__ or [], strict=False))
		given.update(kwargs)
	else:
		given = dict(zip(names, args, strict=False))
	params = dict(inspect.signature(func).parameters)
	for name, expected in func.__annotations__.items():
		if name not in given:
			continue
		value = given[name]
		if isinstance(expected, typing.ForwardRef | str) or any(
			isinstance(a, typing.ForwardRef | str) for a in getattr(expected, "__args__", [])
		):
			continue
		expected = SLACK_DICT.get(expected, expected)
		param = params.get(name)
		if param is not None and param.default is not inspect.Parameter.empty:
			if isinstance(expected, tuple):
				if type(param.default) not in expected:
					expected += (type(param.default),)
				expected = typing.Union[expected]  # noqa: UP007
			elif param.default != expected:
				expected = typing.Union[expected, type(param.default)]  # noqa: UP007
		elif isinstance(expected, tuple):
			expected = typing.Union[expected]  # noqa: UP007
		try:
			converted = _adapter(expected).validate_python(value)
		except (TypeError, PydanticValidationError) as exc:
			_raise(name, expected, value, exc)
		if isinstance(converted, EllipsisType):
			_raise(name, expected, value)
		if name in kwargs:
			new_kwargs[name] = converted
		else:
			new_args[names.index(name)] = converted
	return new_args, new_kwargs
