"""HTTP client for the real Daraja API (sandbox and production).

Each call opens a short-lived httpx client with explicit timeouts (safe across Celery prefork and threads).
The OAuth token is shared by every worker through the Django (Redis) cache: Daraja invalidates the previous
token whenever a new one is minted, so workers must not each fetch their own.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache

from . import security
from .errors import (
    BUSY_CODES,
    DUPLICATE_ORIGINATOR_CONVERSATION_ID,
    INVALID_ACCESS_TOKEN,
    TRANSACTION_BEING_PROCESSED,
    DarajaBusy,
    DarajaConfigurationError,
    DarajaDuplicateRequest,
    DarajaError,
    DarajaOutcomeUnknown,
    DarajaUnavailable,
)
from .parsing import result_code_str
from .types import B2CAccepted, StkPushAccepted, StkQueryResult, TransactionStatusAccepted

logger = logging.getLogger(__name__)

BASE_URLS = {
    "sandbox": "https://sandbox.safaricom.co.ke",
    "production": "https://api.safaricom.co.ke",
}
TOKEN_REFRESH_MARGIN_SECONDS = 300  # refresh ~5 min before Daraja's 3600 s expiry
TOKEN_LOCK_SECONDS = 30
TOKEN_WAIT_SECONDS = 10.0
# STK Query ResultCodes that mean "not decided yet" (4999 seen in sandbox as "still under processing").
STK_QUERY_PENDING_CODES = frozenset({"4999"})

PATH_TOKEN = "/oauth/v1/generate"
PATH_STK_PUSH = "/mpesa/stkpush/v1/processrequest"
PATH_STK_QUERY = "/mpesa/stkpushquery/v1/query"
PATH_B2C = "/mpesa/b2c/v3/paymentrequest"
PATH_TRANSACTION_STATUS = "/mpesa/transactionstatus/v1/query"


class DarajaClient:
    """Implements `MpesaClient` against Daraja. Settings are read when the client is built."""

    def __init__(self, *, backend: str) -> None:
        if backend not in BASE_URLS:
            raise DarajaConfigurationError(f"unknown MPESA_BACKEND {backend!r}")
        self.backend = backend
        self.base_url = (settings.MPESA_BASE_URL_OVERRIDE or BASE_URLS[backend]).rstrip("/")
        self.consumer_key = settings.MPESA_CONSUMER_KEY
        self.consumer_secret = settings.MPESA_CONSUMER_SECRET
        self.shortcode = str(settings.MPESA_SHORTCODE)
        self.passkey = settings.MPESA_PASSKEY
        self.transaction_type = settings.MPESA_TRANSACTION_TYPE
        # BuyGoods: PartyB is the till while BusinessShortCode is the store number.
        self.party_b = str(settings.MPESA_STK_PARTY_B or self.shortcode)
        self.b2c_shortcode = str(settings.MPESA_B2C_SHORTCODE)
        self.initiator_name = settings.MPESA_INITIATOR_NAME
        self.initiator_password = settings.MPESA_INITIATOR_PASSWORD
        self.certificate_file = settings.MPESA_CERTIFICATE_FILE
        read_timeout = settings.MPESA_HTTP_TIMEOUT_SECONDS
        self.timeout = httpx.Timeout(read_timeout, connect=min(read_timeout, 10.0))
        cache_id = f"{self.base_url}|{self.consumer_key}"
        self._token_key = f"daraja:token:{uuid.uuid5(uuid.NAMESPACE_URL, cache_id).hex}"
        self._lock_key = f"{self._token_key}:lock"

    # --- OAuth ----------------------------------------------------------------------------------------------

    def access_token(self, *, stale_token: str | None = None) -> str:
        """A valid token from the shared cache, minting one under a cross-worker lock when needed.

        `stale_token`: the token Daraja just rejected; only that one is replaced (another worker may already
        have refreshed it).
        """
        cached = self._cached_token()
        if cached and cached != stale_token:
            return cached
        deadline = time.monotonic() + TOKEN_WAIT_SECONDS
        owner = uuid.uuid4().hex
        while True:
            if cache.add(self._lock_key, owner, timeout=TOKEN_LOCK_SECONDS):
                try:
                    cached = self._cached_token()
                    if cached and cached != stale_token:
                        return cached
                    return self._fetch_and_store_token()
                finally:
                    if cache.get(self._lock_key) == owner:
                        cache.delete(self._lock_key)
            time.sleep(0.1)
            cached = self._cached_token()
            if cached and cached != stale_token:
                return cached
            if time.monotonic() > deadline:
                # The lock holder is stuck; the lock expires by itself, minting here is the lesser evil.
                logger.warning(
                    "daraja: token lock wait timed out, fetching a token without the lock"
                )
                return self._fetch_and_store_token()

    def _cached_token(self) -> str | None:
        entry = cache.get(self._token_key)
        if not isinstance(entry, dict):
            return None
        # Absolute expiry (time.time) rather than the cache TTL: a token must never look fresh after expiry.
        if float(entry.get("expires_at", 0)) - TOKEN_REFRESH_MARGIN_SECONDS <= time.time():
            return None
        return entry.get("access_token") or None

    def _fetch_and_store_token(self) -> str:
        if not (self.consumer_key and self.consumer_secret):
            raise DarajaConfigurationError("MPESA_CONSUMER_KEY / MPESA_CONSUMER_SECRET are not set")
        try:
            with httpx.Client(timeout=self.timeout) as http:
                response = http.get(
                    f"{self.base_url}{PATH_TOKEN}",
                    params={"grant_type": "client_credentials"},
                    auth=(self.consumer_key, self.consumer_secret),
                )
        except httpx.HTTPError as exc:  # no side effect: a failed token fetch is always retryable
            raise DarajaUnavailable("network", f"token request failed: {exc!r}", 0) from exc
        data = self._json(response)
        if response.status_code != 200 or not data.get("access_token"):
            raise self._error_from(response, data, side_effect=False)
        try:
            expires_in = int(float(str(data.get("expires_in", "3599")).strip()))
        except ValueError:
            expires_in = 3599
        expires_at = time.time() + expires_in
        token = str(data["access_token"])
        cache.set(
            self._token_key,
            {"access_token": token, "expires_at": expires_at},
            timeout=max(expires_in - TOKEN_REFRESH_MARGIN_SECONDS, 1),
        )
        return token

    # --- transport ------------------------------------------------------------------------------------------

    def _post(self, path: str, body: dict, *, side_effect: bool) -> dict:
        token = self.access_token()
        response, data = self._send(path, body, token, side_effect=side_effect)
        if response.status_code == 404 and data.get("errorCode") == INVALID_ACCESS_TOKEN:
            # Rejected at the gateway, nothing executed: refresh once and retry once.
            token = self.access_token(stale_token=token)
            response, data = self._send(path, body, token, side_effect=side_effect)
        if response.status_code == 200 and "errorCode" not in data:
            if side_effect and "ResponseCode" not in data:
                # 200 with an unreadable body (proxy page, truncated JSON): it may have been accepted.
                raise DarajaOutcomeUnknown("unparsable", response.text[:200], 200)
            return data
        raise self._error_from(response, data, side_effect=side_effect)

    def _send(
        self, path: str, body: dict, token: str, *, side_effect: bool
    ) -> tuple[httpx.Response, dict]:
        try:
            with httpx.Client(timeout=self.timeout) as http:
                response = http.post(
                    f"{self.base_url}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise DarajaUnavailable("network", f"could not reach Daraja: {exc!r}", 0) from exc
        except httpx.HTTPError as exc:
            # Sent (or partly sent) and no answer: Daraja may have acted on it.
            cls = DarajaOutcomeUnknown if side_effect else DarajaBusy
            raise cls("network", f"no response from Daraja: {exc!r}", 0) from exc
        return response, self._json(response)

    @staticmethod
    def _json(response: httpx.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _error_from(response: httpx.Response, data: dict, *, side_effect: bool) -> DarajaError:
        code = str(data.get("errorCode") or "").strip()
        message = str(data.get("errorMessage") or response.text[:200] or response.reason_phrase)
        status = response.status_code
        request_id = str(data.get("requestId") or "")
        if code == DUPLICATE_ORIGINATOR_CONVERSATION_ID:
            return DarajaDuplicateRequest(code, message, status, request_id=request_id)
        if code in BUSY_CODES or status == 429:
            return DarajaBusy(code or str(status), message, status, request_id=request_id)
        if status >= 500 and (not code or code.startswith("500.003")):
            # Gateway 5xx / internal error: the backend may or may not have executed the request.
            cls = DarajaOutcomeUnknown if side_effect else DarajaBusy
            return cls(code or str(status), message, status, request_id=request_id)
        if status == 200 and "ResponseCode" in data:
            return DarajaError(
                result_code_str(data["ResponseCode"]),
                str(data.get("ResponseDescription") or ""),
                status,
                request_id=request_id,
            )
        return DarajaError(code or str(status), message, status, request_id=request_id)

    @staticmethod
    def _require_accepted(data: dict) -> None:
        if result_code_str(data.get("ResponseCode", "")) != "0":
            raise DarajaError(
                result_code_str(data.get("ResponseCode", "")),
                str(data.get("ResponseDescription") or data.get("CustomerMessage") or ""),
                200,
            )

    def _callback_url(self, url: str) -> str:
        url = url.strip()
        if self.backend == "production" and not url.startswith("https://"):
            raise DarajaConfigurationError(f"production callback URLs must be HTTPS: {url!r}")
        return url

    # --- APIs -----------------------------------------------------------------------------------------------

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
        timestamp = security.eat_timestamp()
        body = {
            "BusinessShortCode": self.shortcode,
            "Password": security.stk_password(self.shortcode, self.passkey, timestamp),
            "Timestamp": timestamp,
            "TransactionType": self.transaction_type,
            "Amount": security.whole_shillings(
                amount, minimum=security.STK_MIN_AMOUNT, maximum=security.STK_MAX_AMOUNT
            ),
            "PartyA": phone,
            "PartyB": self.party_b,
            "PhoneNumber": phone,
            "CallBackURL": self._callback_url(callback_url),
            "AccountReference": security.account_reference(account_reference),
            "TransactionDesc": security.transaction_desc(description),
        }
        data = self._post(PATH_STK_PUSH, body, side_effect=True)
        self._require_accepted(data)
        return StkPushAccepted(
            merchant_request_id=str(data.get("MerchantRequestID", "")),
            checkout_request_id=str(data["CheckoutRequestID"]),
            response_code=result_code_str(data.get("ResponseCode", "0")),
            customer_message=str(
                data.get("CustomerMessage") or data.get("ResponseDescription") or ""
            ),
        )

    def stk_query(self, *, checkout_request_id: str) -> StkQueryResult:
        timestamp = security.eat_timestamp()
        body = {
            "BusinessShortCode": self.shortcode,
            "Password": security.stk_password(self.shortcode, self.passkey, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        try:
            data = self._post(PATH_STK_QUERY, body, side_effect=False)
        except DarajaError as exc:
            if exc.error_code == TRANSACTION_BEING_PROCESSED and "processed" in (
                exc.error_message.lower()
            ):
                # "The transaction is being processed": the customer hasn't answered the prompt yet.
                return StkQueryResult(
                    state="pending",
                    result_code=None,
                    result_desc=exc.error_message,
                    checkout_request_id=exc.request_id or None,
                )
            raise
        answered_for = str(data.get("CheckoutRequestID") or "").strip() or None
        if "ResultCode" not in data:
            return StkQueryResult(
                state="pending",
                result_code=None,
                result_desc=str(data.get("ResponseDescription", "")),
                checkout_request_id=answered_for,
            )
        code = result_code_str(data["ResultCode"])
        desc = str(data.get("ResultDesc") or "")
        if code in STK_QUERY_PENDING_CODES:
            return StkQueryResult(
                state="pending",
                result_code=code,
                result_desc=desc,
                checkout_request_id=answered_for,
            )
        return StkQueryResult(
            state="succeeded" if code == "0" else "failed",
            result_code=code,
            result_desc=desc,
            checkout_request_id=answered_for,
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
        if command_id not in {"BusinessPayment", "SalaryPayment", "PromotionPayment"}:
            raise ValueError(f"unsupported B2C CommandID {command_id!r}")
        body = {
            "OriginatorConversationID": security.originator_conversation_id(
                originator_conversation_id
            ),
            "InitiatorName": self.initiator_name,
            "SecurityCredential": security.security_credential(
                self.initiator_password, self.certificate_file
            ),
            "CommandID": command_id,
            "Amount": security.whole_shillings(
                amount, minimum=security.B2C_MIN_AMOUNT, maximum=security.B2C_MAX_AMOUNT
            ),
            "PartyA": self.b2c_shortcode,
            "PartyB": security.msisdn(phone_msisdn),
            "Remarks": security.clip(remarks, minimum=2, maximum=100, default="Payout"),
            "QueueTimeOutURL": self._callback_url(timeout_url),
            "ResultURL": self._callback_url(result_url),
            "Occassion": security.clip(occasion, minimum=1, maximum=100, default="Payout"),
        }
        data = self._post(PATH_B2C, body, side_effect=True)
        self._require_accepted(data)
        return B2CAccepted(
            conversation_id=str(data.get("ConversationID", "")),
            originator_conversation_id=str(
                data.get("OriginatorConversationID") or originator_conversation_id
            ),
            response_code=result_code_str(data.get("ResponseCode", "0")),
            response_description=str(data.get("ResponseDescription", "")),
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
        body: dict[str, Any] = {
            "Initiator": self.initiator_name,
            "SecurityCredential": security.security_credential(
                self.initiator_password, self.certificate_file
            ),
            "CommandID": "TransactionStatusQuery",
            "PartyA": self.b2c_shortcode,
            "IdentifierType": "4",
            "ResultURL": self._callback_url(result_url),
            "QueueTimeOutURL": self._callback_url(timeout_url),
            "Remarks": security.clip(remarks, minimum=2, maximum=100, default="Status check"),
            "Occasion": "Status check",
        }
        if transaction_id:
            body["TransactionID"] = transaction_id
        if originator_conversation_id:
            body["OriginalConversationID"] = originator_conversation_id
        # A status query moves no money: a lost response is simply re-queried.
        data = self._post(PATH_TRANSACTION_STATUS, body, side_effect=False)
        self._require_accepted(data)
        return TransactionStatusAccepted(
            conversation_id=str(data.get("ConversationID", "")),
            originator_conversation_id=str(data.get("OriginatorConversationID", "")),
            response_code=result_code_str(data.get("ResponseCode", "0")),
        )
