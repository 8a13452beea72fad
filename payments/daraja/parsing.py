"""Tolerant parsers for Daraja callbacks (STK callback, B2C result, Transaction Status result, queue timeout).

Daraja's payloads vary in the wild (shared/integrations.md §1.3, §1.6, §1.7): ResultCode arrives as int or as a
non-numeric string, `ResultParameter`/`ReferenceItem` may be a single object instead of a list, items may lack
`Value`, amounts may be floats, dates are EAT. Required keys missing → `MalformedCallback`; a malformed optional
value becomes None (the raw payload is stored by the caller anyway).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from dumuwaks.core.phone import InvalidPhoneNumber, normalize_phone

from .result_codes import Outcome, b2c_result_outcome, transaction_status_outcome

logger = logging.getLogger(__name__)

EAT = ZoneInfo("Africa/Nairobi")
_CENT = Decimal("0.01")


class MalformedCallback(ValueError):
    pass


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: str
    result_desc: str
    amount: Decimal | None
    receipt_number: str | None
    phone_number: str | None  # E.164, None when absent or masked
    transaction_date: datetime | None

    @property
    def is_success(self) -> bool:
        return self.result_code == "0"


@dataclass(frozen=True)
class B2CResult:
    originator_conversation_id: str
    conversation_id: str
    result_code: str
    result_desc: str
    transaction_id: str | None
    amount: Decimal | None
    receipt_number: str | None
    receiver_name: str | None  # "John Doe" from "254708374149 - John Doe"
    completed_at: datetime | None
    result_type: int | None = None
    receiver_public_name: str | None = None  # the raw "<msisdn> - <NAME>"
    receiver_msisdn: str | None = None  # E.164 when the public name starts with a valid number
    parameters: tuple[tuple[str, Any], ...] = ()

    @property
    def is_success(self) -> bool:
        return self.result_code == "0"

    @property
    def outcome(self) -> Outcome:
        """paid | failed (only a definitive code, see result_codes) | unknown."""
        return b2c_result_outcome(
            result_code=self.result_code, result_desc=self.result_desc, result_type=self.result_type
        )


@dataclass(frozen=True)
class TransactionStatusResult:
    """Result of a Transaction Status query.

    `originator_conversation_id`/`conversation_id` identify the *status query* (as returned by
    `transaction_status()`); `original_*` come from the result parameters and identify the queried transaction.
    """

    originator_conversation_id: str
    conversation_id: str
    result_code: str
    result_desc: str
    transaction_id: str | None
    transaction_status: str | None  # e.g. "Completed"
    receipt_number: str | None
    amount: Decimal | None
    original_originator_conversation_id: str | None
    original_conversation_id: str | None
    debit_party_name: str | None
    credit_party_name: str | None
    finalised_at: datetime | None
    occasion: str | None
    result_type: int | None = None
    parameters: tuple[tuple[str, Any], ...] = ()

    @property
    def is_success(self) -> bool:
        return self.result_code == "0"

    @property
    def outcome(self) -> Outcome:
        """paid (query succeeded, transaction Completed) | unknown; never failed (see result_codes)."""
        return transaction_status_outcome(
            result_code=self.result_code,
            transaction_status=self.transaction_status,
            result_type=self.result_type,
        )


@dataclass(frozen=True)
class QueueTimeout:
    """Body posted to QueueTimeOutURL. No official sample exists, so every field is optional."""

    originator_conversation_id: str | None
    conversation_id: str | None
    result_code: str | None
    result_desc: str


# --- helpers ------------------------------------------------------------------------------------------------------


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def result_code_str(value: Any) -> str:
    """0, "0", 1032, "SFC_IC0003", 0.0 → "0", "0", "1032", "SFC_IC0003", "0"."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip().replace(",", "")).quantize(_CENT)
    except (InvalidOperation, ValueError):
        logger.warning("daraja: unparsable amount %r", value)
        return None


def to_e164(value: Any) -> str | None:
    if value is None:
        return None
    raw = (
        str(int(value))
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value)
    )
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber:
        return None  # masked (C2B-style "25470****149") or garbage: never an identity anyway


def parse_compact_eat(value: Any) -> datetime | None:
    """20191219102115 (int or str, EAT) → aware datetime."""
    if value is None:
        return None
    text = (
        str(int(value))
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value)
    )
    try:
        return datetime.strptime(text.strip(), "%Y%m%d%H%M%S").replace(tzinfo=EAT)
    except ValueError:
        logger.warning("daraja: unparsable compact date %r", value)
        return None


def parse_dotted_eat(value: Any) -> datetime | None:
    """ "19.12.2019 11:45:50" (EAT) → aware datetime; falls back to the compact format."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return datetime.strptime(text, "%d.%m.%Y %H:%M:%S").replace(tzinfo=EAT)
    except ValueError:
        return parse_compact_eat(text) if text.isdigit() else None


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _pairs(items: Any, *, key_field: str) -> tuple[tuple[str, Any], ...]:
    """Key/Value (or Name/Value) items, object-or-list, Value optional; repeated keys kept in order."""
    pairs = []
    for item in as_list(items):
        if isinstance(item, dict) and key_field in item:
            pairs.append((str(item[key_field]), item.get("Value")))
    return tuple(pairs)


def _first(pairs: tuple[tuple[str, Any], ...], key: str) -> Any:
    for name, value in pairs:
        if name == key and value is not None:
            return value
    return None


def _require_dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise MalformedCallback(f"{what} is missing or not an object")
    return value


def _require(container: dict, key: str) -> Any:
    value = container.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MalformedCallback(f"{key} is missing")
    return value


# --- parsers ------------------------------------------------------------------------------------------------------


def parse_stk_callback(payload: dict) -> StkCallback:
    body = _require_dict(payload, "payload")
    callback = _require_dict(
        _require_dict(body.get("Body"), "Body").get("stkCallback"), "stkCallback"
    )
    checkout_request_id = str(_require(callback, "CheckoutRequestID")).strip()
    result_code = result_code_str(_require(callback, "ResultCode"))
    metadata = callback.get("CallbackMetadata")
    items = _pairs(metadata.get("Item") if isinstance(metadata, dict) else None, key_field="Name")
    return StkCallback(
        merchant_request_id=str(callback.get("MerchantRequestID") or "").strip(),
        checkout_request_id=checkout_request_id,
        result_code=result_code,
        result_desc=str(callback.get("ResultDesc") or "").strip(),
        amount=to_decimal(_first(items, "Amount")),
        receipt_number=_opt_str(_first(items, "MpesaReceiptNumber")),
        phone_number=to_e164(_first(items, "PhoneNumber")),
        transaction_date=parse_compact_eat(_first(items, "TransactionDate")),
    )


def _result_envelope(payload: dict) -> tuple[dict, str, str, str, str, tuple, tuple]:
    body = _require_dict(payload, "payload")
    result = _require_dict(body.get("Result"), "Result")
    result_code = result_code_str(_require(result, "ResultCode"))
    originator = _opt_str(result.get("OriginatorConversationID"))
    conversation = _opt_str(result.get("ConversationID"))
    if not originator and not conversation:
        raise MalformedCallback("OriginatorConversationID and ConversationID are both missing")
    params_container = result.get("ResultParameters")
    params = _pairs(
        params_container.get("ResultParameter") if isinstance(params_container, dict) else None,
        key_field="Key",
    )
    ref_container = result.get("ReferenceData")
    refs = _pairs(
        ref_container.get("ReferenceItem") if isinstance(ref_container, dict) else None,
        key_field="Key",
    )
    return (
        result,
        originator or "",
        conversation or "",
        result_code,
        str(result.get("ResultDesc") or "").strip(),
        params,
        refs,
    )


def _result_type(result: dict) -> int | None:
    try:
        return int(str(result.get("ResultType")).strip())
    except (TypeError, ValueError):
        return None


def _split_public_name(public_name: str | None) -> tuple[str | None, str | None]:
    if not public_name:
        return None, None
    number, sep, name = public_name.partition(" - ")
    if not sep:
        return public_name, None
    return (name.strip() or None), to_e164(number.strip())


def parse_b2c_result(payload: dict) -> B2CResult:
    result, originator, conversation, code, desc, params, _refs = _result_envelope(payload)
    public_name = _opt_str(_first(params, "ReceiverPartyPublicName"))
    receiver_name, receiver_msisdn = _split_public_name(public_name)
    return B2CResult(
        originator_conversation_id=originator,
        conversation_id=conversation,
        result_code=code,
        result_desc=desc,
        transaction_id=_opt_str(result.get("TransactionID")),
        amount=to_decimal(_first(params, "TransactionAmount")),
        receipt_number=_opt_str(_first(params, "TransactionReceipt")),
        receiver_name=receiver_name,
        completed_at=parse_dotted_eat(_first(params, "TransactionCompletedDateTime")),
        result_type=_result_type(result),
        receiver_public_name=public_name,
        receiver_msisdn=receiver_msisdn,
        parameters=params,
    )


def parse_transaction_status_result(payload: dict) -> TransactionStatusResult:
    result, originator, conversation, code, desc, params, refs = _result_envelope(payload)
    finalised = _first(params, "FinalisedTime")
    return TransactionStatusResult(
        originator_conversation_id=originator,
        conversation_id=conversation,
        result_code=code,
        result_desc=desc,
        transaction_id=_opt_str(result.get("TransactionID")),
        transaction_status=_opt_str(_first(params, "TransactionStatus")),
        receipt_number=_opt_str(_first(params, "ReceiptNo")),
        amount=to_decimal(_first(params, "Amount")),
        original_originator_conversation_id=_opt_str(_first(params, "OriginatorConversationID")),
        original_conversation_id=_opt_str(_first(params, "ConversationID")),
        debit_party_name=_opt_str(_first(params, "DebitPartyName")),
        credit_party_name=_opt_str(_first(params, "CreditPartyName")),
        finalised_at=parse_compact_eat(finalised) or parse_dotted_eat(finalised),
        occasion=_opt_str(_first(refs, "Occasion")),
        result_type=_result_type(result),
        parameters=params,
    )


def parse_queue_timeout(payload: Any) -> QueueTimeout:
    """Never raises: the body shape is undocumented, the caller stores it raw and reconciles by query."""
    result = payload.get("Result") if isinstance(payload, dict) else None
    if not isinstance(result, dict):
        result = payload if isinstance(payload, dict) else {}
    code = result.get("ResultCode")
    return QueueTimeout(
        originator_conversation_id=_opt_str(result.get("OriginatorConversationID")),
        conversation_id=_opt_str(result.get("ConversationID")),
        result_code=None if code is None else result_code_str(code),
        result_desc=str(result.get("ResultDesc") or "").strip(),
    )
