import pytest

from dumuwaks.core.phone import InvalidPhoneNumber, normalize_phone, to_msisdn


@pytest.mark.parametrize(
    "raw",
    ["0712345678", "254712345678", "+254712345678", "+254 712 345 678", "0712-345-678"],
)
def test_accepted_forms_normalise_to_e164(raw):
    assert normalize_phone(raw) == "+254712345678"


def test_011x_safaricom_numbers_are_accepted():
    assert normalize_phone("0110123456") == "+254110123456"


@pytest.mark.parametrize(
    "raw", ["", None, "12345", "0812345678", "+255712345678", "07123456789", "abc"]
)
def test_rejected_forms(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)


def test_mpesa_form_has_no_plus():
    assert to_msisdn("0712345678") == "254712345678"
