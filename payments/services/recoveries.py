"""Money a technician owes back: recorded in the ledger, shown to staff, withheld from later payouts.

A debt arises when a customer is refunded money the technician was already paid (a dispute settled after the
payout went out: payments/services/escrow.py `_claw_back`) or when a technician payout went out twice, or
after it was cancelled (payments/services/payouts.py `_settle_paid`). It is never only logged:
- a ledger posting credits `technician_receivable:<technician>` (its balance is minus what the technician
  owes); the customer's refund is paid now, through refunds_payable, and a double payment is what
  mpesa_b2c_disbursed really sent;
- a `TechnicianRecovery` row names the debt for staff (admin "Technician recoveries", `manage.py reconcile`);
- every later technician payout first repays it: `recovery_withhold` moves what it can from
  technician_payable to technician_receivable before the payout is created for the rest.

Lock order (payments/services/common.py): booking → payment → escrow → technician payable account → payout.
Withholding runs under the technician payable account's lock, so two payouts created at once never withhold
the same debt twice.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from dumuwaks.core.money import to_decimal
from payments.models import (
    LedgerTransactionKind,
    PayoutChannel,
    RecoveryReason,
    TechnicianRecovery,
)
from payments.selectors import technician_owed
from payments.services.ledger import (
    CARD_REFUNDS_DISBURSED,
    MPESA_B2C_DISBURSED,
    EntrySide,
    Line,
    ledger_post,
    technician_payable_code,
    technician_receivable_code,
    transfer,
)

logger = logging.getLogger(__name__)


def recovery_record(
    *,
    technician_id: int,
    booking_id: int,
    amount: Decimal,
    reason: str,
    ledger_reference: str,
    currency: str,
    dispute_id: int | None = None,
    payout_id: int | None = None,
    note: str = "",
) -> TechnicianRecovery:
    """The record of a debt the caller has just posted under `ledger_reference` (same transaction)."""
    recovery = TechnicianRecovery.objects.create(
        technician_id=technician_id,
        booking_id=booking_id,
        dispute_id=dispute_id,
        payout_id=payout_id,
        reason=reason,
        amount=to_decimal(amount),
        currency=currency,
        ledger_reference=ledger_reference,
        note=note[:255],
    )
    logger.warning(
        "technician %s owes KES %s (%s, booking %s): recovery %s, withheld from their next payouts",
        technician_id,
        recovery.amount,
        reason,
        booking_id,
        recovery.pk,
    )
    return recovery


def recovery_record_overpaid(*, payout, overpaid_total: Decimal, increment: Decimal) -> None:
    """A technician payout went out more than it owed (`overpaid_total` in all, `increment` of it new).

    Caller holds the booking and payout locks. The extra money left by B2C: mpesa_b2c_disbursed records it,
    and the technician owes it back.
    """
    reference = f"payout:{payout.pk}:overpaid:{to_decimal(overpaid_total)}"
    sink = CARD_REFUNDS_DISBURSED if payout.channel == PayoutChannel.CARD else MPESA_B2C_DISBURSED
    txn = ledger_post(
        kind=LedgerTransactionKind.RECOVERY,
        reference=reference,
        lines=transfer(increment, source=technician_receivable_code(payout.recipient_id), to=sink),
        booking_id=payout.booking_id,
        payout_id=payout.pk,
        memo=f"payout {payout.pk} paid KES {increment} more than it owed",
        currency=payout.currency,
    )
    if txn is None:
        return
    recovery_record(
        technician_id=payout.recipient_id,
        booking_id=payout.booking_id,
        amount=increment,
        reason=RecoveryReason.PAYOUT_OVERPAID,
        ledger_reference=reference,
        currency=payout.currency,
        payout_id=payout.pk,
        note=f"payout {payout.pk} overpaid by KES {overpaid_total} in all",
    )


def recovery_line(technician_id: int, amount: Decimal) -> Line:
    """The line of a refund posting that records what the technician owes for it."""
    return Line(technician_receivable_code(technician_id), EntrySide.CREDIT, to_decimal(amount))


def recovery_withhold(
    *, technician_id: int, booking_id: int, amount: Decimal, source_reference: str, currency: str
) -> Decimal:
    """Repay the technician's debt out of `amount`, just credited to their payable account by the posting
    `source_reference`, before a payout is created for it. Returns what was withheld (0 when nothing is owed).

    Caller holds the booking lock and the technician payable account's lock. Posted once per source posting.
    """
    withheld = min(technician_owed(technician_id), to_decimal(amount))
    if withheld <= 0:
        return Decimal(0)
    txn = ledger_post(
        kind=LedgerTransactionKind.RECOVERY,
        reference=f"{source_reference}:recovery",
        lines=transfer(
            withheld,
            source=technician_payable_code(technician_id),
            to=technician_receivable_code(technician_id),
        ),
        booking_id=booking_id,
        memo=f"KES {withheld} withheld against money the technician owes",
        currency=currency,
    )
    if (
        txn is None
    ):  # withheld already (the caller's posting is idempotent, so this does not happen)
        return Decimal(0)
    remaining = technician_owed(technician_id)
    logger.info(
        "technician %s: KES %s withheld from %s; KES %s still owed",
        technician_id,
        withheld,
        source_reference,
        remaining,
    )
    return withheld
