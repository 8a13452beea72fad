"""Daraja failures, classified by what the caller may safely do next.

- `DarajaError`: Daraja answered with an error envelope; the request was rejected (do not retry unchanged).
- `DarajaBusy`: rate limited (spike arrest / quota) or unreachable before sending: retry with backoff.
- `DarajaOutcomeUnknown`: the request may have been executed (timeout or reset after sending, 5xx without a
  known envelope). Never resend blindly: query (STK Query / Transaction Status) first.
- `DarajaDuplicateRequest`: the B2C OriginatorConversationID was already used, i.e. an earlier attempt reached
  Daraja. Treat the payout as sent and wait for / query its result.
"""

from __future__ import annotations


class DarajaError(Exception):
    def __init__(
        self,
        error_code: str,
        error_message: str,
        http_status: int,
        *,
        request_id: str = "",
    ) -> None:
        super().__init__(f"{error_code} {error_message} (HTTP {http_status})")
        self.error_code = error_code
        self.error_message = error_message
        self.http_status = http_status
        self.request_id = request_id


class DarajaOutcomeUnknown(DarajaError):
    pass


class DarajaDuplicateRequest(DarajaError):
    pass


class DarajaBusy(DarajaError):
    pass


class DarajaUnavailable(DarajaBusy):
    """Connection refused / connect timeout / token endpoint down: nothing was executed, retry later."""


class DarajaConfigurationError(DarajaError):
    """Missing certificate, credentials or other local setup needed to build the request."""

    def __init__(self, message: str) -> None:
        super().__init__("config", message, 0)


# Error codes from the Daraja error tables (see shared/integrations.md §1.1).
INVALID_ACCESS_TOKEN = "404.001.03"
DUPLICATE_ORIGINATOR_CONVERSATION_ID = "500.002.1001"
BUSY_CODES = frozenset({"500.003.02", "500.003.03"})
TRANSACTION_BEING_PROCESSED = "500.001.1001"
