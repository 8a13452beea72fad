"""What the Daraja clients return (frozen value objects) and the client protocol the payments domain codes against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class StkPushAccepted:
    merchant_request_id: str
    checkout_request_id: str
    response_code: str
    customer_message: str


@dataclass(frozen=True)
class StkQueryResult:
    state: Literal["pending", "succeeded", "failed"]
    result_code: str | None
    result_desc: str
    # The CheckoutRequestID the answer is about (as Daraja echoed it); callers compare it with what they asked.
    checkout_request_id: str | None = None


@dataclass(frozen=True)
class B2CAccepted:
    conversation_id: str
    originator_conversation_id: str
    response_code: str
    response_description: str


@dataclass(frozen=True)
class TransactionStatusAccepted:
    conversation_id: str
    originator_conversation_id: str
    response_code: str


class MpesaClient(Protocol):
    def stk_push(
        self,
        *,
        phone_msisdn: str,
        amount: int,
        account_reference: str,
        description: str,
        callback_url: str,
    ) -> StkPushAccepted: ...

    def stk_query(self, *, checkout_request_id: str) -> StkQueryResult: ...

    def b2c_payment(
        self,
        *,
        originator_conversation_id: str,
        phone_msisdn: str,
        amount: int,
        remarks: str,
        occasion: str,
        result_url: str,
        timeout_url: str,
        command_id: str = "BusinessPayment",
    ) -> B2CAccepted: ...

    def transaction_status(
        self,
        *,
        originator_conversation_id: str | None = None,
        transaction_id: str | None = None,
        result_url: str,
        timeout_url: str,
        remarks: str = "Status check",
    ) -> TransactionStatusAccepted: ...
