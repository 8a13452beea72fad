"""Row locks (always in the order booking → payment → escrow → technician payable account → payout), provider
access and callback URLs."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

# The one booking lock (bookings owns it), re-exported for the payments services.
from bookings.services.bookings import lock_booking as lock_booking
from payments.daraja import get_mpesa_client
from payments.models import LedgerAccount, Payment, Payout
from payments.services.ledger import escrow_code, ledger_account, technician_payable_code


def lock_payment(payment_id: int) -> Payment:
    """Caller holds the booking lock (lock order booking → payment → escrow → payout)."""
    return Payment.objects.select_for_update(of=("self",)).get(pk=payment_id)


def lock_escrow(booking_id: int) -> LedgerAccount:
    account = ledger_account(escrow_code(booking_id), booking_id=booking_id)
    return LedgerAccount.objects.select_for_update().get(pk=account.pk)


def lock_technician_payable(user_id: int) -> None:
    """Serialises payout creation (and what decides it: deferred shares, debts withheld, claw-backs) per
    technician, so two shares released at once are seen together. Caller holds the booking lock.
    FOR NO KEY UPDATE: ledger inserts referencing the account (FOR KEY SHARE) are not blocked."""
    account = ledger_account(technician_payable_code(user_id), user_id=user_id)
    LedgerAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).first()


def lock_payout(payout_id: int) -> Payout:
    return Payout.objects.select_for_update(of=("self",)).get(pk=payout_id)


def mpesa_client():
    """The configured Daraja client (simulator | sandbox | production); tests swap it for a fake server."""
    return get_mpesa_client()


# The URLs we hand to Daraja. Safaricom refuses callback URLs containing words such as "mpesa" or
# "query" (shared/integrations.md §1.9), so the same views are also served under neutral paths, kept out of
# the public API docs; the `payments/mpesa/...` paths stay for clients of the original API.
DARAJA_CALLBACK_PATHS = {
    "stk_result": "payments/daraja/stk/result",
    "stk_timeout": "payments/daraja/stk/timeout",
    "b2c_result": "payments/daraja/b2c/result",
    "b2c_timeout": "payments/daraja/b2c/timeout",
    "status_result": "payments/daraja/status/result",
    "status_timeout": "payments/daraja/status/timeout",
}


def callback_url(path: str, **params) -> str:
    """Public URL Daraja posts to: base + /api/v1/<path> + ?token=<secret> (+ extra params)."""
    query = urlencode({"token": settings.MPESA_CALLBACK_TOKEN, **params})
    base = settings.MPESA_CALLBACK_BASE_URL.rstrip("/")
    return f"{base}/api/v1/{path}?{query}"


def now():
    return timezone.now()
