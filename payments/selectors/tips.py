"""Reads about tips (payments/services/tips.py)."""

from __future__ import annotations

from payments import rules
from payments.models import Payment, PaymentPurpose, PaymentStatus, Payout, PayoutKind, PayoutStatus


def tips_without_payout_ids(*, credited_before, limit: int = 500) -> list[int]:
    """Succeeded tips credited before `credited_before` whose payout step never ran (the sweep's work)."""
    return list(
        Payment.objects.filter(
            purpose=PaymentPurpose.TIP,
            status=PaymentStatus.SUCCEEDED,
            completed_at__lte=credited_before,
        )
        .exclude(refunds__kind=PayoutKind.TIP)
        .order_by("completed_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def tip_payouts_deferred_too_long_ids(*, now, limit: int = 500) -> list[int]:
    """Tip payouts still `deferred` rules.TIP_DEFERRED_MAX_WAIT after they were created: no payout of the
    technician carried them, so the sweep pays them on their own."""
    return list(
        Payout.objects.filter(
            kind=PayoutKind.TIP,
            status=PayoutStatus.DEFERRED,
            created_at__lte=now - rules.TIP_DEFERRED_MAX_WAIT,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
