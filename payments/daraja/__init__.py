"""M-Pesa (Safaricom Daraja) integration: one client interface, three backends chosen by MPESA_BACKEND.

    client = get_mpesa_client()
    accepted = client.stk_push(phone_msisdn=..., amount=1500, account_reference="BK42",
                               description="Deposit", callback_url=...)

Errors are classified in `payments.daraja.errors`; callback bodies are parsed by `payments.daraja.parsing`.
"""

from __future__ import annotations

from django.conf import settings

from . import (
    simulator,
)  # registers the simulator's Celery tasks (explicit names) wherever this is imported
from .client import DarajaClient
from .errors import (
    DarajaBusy,
    DarajaConfigurationError,
    DarajaDuplicateRequest,
    DarajaError,
    DarajaOutcomeUnknown,
    DarajaUnavailable,
)
from .parsing import (
    B2CResult,
    MalformedCallback,
    QueueTimeout,
    StkCallback,
    TransactionStatusResult,
    parse_b2c_result,
    parse_queue_timeout,
    parse_stk_callback,
    parse_transaction_status_result,
)
from .types import (
    B2CAccepted,
    MpesaClient,
    StkPushAccepted,
    StkQueryResult,
    TransactionStatusAccepted,
)


def get_mpesa_client() -> MpesaClient:
    backend = settings.MPESA_BACKEND
    if backend == "simulator":
        return simulator.SimulatorClient()
    if backend in {"sandbox", "production"}:
        return DarajaClient(backend=backend)
    raise DarajaConfigurationError(f"unknown MPESA_BACKEND {backend!r}")


__all__ = [
    "B2CAccepted",
    "B2CResult",
    "DarajaBusy",
    "DarajaConfigurationError",
    "DarajaDuplicateRequest",
    "DarajaError",
    "DarajaOutcomeUnknown",
    "DarajaUnavailable",
    "MalformedCallback",
    "MpesaClient",
    "QueueTimeout",
    "StkCallback",
    "StkPushAccepted",
    "StkQueryResult",
    "TransactionStatusAccepted",
    "TransactionStatusResult",
    "get_mpesa_client",
    "parse_b2c_result",
    "parse_queue_timeout",
    "parse_stk_callback",
    "parse_transaction_status_result",
]
