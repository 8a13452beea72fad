"""Fake Safaricom Daraja on 127.0.0.1, validating requests the way Daraja does and answering its real envelopes.

    fake.requests_to("/mpesa/b2c/v3/paymentrequest")   # every request is recorded (body in .json)
    fake.fail_next("/mpesa/b2c/v3/paymentrequest", "hang")   # hang | reset | garbage | busy | quota |
                                                             # internal | invalid_token | bad_gateway
    fake.resolve_stk(checkout_id, "0")                 # STK Query then reports the result
    fake.stk_callback_payload(checkout_id, "0")       # the matching callback body (exact Daraja shape)
    fake.b2c_result_payload(originator_id, "0")       # the B2C ResultURL body

"hang", "reset" and "garbage" are applied AFTER the request is processed (the payment went through, the answer got lost),
which is exactly the case where a blind resend would pay twice.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from payments.daraja import payloads
from payments.daraja.parsing import EAT

from ._http import LocalFake, RecordedRequest, Reply

PATH_TOKEN = "/oauth/v1/generate"
PATH_STK_PUSH = "/mpesa/stkpush/v1/processrequest"
PATH_STK_QUERY = "/mpesa/stkpushquery/v1/query"
PATH_B2C = "/mpesa/b2c/v3/paymentrequest"
PATH_TRANSACTION_STATUS = "/mpesa/transactionstatus/v1/query"

_MSISDN = re.compile(r"^254[17]\d{8}$")
_TIMESTAMP = re.compile(r"^\d{14}$")
_FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")


def _envelope(status: int, code: str, message: str) -> Reply:
    return Reply(
        status,
        {
            "requestId": f"{secrets.token_hex(4)}-{secrets.token_hex(8)}",
            "errorCode": code,
            "errorMessage": message,
        },
    )


def _bad(field: str) -> Reply:
    return _envelope(400, "400.002.02", f"Bad Request - Invalid {field}")


class _Invalid(Exception):
    def __init__(self, reply: Reply):
        self.reply = reply


class FakeDaraja(LocalFake):
    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str,
        passkey: str,
        b2c_shortcode: str,
        initiator_name: str,
        initiator_password: str,
        private_key: RSAPrivateKey,
        hang_seconds: float = 3.0,
    ) -> None:
        super().__init__()
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.shortcode = str(shortcode)
        self.passkey = passkey
        self.b2c_shortcode = str(b2c_shortcode)
        self.initiator_name = initiator_name
        self.initiator_password = initiator_password
        self.private_key = private_key
        self.hang_seconds = hang_seconds
        self.token_expires_in: Any = "3599"  # string, as many client DTOs model it
        self.invalidate_previous_tokens = (
            True  # Daraja FAQ: "each request invalidates the previous token"
        )
        self.strict_callback_urls = False  # True: reject "mpesa", "query", ... in URLs (C2B rule)
        self.check_timestamp_is_eat = True
        self.valid_tokens: set[str] = set()
        self.tokens_issued = 0
        self.stk: dict[str, dict] = {}
        self.b2c: dict[str, dict] = {}
        self.status_queries: dict[str, dict] = {}
        self._failures: dict[str, deque[str]] = defaultdict(deque)
        self._lock = threading.Lock()

    # --- scripting ------------------------------------------------------------------------------------------

    def fail_next(self, path: str, kind: str, times: int = 1) -> None:
        assert kind in {
            "hang",
            "reset",
            "busy",
            "quota",
            "internal",
            "invalid_token",
            "bad_gateway",
            "garbage",
        }
        with self._lock:
            self._failures[path].extend([kind] * times)

    def revoke_tokens(self) -> None:
        with self._lock:
            self.valid_tokens.clear()

    def resolve_stk(self, checkout_id: str, result_code: str | int = "0") -> None:
        self.stk[checkout_id]["result_code"] = str(result_code)

    def answer_stk_query_about(self, checkout_id: str, other_checkout_id: str) -> None:
        """STK Query for `checkout_id` answers with another request's CheckoutRequestID (a mixed-up or
        forged answer the client must not accept)."""
        self.stk[checkout_id]["query_answer_id"] = other_checkout_id

    def stk_callback_payload(
        self, checkout_id: str, result_code: str | int = "0", **overrides
    ) -> dict:
        entry = self.stk[checkout_id]
        body = entry["body"]
        return payloads.stk_callback(
            merchant_id=entry["merchant_id"],
            checkout_id=checkout_id,
            result_code=result_code,
            amount=overrides.get("amount", body["Amount"]),
            receipt=overrides.get("receipt", entry["receipt"]),
            phone_msisdn=overrides.get("phone_msisdn", body["PhoneNumber"]),
        )

    def b2c_result_payload(
        self, originator_id: str, result_code: str | int = "0", **overrides
    ) -> dict:
        entry = self.b2c[originator_id]
        return payloads.b2c_result(
            originator_id=originator_id,
            conversation=entry["conversation_id"],
            result_code=result_code,
            amount=overrides.get("amount", entry["body"]["Amount"]),
            receipt=overrides.get("receipt", entry["receipt"]),
            receiver_msisdn=entry["body"]["PartyB"],
        )

    def b2c_timeout_payload(self, originator_id: str) -> dict:
        return payloads.b2c_queue_timeout(
            originator_id=originator_id, conversation=self.b2c[originator_id]["conversation_id"]
        )

    def transaction_status_result_payload(self, query_originator_id: str, result_code="0") -> dict:
        query = self.status_queries[query_originator_id]
        original = self.b2c.get(query["body"].get("OriginalConversationID") or "")
        if original is None:
            original = next(
                (
                    b
                    for b in self.b2c.values()
                    if b["receipt"] == query["body"].get("TransactionID")
                ),
                None,
            )
        return payloads.transaction_status_result(
            originator_id=query_originator_id,
            conversation=query["conversation_id"],
            result_code=result_code,
            original_originator_id=original["body"]["OriginatorConversationID"]
            if original
            else None,
            original_conversation=original["conversation_id"] if original else None,
            receipt=original["receipt"] if original else None,
            amount=original["body"]["Amount"] if original else 0,
        )

    # --- dispatch -------------------------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        routes = {
            PATH_TOKEN: ("GET", self._token),
            PATH_STK_PUSH: ("POST", self._stk_push),
            PATH_STK_QUERY: ("POST", self._stk_query),
            PATH_B2C: ("POST", self._b2c),
            PATH_TRANSACTION_STATUS: ("POST", self._transaction_status),
        }
        if request.path not in routes:
            return _envelope(404, "404.001.01", "Resource not found")
        method, handler = routes[request.path]
        if request.method != method:
            return _envelope(405, "405.001", "Method Not Allowed")
        with self._lock:
            failure = (
                self._failures[request.path].popleft() if self._failures[request.path] else None
            )
        if failure == "invalid_token":
            return _envelope(404, "404.001.03", "Invalid Access Token")
        if failure == "busy":
            return _envelope(500, "500.003.02", "Spike Arrest Violation")
        if failure == "quota":
            return _envelope(500, "500.003.03", "Quota Violation")
        if failure == "internal":
            return _envelope(500, "500.003.1001", "Internal Server Error")
        if failure == "bad_gateway":
            return Reply(502, None)
        if request.path != PATH_TOKEN:
            denied = self._check_bearer(request)
            if denied:
                return denied
        try:
            reply = handler(request)
        except _Invalid as exc:
            return exc.reply
        if failure == "hang":
            reply.hang_seconds = self.hang_seconds
        elif failure == "reset":
            reply.drop_connection = True
        elif failure == "garbage":  # processed, but the answer is mangled (e.g. by a proxy)
            reply.raw_body = b"<html>OK</html>"
        return reply

    def _check_bearer(self, request: RecordedRequest) -> Reply | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return _envelope(404, "404.001.04", "Invalid Authentication Header")
        if header.removeprefix("Bearer ").strip() not in self.valid_tokens:
            return _envelope(404, "404.001.03", "Invalid Access Token")
        return None

    def _json_body(self, request: RecordedRequest, *, first_field: str) -> dict:
        # Without Content-Type: application/json Daraja complains about the first field, not the header.
        if "application/json" not in request.headers.get("content-type", ""):
            raise _Invalid(_bad(first_field))
        if not isinstance(request.json, dict):
            raise _Invalid(_envelope(400, "400.002.05", "Invalid Request Payload"))
        return request.json

    # --- validators -----------------------------------------------------------------------------------------

    @staticmethod
    def _whole_amount(value: Any, minimum: int) -> int:
        if isinstance(value, bool):
            raise _Invalid(_bad("Amount"))
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or not minimum <= value <= 250_000:
            raise _Invalid(_bad("Amount"))
        return value

    def _url(self, value: Any, field: str) -> None:
        if not isinstance(value, str) or value != value.strip() or not value:
            raise _Invalid(_bad(field))
        if not value.startswith(("http://", "https://")):
            raise _Invalid(_bad(field))
        if self.strict_callback_urls and any(w in value.lower() for w in _FORBIDDEN_URL_WORDS):
            raise _Invalid(_bad(field))

    def _timestamp_and_password(self, body: dict) -> None:
        if str(body.get("BusinessShortCode", "")) != self.shortcode:
            raise _Invalid(_bad("BusinessShortCode"))
        timestamp = body.get("Timestamp")
        if not isinstance(timestamp, str) or not _TIMESTAMP.match(timestamp):
            raise _Invalid(_bad("Timestamp"))
        try:
            moment = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=EAT)
        except ValueError as exc:
            raise _Invalid(_bad("Timestamp")) from exc
        if self.check_timestamp_is_eat and abs(datetime.now(EAT) - moment) > timedelta(minutes=30):
            raise _Invalid(_bad("Timestamp"))  # a UTC timestamp is 3 h off
        expected = base64.b64encode(f"{self.shortcode}{self.passkey}{timestamp}".encode()).decode()
        if body.get("Password") != expected:
            raise _Invalid(_envelope(500, "500.001.1001", "Wrong credentials"))

    def _decrypt_credential(self, value: Any) -> str | None:
        try:
            cipher = base64.b64decode(str(value), validate=True)
            return self.private_key.decrypt(cipher, PKCS1v15()).decode()
        except (ValueError, binascii.Error):
            return None

    @staticmethod
    def _text(body: dict, field: str, minimum: int, maximum: int, *, required: bool = True) -> None:
        value = body.get(field)
        if value is None and not required:
            return
        if not isinstance(value, str) or not minimum <= len(value) <= maximum:
            raise _Invalid(_bad(field))

    # --- endpoints ------------------------------------------------------------------------------------------

    def _token(self, request: RecordedRequest) -> Reply:
        if request.query.get("grant_type") != ["client_credentials"]:
            return _envelope(400, "400.008.02", "Invalid grant type passed")
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return _envelope(400, "400.008.01", "Invalid authentication type passed")
        try:
            decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
        except (ValueError, binascii.Error):
            return _envelope(400, "400.008.01", "Invalid authentication type passed")
        if decoded != f"{self.consumer_key}:{self.consumer_secret}":
            return _envelope(400, "400.008.01", "Invalid authentication type passed")
        token = secrets.token_urlsafe(21)
        with self._lock:
            if self.invalidate_previous_tokens:
                self.valid_tokens.clear()
            self.valid_tokens.add(token)
            self.tokens_issued += 1
        return Reply(200, {"access_token": token, "expires_in": self.token_expires_in})

    def _stk_push(self, request: RecordedRequest) -> Reply:
        body = self._json_body(request, first_field="BusinessShortCode")
        self._timestamp_and_password(body)
        if body.get("TransactionType") not in {"CustomerPayBillOnline", "CustomerBuyGoodsOnline"}:
            raise _Invalid(_bad("TransactionType"))
        self._whole_amount(body.get("Amount"), 1)
        for field in ("PartyA", "PhoneNumber"):
            if not isinstance(body.get(field), str) or not _MSISDN.match(body[field]):
                raise _Invalid(_bad(field))
        if str(body.get("PartyB", "")) != self.shortcode:
            raise _Invalid(_bad("PartyB"))
        self._url(body.get("CallBackURL"), "CallBackURL")
        self._text(body, "AccountReference", 1, 12)
        if (
            not isinstance(body.get("TransactionDesc"), str)
            or not 1 <= len(body["TransactionDesc"]) <= 13
        ):
            raise _Invalid(_bad("Remarks"))
        merchant_id, checkout_id = payloads.merchant_request_id(), payloads.checkout_request_id()
        self.stk[checkout_id] = {
            "merchant_id": merchant_id,
            "body": body,
            "result_code": None,
            "receipt": payloads.receipt_number(),
        }
        return Reply(200, payloads.stk_push_response(merchant_id, checkout_id))

    def _stk_query(self, request: RecordedRequest) -> Reply:
        body = self._json_body(request, first_field="BusinessShortCode")
        self._timestamp_and_password(body)
        entry = self.stk.get(str(body.get("CheckoutRequestID", "")))
        if entry is None:
            raise _Invalid(_bad("CheckoutRequestID"))
        if entry["result_code"] is None:
            return Reply(
                500,
                {
                    "requestId": body["CheckoutRequestID"],
                    "errorCode": "500.001.1001",
                    "errorMessage": "The transaction is being processed",
                },
            )
        return Reply(
            200,
            payloads.stk_query_response(
                entry["merchant_id"],
                entry.get("query_answer_id") or body["CheckoutRequestID"],
                entry["result_code"],
            ),
        )

    def _initiator(self, body: dict, name_field: str) -> str | None:
        if body.get(name_field) != self.initiator_name:
            raise _Invalid(_bad(name_field))
        return self._decrypt_credential(body.get("SecurityCredential"))

    def _b2c(self, request: RecordedRequest) -> Reply:
        body = self._json_body(request, first_field="InitiatorName")
        originator = body.get("OriginatorConversationID")
        if not isinstance(originator, str) or not originator:
            raise _Invalid(_bad("OriginatorConversationID"))
        password = self._initiator(body, "InitiatorName")
        if body.get("CommandID") not in {"BusinessPayment", "SalaryPayment", "PromotionPayment"}:
            raise _Invalid(_bad("CommandID"))
        self._whole_amount(body.get("Amount"), 10)
        if str(body.get("PartyA", "")) != self.b2c_shortcode:
            raise _Invalid(_bad("PartyA"))
        if not isinstance(body.get("PartyB"), str) or not _MSISDN.match(body["PartyB"]):
            raise _Invalid(_bad("PartyB"))
        self._text(body, "Remarks", 2, 100)
        self._url(body.get("QueueTimeOutURL"), "QueueTimeOutURL")
        self._url(body.get("ResultURL"), "ResultURL")
        self._text(body, "Occassion", 1, 100, required=False)
        with self._lock:
            if originator in self.b2c:
                return _envelope(500, "500.002.1001", "Duplicate OriginatorConversationID")
            conversation = payloads.conversation_id()
            self.b2c[originator] = {
                "body": body,
                "conversation_id": conversation,
                "decrypted_password": password,
                # A wrong credential is only reported asynchronously, as ResultCode 2001.
                "credential_ok": password == self.initiator_password,
                "receipt": payloads.receipt_number(),
            }
        return Reply(200, payloads.b2c_accepted_response(originator, conversation))

    def _transaction_status(self, request: RecordedRequest) -> Reply:
        body = self._json_body(request, first_field="Initiator")
        password = self._initiator(body, "Initiator")
        if body.get("CommandID") != "TransactionStatusQuery":
            raise _Invalid(_bad("CommandID"))
        if not (body.get("TransactionID") or body.get("OriginalConversationID")):
            raise _Invalid(_bad("TransactionID"))
        if str(body.get("PartyA", "")) != self.b2c_shortcode:
            raise _Invalid(_bad("PartyA"))
        if str(body.get("IdentifierType", "")) != "4":
            raise _Invalid(_bad("IdentifierType"))
        self._url(body.get("ResultURL"), "ResultURL")
        self._url(body.get("QueueTimeOutURL"), "QueueTimeOutURL")
        self._text(body, "Remarks", 2, 100)
        self._text(body, "Occasion", 1, 100, required=False)
        originator, conversation = payloads.daraja_originator_id(), payloads.conversation_id()
        self.status_queries[originator] = {
            "body": body,
            "conversation_id": conversation,
            "decrypted_password": password,
        }
        return Reply(200, payloads.transaction_status_accepted_response(originator, conversation))
