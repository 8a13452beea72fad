"""Request building blocks: EAT timestamps, the STK password, the B2C SecurityCredential, field limits."""

from __future__ import annotations

import base64
import functools
import os
import re
from datetime import datetime
from decimal import Decimal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from dumuwaks.core.phone import to_msisdn

from .errors import DarajaConfigurationError
from .parsing import EAT

STK_MIN_AMOUNT, STK_MAX_AMOUNT = 1, 250_000
B2C_MIN_AMOUNT, B2C_MAX_AMOUNT = 10, 250_000
ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13
_MSISDN = re.compile(r"^254[17]\d{8}$")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")
_ORIGINATOR_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def eat_timestamp(now: datetime | None = None) -> str:
    """YYYYMMDDHHmmss in Africa/Nairobi: Daraja rejects UTC timestamps that fall on another day/hour."""
    moment = now.astimezone(EAT) if now is not None else datetime.now(EAT)
    return moment.strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def msisdn(phone: str) -> str:
    """Any accepted Kenyan form → 2547XXXXXXXX / 2541XXXXXXXX (raises InvalidPhoneNumber)."""
    value = to_msisdn(str(phone))
    assert _MSISDN.match(value)  # to_msisdn guarantees it; documents the wire format
    return value


def whole_shillings(amount: int | Decimal, *, minimum: int, maximum: int) -> int:
    """Daraja rejects decimals. Rounding is the money module's job, so a fractional amount is a bug here."""
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise TypeError(f"amount must be an int of whole shillings, got {type(amount).__name__}")
    if isinstance(amount, Decimal):
        if amount != amount.to_integral_value():
            raise ValueError(f"amount {amount} is not whole shillings")
        amount = int(amount)
    if not minimum <= amount <= maximum:
        raise ValueError(f"amount {amount} outside Daraja limits {minimum}..{maximum}")
    return amount


def account_reference(value: str) -> str:
    cleaned = _NON_ALNUM.sub("", value or "")[:ACCOUNT_REFERENCE_MAX]
    if not cleaned:
        raise ValueError("account_reference needs at least one alphanumeric character")
    return cleaned


def transaction_desc(value: str) -> str:
    cleaned = " ".join((value or "").split())[:TRANSACTION_DESC_MAX].strip()
    return cleaned or "Payment"  # missing/empty desc caused "Invalid Remarks" in the wild


def clip(value: str, *, minimum: int, maximum: int, default: str) -> str:
    cleaned = " ".join((value or "").split())[:maximum].strip()
    return cleaned if len(cleaned) >= minimum else default


def originator_conversation_id(value: str) -> str:
    if not _ORIGINATOR_ID.match(value or ""):
        raise ValueError("originator_conversation_id must be 1-64 chars of [A-Za-z0-9_-]")
    return value


@functools.lru_cache(maxsize=8)
def _load_public_key(path: str, mtime_ns: int) -> RSAPublicKey:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        cert = x509.load_der_x509_certificate(data)
    key = cert.public_key()
    if not isinstance(key, RSAPublicKey):
        raise DarajaConfigurationError("MPESA_CERTIFICATE_FILE does not hold an RSA certificate")
    return key


def security_credential(initiator_password: str, certificate_file: str) -> str:
    """base64(RSA-PKCS#1 v1.5(password)) with Safaricom's certificate. Output differs per call (random padding)."""
    if not initiator_password:
        raise DarajaConfigurationError("MPESA_INITIATOR_PASSWORD is not set")
    if not certificate_file or not os.path.exists(certificate_file):
        raise DarajaConfigurationError(f"MPESA_CERTIFICATE_FILE {certificate_file!r} not found")
    try:
        key = _load_public_key(certificate_file, os.stat(certificate_file).st_mtime_ns)
    except ValueError as exc:
        raise DarajaConfigurationError(f"MPESA_CERTIFICATE_FILE unreadable: {exc}") from exc
    return base64.b64encode(key.encrypt(initiator_password.encode(), PKCS1v15())).decode()
