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

from django.db import IntegrityError, transaction

from dumuwaks.core.errors import ValidationFailed
from dumuwaks.core.money import to_decimal
from payments import errors
from payments.models import (
    LedgerAccount,
    LedgerTransactionKind,
    Payment,
    PayoutChannel,
    PayoutKind,
    RecoveryReason,
    RecoverySettlement,
    RecoverySettlementKind,
    TechnicianRecovery,
)
from payments.selectors.balances import technician_owed
from payments.selectors.recoveries import debtor_owed, technician_recovery_list
from payments.services.common import lock_technician_payable
from payments.services.ledger import (
    CARD_REFUNDS_DISBURSED,
    MPESA_B2C_DISBURSED,
    MPESA_REPAYMENTS,
    RECOVERIES_WRITTEN_OFF,
    EntrySide,
    Line,
    customer_receivable_code,
    ledger_account,
    ledger_post,
    technician_payable_code,
    technician_receivable_code,
    transfer,
)

logger = logging.getLogger(__name__)


def recovery_record(
    *,
    booking_id: int,
    amount: Decimal,
    reason: str,
    ledger_reference: str,
    currency: str,
    technician_id: int | None = None,
    customer_id: int | None = None,
    dispute_id: int | None = None,
    payout_id: int | None = None,
    note: str = "",
) -> TechnicianRecovery:
    """The record of a debt the caller has just posted under `ledger_reference` (same transaction), owed by
    the technician or the customer (exactly one)."""
    recovery = TechnicianRecovery.objects.create(
        technician_id=technician_id,
        customer_id=customer_id,
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
        "%s %s owes KES %s (%s, booking %s): recovery %s",
        recovery.debtor_role,
        recovery.debtor_id,
        recovery.amount,
        reason,
        booking_id,
        recovery.pk,
    )
    return recovery


def recovery_record_overpaid(*, payout, overpaid_total: Decimal, increment: Decimal) -> None:
    """A payout went out more than it owed (`overpaid_total` in all, `increment` of it new): its recipient
    owes it back, the technician (withheld from their next payouts) or, for a refund, the customer (staff
    collect it or write it off).

    Caller holds the booking and payout locks. The extra money left by B2C (or card): the disbursed account
    records it, and the recipient's receivable is credited.
    """
    reference = f"payout:{payout.pk}:overpaid:{to_decimal(overpaid_total)}"
    sink = CARD_REFUNDS_DISBURSED if payout.channel == PayoutChannel.CARD else MPESA_B2C_DISBURSED
    is_refund = payout.kind == PayoutKind.REFUND
    receivable = (
        customer_receivable_code(payout.recipient_id)
        if is_refund
        else technician_receivable_code(payout.recipient_id)
    )
    txn = ledger_post(
        kind=LedgerTransactionKind.RECOVERY,
        reference=reference,
        lines=transfer(increment, source=receivable, to=sink),
        booking_id=payout.booking_id,
        payout_id=payout.pk,
        memo=f"payout {payout.pk} paid KES {increment} more than it owed",
        currency=payout.currency,
    )
    if txn is None:
        return
    recovery_record(
        technician_id=None if is_refund else payout.recipient_id,
        customer_id=payout.recipient_id if is_refund else None,
        booking_id=payout.booking_id,
        amount=increment,
        reason=RecoveryReason.REFUND_OVERPAID if is_refund else RecoveryReason.PAYOUT_OVERPAID,
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


def recovery_offset_failed_payout(*, payout) -> tuple[Decimal, str]:
    """The technician payout `payout` failed definitively. If a dispute recorded a debt while it was with
    M-Pesa (the recovery names it: the debt assumed it would be paid), repay that debt from the money the
    payout leaves in technician_payable: payable → receivable, at most the debt, the payout and what the
    technician still owes (`payout:<id>:failed:offset`, posted once). Returns (amount offset, reference);
    0 when nothing applies. Caller holds the booking, technician payable and payout locks.
    """
    reference = f"payout:{payout.pk}:failed:offset"
    debt = (
        TechnicianRecovery.objects.filter(payout_id=payout.pk, reason=RecoveryReason.DISPUTE_REFUND)
        .order_by("id")
        .first()
    )
    if debt is None:
        return Decimal(0), reference
    offset = min(debt.amount, payout.amount, technician_owed(payout.recipient_id))
    if offset <= 0:
        return Decimal(0), reference
    txn = ledger_post(
        kind=LedgerTransactionKind.RECOVERY,
        reference=reference,
        lines=transfer(
            offset,
            source=technician_payable_code(payout.recipient_id),
            to=technician_receivable_code(payout.recipient_id),
        ),
        booking_id=payout.booking_id,
        payout_id=payout.pk,
        memo=f"payout {payout.pk} failed: KES {offset} of it repays recovery {debt.pk}",
        currency=payout.currency,
    )
    if txn is None:
        return Decimal(0), reference
    logger.warning(
        "payout %s failed after recovery %s was recorded for it: KES %s offset",
        payout.pk,
        debt.pk,
        offset,
    )
    return offset, reference


# --- staff: closing a debt other than by netting payouts ------------------------------------------------------


def _lock_debtor(recovery: TechnicianRecovery) -> None:
    """Serialise with everything that repays this debtor: a technician's payouts withhold under their
    payable account's lock (payments/services/common.py lock order), then the receivable account itself."""
    if recovery.technician_id:
        lock_technician_payable(recovery.technician_id)
    account = ledger_account(recovery.receivable_code, user_id=recovery.debtor_id)
    LedgerAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).first()


def _outstanding(recovery_id: int) -> TechnicianRecovery:
    return technician_recovery_list().get(pk=recovery_id)


def recovery_write_off(*, recovery_id: int, actor, reason: str) -> RecoverySettlement:
    """Staff: give up on what is still owed of this debt (a loss): recoveries_written_off → the debtor's
    receivable (`recovery:<id>:write-off`), recorded as a `RecoverySettlement` with the reason and the actor.

    Idempotent (written off already: the same settlement). `RecoverySettled` (409) when nothing of it is owed
    any more; `RecoveryOlderOpen` (409) while an older debt of the same debtor is still open (repayments
    settle a debtor's debts oldest first, so older ones are written off first).
    """
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(fields={"reason": ["Say why it is written off."]})
    reference = f"recovery:{recovery_id}:write-off"
    with transaction.atomic():
        recovery = TechnicianRecovery.objects.get(pk=recovery_id)
        _lock_debtor(recovery)
        done = RecoverySettlement.objects.filter(ledger_reference=reference).first()
        if done is not None:
            return done
        row = _outstanding(recovery_id)
        if row.outstanding <= 0:
            raise errors.RecoverySettled()
        older = (
            technician_recovery_list(open_only=True)
            .filter(debtor_account=row.debtor_account, id__lt=recovery_id)
            .values_list("pk", flat=True)
            .first()
        )
        if older is not None:
            raise errors.RecoveryOlderOpen(
                f"Recovery {older} of the same debtor is older and still open: settle it first."
            )
        ledger_post(
            kind=LedgerTransactionKind.RECOVERY,
            reference=reference,
            lines=transfer(
                row.outstanding, source=RECOVERIES_WRITTEN_OFF, to=recovery.receivable_code
            ),
            booking_id=recovery.booking_id,
            memo=f"recovery {recovery.pk} written off: {reason}"[:255],
            currency=recovery.currency,
        )
        settlement = RecoverySettlement.objects.create(
            recovery=recovery,
            kind=RecoverySettlementKind.WRITTEN_OFF,
            amount=row.outstanding,
            currency=recovery.currency,
            note=reason[:255],
            ledger_reference=reference,
            actor=actor,
        )
    logger.warning(
        "recovery %s: KES %s written off by %s (%s)",
        recovery_id,
        settlement.amount,
        getattr(actor, "pk", None),
        reason,
    )
    return settlement


def recovery_record_repayment(
    *, recovery_id: int, amount, receipt: str, actor, note: str = ""
) -> RecoverySettlement:
    """Staff: the debtor of this debt paid money back by M-Pesa to the paybill (`receipt`, seen on the
    statement): mpesa_repayments → the debtor's receivable (`recovery:<id>:repaid:<receipt>`), recorded as a
    `RecoverySettlement`. Like every repayment it settles the debtor's debts oldest first; at most what the
    debtor still owes in all.

    Idempotent per receipt (the same receipt for the same debt and amount: the same settlement).
    `RecoveryReceiptInUse` (409) for a receipt recorded elsewhere (another settlement or a payment);
    `RecoverySettled` (409) when the debtor owes nothing; 400 when `amount` exceeds what they owe.
    """
    receipt = receipt.strip().upper()
    amount = to_decimal(amount)
    reference = f"recovery:{recovery_id}:repaid:{receipt}"
    with transaction.atomic():
        recovery = TechnicianRecovery.objects.get(pk=recovery_id)
        _lock_debtor(recovery)
        existing = RecoverySettlement.objects.filter(receipt=receipt).first()
        if existing is not None:
            if existing.ledger_reference == reference and existing.amount == amount:
                return existing
            raise errors.RecoveryReceiptInUse()
        if Payment.objects.filter(mpesa_receipt=receipt).exists():
            raise errors.RecoveryReceiptInUse("This receipt is a customer payment already.")
        owed = debtor_owed(recovery.receivable_code)
        if owed <= 0:
            raise errors.RecoverySettled()
        if amount > owed:
            raise ValidationFailed(
                fields={"amount": [f"The {recovery.debtor_role} owes KES {owed} in all."]}
            )
        ledger_post(
            kind=LedgerTransactionKind.RECOVERY,
            reference=reference,
            lines=transfer(amount, source=MPESA_REPAYMENTS, to=recovery.receivable_code),
            booking_id=recovery.booking_id,
            memo=f"M-Pesa {receipt}: repayment towards recovery {recovery.pk}",
            currency=recovery.currency,
        )
        try:
            with transaction.atomic():
                settlement = RecoverySettlement.objects.create(
                    recovery=recovery,
                    kind=RecoverySettlementKind.REPAID,
                    amount=amount,
                    currency=recovery.currency,
                    receipt=receipt,
                    note=(note or "repaid by M-Pesa to the paybill")[:255],
                    ledger_reference=reference,
                    actor=actor,
                )
        except IntegrityError as exc:  # the same receipt recorded at the same moment
            raise errors.RecoveryReceiptInUse() from exc
    logger.info(
        "recovery %s: KES %s repaid (M-Pesa %s), recorded by %s",
        recovery_id,
        amount,
        receipt,
        getattr(actor, "pk", None),
    )
    return settlement
