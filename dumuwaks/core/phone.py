"""Kenyan mobile numbers.

Accepted input: 07XXXXXXXX, 01XXXXXXXX, 2547XXXXXXXX/2541XXXXXXXX, +2547…/+2541… (spaces, dashes and
brackets are ignored). Stored as E.164 (`+2547XXXXXXXX`); M-Pesa wants the same digits without the plus.
"""

import re

from django.db import models

from dumuwaks.core.errors import ValidationFailed

_KENYAN_MOBILE = re.compile(r"^(?:\+?254|0)([17]\d{8})$")


class InvalidPhoneNumber(ValidationFailed):
    code = "invalid_phone_number"
    message = "Enter a Kenyan mobile number such as 0712345678 or +254712345678."


def normalize_phone(raw: str | None) -> str:
    """Return the E.164 form of a Kenyan mobile number or raise InvalidPhoneNumber."""
    if raw is None:
        raise InvalidPhoneNumber()
    cleaned = re.sub(r"[\s\-().]", "", str(raw))
    match = _KENYAN_MOBILE.match(cleaned)
    if not match:
        raise InvalidPhoneNumber()
    return f"+254{match.group(1)}"


def to_msisdn(e164: str) -> str:
    """The Daraja form: 2547XXXXXXXX (no plus)."""
    return normalize_phone(e164).removeprefix("+")


def is_valid_phone(raw: str | None) -> bool:
    try:
        normalize_phone(raw)
    except InvalidPhoneNumber:
        return False
    return True


def mask_phone(e164: str) -> str:
    return f"{e164[:6]}***{e164[-3:]}" if e164 else ""


class PhoneNumberField(models.CharField):
    """CharField that always stores the E.164 form."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return normalize_phone(value)
