"""The cache codec: exact round trips, no code execution on load, clear errors."""

import datetime
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verenigingen.performance.exceptions import UnencodableValueError
from verenigingen.performance.serialization import canonical_digest, decode, encode

scalars = (
	st.none()
	| st.booleans()
	| st.integers()
	| st.floats(allow_nan=False)
	| st.text()
	| st.decimals(allow_nan=False, allow_infinity=False)
	| st.dates()
	| st.datetimes()
	| st.datetimes(timezones=st.just(datetime.timezone(datetime.timedelta(hours=2))))
)
keys = st.none() | st.booleans() | st.integers() | st.text() | st.dates() | st.sampled_from(["$t", "v"])
values = st.recursive(
	scalars,
	lambda inner: (
		st.lists(inner, max_size=4)
		| st.lists(inner, max_size=3).map(tuple)
		| st.dictionaries(keys, inner, max_size=4)
	),
	max_leaves=20,
)


def same(a, b) -> bool:
	"""Equal, and of the same types all the way down (1 == True == 1.0 would hide a loss)."""
	if type(a) is not type(b):
		return False
	if isinstance(a, dict):
		return (
			list(a) == list(b)
			and all(same(a[k], b[k]) for k in a)
			and all(type(x) is type(y) for x, y in zip(a, b, strict=True))
		)
	if isinstance(a, list | tuple):
		return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
	if isinstance(a, Decimal):
		return a.as_tuple() == b.as_tuple()
	if isinstance(a, float) and math.isnan(a):
		return math.isnan(b)
	if isinstance(a, datetime.datetime):
		return a == b and a.utcoffset() == b.utcoffset()
	return a == b


@settings(max_examples=300, deadline=None)
@given(values)
def test_round_trip_is_exact(value):
	assert same(decode(encode(value)), value)


def test_special_values_round_trip():
	value = {
		"nan": float("nan"),
		"inf": float("-inf"),
		"neg0": -0.0,
		"dec": Decimal("1.50"),
		"dec_exp": Decimal("0E-9"),
		"big": 2**100,
		"tag_lookalike": {"$t": "dec", "v": "1"},
		1: "int key",
		(1, "a"): "tuple key",
	}
	got = decode(encode(value))
	assert same(got, value)
	assert str(got["neg0"]) == "-0.0" and str(got["dec"]) == "1.50"
	assert got["tag_lookalike"] == {"$t": "dec", "v": "1"}  # a plain dict, not a Decimal


def test_unsupported_types_raise_a_clear_error():
	with pytest.raises(UnencodableValueError, match=r"type set at \['rows'\]\[1\]"):
		encode({"rows": [1, {2}]})
	from zoneinfo import ZoneInfo

	with pytest.raises(UnencodableValueError, match="only fixed offsets"):
		encode(datetime.datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam")))


def test_loading_cannot_execute_code():
	import pickle

	class Boom:
		def __reduce__(self):
			return (print, ("executed",))

	with pytest.raises(ValueError):
		decode(pickle.dumps(Boom()))
	with pytest.raises(UnencodableValueError, match="unknown tag"):
		decode(b'{"$t":"os.system","v":"echo hi"}')


def test_canonical_digest_is_stable_and_order_free():
	assert canonical_digest({"a": 1, "b": 2}) == canonical_digest({"b": 2, "a": 1})
	assert canonical_digest({1: "x", "1": "y"}) == canonical_digest({"1": "y", 1: "x"})
	assert canonical_digest((1,)) != canonical_digest([1])
	assert canonical_digest(1) != canonical_digest(True) != canonical_digest("1")
	# the same in every process, whatever its hash seed (Python's hash() is not)
	import os
	import subprocess
	import sys

	code = (
		"from verenigingen.performance.serialization import canonical_digest as d; print(d({'m': ['M1', 2]}))"
	)
	outputs = {
		subprocess.run(
			[sys.executable, "-c", code],
			env={**os.environ, "PYTHONHASHSEED": seed},
			capture_output=True,
			text=True,
			check=True,
		).stdout.strip()
		for seed in ("1", "2")
	}
	assert outputs == {canonical_digest({"m": ["M1", 2]})}


simple = st.none() | st.booleans() | st.integers() | st.floats() | st.text()


@settings(max_examples=300, deadline=None)
@given(st.lists(simple, max_size=5).map(tuple) | st.dictionaries(st.text(), simple, max_size=5))
def test_fast_digest_path_equals_the_general_one(value):
	import hashlib
	import json

	from verenigingen.performance.serialization import _canonical, _fast_canonical_text, to_json

	general = json.dumps(_canonical(to_json(value)), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
	fast = _fast_canonical_text(value)
	assert fast is None or fast == general
	assert canonical_digest(value) == hashlib.sha256(general.encode("ascii")).hexdigest()
