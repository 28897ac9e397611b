"""SEPA helpers that need no framework: IBAN normalisation and the ISO 13616 mod-97 check."""

import re

# Lengths of the IBANs of SEPA countries (ISO 13616 registry).
IBAN_LENGTHS = {
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
	"ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
	"IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
	"PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}  # fmt: skip

_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$")


class InvalidIBAN(ValueError):
	"""The IBAN is malformed or fails its check digits; the message says which."""


def normalize_iban(iban: str) -> str:
	"""Upper-case the IBAN and drop the spaces people write it with."""
	if not isinstance(iban, str):
		raise InvalidIBAN(f"IBAN must be text, got {type(iban).__name__}")
	return re.sub(r"\s+", "", iban).upper()


def iban_checksum(iban: str) -> int:
	"""The ISO 7064 mod-97 remainder of an IBAN; 1 for a valid one."""
	rearranged = iban[4:] + iban[:4]
	digits = "".join(str(int(ch, 36)) for ch in rearranged)
	return int(digits) % 97


def validate_iban(iban: str) -> str:
	"""Return the normalised IBAN, or raise InvalidIBAN naming what is wrong."""
	value = normalize_iban(iban)
	if not value:
		raise InvalidIBAN("IBAN is empty")
	if not _IBAN_SHAPE.match(value):
		raise InvalidIBAN(
			f"IBAN {value!r} is malformed: expected two letters, two check digits and up to 30 letters or digits"
		)
	country = value[:2]
	expected = IBAN_LENGTHS.get(country)
	if expected is None:
		raise InvalidIBAN(f"IBAN {value!r} has country code {country!r}, which is not a SEPA country")
	if len(value) != expected:
		raise InvalidIBAN(f"IBAN {value!r} has {len(value)} characters; {country} IBANs have {expected}")
	if iban_checksum(value) != 1:
		raise InvalidIBAN(f"IBAN {value!r} fails the mod-97 check: its check digits do not match")
	return value


def make_iban(country: str, bban: str) -> str:
	"""Build a valid IBAN for a country and basic bank account number (check digits computed)."""
	country = country.upper()
	provisional = bban + country + "00"
	digits = "".join(str(int(ch, 36)) for ch in provisional)
	check = 98 - int(digits) % 97
	return f"{country}{check:02d}{bban}"
