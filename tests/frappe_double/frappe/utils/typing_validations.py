"""frappe.utils.typing_validations: check the arguments of a whitelisted call against the function's
type annotations before it runs, as Frappe v15 does (pydantic's TypeAdapter, lax mode, so "5" may
become 5; a failure raises FrappeTypeError naming the argument, the expected and the given type).

Annotations that are strings or forward references are skipped, as in Frappe; ``bool`` accepts
int and float too; a parameter's default value's type is always accepted.
"""

import functools
import inspect
import typing
from collections.abc import Callable

import frappe

_SLACK = {bool: (int, bool, float)}


def validate_argument_types(func: Callable, apply_condition: Callable | None = None):
	@functools.wraps(func)
	def wrapper(*args, **kwargs):
		if apply_condition is None or apply_condition():
			args, kwargs = transform_parameter_types(func, args, kwargs)
		return func(*args, **kwargs)

	return wrapper


def _type_name(value) -> str:
	kind = value if inspect.isclass(value) else type(value)
	if kind.__module__ in ("typing", "types"):
		return str(value)
	return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _adapter(annotation):
	from pydantic import ConfigDict, TypeAdapter

	try:
		return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
	except Exception:  # pydantic refuses a config for some types (BaseModel, TypedDict): use its own
		return TypeAdapter(annotation)


def transform_parameter_types(func: Callable, args: tuple, kwargs: dict):
	from pydantic import ValidationError as PydanticValidationError

	annotations = {k: v for k, v in getattr(func, "__annotations__", {}).items() if k != "return"}
	if not (args or kwargs) or not annotations:
		return args, kwargs
	signature = inspect.signature(func)
	bound = signature.bind_partial(*args, **kwargs)
	for name, expected in annotations.items():
		if name not in bound.arguments:
			continue
		value = bound.arguments[name]
		if isinstance(expected, str | typing.ForwardRef) or any(
			isinstance(a, str | typing.ForwardRef) for a in getattr(expected, "__args__", ())
		):
			continue
		accepted = _SLACK.get(expected, expected)
		param = signature.parameters.get(name)
		if isinstance(accepted, tuple):
			if param is not None and param.default is not inspect.Parameter.empty:
				accepted = (*accepted, type(param.default))
			accepted = typing.Union[accepted]  # noqa: UP007
		elif param is not None and param.default is not inspect.Parameter.empty and param.default != accepted:
			accepted = typing.Union[accepted, type(param.default)]  # noqa: UP007
		try:
			converted = _adapter(accepted).validate_python(value)
		except (TypeError, PydanticValidationError) as exc:
			raise frappe.FrappeTypeError(
				f"Argument '{name}' in '{func.__module__}.{func.__qualname__}' should be of type "
				f"'{_type_name(expected)}' but got '{_type_name(value)}' instead."
			) from exc
		bound.arguments[name] = converted
	return bound.args, bound.kwargs
