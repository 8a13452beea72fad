"""Offline M-Pesa backend (MPESA_BACKEND=simulator, the development default).

Accepts requests like Daraja (same input validation, realistic ids such as ws_CO_…/AG_…), then a Celery task
POSTs the callback Daraja would send (exact shapes of shared/fixtures/mpesa) to the callback/result URL it was
given, after MPESA_SIMULATOR_DELAY_SECONDS (default 3). State lives in the shared cache so STK Query and
Transaction Status agree with the callbacks, across web and worker processes.

Demo switches (decided at request time):
  STK push  - amount ending in 1 (e.g. KES 301)      → ResultCode 1032 "Request cancelled by user"
            - phone 254700000099                      → ResultCode 1 "The balance is insufficient…"
            - phone 254700000037                      → ResultCode 1037 "DS timeout user cannot be reached"
            - phone 254700000098                      → success, but the callback is never sent (only STK Query
                                                        reveals it: exercises the reconciliation job)
            - anything else                           → success (receipt number like NLJ7RT61SV)
  B2C       - phone 254700000099                      → ResultCode 1 (utility account balance insufficient)
            - phone 254700000098                      → a queue-timeout body to QueueTimeOutURL, no result
            - a reused OriginatorConversationID      → DarajaDuplicateRequest (500.002.1001), like Daraja
            - anything else                           → success
  Transaction Status reports the simulated B2C's outcome (a timed-out one is reported completed, as if the
  payment went through after all).

With CELERY_TASK_ALWAYS_EAGER (tests) nothing is scheduled, because an inline callback would arrive before the
caller has stored the CheckoutRequestID; call `deliver_pending_callbacks(post=...)` to deliver them.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from dumuwaks.core.side_effects import enqueue_after_commit

from . import payloads, security
from .errors import DarajaDuplicateRequest, DarajaError
from .types import B2CAccepted, StkPushAccepted, StkQueryResult, TransactionStatusAccepted

logger = logging.getLogger(__name__)

STATE_TTL = 24 * 3600
INSUFFICIENT_FUNDS_PHONE = "254700000099"
NO_CALLBACK_PHONE = "254700000098"
UNREACHABLE_PHONE = "254700000037"
PENDING_INDEX_KEY = "daraja:sim:pending"

PostFn = Callable[[str, dict], object]


def _delay_seconds() -> int:
    return settings.MPESA_SIMULATOR_DELAY_SECONDS


def _stk_key(checkout_id: str) -> str:
    return f"daraja:sim:stk:{checkout_id}"


def _b2c_key(originator_id: str) -> str:
    return f"daraja:sim:b2c:{originator_id}"


def _b2c_receipt_key(receipt: str) -> str:
    return f"daraja:sim:b2c-receipt:{receipt}"


def _status_key(originator_id: str) -> str:
    return f"daraja:sim:status:{originator_id}"


def _schedule(task, kind: str, ident: str) -> None:
    # The setting Celery's own eagerness comes from, read as dumuwaks.core.side_effects.enqueue_now reads it.
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pending = cache.get(PENDING_INDEX_KEY) or []
        cache.set(PENDING_INDEX_KEY, [*pending, [kind, ident]], timeout=STATE_TTL)
        return
    enqueue_after_commit(task, ident, countdown=max(_delay_seconds(), 1))


class SimulatorClient:
    """Implements `MpesaClient` offline."""

    def stk_push(
        self,
        *,
        phone_msisdn: str,
        amount: int,
        account_reference: str,
        description: str,
        callback_url: str,
    ) -> StkPushAccepted:
        phone = security.msisdn(phone_msisdn)
        amount = security.whole_shillings(
            amount, minimum=security.STK_MIN_AMOUNT, maximum=security.STK_MAX_AMOUNT
        )
        security.account_reference(account_reference)
        if phone == INSUFFICIENT_FUNDS_PHONE:
            result_code = "1"
        elif phone == UNREACHABLE_PHONE:
            result_code = "1037"
        elif amount % 10 == 1:
            result_code = "1032"
        else:
            result_code = "0"
        merchant_id = payloads.merchant_request_id()
        checkout_id = payloads.checkout_request_id()
        cache.set(
            _stk_key(checkout_id),
            {
                "merchant_id": merchant_id,
                "checkout_id": checkout_id,
                "amount": amount,
                "phone": phone,
                "callback_url": callback_url.strip(),
                "result_code": result_code,
                "receipt": payloads.receipt_number() if result_code == "0" else None,
                "resolve_at": time.time() + _delay_seconds(),
                "send_callback": phone != NO_CALLBACK_PHONE,
                "delivered": False,
            },
            timeout=STATE_TTL,
        )
        _schedule(deliver_stk_callback, "stk", checkout_id)
        response = payloads.stk_push_response(merchant_id, checkout_id)
        return StkPushAccepted(
            merchant_request_id=merchant_id,
            checkout_request_id=checkout_id,
            response_code=response["ResponseCode"],
            customer_message=response["CustomerMessage"],
        )

    def stk_query(self, *, checkout_request_id: str) -> StkQueryResult:
        state = cache.get(_stk_key(checkout_request_id))
        if state is None:
            raise DarajaError("400.002.02", "Bad Request - Invalid CheckoutRequestID", 400)
        if not state["delivered"] and time.time() < state["resolve_at"]:
            return StkQueryResult(
                state="pending",
                result_code=None,
                result_desc="The transaction is being processed",
                checkout_request_id=checkout_request_id,
            )
        code = state["result_code"]
        return StkQueryResult(
            state="succeeded" if code == "0" else "failed",
            result_code=code,
            result_desc=payloads.STK_RESULT_DESCRIPTIONS.get(code, "The transaction failed."),
            checkout_request_id=checkout_request_id,
        )

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
    ) -> B2CAccepted:
        originator_id = security.originator_conversation_id(originator_conversation_id)
        phone = security.msisdn(phone_msisdn)
        amount = security.whole_shillings(
            amount, minimum=security.B2C_MIN_AMOUNT, maximum=security.B2C_MAX_AMOUNT
        )
        conversation = payloads.conversation_id()
        outcome = {INSUFFICIENT_FUNDS_PHONE: "1", NO_CALLBACK_PHONE: "timeout"}.get(phone, "0")
        receipt = payloads.receipt_number()
        state = {
            "originator_id": originator_id,
            "conversation_id": conversation,
            "amount": amount,
            "phone": phone,
            "result_url": result_url.strip(),
            "timeout_url": timeout_url.strip(),
            "outcome": outcome,
            "receipt": receipt,
            "delivered": False,
        }
        if not cache.add(_b2c_key(originator_id), state, timeout=STATE_TTL):
            raise DarajaDuplicateRequest("500.002.1001", "Duplicate OriginatorConversationID", 500)
        cache.set(_b2c_receipt_key(receipt), originator_id, timeout=STATE_TTL)
        _schedule(deliver_b2c_result, "b2c", originator_id)
        response = payloads.b2c_accepted_response(originator_id, conversation)
        return B2CAccepted(
            conversation_id=conversation,
            originator_conversation_id=originator_id,
            response_code=response["ResponseCode"],
            response_description=response["ResponseDescription"],
        )

    def transaction_status(
        self,
        *,
        originator_conversation_id: str | None = None,
        transaction_id: str | None = None,
        result_url: str,
        timeout_url: str,
        remarks: str = "Status check",
    ) -> TransactionStatusAccepted:
        if not (originator_conversation_id or transaction_id):
            raise ValueError(
                "transaction_status needs originator_conversation_id or transaction_id"
            )
        original = originator_conversation_id or cache.get(_b2c_receipt_key(transaction_id or ""))
        query_originator = payloads.daraja_originator_id()
        conversation = payloads.conversation_id()
        cache.set(
            _status_key(query_originator),
            {
                "originator_id": query_originator,
                "conversation_id": conversation,
                "original_originator_id": original,
                "result_url": result_url.strip(),
                "delivered": False,
            },
            timeout=STATE_TTL,
        )
        _schedule(deliver_transaction_status_result, "status", query_originator)
        return TransactionStatusAccepted(
            conversation_id=conversation,
            originator_conversation_id=query_originator,
            response_code="0",
        )


# --- delivery -----------------------------------------------------------------------------------------------------


def _http_post(url: str, payload: dict) -> None:
    response = httpx.post(url, json=payload, timeout=10.0)
    response.raise_for_status()


def _deliver_stk(checkout_id: str, post: PostFn) -> bool:
    state = cache.get(_stk_key(checkout_id))
    if state is None or state["delivered"]:
        return False
    if state["send_callback"]:
        post(
            state["callback_url"],
            payloads.stk_callback(
                merchant_id=state["merchant_id"],
                checkout_id=checkout_id,
                result_code=state["result_code"],
                amount=state["amount"],
                receipt=state["receipt"],
                phone_msisdn=state["phone"],
                # When the customer paid, as Daraja says it: the same in every redelivery.
                now=datetime.datetime.fromtimestamp(state["resolve_at"], tz=datetime.UTC),
            ),
        )
    cache.set(_stk_key(checkout_id), {**state, "delivered": True}, timeout=STATE_TTL)
    return True


def _deliver_b2c(originator_id: str, post: PostFn) -> bool:
    state = cache.get(_b2c_key(originator_id))
    if state is None or state["delivered"]:
        return False
    if state["outcome"] == "timeout":
        post(
            state["timeout_url"],
            payloads.b2c_queue_timeout(
                originator_id=originator_id, conversation=state["conversation_id"]
            ),
        )
    else:
        post(
            state["result_url"],
            payloads.b2c_result(
                originator_id=originator_id,
                conversation=state["conversation_id"],
                result_code=state["outcome"],
                amount=state["amount"],
                receipt=state["receipt"],
                receiver_msisdn=state["phone"],
            ),
        )
    cache.set(_b2c_key(originator_id), {**state, "delivered": True}, timeout=STATE_TTL)
    return True


def _deliver_status(query_originator: str, post: PostFn) -> bool:
    state = cache.get(_status_key(query_originator))
    if state is None or state["delivered"]:
        return False
    payout = cache.get(_b2c_key(state["original_originator_id"] or ""))
    if payout is None:
        body = payloads.transaction_status_result(
            originator_id=query_originator,
            conversation=state["conversation_id"],
            result_code="1",
        )
        body["Result"]["ResultDesc"] = "The transaction could not be found."
    else:
        failed = payout["outcome"] == "1"
        body = payloads.transaction_status_result(
            originator_id=query_originator,
            conversation=state["conversation_id"],
            result_code="0",
            original_originator_id=payout["originator_id"],
            original_conversation=payout["conversation_id"],
            receipt=payout["receipt"],
            amount=Decimal(payout["amount"]),
            transaction_status="Failed" if failed else "Completed",
        )
    post(state["result_url"], body)
    cache.set(_status_key(query_originator), {**state, "delivered": True}, timeout=STATE_TTL)
    return True


_DELIVERERS = {"stk": _deliver_stk, "b2c": _deliver_b2c, "status": _deliver_status}


def deliver_pending_callbacks(*, post: PostFn | None = None) -> int:
    """Deliver every callback queued while Celery ran eagerly; returns how many were sent.

    `post(url, payload)` defaults to an HTTP POST; tests may pass one that calls the Django test client.
    """
    post = post or _http_post
    sent = 0
    while True:
        pending = cache.get(PENDING_INDEX_KEY) or []
        if not pending:
            return sent
        cache.delete(PENDING_INDEX_KEY)
        for position, (kind, ident) in enumerate(pending):
            try:
                sent += int(_DELIVERERS[kind](ident, post))
            except Exception:
                # Keep this one and the rest queued (a later call retries them), then report the failure.
                requeue = pending[position:] + (cache.get(PENDING_INDEX_KEY) or [])
                cache.set(PENDING_INDEX_KEY, requeue, timeout=STATE_TTL)
                raise


# Explicit names: Celery autodiscovery imports only payments.tasks, and these are registered whenever
# payments.daraja is imported (which get_mpesa_client's callers always do).
@shared_task(
    bind=True,
    name="payments.daraja.simulator.deliver_stk_callback",
    max_retries=3,
    ignore_result=True,
)
def deliver_stk_callback(self, checkout_request_id: str) -> None:
    _deliver_with_retry(self, _deliver_stk, checkout_request_id)


@shared_task(
    bind=True,
    name="payments.daraja.simulator.deliver_b2c_result",
    max_retries=3,
    ignore_result=True,
)
def deliver_b2c_result(self, originator_conversation_id: str) -> None:
    _deliver_with_retry(self, _deliver_b2c, originator_conversation_id)


@shared_task(
    bind=True,
    name="payments.daraja.simulator.deliver_transaction_status_result",
    max_retries=3,
    ignore_result=True,
)
def deliver_transaction_status_result(self, query_originator_conversation_id: str) -> None:
    _deliver_with_retry(self, _deliver_status, query_originator_conversation_id)


def _deliver_with_retry(task, deliver, ident: str) -> None:
    try:
        deliver(ident, _http_post)
    except httpx.HTTPError as exc:
        # Like Daraja, retry a few times when our endpoint is down or answers 5xx.
        logger.warning("simulator: callback for %s failed: %r", ident, exc)
        if task.request.is_eager:
            return
        raise task.retry(countdown=5) from exc
