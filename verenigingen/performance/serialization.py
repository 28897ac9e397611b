"""A safe codec for cached values: JSON with a few tagged types, never pickle.

Loading a payload can only ever build plain data, so a value planted in Redis cannot
execute code. ``encode`` and ``decode`` round trip exactly:

* ``None``, ``bool``, ``int``, ``float`` (including ``nan``, ``inf`` and ``-0.0``), ``str``;
* ``list`` and ``tuple`` (a tuple comes back as a tuple);
* ``dict`` with any keys of these types (subclasses such as ``frappe._dict`` come back as
  ``dict``);
* ``Decimal`` (with its exponent: ``Decimal("1.50")`` stays ``1.50``), ``date`` and
  ``datetime`` (naive, or with a fixed UTC offset).

Anything else raises :class:`UnencodableValueError`, naming the type and where it sits.
Tagged values are one-key dicts ``{"$t": tag, "v": value}``; a plain dict that happens to
hold the key ``"$t"``, or has non-text keys, is itself tagged, so no input can pose as a
tag. ``canonical_digest`` gives the SHA-256 of a canonical encoding (sorted keys), equal
for equal values in every process.
"""

import datetime
import hashlib
import json
from decimal import Decimal

from .exceptions import UnencodableValueError

TAG = "$t"
_DECODERS = {
	"dec": Decimal,
	"date": datetime.date.fromisoformat,
	"dt": datetime.datetime.fromisoformat,
	"tup": tuple,
	"map": lambda pairs: {_hashable(k): v for k, v in pairs},
}


def _hashable(key):
	return tuple(key) if isinstance(key, list) else key


def _to_json(value, path: str):
	"""The JSON-ready form of ``value``: tagged where plain JSON would lose information."""
	if value is None or isinstance(value, bool | str):
		return value
	if isinstance(value, int | float):
		return value
	if isinstance(value, dict):
		if all(type(k) is str for k in value) and TAG not in value:
			return {k: _to_json(v, f"{path}[{k!r}]") for k, v in value.items()}
		return {
			TAG: "map",
			"v": [[_to_json(k, f"{path}<key>"), _to_json(v, f"{path}[{k!r}]")] for k, v in value.items()],
		}
	if isinstance(value, list):
		return [_to_json(v, f"{path}[{i}]") for i, v in enumerate(value)]
	if isinstance(value, tuple):
		return {TAG: "tup", "v": [_to_json(v, f"{path}[{i}]") for i, v in enumerate(value)]}
	if isinstance(value, Decimal):
		return {TAG: "dec", "v": str(value)}
	if isinstance(value, datetime.datetime):
		tz = value.tzinfo
		if tz is not None and not isinstance(tz, datetime.timezone):
			raise UnencodableValueError(
				f"datetime at {path or 'top level'} has tzinfo {tz!r}; only fixed offsets round trip"
			)
		return {TAG: "dt", "v": value.isoformat()}
	if isinstance(value, datetime.date):
		return {TAG: "date", "v": value.isoformat()}
	raise UnencodableValueError(
		f"cannot encode a value of type {type(value).__name__} at {path or 'top level'}: "
		"only dict, list, tuple, str, int, float, bool, None, Decimal, date and datetime are cached"
	)


def _object_hook(obj: dict):
	tag = obj.get(TAG)
	if tag is None or len(obj) != 2:
		return obj
	decoder = _DECODERS.get(tag)
	if decoder is None:
		raise UnencodableValueError(f"unknown tag {tag!r} in a cached payload")
	return decoder(obj["v"])


def to_json(value) -> object:
	"""The JSON-ready form of ``value`` (raises UnencodableValueError)."""
	return _to_json(value, "")


def encode(value) -> bytes:
	"""Encode ``value`` to bytes; raise UnencodableValueError for anything the codec cannot restore."""
	return json.dumps(_to_json(value, ""), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_DECODER = json.JSONDecoder(object_hook=_object_hook)  # built once: a hit decodes with it
_FLAT_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
_SORTED_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def decode(payload: bytes | str):
	"""Decode what :func:`encode` produced (or JSON text holding :func:`to_json` output)."""
	return _DECODER.decode(payload.decode("utf-8") if isinstance(payload, bytes | bytearray) else payload)


def _canonical(obj):
	"""Sort the pairs of tagged maps too, so equal dicts give equal text whatever their order."""
	if isinstance(obj, list):
		return [_canonical(v) for v in obj]
	if isinstance(obj, dict):
		if obj.get(TAG) == "map" and len(obj) == 2:
			pairs = [[_canonical(k), _canonical(v)] for k, v in obj["v"]]
			pairs.sort(key=lambda kv: json.dumps(kv[0], sort_keys=True))
			return {TAG: "map", "v": pairs}
		return {k: _canonical(v) for k, v in obj.items()}
	return obj


_SIMPLE = (str, int, float, bool, type(None))


def _fast_canonical_text(value) -> str | None:
	"""The canonical text of the common argument shapes (a tuple, or a dict with text keys, of
	plain scalars) without the general walk; None for anything else. Equal to what the general
	path produces for the same value."""
	kind = type(value)
	if kind is tuple:
		if all(type(v) in _SIMPLE for v in value):
			return '{"$t":"tup","v":' + _FLAT_ENCODER.encode(value) + "}"
	elif kind is dict:
		if TAG not in value and all(type(k) is str and type(v) in _SIMPLE for k, v in value.items()):
			return _SORTED_ENCODER.encode(value)
	return None


def canonical_digest(value) -> str:
	"""SHA-256 (hex) of a canonical encoding of ``value``: stable across processes and dict order."""
	text = _fast_canonical_text(value)
	if text is not None:
		return hashlib.sha256(text.encode("ascii")).hexdigest()
	text = json.dumps(
		_canonical(_to_json(value, "")), sort_keys=True, separators=(",", ":"), ensure_ascii=True
	)
	return hashlib.sha256(text.encode("ascii")).hexdigest()
