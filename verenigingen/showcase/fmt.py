"""How the main job writes figures: measured values to 3 significant digits, counts exactly."""

import math


def sig(value: float | None, digits: int = 3, *, missing: str = "-") -> str:
	"""``value`` to ``digits`` significant digits, without exponent: 0.000123, 4.57, 417, 12,300."""
	if value is None or (isinstance(value, float) and math.isnan(value)):
		return missing
	if value == 0:
		return "0"
	rounded = float(f"{value:.{digits}g}")
	magnitude = math.floor(math.log10(abs(rounded)))
	decimals = max(0, digits - 1 - magnitude)
	return f"{rounded:,.{decimals}f}"


def count(value: int | None, *, missing: str = "-") -> str:
	"""An exact count with thousands separators."""
	return missing if value is None else f"{value:,}"


def seconds(value: float | None) -> str:
	"""A duration in seconds, 3 significant digits."""
	return "-" if value is None else f"{sig(value)} s"
