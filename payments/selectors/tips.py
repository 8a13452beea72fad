"""Reads about tips (payments/services/tips.py)."""

from __future__ import annotations

from payments.models import Payment, PaymentPurpose, PaymentStatus, PayoutKind


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
