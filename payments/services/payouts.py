"""Outbound money: technician payouts and refunds, sent by M-Pesa B2C (or Stripe refund for card payments).

B2C is never paid twice:
- Every request sent for a payout is a `PayoutAttempt` with its own OriginatorConversationID
  (`DW-PO-<payout>-<attempt>`, derived from the row: resending the same attempt is refused by Daraja as a
  duplicate). `payout_send` claims the payout (queued → sending) and creates the attempt under the payout's
  lock before calling Daraja, so a second worker finds it no longer queued.
- Only a definitive failure code (payments/daraja/result_codes.py) fails an attempt. Timeouts, system errors,
  unknown codes and transport errors leave its outcome `unknown`: the payout goes to `needs_reconciliation`
  and the attempt is checked with Transaction Status, never resent blindly.
- Results are applied to the attempt they name, whenever they arrive: a late success of an attempt given up
  earlier pays the payout (once: the ledger posting `payout:<id>:paid` is unique); if another attempt was paid
  too, the payout's `overpaid_amount` says how much went out twice, for staff to recover (a technician's is
  also recorded as a recovery, withheld from their next payouts).
- Attempt N+1 is only sent when attempts 1..N all failed definitively. Any other state of an earlier attempt
  holds the payout in `needs_reconciliation` and asks Transaction Status about it instead (staff process,
  the beat job re-sending queued payouts and task retries all go through `payout_send`).

Technician shares below the B2C minimum are `deferred`: the money stays in technician_payable (the ledger is
the source of truth) and the technician's next payout includes them; they become `carried`.

Lock order (extends payments/services/common.py): booking → payment → escrow → technician payable account →
payout → payout attempts.

A technician payout first repays what the technician owes (a refund after they were paid, a payout paid
twice: payments/services/recoveries.py); a double payment of a technician payout is recorded as such a debt.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from dumuwaks.core import events
from dumuwaks.core.errors import ApplicationError, ValidationFailed
from dumuwaks.core.money import to_decimal, to_mpesa_amount
from dumuwaks.core.phone import is_valid_phone, to_msisdn
from dumuwaks.core.side_effects import enqueue_after_commit, publish_after_commit
from dumuwaks.core.state_machine import status_history_append, transition
from payments import errors, rules, stripe_gateway, tasks
from payments.daraja.errors import (
    DarajaBusy,
    DarajaDuplicateRequest,
    DarajaError,
    DarajaOutcomeUnknown,
)
from payments.daraja.result_codes import Outcome
from payments.daraja.security import B2C_MIN_AMOUNT
from payments.models import (
    PAYOUT_ATTEMPT_MACHINE,
    PAYOUT_ATTEMPT_OPEN_OUTCOMES,
    PAYOUT_FINAL_STATUSES,
    PAYOUT_MACHINE,
    LedgerTransactionKind,
    Payout,
    PayoutAttempt,
    PayoutAttemptOutcome,
    PayoutChannel,
    PayoutKind,
    PayoutStatus,
)

# `common` as a module too: tests swap `common.mpesa_client` for a client around the fake.
from payments.services import common
from payments.services.common import (
    DARAJA_CALLBACK_PATHS,
    callback_url,
    lock_booking,
    lock_payout,
    lock_technician_payable,
    now,
)
from payments.services.ledger import (
    CARD_REFUNDS_DISBURSED,
    MPESA_B2C_DISBURSED,
    REFUNDS_PAYABLE,
    ledger_post,
    technician_payable_code,
    tips_payable_code,
    transfer,
)
from payments.services.recoveries import (
    recovery_offset_failed_payout,
    recovery_record_overpaid,
    recovery_withhold,
)
from support.models import TicketCategory, TicketPriority

logger = logging.getLogger(__name__)

# The client refuses B2C amounts below this (payments/daraja/security.py, Daraja's own minimum).
MPESA_B2C_MIN_KES = Decimal(B2C_MIN_AMOUNT)
PHONE_CHANGE_HOLD = timedelta(hours=24)

# Bounded Transaction Status checks of an attempt whose outcome is open (README "B2C is never paid twice"):
# the beat job asks first PAYOUT_RECONCILE_AFTER_SECONDS after the attempt's last change, then again after
# 5 min, doubling each time up to 4 h between checks; after PAYOUT_STATUS_CHECK_LIMIT checks without a final
# answer (about 18 h) the payout is escalated to staff (`escalated_at`, a support ticket) and the beat job
# stops asking. Staff settle it from the M-Pesa org portal statement (`payout_confirm_paid` /
# `payout_confirm_not_paid`); their own status checks stay possible at any time and are not counted.
PAYOUT_STATUS_CHECK_FIRST_INTERVAL = timedelta(minutes=5)
PAYOUT_STATUS_CHECK_MAX_INTERVAL = timedelta(hours=4)
PAYOUT_STATUS_CHECK_LIMIT = 10

_OUTCOME_OF = {
    Outcome.PAID: PayoutAttemptOutcome.PAID,
    Outcome.FAILED: PayoutAttemptOutcome.FAILED,
    Outcome.UNKNOWN: PayoutAttemptOutcome.UNKNOWN,
}


def payout_transition(*, payout: Payout, to: str, actor=None, note: str = "", **fields) -> Payout:
    """Status change of a payout (PAYOUT_MACHINE) plus a history row. 409 when it moved meanwhile."""
    return transition(
        machine=PAYOUT_MACHINE,
        instance=payout,
        to=to,
        actor=actor,
        note=note[:1000],
        fields=fields,
    )


def _payout_note(payout: Payout, note: str, *, actor=None) -> None:
    """A history row without a status change (attempt outcomes, staff checks, double payments)."""
    status_history_append(
        machine=PAYOUT_MACHINE,
        instance=payout,
        from_status=payout.status,
        to_status=payout.status,
        actor=actor,
        note=note[:1000],
    )


def _lock_for_outcome(payout_id: int) -> Payout:
    """Lock what settling a payout's outcome may touch, in the documented order: booking → technician
    payable account (a technician payout failing definitively may offset a debt and be replaced:
    `_offset_debt_of_failed`) → payout. Caller is inside a transaction."""
    booking_id, kind, recipient_id = Payout.objects.values_list(
        "booking_id", "kind", "recipient_id"
    ).get(pk=payout_id)
    lock_booking(booking_id)
    if kind == PayoutKind.TECHNICIAN_PAYOUT:
        lock_technician_payable(recipient_id)
    return lock_payout(payout_id)


# --- attempts -----------------------------------------------------------------------------------------------------


def _attempts_locked(payout: Payout) -> list[PayoutAttempt]:
    """Caller holds the payout lock (lock order payout → attempts)."""
    return list(
        PayoutAttempt.objects.select_for_update().filter(payout_id=payout.pk).order_by("number")
    )


def _attempt_transition(
    *, payout: Payout, attempt: PayoutAttempt, to: str, note: str, actor=None, **fields
) -> PayoutAttempt:
    """Guarded outcome change of one attempt, noted in the payout's history. Caller holds the payout lock."""
    current = attempt.outcome
    transition(machine=PAYOUT_ATTEMPT_MACHINE, instance=attempt, to=to, fields=fields)
    _payout_note(
        payout,
        f"attempt {attempt.number} ({attempt.originator_conversation_id}): {current} → {to}: {note}",
        actor=actor,
    )
    return attempt


_LEGACY_OUTCOME = {
    PayoutStatus.SENDING: PayoutAttemptOutcome.SENDING,
    PayoutStatus.AWAITING_RESULT: PayoutAttemptOutcome.AWAITING_RESULT,
    PayoutStatus.NEEDS_RECONCILIATION: PayoutAttemptOutcome.UNKNOWN,
}


def _recover_current_attempt(payout: Payout, attempts: list[PayoutAttempt]) -> None:
    """A payout marked sent without an attempt row (written before attempts were recorded, or by hand):
    record its current attempt from the row, so it can be checked and its result applied. Caller holds the
    payout lock; `attempts` is updated in place."""
    expected = payout.originator_id_for(payout.attempt)
    if (
        payout.status not in _LEGACY_OUTCOME
        or payout.originator_conversation_id != expected
        or any(a.number == payout.attempt for a in attempts)
    ):
        return
    attempts.append(
        PayoutAttempt.objects.create(
            payout=payout,
            number=payout.attempt,
            originator_conversation_id=expected,
            conversation_id=payout.conversation_id,
            amount=payout.amount,
            outcome=_LEGACY_OUTCOME[payout.status],
        )
    )
    _payout_note(payout, f"attempt {payout.attempt} recorded from the payout row ({expected})")


def payout_attempt_recover(*, originator_conversation_id: str) -> PayoutAttempt | None:
    """The attempt for a provider answer naming a payout's current OriginatorConversationID that has no
    attempt row yet (see `_recover_current_attempt`); None when no payout was sent under that id."""
    payout_id = (
        Payout.objects.filter(originator_conversation_id=originator_conversation_id)
        .values_list("pk", flat=True)
        .first()
    )
    if payout_id is None:
        return None
    with transaction.atomic():
        payout = lock_payout(payout_id)
        attempts = _attempts_locked(payout)
        _recover_current_attempt(payout, attempts)
    return next(
        (a for a in attempts if a.originator_conversation_id == originator_conversation_id), None
    )


def _unresolved_earlier(payout: Payout, attempts: list[PayoutAttempt]) -> list[PayoutAttempt]:
    """Attempts before the current one that did not fail definitively (open, or paid)."""
    return [
        a
        for a in attempts
        if a.number < payout.attempt and a.outcome != PayoutAttemptOutcome.FAILED
    ]


def _enqueue_query(payout_id: int, *, countdown: int | None = None, manual: bool = False) -> None:
    if manual:  # staff asked: every open attempt now, not counted against the automatic checks
        enqueue_after_commit(tasks.payout_query_status_task, payout_id, True, countdown=countdown)
    else:
        enqueue_after_commit(tasks.payout_query_status_task, payout_id, countdown=countdown)


def _settle(payout: Payout, attempts: list[PayoutAttempt], *, schedule_query: bool = True) -> str:
    """Bring the payout's status in line with its attempts' outcomes. Idempotent.

    Caller holds the booking and payout locks (a paid payout posts to the ledger).
    """
    paid = [a for a in attempts if a.outcome == PayoutAttemptOutcome.PAID]
    if paid:
        return _settle_paid(payout, paid)
    current = next((a for a in attempts if a.number == payout.attempt), None)
    if payout.status == PayoutStatus.NEEDS_RECONCILIATION and current is None:
        # The current attempt was held back because an earlier one's outcome was unknown.
        if _unresolved_earlier(payout, attempts):
            return "checking_earlier_attempt"
        payout_transition(
            payout=payout,
            to=PayoutStatus.QUEUED,
            note=f"attempts before {payout.attempt} all failed; sending attempt {payout.attempt}",
        )
        payout_send_enqueue(payout=payout)
        return "queued"
    if current is None:
        return payout.status
    active = (
        PayoutStatus.SENDING,
        PayoutStatus.AWAITING_RESULT,
        PayoutStatus.NEEDS_RECONCILIATION,
    )
    if current.outcome == PayoutAttemptOutcome.FAILED and payout.status in active:
        payout_transition(
            payout=payout,
            to=PayoutStatus.FAILED,
            note=f"attempt {current.number} failed: {current.result_code} {current.result_desc}",
            result_code=current.result_code,
            result_desc=current.result_desc,
            conversation_id=current.conversation_id or payout.conversation_id,
        )
        publish_after_commit(events.PayoutFailed(payout_id=payout.pk))
        if payout.kind == PayoutKind.TECHNICIAN_PAYOUT:
            _offset_debt_of_failed(payout)
        return "failed"
    if current.outcome == PayoutAttemptOutcome.UNKNOWN and payout.status in active[:2]:
        payout_transition(
            payout=payout,
            to=PayoutStatus.NEEDS_RECONCILIATION,
            note=f"attempt {current.number} outcome unknown: {current.result_desc}".strip(),
            result_code=current.result_code,
            result_desc=current.result_desc,
        )
        if schedule_query:
            _enqueue_query(payout.pk, countdown=60)
        return "unknown"
    if (
        current.outcome == PayoutAttemptOutcome.AWAITING_RESULT
        and payout.status == PayoutStatus.SENDING
    ):
        payout_transition(
            payout=payout,
            to=PayoutStatus.AWAITING_RESULT,
            note="accepted by Daraja",
            conversation_id=current.conversation_id,
        )
        return "awaiting_result"
    return payout.status


def _offset_debt_of_failed(payout: Payout) -> None:
    """A technician payout that was already with M-Pesa when a dispute refund recorded the technician's
    debt for it (the recovery names it) failed definitively: the technician was never paid that money, so
    it is not retried. The payout is cancelled, what it still holds in technician_payable repays that debt
    (`payout:<id>:failed:offset`, payable → receivable) and the rest goes out as a new payout (which first
    repays any other debt). Caller holds the booking, technician payable and payout locks
    (`_lock_for_outcome`)."""
    offset, reference = recovery_offset_failed_payout(payout=payout)
    if not offset:
        return
    payout_transition(
        payout=payout,
        to=PayoutStatus.CANCELLED,
        note=f"failed after the debt recorded for it (dispute refund): KES {offset} of it repays "
        "that debt; not retried",
    )
    rest = payout.amount - offset
    if rest > 0:
        payout_create(
            booking=payout.booking,
            kind=PayoutKind.TECHNICIAN_PAYOUT,
            recipient=payout.recipient,
            amount=rest,
            phone=payout.phone,
            note=f"what payout #{payout.pk} still owed after offsetting the technician's debt",
            payable_reference=reference,
        )


def _settle_paid(payout: Payout, paid: list[PayoutAttempt]) -> str:
    first = min(paid, key=lambda a: (a.resolved_at or now(), a.number))
    outcome = "already_paid"
    if payout.status not in PAYOUT_FINAL_STATUSES:
        _mark_paid(payout, first)
        outcome = "paid"
    # Everything that went out beyond what this payout owed (nothing is owed once cancelled or carried).
    owed = payout.amount if payout.status == PayoutStatus.PAID else Decimal(0)
    overpaid = sum((a.amount for a in paid), Decimal(0)) - owed
    if overpaid > payout.overpaid_amount:
        increment = overpaid - payout.overpaid_amount
        Payout.objects.filter(pk=payout.pk).update(overpaid_amount=overpaid, updated_at=now())
        payout.overpaid_amount = overpaid
        numbers = ", ".join(str(a.number) for a in paid)
        what = (
            f"DOUBLE PAYMENT: attempts {numbers} were all paid"
            if owed
            else f"PAID AFTER {payout.status.upper()}: attempt(s) {numbers} paid"
        )
        # The recipient owes it back: a recorded debt (payments/services/recoveries.py), withheld from a
        # technician's next payouts; a customer's is collected by staff (repayment) or written off.
        recovery_record_overpaid(payout=payout, overpaid_total=overpaid, increment=increment)
        if payout.kind == PayoutKind.TECHNICIAN_PAYOUT:
            what += "; recorded as a recovery withheld from the technician's next payouts"
        else:
            what += "; recorded as a recovery owed by the customer"
        _payout_note(payout, f"{what}; KES {overpaid} to recover from the recipient")
        logger.critical(
            "payout %s: %s; overpaid %s (recipient %s)",
            payout.pk,
            what,
            overpaid,
            payout.recipient_id,
        )
        outcome = "double_payment" if owed else f"paid_after_{payout.status}"
    return outcome


def _mark_paid(payout: Payout, attempt: PayoutAttempt) -> None:
    note = f"paid by attempt {attempt.number}"
    if attempt.result_desc.startswith("provider reported amount"):
        note += f"; {attempt.result_desc}"
    payout_transition(
        payout=payout,
        to=PayoutStatus.PAID,
        note=note,
        result_code=attempt.result_code,
        result_desc=attempt.result_desc,
        receipt=attempt.receipt,
        conversation_id=attempt.conversation_id or payout.conversation_id,
        paid_at=attempt.resolved_at or now(),
    )
    source = {
        PayoutKind.REFUND: REFUNDS_PAYABLE,
        PayoutKind.TIP: tips_payable_code(payout.recipient_id),
    }.get(payout.kind, technician_payable_code(payout.recipient_id))
    sink = CARD_REFUNDS_DISBURSED if payout.channel == PayoutChannel.CARD else MPESA_B2C_DISBURSED
    ledger_post(
        kind=LedgerTransactionKind.PAYOUT_SENT,
        reference=f"payout:{payout.pk}:paid",
        lines=transfer(payout.amount, source=source, to=sink),
        booking_id=payout.booking_id,
        payout_id=payout.pk,
        memo=f"{payout.kind} {attempt.receipt}".strip(),
        currency=payout.currency,
    )
    publish_after_commit(events.PayoutPaid(payout_id=payout.pk))


def payout_attempt_record_result(
    *,
    attempt_id: int,
    outcome: Outcome,
    result_code: str,
    result_desc: str,
    receipt: str = "",
    conversation_id: str = "",
    receiver_name: str = "",
    paid_at=None,
    amount: Decimal | None = None,
) -> str:
    """Apply one provider answer (B2C result, queue timeout, Transaction Status, Stripe) to the attempt it
    names, then the payout. Idempotent; a result is applied whenever it arrives, never dropped as a replay.

    Returns what happened: paid | failed | unknown | double_payment | paid_after_<status> |
    already_<outcome> (nothing new) | conflicting_<outcome> (contradicts a final answer; logged).
    """
    target = _OUTCOME_OF[outcome]
    payout_id = PayoutAttempt.objects.values_list("payout_id", flat=True).get(pk=attempt_id)
    with transaction.atomic():
        payout = _lock_for_outcome(payout_id)
        attempts = _attempts_locked(payout)
        attempt = next(a for a in attempts if a.pk == attempt_id)
        return _record_result_locked(
            payout,
            attempts,
            attempt,
            target=target,
            result_code=result_code,
            result_desc=result_desc,
            receipt=receipt,
            conversation_id=conversation_id,
            receiver_name=receiver_name,
            paid_at=paid_at,
            amount=amount,
        )


def _record_result_locked(
    payout: Payout,
    attempts: list[PayoutAttempt],
    attempt: PayoutAttempt,
    *,
    target: str,
    result_code: str,
    result_desc: str,
    receipt: str = "",
    conversation_id: str = "",
    receiver_name: str = "",
    paid_at=None,
    amount: Decimal | None = None,
    actor=None,
    extra: dict | None = None,
) -> str:
    """payout_attempt_record_result under the booking and payout locks (held by the caller)."""
    current = attempt.outcome
    if current == target and target != PayoutAttemptOutcome.UNKNOWN:
        return f"already_{current}"
    if not PAYOUT_ATTEMPT_MACHINE.allows(current, target):
        if current == target or target == PayoutAttemptOutcome.UNKNOWN:
            # e.g. a timeout notice after a final answer: it says nothing new
            return f"already_{current}"
        logger.error(
            "payout %s attempt %s: %s result after %s ignored (%s %s)",
            payout.pk,
            attempt.number,
            target,
            current,
            result_code,
            result_desc,
        )
        return f"conflicting_{current}"
    fields = {
        "result_code": result_code[:32],
        "result_desc": result_desc[:255],
        **(extra or {}),
    }
    if conversation_id and not attempt.conversation_id:
        fields["conversation_id"] = conversation_id[:64]
    note = f"{result_code} {result_desc}".strip()
    if target == PayoutAttemptOutcome.PAID:
        fields.update(receipt=receipt[:64], resolved_at=paid_at or now())
        if amount is not None and to_decimal(amount) != attempt.amount:
            fields["result_desc"] = f"provider reported amount {amount}"[:255]
            logger.error("payout %s: provider amount %s != %s", payout.pk, amount, attempt.amount)
        if current == PayoutAttemptOutcome.FAILED:
            logger.critical(
                "payout %s attempt %s: success after a definitive failure (%s)",
                payout.pk,
                attempt.number,
                attempt.result_code,
            )
            note = f"SUCCESS AFTER FAILURE {attempt.result_code}: {note}"
        if receiver_name:
            Payout.objects.filter(pk=payout.pk, receiver_name="").update(
                receiver_name=receiver_name[:200]
            )
    elif target == PayoutAttemptOutcome.FAILED:
        fields["resolved_at"] = now()
    _attempt_transition(payout=payout, attempt=attempt, to=target, note=note, actor=actor, **fields)
    settled = _settle(payout, attempts)
    # paid | double_payment | paid_after_<status>, or what became of the attempt.
    return settled if target == PayoutAttemptOutcome.PAID else target.value


# --- creation -----------------------------------------------------------------------------------------------------


def payout_review_reason(*, recipient, amount: Decimal, channel: str, phone: str) -> str:
    """Why a payout of `amount` to `recipient` must wait for staff review, or "" when it may go at once:
    the one set of review rules for every payout kind (technician shares, refunds, tips)."""
    if amount > Decimal(rules.PAYOUT_REVIEW_THRESHOLD_KES):
        return f"amount above KES {rules.PAYOUT_REVIEW_THRESHOLD_KES:,}"
    if channel == PayoutChannel.MPESA:
        changed = recipient.phone_changed_at
        if changed and changed > now() - PHONE_CHANGE_HOLD:
            return "M-Pesa number changed in the last 24 hours"
        if not is_valid_phone(phone):
            return "recipient has no valid M-Pesa number"
        if amount < MPESA_B2C_MIN_KES:  # refunds; technician shares are deferred instead
            return f"below the M-Pesa B2C minimum of KES {MPESA_B2C_MIN_KES}"
    return ""


def payout_create(
    *,
    booking,
    kind: str,
    recipient,
    amount,
    phone: str = "",
    channel: str = PayoutChannel.MPESA,
    source_payment=None,
    note: str = "",
    payable_reference: str = "",
) -> Payout | None:
    """Create a payout for money already moved to a payable account. Caller holds the booking lock.

    A technician payout first repays what the technician owes (payments/services/recoveries.py): the debt is
    withheld from `amount`, which the ledger posting `payable_reference` (required for technician payouts)
    has just credited to their payable account; None when all of it was withheld. Held for staff review when
    large or when the recipient's M-Pesa number changed recently. A technician's M-Pesa share below the B2C
    minimum is deferred; once the technician's deferred shares and this one reach the minimum, this payout
    covers them all (the deferred ones become `carried`).
    """
    amount = to_decimal(amount)
    carried: list[Payout] = []
    withheld = Decimal(0)
    if kind == PayoutKind.TECHNICIAN_PAYOUT:
        if not payable_reference:
            raise ValueError("a technician payout needs the posting that credited the payable")
        lock_technician_payable(recipient.pk)
        withheld = recovery_withhold(
            technician_id=recipient.pk,
            booking_id=booking.pk,
            amount=amount,
            source_reference=payable_reference,
            currency=booking.currency,
        )
        amount -= withheld
        if withheld:
            note = f"{note}; KES {withheld} withheld against money owed back".lstrip("; ")
        if amount <= 0:
            return None
    if kind == PayoutKind.TECHNICIAN_PAYOUT and channel == PayoutChannel.MPESA:
        carried = list(
            Payout.objects.select_for_update(of=("self",))
            .filter(
                recipient=recipient,
                # Tips below TIP_PAYOUT_AT_ONCE_KES wait here too (payments/services/tips.py).
                kind__in=(PayoutKind.TECHNICIAN_PAYOUT, PayoutKind.TIP),
                channel=PayoutChannel.MPESA,
                status=PayoutStatus.DEFERRED,
            )
            .order_by("id")
        )
        total = amount + sum((p.amount for p in carried), Decimal(0))
        if total < MPESA_B2C_MIN_KES:
            reason = (
                f"below the M-Pesa B2C minimum of KES {MPESA_B2C_MIN_KES}: carried to the next "
                f"payout (KES {total} pending in all)"
            )
            return payout_insert(
                booking=booking,
                kind=kind,
                channel=channel,
                recipient=recipient,
                phone=phone,
                amount=amount,
                status=PayoutStatus.DEFERRED,
                reason=reason,
                source_payment=source_payment,
                note=f"{reason}; {note}" if withheld else reason,
            )
        if carried:
            note = (
                f"{note}; includes deferred payout(s) "
                + ", ".join(f"#{p.pk} (KES {p.amount})" for p in carried)
            ).lstrip("; ")
        amount = total
    reason = payout_review_reason(recipient=recipient, amount=amount, channel=channel, phone=phone)
    status = PayoutStatus.PENDING_REVIEW if reason else PayoutStatus.QUEUED
    payout = payout_insert(
        booking=booking,
        kind=kind,
        channel=channel,
        recipient=recipient,
        phone=phone,
        amount=amount,
        status=status,
        reason=reason,
        source_payment=source_payment,
        note=f"{reason}; {note}" if reason and withheld else reason or note,
    )
    for deferred in carried:
        payout_transition(
            payout=deferred,
            to=PayoutStatus.CARRIED,
            note=f"included in payout #{payout.pk}",
            carried_into=payout,
        )
        if deferred.kind == PayoutKind.TIP:
            # The payout that sends it pays from technician_payable: the tip's money moves there.
            # Filed under the carrying payout's booking, which the caller holds locked: a posting naming
            # the tip's booking would wait (foreign key) for whoever holds that booking's lock, who may be
            # waiting for the technician payable lock held here (a deadlock).
            ledger_post(
                kind=LedgerTransactionKind.TIP,
                reference=f"payout:{deferred.pk}:carried",
                lines=transfer(
                    deferred.amount,
                    source=tips_payable_code(recipient.pk),
                    to=technician_payable_code(recipient.pk),
                ),
                booking_id=booking.pk,
                payout_id=deferred.pk,
                memo=f"tip carried into payout #{payout.pk}",
                currency=deferred.currency,
            )
    if status == PayoutStatus.QUEUED:
        payout_send_enqueue(payout=payout)
    return payout


def payout_insert(
    *, booking, kind, channel, recipient, phone, amount, status, reason, source_payment, note
) -> Payout:
    """Insert a new payout in `status` with its first status-history row (`note`); an invalid phone is
    stored empty. Decides nothing: the caller has applied the review and deferral rules, holds the booking
    lock and runs inside its transaction; the database's unique constraints (one payout per tip) raise
    `IntegrityError`, which the caller catches. Sends nothing: call `payout_send_enqueue` for a queued one."""
    payout = Payout.objects.create(
        kind=kind,
        channel=channel,
        booking=booking,
        recipient=recipient,
        phone=phone if is_valid_phone(phone) else "",
        amount=amount,
        currency=booking.currency,
        status=status,
        review_reason=reason,
        source_payment=source_payment,
        attempt=1,
    )
    status_history_append(
        machine=PAYOUT_MACHINE, instance=payout, from_status="", to_status=status, note=note
    )
    return payout


def payout_send_enqueue(*, payout: Payout) -> None:
    """Send a `queued` payout once the caller's transaction commits (the task carries its id and re-checks
    the status under the row lock, so a duplicate is harmless); the reconcile beat re-sends a lost one."""
    enqueue_after_commit(tasks.payout_send_task, payout.pk)


# --- staff --------------------------------------------------------------------------------------------------------


def payout_process(*, payout_id: int, actor) -> Payout:
    """Staff action: approve a held payout, retry a failed one (new attempt) or re-check an unknown one.

    A retry is only queued when every attempt so far failed definitively; otherwise the open attempts are
    checked with Transaction Status and `PayoutOutcomeUnknown` (409) is raised.
    """
    held_by: list[int] = []
    with transaction.atomic():
        payout = _lock_for_outcome(payout_id)
        if payout.status == PayoutStatus.PENDING_REVIEW:
            if payout.channel == PayoutChannel.MPESA and (
                not is_valid_phone(payout.phone) or payout.amount < MPESA_B2C_MIN_KES
            ):
                raise errors.PayoutNotProcessable(
                    "This payout cannot go out by M-Pesa (no valid number or below the minimum)."
                )
            payout_transition(
                payout=payout,
                to=PayoutStatus.QUEUED,
                actor=actor,
                note="approved",
                approved_by=actor,
                approved_at=now(),
            )
            payout_send_enqueue(payout=payout)
        elif payout.status == PayoutStatus.FAILED:
            attempts = _attempts_locked(payout)
            held_by = [a.number for a in attempts if a.outcome != PayoutAttemptOutcome.FAILED]
            if not held_by:
                payout_transition(
                    payout=payout,
                    to=PayoutStatus.QUEUED,
                    actor=actor,
                    note=f"retry as attempt {payout.attempt + 1}",
                    attempt=payout.attempt + 1,
                    approved_by=actor,
                    approved_at=now(),
                )
                payout_send_enqueue(payout=payout)
            else:
                _payout_note(
                    payout,
                    f"retry refused: attempt(s) {held_by} not definitively failed; checking",
                    actor=actor,
                )
                _enqueue_query(payout.pk, manual=True)
        elif payout.status == PayoutStatus.NEEDS_RECONCILIATION:
            _enqueue_query(payout.pk, manual=True)
        else:
            raise errors.PayoutNotProcessable()
    if held_by:
        raise errors.PayoutOutcomeUnknown(
            f"Attempt(s) {', '.join(map(str, held_by))} of this payout did not fail definitively; "
            "their status is being checked with M-Pesa. No new attempt was sent."
        )
    return payout


def payout_process_one(*, payout_id: int, actor) -> dict:
    """`payout_process` for one payout of a staff batch (the batch API, the admin action): what happened to
    it as `{id, ok, status, code}`, a refusal included, so one refused payout does not stop the others."""
    try:
        payout = payout_process(payout_id=payout_id, actor=actor)
    except Payout.DoesNotExist:
        return {"id": payout_id, "ok": False, "status": "", "code": "payout_not_found"}
    except ApplicationError as exc:
        current = Payout.objects.filter(pk=payout_id).values_list("status", flat=True).first()
        return {"id": payout_id, "ok": False, "status": current or "", "code": exc.code}
    return {"id": payout_id, "ok": True, "status": payout.status, "code": ""}


def payout_check_status(*, payout_id: int, actor) -> Payout:
    """Staff: ask Transaction Status about every attempt of this payout whose outcome is open.

    Any payout that is not final may be checked (a payout with nothing sent yet has nothing to ask; the call
    still succeeds). A final payout (paid, cancelled, carried) is a conflict unless one of its attempts is
    still open (e.g. paid by attempt 1 while attempt 2's result is outstanding).
    """
    with transaction.atomic():
        payout = lock_payout(payout_id)
        open_attempts = [
            a.number for a in _attempts_locked(payout) if a.outcome in PAYOUT_ATTEMPT_OPEN_OUTCOMES
        ]
        if payout.status in PAYOUT_FINAL_STATUSES and not open_attempts:
            raise errors.PayoutFinal()
        if open_attempts:
            _payout_note(
                payout,
                f"status check requested for attempt(s) {open_attempts}",
                actor=actor,
            )
            _enqueue_query(payout.pk, manual=True)
        else:
            _payout_note(payout, "status check requested: nothing was sent yet", actor=actor)
    return payout


def _attempt_for_staff(
    payout: Payout, attempts: list[PayoutAttempt], number: int | None, *, settled_as
) -> PayoutAttempt:
    """The attempt staff settle: the one named, else the only open one, else (a repeat of the same action)
    the latest attempt staff already settled that way. Caller holds the payout lock."""
    if not attempts:
        raise errors.PayoutNothingSent()
    if number is not None:
        found = next((a for a in attempts if a.number == number), None)
        if found is None:
            raise errors.PayoutAttemptRequired(
                f"This payout has no attempt {number}.", fields={"attempt": ["No such attempt."]}
            )
        return found
    open_ = [a for a in attempts if a.outcome in PAYOUT_ATTEMPT_OPEN_OUTCOMES]
    if len(open_) > 1:
        raise errors.PayoutAttemptRequired(
            fields={"attempt": [f"Open attempts: {', '.join(str(a.number) for a in open_)}."]}
        )
    if open_:
        return open_[0]
    repeated = [a for a in attempts if a.confirmed_by_id and settled_as(a)]
    if repeated:
        return repeated[-1]
    raise errors.PayoutAttemptFinal()


def payout_confirm_paid(
    *, payout_id: int, receipt: str, actor, attempt: int | None = None, note: str = ""
) -> Payout:
    """Staff: an attempt whose outcome M-Pesa never confirmed appears as paid on the org portal statement
    (receipt `receipt`). The attempt becomes paid, and so does the payout (posted once: `payout:<id>:paid`,
    technician_payable or refunds_payable → disbursed). Audited in the payout's history with the actor.

    Idempotent: the same receipt on an attempt staff already confirmed paid changes nothing.
    `PayoutAttemptFinal` (409) when the attempt already ended (failed, or paid under another receipt);
    `PayoutReceiptInUse` (409) when the receipt is on another attempt.
    """
    receipt = receipt.strip().upper()
    with transaction.atomic():
        payout = _lock_for_outcome(payout_id)
        attempts = _attempts_locked(payout)
        target = _attempt_for_staff(
            payout,
            attempts,
            attempt,
            settled_as=lambda a: a.outcome == PayoutAttemptOutcome.PAID and a.receipt == receipt,
        )
        if target.outcome == PayoutAttemptOutcome.PAID and target.receipt == receipt:
            return payout  # confirmed already (by staff or by M-Pesa): nothing new
        if target.outcome not in PAYOUT_ATTEMPT_OPEN_OUTCOMES:
            raise errors.PayoutAttemptFinal()
        if PayoutAttempt.objects.filter(receipt=receipt).exclude(pk=target.pk).exists():
            raise errors.PayoutReceiptInUse()
        _record_result_locked(
            payout,
            attempts,
            target,
            target=PayoutAttemptOutcome.PAID,
            result_code="0",
            result_desc=f"confirmed paid by staff from the M-Pesa statement: {note}".strip(": ")[
                :255
            ],
            receipt=receipt,
            actor=actor,
            extra={"confirmed_by": actor},
        )
    logger.warning(
        "payout %s attempt %s confirmed paid by staff %s (receipt %s)",
        payout.pk,
        target.number,
        getattr(actor, "pk", None),
        receipt,
    )
    return payout


def payout_confirm_not_paid(
    *, payout_id: int, evidence: str, actor, attempt: int | None = None
) -> Payout:
    """Staff: the M-Pesa statement shows an attempt whose outcome M-Pesa never confirmed was not paid
    (`evidence` says how they know). The attempt ends failed; the payout becomes failed (or, when a later
    attempt was held back for it, that attempt is sent), so a new attempt may go out (`payout_process`). No
    money moves: it stays in the payable account. Audited in the payout's history with the actor.

    Idempotent: repeating it for an attempt staff already confirmed not paid changes nothing.
    `PayoutAttemptFinal` (409) when the attempt already ended otherwise.
    """
    evidence = evidence.strip()
    if not evidence:
        raise ValidationFailed(fields={"evidence": ["Say what shows it was not paid."]})
    with transaction.atomic():
        payout = _lock_for_outcome(payout_id)
        attempts = _attempts_locked(payout)
        target = _attempt_for_staff(
            payout,
            attempts,
            attempt,
            settled_as=lambda a: a.outcome == PayoutAttemptOutcome.FAILED,
        )
        if target.outcome == PayoutAttemptOutcome.FAILED and target.confirmed_by_id:
            return payout
        if target.outcome not in PAYOUT_ATTEMPT_OPEN_OUTCOMES:
            raise errors.PayoutAttemptFinal()
        _record_result_locked(
            payout,
            attempts,
            target,
            target=PayoutAttemptOutcome.FAILED,
            result_code="",
            result_desc=f"confirmed not paid by staff: {evidence}"[:255],
            actor=actor,
            extra={"confirmed_by": actor},
        )
    logger.warning(
        "payout %s attempt %s confirmed not paid by staff %s: %s",
        payout.pk,
        target.number,
        getattr(actor, "pk", None),
        evidence,
    )
    return payout


def payout_cancel(*, payout_id: int, actor, note: str = "") -> Payout:
    """Staff: do not send this payout. The money stays in the payable account."""
    with transaction.atomic():
        payout = _lock_for_outcome(payout_id)
        return payout_transition(
            payout=payout, to=PayoutStatus.CANCELLED, actor=actor, note=note or "cancelled"
        )


# --- sending ------------------------------------------------------------------------------------------------------


def payout_send(*, payout_id: int) -> str:
    """Send one queued payout. Returns what happened; raises DarajaBusy for the task to retry later.

    Holds the payout (→ needs_reconciliation, Transaction Status asked) instead of sending when an earlier
    attempt did not fail definitively.
    """
    with transaction.atomic():
        payout = lock_payout(payout_id)
        if payout.status != PayoutStatus.QUEUED:
            return f"skipped_{payout.status}"
        attempts = _attempts_locked(payout)
        unresolved = _unresolved_earlier(payout, attempts)
        if unresolved or any(a.number >= payout.attempt for a in attempts):
            numbers = [a.number for a in attempts if a.outcome != PayoutAttemptOutcome.FAILED]
            payout_transition(
                payout=payout,
                to=PayoutStatus.NEEDS_RECONCILIATION,
                note=f"attempt {payout.attempt} not sent: attempt(s) {numbers} not definitively "
                "failed; checking with Transaction Status",
            )
            _enqueue_query(payout.pk)
            return "held_earlier_attempt_open"
        originator = payout.originator_id_for(payout.attempt)
        attempt = PayoutAttempt.objects.create(
            payout=payout,
            number=payout.attempt,
            originator_conversation_id=originator,
            amount=payout.amount,
            outcome=PayoutAttemptOutcome.SENDING,
        )
        payout_transition(
            payout=payout,
            to=PayoutStatus.SENDING,
            note=f"sending attempt {payout.attempt} as {originator}",
            originator_conversation_id=originator,
            sent_at=now(),
        )
    if payout.channel == PayoutChannel.CARD:
        return _payout_send_card(payout, attempt)
    try:
        accepted = common.mpesa_client().b2c_payment(
            originator_conversation_id=originator,
            phone_msisdn=to_msisdn(payout.phone),
            amount=to_mpesa_amount(payout.amount),
            remarks=_remarks(payout),
            occasion=payout.booking.number,
            result_url=callback_url(DARAJA_CALLBACK_PATHS["b2c_result"]),
            timeout_url=callback_url(DARAJA_CALLBACK_PATHS["b2c_timeout"]),
        )
    except DarajaDuplicateRequest:
        _after_send(
            attempt, PayoutAttemptOutcome.AWAITING_RESULT, "Daraja already has this attempt"
        )
        return "duplicate"
    except DarajaOutcomeUnknown as exc:
        _after_send(attempt, PayoutAttemptOutcome.UNKNOWN, f"outcome unknown: {exc}")
        return "unknown"
    except DarajaBusy as exc:
        _not_sent(attempt, f"Daraja busy, nothing sent: {exc}")
        raise
    except DarajaError as exc:
        # Refused synchronously (an error envelope): the request was never accepted.
        _after_send(
            attempt,
            PayoutAttemptOutcome.FAILED,
            f"rejected: {exc}",
            result_code=str(exc.error_code)[:32],
            result_desc=str(exc.error_message)[:255],
            resolved_at=now(),
        )
        return "rejected"
    _after_send(
        attempt,
        PayoutAttemptOutcome.AWAITING_RESULT,
        accepted.response_description or "accepted",
        conversation_id=(accepted.conversation_id or "")[:64],
    )
    return "accepted"


def _remarks(payout: Payout) -> str:
    what = "Refund" if payout.kind == PayoutKind.REFUND else "Payout"
    return f"{what} for job {payout.booking.number}"


def _after_send(attempt: PayoutAttempt, to: str, note: str, **fields) -> None:
    """Record the synchronous answer on the attempt, unless its result got here first (out of order)."""
    with transaction.atomic():
        payout = _lock_for_outcome(attempt.payout_id)
        attempts = _attempts_locked(payout)
        locked = next(a for a in attempts if a.pk == attempt.pk)
        if locked.outcome == PayoutAttemptOutcome.SENDING:
            _attempt_transition(payout=payout, attempt=locked, to=to, note=note, **fields)
        elif fields.get("conversation_id") and not locked.conversation_id:
            PayoutAttempt.objects.filter(pk=locked.pk).update(
                conversation_id=fields["conversation_id"]
            )
            locked.conversation_id = fields["conversation_id"]
        if fields.get("conversation_id") and not payout.conversation_id:
            Payout.objects.filter(pk=payout.pk).update(conversation_id=fields["conversation_id"])
        _settle(payout, attempts)


def _not_sent(attempt: PayoutAttempt, note: str) -> None:
    """Nothing reached Daraja (busy / unreachable): the same attempt goes back to the queue, so the attempt
    row is removed (the history keeps the note); the next send recreates it with the same id."""
    with transaction.atomic():
        payout = lock_payout(attempt.payout_id)
        PayoutAttempt.objects.filter(pk=attempt.pk, outcome=PayoutAttemptOutcome.SENDING).delete()
        if payout.status == PayoutStatus.SENDING:
            payout_transition(payout=payout, to=PayoutStatus.QUEUED, note=note)


def _payout_send_card(payout: Payout, attempt: PayoutAttempt) -> str:
    try:
        refund_id = stripe_gateway.create_refund(
            payment_intent_id=payout.source_payment.stripe_payment_intent_id,
            amount_minor=int(payout.amount * 100),
            idempotency_key=attempt.originator_conversation_id,
        )
    except Exception as exc:  # Stripe errors are definite; the idempotency key makes a retry safe
        logger.warning("card refund for payout %s failed: %s", payout.pk, exc)
        _after_send(
            attempt,
            PayoutAttemptOutcome.FAILED,
            f"card refund failed: {exc}",
            result_desc=str(exc)[:255],
            resolved_at=now(),
        )
        return "rejected"
    payout_attempt_record_result(
        attempt_id=attempt.pk,
        outcome=Outcome.PAID,
        result_code="0",
        result_desc="card refund created",
        receipt=refund_id or "",
    )
    return "refunded"


# --- reconciliation -----------------------------------------------------------------------------------------------


def _next_check_interval(checks_done: int) -> timedelta:
    """Wait after the `checks_done`-th automatic check: 5 min, 10, 20, ... capped at 4 h."""
    exponent = min(max(checks_done - 1, 0), 16)
    return min(PAYOUT_STATUS_CHECK_FIRST_INTERVAL * 2**exponent, PAYOUT_STATUS_CHECK_MAX_INTERVAL)


def payout_query_status(*, payout_id: int, manual: bool = False) -> str:
    """Ask Transaction Status about every open attempt; the answers arrive at the status callback.

    A payout left `sending` for longer than rules.PAYOUT_RECONCILE_AFTER_SECONDS (the worker stopped between
    claiming it and storing Daraja's answer) becomes `needs_reconciliation` first: the request may have gone
    out, so it is asked about, never resent.

    Automatic checks (`manual=False`: the beat job, the check scheduled after an unknown outcome, a held
    send) are bounded: an attempt is asked only when its `next_check_at` is due, each check pushes that back
    (PAYOUT_STATUS_CHECK_*), and an attempt already asked PAYOUT_STATUS_CHECK_LIMIT times escalates the
    payout to staff instead (`escalated`). Staff checks (`manual=True`) ask every open attempt now and are
    not counted.
    """
    current_time = now()
    stale_before = current_time - timedelta(seconds=rules.PAYOUT_RECONCILE_AFTER_SECONDS)
    with transaction.atomic():
        payout = _lock_for_outcome(payout_id)
        attempts = _attempts_locked(payout)
        _recover_current_attempt(payout, attempts)
        if payout.status == PayoutStatus.SENDING and payout.updated_at < stale_before:
            for attempt in attempts:
                if attempt.outcome == PayoutAttemptOutcome.SENDING:
                    _attempt_transition(
                        payout=payout,
                        attempt=attempt,
                        to=PayoutAttemptOutcome.UNKNOWN,
                        note="no answer stored after sending; checking with Transaction Status",
                    )
            _settle(payout, attempts, schedule_query=False)  # asked right below
        if payout.status == PayoutStatus.QUEUED:
            return (
                "skipped_queued"  # nothing of its current attempt has left; earlier ones all failed
            )
        to_check = [a for a in attempts if a.outcome in PAYOUT_ATTEMPT_OPEN_OUTCOMES]
        if payout.channel != PayoutChannel.MPESA or not to_check:
            return f"skipped_{payout.status}"
        if not manual:
            to_check = [
                a for a in to_check if a.next_check_at is None or a.next_check_at <= current_time
            ]
            exhausted = [a for a in to_check if a.status_checks >= PAYOUT_STATUS_CHECK_LIMIT]
            if exhausted:
                _escalate(payout, exhausted)  # once; later runs find it escalated already
                to_check = [a for a in to_check if a not in exhausted]
            if not to_check:
                return "escalated" if exhausted else "not_due"
            for attempt in to_check:
                checks = attempt.status_checks + 1
                PayoutAttempt.objects.filter(pk=attempt.pk).update(
                    last_checked_at=current_time,
                    status_checks=checks,
                    next_check_at=current_time + _next_check_interval(checks),
                )
        else:
            PayoutAttempt.objects.filter(pk__in=[a.pk for a in to_check]).update(
                last_checked_at=current_time
            )
    client = common.mpesa_client()
    asked = 0
    for attempt in to_check:
        try:
            client.transaction_status(
                originator_conversation_id=attempt.originator_conversation_id,
                result_url=callback_url(DARAJA_CALLBACK_PATHS["status_result"], payout=payout.pk),
                timeout_url=callback_url(DARAJA_CALLBACK_PATHS["status_timeout"], payout=payout.pk),
            )
            asked += 1
        except DarajaError as exc:
            logger.warning(
                "transaction status for %s failed: %s", attempt.originator_conversation_id, exc
            )
    return "queried" if asked else "query_failed"


def _escalate(payout: Payout, attempts: list[PayoutAttempt]) -> bool:
    """The automatic checks of `attempts` are spent without a final answer: hand the payout to staff, once
    (`escalated_at`, a high-priority payment support ticket, a history note). Caller holds the payout lock.
    Returns False when it was escalated before (a later attempt's checks spent too: one ticket is enough)."""
    # cycle: support.services -> notifications -> payments.services.payments -> escrow -> this module
    from support.services import ticket_create

    if payout.escalated_at is not None:
        return False
    ids = ", ".join(a.originator_conversation_id for a in attempts)
    ticket = ticket_create(
        created_by=payout.recipient,
        subject=f"Payout {payout.pk}: M-Pesa never confirmed the outcome",
        description=(
            f"{payout.get_kind_display()} of {payout.currency} {payout.amount} for booking "
            f"{payout.booking.number}: Transaction Status gave no final answer about {ids} after "
            f"{PAYOUT_STATUS_CHECK_LIMIT} checks. Staff: look the OriginatorConversationID up in the "
            "M-Pesa org portal statement, then confirm it paid (with the receipt) or not paid (with the "
            "evidence) on the payout. Nothing is resent until then. Opened automatically by Dumu Waks."
        ),
        category=TicketCategory.PAYMENT,
        priority=TicketPriority.HIGH,
        related_booking_id=payout.booking_id,
        related_transaction_ref=ids[:100],
    )
    stamp = now()
    Payout.objects.filter(pk=payout.pk, escalated_at__isnull=True).update(
        escalated_at=stamp, escalation_ticket=ticket, updated_at=stamp
    )
    payout.escalated_at, payout.escalation_ticket = stamp, ticket
    _payout_note(
        payout,
        f"ESCALATED to staff: no final answer about {ids} after {PAYOUT_STATUS_CHECK_LIMIT} status "
        f"checks (ticket {ticket.number}); confirm paid or not paid from the M-Pesa statement",
    )
    logger.critical("payout %s escalated to staff: outcome of %s still unknown", payout.pk, ids)
    return True


def payouts_queued_stale_ids(*, older_than_seconds: int) -> list[int]:
    """Queued payouts whose send task was lost (broker down when it was queued)."""
    cutoff = now() - timedelta(seconds=older_than_seconds)
    return list(
        Payout.objects.filter(status=PayoutStatus.QUEUED, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:200]
    )


def payouts_stale_ids(*, older_than_seconds: int) -> list[int]:
    """M-Pesa payouts whose outcome is still open after a while and whose next automatic check is due: not
    final ones without a result, and final ones with an attempt still open (a second attempt of a paid payout
    may have paid too). Payouts escalated to staff are left to them."""
    current_time = now()
    cutoff = current_time - timedelta(seconds=older_than_seconds)
    not_due = PayoutAttempt.objects.filter(
        payout_id=OuterRef("pk"),
        outcome__in=PAYOUT_ATTEMPT_OPEN_OUTCOMES,
        next_check_at__gt=current_time,
    )
    due = PayoutAttempt.objects.filter(
        payout_id=OuterRef("pk"), outcome__in=PAYOUT_ATTEMPT_OPEN_OUTCOMES
    ).exclude(next_check_at__gt=current_time)
    waiting = (
        Payout.objects.filter(
            status__in=[
                PayoutStatus.SENDING,
                PayoutStatus.NEEDS_RECONCILIATION,
                PayoutStatus.AWAITING_RESULT,
            ],
            channel=PayoutChannel.MPESA,
            updated_at__lt=cutoff,
            escalated_at__isnull=True,
        )
        # A payout whose attempts are all waiting for their next check is not asked yet.
        .filter(Q(Exists(due)) | ~Exists(not_due))
        .values_list("pk", flat=True)[:200]
    )
    open_attempts = (
        PayoutAttempt.objects.filter(
            outcome__in=PAYOUT_ATTEMPT_OPEN_OUTCOMES,
            payout__channel=PayoutChannel.MPESA,
            payout__status__in=PAYOUT_FINAL_STATUSES,
            payout__escalated_at__isnull=True,
            updated_at__lt=cutoff,
        )
        .exclude(next_check_at__gt=current_time)
        .values_list("payout_id", flat=True)[:200]
    )
    return list(dict.fromkeys([*waiting, *open_attempts]))
