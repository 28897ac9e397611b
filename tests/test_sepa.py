import pytest

from verenigingen.sepa import InvalidIBAN, make_iban, validate_iban


@pytest.mark.parametrize(
	"iban",
	["NL91ABNA0417164300", "nl91 abna 0417 1643 00", "DE89370400440532013000", "BE68539007547034",
	 "GB29NWBK60161331926819", "FR1420041010050500013M02606"],
)  # fmt: skip
def test_valid_ibans_are_accepted_and_normalised(iban):
	assert validate_iban(iban) == iban.replace(" ", "").upper()


@pytest.mark.parametrize(
	("iban", "reason"),
	[
		("NL91ABNA0417164301", "mod-97"),
		("NL19ABNA0417164300", "mod-97"),
		("NL91ABNA041716430", "has 17 characters"),
		("XX91ABNA0417164300", "not a SEPA country"),
		("", "empty"),
		("1234", "malformed"),
		("NL91-ABNA-0417", "malformed"),
	],
)
def test_invalid_ibans_are_rejected_with_the_reason(iban, reason):
	with pytest.raises(InvalidIBAN, match=reason):
		validate_iban(iban)


def test_make_iban_builds_valid_check_digits():
	assert make_iban("NL", "ABNA0417164300") == "NL91ABNA0417164300"
	assert validate_iban(make_iban("DE", "370400440532013000"))
