"""Realistic Daraja identifiers and callback bodies (the exact shapes of shared/fixtures/mpesa/*.json).

Used by the offline simulator backend and by the test fakes, so both speak exactly what Daraja sends.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from decimal import Decimal

from .parsing import EAT

STK_RESULT_DESCRIPTIONS = {
    "0": "The service request is processed successfully.",
    "1": "The balance is insufficient for the transaction.",
    "17": "Rule limited.",
    "1019": "Transaction has expired.",
    "1032": "Request cancelled by user",
    "1037": "DS timeout user cannot be reached",
    "2001": "The initiator information is invalid.",
}
B2C_RESULT_DESCRIPTIONS = {
    "0": "The service request is processed successfully.",
    "1": "The balance is insufficient for the transaction.",
    "2001": "The initiator information is invalid.",
    "2040": "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service.",
    "8006": "The security credential is locked.",
}
QUEUE_TIMEOUT_URL_SAMPLE = "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def _now_eat(now: datetime | None = None) -> datetime:
    return (now or datetime.now(EAT)).astimezone(EAT)


def merchant_request_id() -> str:
    return f"{_digits(5)}-{_digits(8)}-{secrets.randbelow(9) + 1}"


def checkout_request_id(now: datetime | None = None) -> str:
    return f"ws_CO_{_now_eat(now).strftime('%d%m%Y%H%M%S')}{_digits(10)}"


def conversation_id(now: datetime | None = None) -> str:
    return f"AG_{_now_eat(now).strftime('%Y%m%d')}_{secrets.token_hex(10)}"


def daraja_originator_id() -> str:
    return f"{_digits(5)}-{_digits(8)}-1"


def receipt_number() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return secrets.choice(string.ascii_uppercase) + "".join(
        secrets.choice(alphabet) for _ in range(9)
    )


def stk_push_response(merchant_id: str, checkout_id: str) -> dict:
    return {
        "MerchantRequestID": merchant_id,
        "CheckoutRequestID": checkout_id,
        "ResponseCode": "0",
        "ResponseDescription": "Success. Request accepted for processing",
        "CustomerMessage": "Success. Request accepted for processing",
    }


def stk_query_response(merchant_id: str, checkout_id: str, result_code: str) -> dict:
    return {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": merchant_id,
        "CheckoutRequestID": checkout_id,
        "ResultCode": str(result_code),
        "ResultDesc": STK_RESULT_DESCRIPTIONS.get(str(result_code), "The transaction failed."),
    }


def stk_callback(
    *,
    merchant_id: str,
    checkout_id: str,
    result_code: str | int,
    amount: int | Decimal | None = None,
    receipt: str | None = None,
    phone_msisdn: str | None = None,
    now: datetime | None = None,
) -> dict:
    """The STK callback; metadata only on success, ResultCode an int like Daraja's (a str if non-numeric)."""
    code = str(result_code)
    callback: dict = {
        "MerchantRequestID": merchant_id,
        "CheckoutRequestID": checkout_id,
        "ResultCode": int(code) if code.isdigit() else code,
        "ResultDesc": STK_RESULT_DESCRIPTIONS.get(code, "The transaction failed."),
    }
    if code == "0":
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": float(amount or 0)},
                {"Name": "MpesaReceiptNumber", "Value": receipt or receipt_number()},
                {"Name": "TransactionDate", "Value": int(_now_eat(now).strftime("%Y%m%d%H%M%S"))},
                {
                    "Name": "PhoneNumber",
                    "Value": int(phone_msisdn) if phone_msisdn else 254708374149,
                },
            ]
        }
    return {"Body": {"stkCallback": callback}}


def b2c_accepted_response(originator_id: str, conversation: str) -> dict:
    return {
        "ConversationID": conversation,
        "OriginatorConversationID": originator_id,
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    }


def b2c_result(
    *,
    originator_id: str,
    conversation: str,
    result_code: str | int = 0,
    amount: int | Decimal = 10,
    receipt: str | None = None,
    receiver_msisdn: str = "254708374149",
    receiver_name: str = "JOHN DOE",
    now: datetime | None = None,
) -> dict:
    code = str(result_code)
    transaction_id = receipt or receipt_number()
    result: dict = {
        "ResultType": 0,
        "ResultCode": int(code) if code.isdigit() else code,
        "ResultDesc": B2C_RESULT_DESCRIPTIONS.get(code, "The transaction failed."),
        "OriginatorConversationID": originator_id,
        "ConversationID": conversation,
        "TransactionID": transaction_id,
    }
    if code == "0":
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": int(amount)},
                {"Key": "TransactionReceipt", "Value": transaction_id},
                {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": -4510.00},
                {"Key": "ReceiverPartyPublicName", "Value": f"{receiver_msisdn} - {receiver_name}"},
                {
                    "Key": "TransactionCompletedDateTime",
                    "Value": _now_eat(now).strftime("%d.%m.%Y %H:%M:%S"),
                },
                {"Key": "B2CUtilityAccountAvailableFunds", "Value": 10116.00},
                {"Key": "B2CWorkingAccountAvailableFunds", "Value": 900000.00},
            ]
        }
    result["ReferenceData"] = {
        "ReferenceItem": {"Key": "QueueTimeoutURL", "Value": QUEUE_TIMEOUT_URL_SAMPLE}
    }
    return {"Result": result}


def b2c_queue_timeout(*, originator_id: str, conversation: str) -> dict:
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": 1,
            "ResultDesc": "The service request has timed out.",
            "OriginatorConversationID": originator_id,
            "ConversationID": conversation,
        }
    }


def transaction_status_accepted_response(originator_id: str, conversation: str) -> dict:
    return {
        "OriginatorConversationID": originator_id,
        "ConversationID": conversation,
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    }


def transaction_status_result(
    *,
    originator_id: str,
    conversation: str,
    result_code: str | int = 0,
    original_originator_id: str | None = None,
    original_conversation: str | None = None,
    receipt: str | None = None,
    amount: int | Decimal = 10,
    transaction_status: str = "Completed",
    now: datetime | None = None,
) -> dict:
    code = str(result_code)
    stamp = _now_eat(now).strftime("%Y%m%d%H%M%S")
    result: dict = {
        "ConversationID": conversation,
        "OriginatorConversationID": originator_id,
        "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}},
        "ResultCode": int(code) if code.isdigit() else code,
        "ResultDesc": STK_RESULT_DESCRIPTIONS.get(code, "The transaction failed."),
        "ResultType": 0,
        "TransactionID": receipt or "",
    }
    if code == "0":
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "DebitPartyName", "Value": "600992 - Safaricom Daraja"},
                {"Key": "CreditPartyName", "Value": "254708374149 - JOHN DOE"},
                {"Key": "OriginatorConversationID", "Value": original_originator_id or ""},
                {"Key": "InitiatedTime", "Value": int(stamp)},
                {"Key": "DebitAccountType", "Value": "Utility Account"},
                {"Key": "DebitPartyCharges", "Value": "Fee For B2C Payment|KES|22.40"},
                {"Key": "TransactionReason"},
                {"Key": "ReasonType", "Value": "Business Payment to Customer via API"},
                {"Key": "TransactionStatus", "Value": transaction_status},
                {"Key": "FinalisedTime", "Value": int(stamp)},
                {"Key": "Amount", "Value": str(int(amount))},
                {"Key": "ConversationID", "Value": original_conversation or ""},
                {"Key": "ReceiptNo", "Value": receipt or ""},
            ]
        }
    return {"Result": result}
