"""Fake Stripe API v1 on 127.0.0.1: form-encoded requests in, JSON objects and `{"error": {...}}` out.

Implements what payments/stripe_gateway.py uses: create/retrieve PaymentIntent, create Refund, with Stripe's
idempotency semantics (same key + same params → replayed response; same key + other params → idempotency_error;
same key while the first request is still being handled → 409 `idempotency_key_in_use`, which the SDK retries).

    fake.succeed(intent_id)        # the card was charged (as if Stripe.js confirmed it)
    fake.event_payload("payment_intent.succeeded", intent_id)   # JSON bytes of a webhook event
"""

from __future__ import annotations

import json
import secrets
import threading
import time

from ._http import LocalFake, RecordedRequest, Reply


def _error(status: int, type_: str, message: str, *, code: str = "", param: str = "") -> Reply:
    error = {"type": type_, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return Reply(status, {"error": error}, headers={"Request-Id": f"req_{secrets.token_hex(7)}"})


def _flat(form: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[-1] for key, values in form.items()}


class FakeStripe(LocalFake):
    def __init__(self, *, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self._idempotency: dict[str, tuple[str, dict, Reply]] = {}
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    # --- scripting ------------------------------------------------------------------------------------------

    def succeed(self, intent_id: str) -> dict:
        intent = self.intents[intent_id]
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=f"ch_{secrets.token_hex(12)}",
        )
        return intent

    def event_payload(self, event_type: str, object_id: str) -> bytes:
        obj = self.intents.get(object_id) or self.refunds[object_id]
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": obj},
        }
        return json.dumps(event).encode()

    # --- HTTP -----------------------------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****")
        params = _flat(request.form)
        key = request.headers.get("idempotency-key")
        route = (request.method, request.path)
        if request.method == "POST" and key:
            fingerprint = f"{request.path}?{sorted(params.items())}"
            with self._lock:
                seen = self._idempotency.get(key)
                in_flight = seen is None and key in self._in_flight
                if seen is None and not in_flight:
                    self._in_flight.add(key)
            if in_flight:
                return _error(
                    409,
                    "invalid_request_error",
                    "There is currently another in-progress request using this idempotency key. "
                    "Please try again later.",
                    code="idempotency_key_in_use",
                )
            if seen is not None:
                if seen[0] != fingerprint:
                    return _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                    )
                replay = seen[2]
                return Reply(
                    replay.status,
                    replay.body,
                    headers={**replay.headers, "Idempotent-Replayed": "true"},
                )
        if route == ("POST", "/v1/payment_intents"):
            reply = self._create_intent(params)
        elif route == ("POST", "/v1/refunds"):
            reply = self._create_refund(params)
        elif request.method == "GET" and request.path.startswith("/v1/payment_intents/"):
            intent = self.intents.get(request.path.rsplit("/", 1)[-1])
            reply = (
                Reply(200, intent)
                if intent
                else _error(
                    404, "invalid_request_error", "No such payment_intent", code="resource_missing"
                )
            )
        else:
            reply = _error(
                404,
                "invalid_request_error",
                f"Unrecognized request URL ({request.method}: {request.path})",
            )
        if request.method == "POST" and key:
            with self._lock:
                self._idempotency[key] = (f"{request.path}?{sorted(params.items())}", {}, reply)
                self._in_flight.discard(key)
        return reply

    def _create_intent(self, params: dict[str, str]) -> Reply:
        for required in ("amount", "currency"):
            if required not in params:
                return _error(
                    400,
                    "invalid_request_error",
                    f"Missing required param: {required}.",
                    code="parameter_missing",
                    param=required,
                )
        if not params["amount"].isdigit() or int(params["amount"]) < 50:
            return _error(
                400,
                "invalid_request_error",
                "Amount must be at least 50 minor units.",
                code="amount_too_small",
                param="amount",
            )
        intent_id = f"pi_{secrets.token_hex(12)}"
        metadata = {
            k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")
        }
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_received": 0,
            "currency": params["currency"],
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "status": "requires_payment_method",
            "automatic_payment_methods": {
                "enabled": params.get("automatic_payment_methods[enabled]") == "true"
            },
            "metadata": metadata,
            "latest_charge": None,
            "last_payment_error": None,
            "next_action": None,
            "livemode": False,
            "created": int(time.time()),
        }
        self.intents[intent_id] = intent
        return Reply(200, intent, headers={"Request-Id": f"req_{secrets.token_hex(7)}"})

    def _create_refund(self, params: dict[str, str]) -> Reply:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None:
            return _error(
                400,
                "invalid_request_error",
                f"No such payment_intent: '{params.get('payment_intent', '')}'",
                code="resource_missing",
                param="payment_intent",
            )
        if intent["status"] != "succeeded":
            return _error(
                400,
                "invalid_request_error",
                "This PaymentIntent does not have a successful charge to refund.",
                code="payment_intent_unexpected_state",
            )
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"]
        )
        remaining = intent["amount_received"] - refunded
        if remaining <= 0:
            return _error(
                400,
                "invalid_request_error",
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = int(params.get("amount", remaining))
        if amount > remaining:
            return _error(
                400,
                "invalid_request_error",
                "Refund amount is greater than unrefunded amount on charge.",
                code="amount_too_large",
                param="amount",
            )
        refund_id = f"re_{secrets.token_hex(12)}"
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "charge": intent["latest_charge"],
            "reason": params.get("reason"),
            "status": "succeeded",
            "metadata": {},
            "created": int(time.time()),
        }
        self.refunds[refund_id] = refund
        return Reply(200, refund, headers={"Request-Id": f"req_{secrets.token_hex(7)}"})
