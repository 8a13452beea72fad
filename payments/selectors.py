"""Reads: balances derived from the ledger, transaction history, payouts, reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextChoices,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, Least
from django.db.models.query import EmptyQuerySet

from dumuwaks.core.filtering import filter_queryset
from dumuwaks.core.permissions import is_staff_member
from payments import errors
from payments.filters import PayoutPendingFilter, TransactionFilter
from payments.models import (
    EntrySide,
    LedgerEntry,
    LedgerTransaction,
    LedgerTransactionKind,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
    TechnicianRecovery,
)

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=14, decimal_places=2)


def _signed_amount():
    return Case(
        When(side=EntrySide.DEBIT, then=F("amount")),
        default=-F("amount"),
        output_field=_MONEY,
    )


def account_balance(code: str) -> Decimal:
    """Σdebits − Σcredits of one account (what it holds)."""
    total = LedgerEntry.objects.filter(account__code=code).aggregate(
        total=Coalesce(Sum(_signed_amount()), Value(ZERO), output_field=_MONEY)
    )["total"]
    return Decimal(total).quantize(Decimal("0.01"))


def account_balances(prefix: str = "") -> dict[str, Decimal]:
    rows = (
        LedgerEntry.objects.filter(account__code__startswith=prefix)
        .values("account__code")
        .annotate(total=Sum(_signed_amount()))
    )
    return {row["account__code"]: Decimal(row["total"]) for row in rows}


def technician_owed(user_id: int) -> Decimal:
    """What a technician owes back and has not repaid yet (minus their technician_receivable balance)."""
    return max(-account_balance(f"technician_receivable:{user_id}"), ZERO)


def booking_paid_in(*, booking_id: int) -> Decimal:
    """Every succeeded payment of the booking (deposit, balance, and any paid twice)."""
    total = Payment.objects.filter(booking_id=booking_id, status=PaymentStatus.SUCCEEDED).aggregate(
        total=Sum("amount")
    )["total"]
    return total or ZERO


def booking_refunded(*, booking_id: int) -> Decimal:
    """Everything the booking's customer has been refunded (from escrow, or taken back after release)."""
    total = LedgerEntry.objects.filter(
        account__code="refunds_payable", side=EntrySide.DEBIT, transaction__booking_id=booking_id
    ).aggregate(total=Sum("amount"))["total"]
    return total or ZERO


def booking_refundable(*, booking_id: int) -> Decimal:
    """The most a dispute can still refund: what the customer paid minus what they got back already."""
    return max(
        booking_paid_in(booking_id=booking_id) - booking_refunded(booking_id=booking_id), ZERO
    )


def _releasing_disputes():
    from bookings.models import Dispute, DisputeOutcome, DisputeStatus

    return Dispute.objects.filter(
        booking_id=OuterRef("pk"),
        status=DisputeStatus.RESOLVED,
        outcome=DisputeOutcome.RELEASE_TO_TECHNICIAN,
    )


def released_by_dispute_exists() -> Exists:
    """The booking's dispute was resolved `release_to_technician` (annotation on a Booking queryset): the
    customer owes the full price (booking_owes_price)."""
    return Exists(_releasing_disputes())


def released_by_dispute_at() -> Subquery:
    """When the booking's dispute was resolved `release_to_technician`, or null (Booking annotation)."""
    return Subquery(_releasing_disputes().order_by("resolved_at").values("resolved_at")[:1])


def booking_owes_price(booking) -> bool:
    """The customer owes the full price: the booking is confirmed, or its dispute was resolved in the
    technician's favour (`release_to_technician`: the money follows the confirmed rules, README "Disputes").
    Uses the `released_by_dispute` annotation when the booking has it (bookings_displayed)."""
    from bookings.models import BookingStatus, Dispute, DisputeOutcome, DisputeStatus

    if booking.status == BookingStatus.CONFIRMED:
        return True
    if booking.status != BookingStatus.RESOLVED:
        return False
    annotated = getattr(booking, "released_by_dispute", None)
    if annotated is not None:
        return annotated
    return Dispute.objects.filter(
        booking_id=booking.pk,
        status=DisputeStatus.RESOLVED,
        outcome=DisputeOutcome.RELEASE_TO_TECHNICIAN,
    ).exists()


# --- Technician recoveries ----------------------------------------------------------------------------------------


def _debtor_account():
    """The ledger account of a recovery's debtor (TechnicianRecovery annotation)."""
    return Case(
        When(
            technician_id__isnull=False,
            then=Concat(Value("technician_receivable:"), Cast("technician_id", CharField())),
        ),
        default=Concat(Value("customer_receivable:"), Cast("customer_id", CharField())),
        output_field=CharField(),
    )


def debtor_owed(receivable_code: str) -> Decimal:
    """What a debtor (technician_receivable:<id> / customer_receivable:<id>) still owes back."""
    return max(-account_balance(receivable_code), ZERO)


def technician_recovery_list(*, open_only: bool = False) -> QuerySet:
    """Every recorded debt (TechnicianRecovery: owed by a technician or by a customer) with `debtor_account`,
    `repaid` (everything that debtor repaid, in all) and `outstanding` (of this debt), oldest first.
    Repayments (debits of the debtor's receivable: withheld from payouts, offsets, repaid by M-Pesa, written
    off) pay a debtor's debts oldest first, so a debt's outstanding part is (its debts up to and including
    this one − repaid), between 0 and its amount. Correlated subqueries, so filters on the list never change
    the arithmetic.
    """
    repaid = (
        LedgerEntry.objects.filter(account__code=OuterRef("debtor_account"), side=EntrySide.DEBIT)
        .order_by()
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values("total")[:1]
    )
    owed_through = (
        TechnicianRecovery.objects.annotate(debtor_account=_debtor_account())
        .filter(debtor_account=OuterRef("debtor_account"), id__lte=OuterRef("id"))
        .order_by()
        .values("debtor_account")
        .annotate(total=Sum("amount"))
        .values("total")[:1]
    )
    qs = (
        TechnicianRecovery.objects.select_related(
            "technician", "customer", "booking", "dispute", "payout"
        )
        .annotate(debtor_account=_debtor_account())
        .annotate(
            repaid=Coalesce(
                Subquery(repaid, output_field=_MONEY), Value(ZERO), output_field=_MONEY
            ),
            owed_through=Subquery(owed_through, output_field=_MONEY),
        )
        .annotate(
            outstanding=Least(
                Greatest(F("owed_through") - F("repaid"), Value(ZERO), output_field=_MONEY),
                F("amount"),
                output_field=_MONEY,
            )
        )
        .order_by("created_at", "id")
    )
    if open_only:
        qs = qs.filter(outstanding__gt=0)
    return qs


def unmatched_callback_list() -> QuerySet:
    """Provider callbacks stored that match no payment yet (payments/services/callbacks.py), oldest first."""
    from payments.models import CallbackEvent, CallbackStatus

    return CallbackEvent.objects.filter(status=CallbackStatus.UNMATCHED).order_by(
        "created_at", "id"
    )


# --- Transactions (payments and payouts in one list) ----------------------------------------------------------


def _payment_rows(qs: QuerySet) -> QuerySet:
    return qs.annotate(
        type=Value("payment", output_field=CharField()),
        kind=F("purpose"),
        channel=F("method"),
        reference=Coalesce("mpesa_receipt", "stripe_payment_intent_id", Value("")),
        booking_number=F("booking__number"),
    ).values(
        "id",
        "type",
        "kind",
        "channel",
        "amount",
        "currency",
        "status",
        "reference",
        "booking_id",
        "booking_number",
        "created_at",
    )


def _payout_rows(qs: QuerySet) -> QuerySet:
    return qs.annotate(
        type=Value("payout", output_field=CharField()),
        reference=F("receipt"),
        booking_number=F("booking__number"),
    ).values(
        "id",
        "type",
        "kind",
        "channel",
        "amount",
        "currency",
        "status",
        "reference",
        "booking_id",
        "booking_number",
        "created_at",
    )


def transaction_list(*, user, filters: Mapping | None = None):
    """Payments the user made and payouts the user received (staff: everyone's), newest first.

    One UNION query (plus the count), whatever the page size. `filters`: the query parameters of
    TransactionFilter (a 400 if invalid), applied to both sides.
    """
    payments = Payment.objects.all()
    payouts = Payout.objects.all()
    if not is_staff_member(user):
        payments = payments.filter(payer=user)
        payouts = payouts.filter(recipient=user)
    payments = filter_queryset(TransactionFilter, data=filters, queryset=payments)
    payouts = filter_queryset(TransactionFilter, data=filters, queryset=payouts)
    if isinstance(payouts, EmptyQuerySet):
        return _payment_rows(payments).order_by("-created_at", "-id")
    if isinstance(payments, EmptyQuerySet):
        return _payout_rows(payouts).order_by("-created_at", "-id")
    return (
        _payment_rows(payments)
        .union(_payout_rows(payouts), all=True)
        .order_by("-created_at", "-id")
    )


def payment_get_for_user(*, payment_id: int, user) -> Payment:
    qs = Payment.objects.select_related("booking", "payer", "booking__technician")
    if not is_staff_member(user):
        qs = qs.filter(Q(payer=user) | Q(booking__customer=user))
    payment = qs.filter(pk=payment_id).first()
    if payment is None:
        raise errors.PaymentNotFound()
    return payment


def payout_get_for_user(*, payout_id: int, user) -> Payout:
    qs = Payout.objects.select_related("booking", "recipient", "approved_by")
    if not is_staff_member(user):
        qs = qs.filter(recipient=user)
    payout = qs.filter(pk=payout_id).first()
    if payout is None:
        raise errors.PayoutNotFound()
    return payout


def payout_pending_list(*, filters: Mapping | None = None) -> QuerySet:
    """Payouts waiting for review, or in the status of PayoutPendingFilter's `status`."""
    return (
        filter_queryset(PayoutPendingFilter, data=filters, queryset=Payout.objects.all())
        .select_related("booking", "recipient", "approved_by")
        .order_by("created_at", "id")
    )


def payout_list_for_recipient(*, user) -> QuerySet:
    return (
        Payout.objects.filter(recipient=user, kind=PayoutKind.TECHNICIAN_PAYOUT)
        .select_related("booking", "recipient", "approved_by")
        .order_by("-created_at", "-id")
    )


def payout_totals_for_recipient(*, user) -> dict:
    qs = Payout.objects.filter(recipient=user, kind=PayoutKind.TECHNICIAN_PAYOUT)
    sums = qs.aggregate(
        paid=Coalesce(
            Sum("amount", filter=Q(status=PayoutStatus.PAID)), Value(ZERO), output_field=_MONEY
        ),
        in_progress=Coalesce(
            Sum(
                "amount",
                filter=~Q(
                    status__in=[
                        PayoutStatus.PAID,
                        PayoutStatus.CANCELLED,
                        PayoutStatus.FAILED,
                        PayoutStatus.DEFERRED,
                        PayoutStatus.CARRIED,  # its amount is in the payout that carried it
                    ]
                ),
            ),
            Value(ZERO),
            output_field=_MONEY,
        ),
        failed=Coalesce(
            Sum("amount", filter=Q(status=PayoutStatus.FAILED)), Value(ZERO), output_field=_MONEY
        ),
        deferred=Coalesce(
            Sum("amount", filter=Q(status=PayoutStatus.DEFERRED)),
            Value(ZERO),
            output_field=_MONEY,
        ),
    )
    from payments.services.ledger import technician_payable_code

    return {
        "total_paid": sums["paid"],
        "total_in_progress": sums["in_progress"],
        "total_failed": sums["failed"],
        "total_deferred": sums["deferred"],
        "payable_balance": account_balance(technician_payable_code(user.pk)),
        "total_owed": technician_owed(user.pk),
        "currency": "KES",
    }


# --- Fee breakdown ------------------------------------------------------------------------------------------------


def booking_fee_breakdown(*, booking_id: int, user) -> dict:
    from bookings.models import Booking

    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None or not (
        is_staff_member(user) or user.pk in (booking.customer_id, booking.technician_id)
    ):
        raise errors.BookingNotFoundForPayment()
    from payments.services.ledger import escrow_code

    paid = {
        row["purpose"]: row["total"]
        for row in Payment.objects.filter(booking=booking, status=PaymentStatus.SUCCEEDED)
        .values("purpose")
        .annotate(total=Sum("amount"))
    }
    moved = {
        row["transaction__kind"]: row["total"]
        for row in LedgerEntry.objects.filter(
            account__code=escrow_code(booking.pk), side=EntrySide.CREDIT
        )
        .values("transaction__kind")
        .annotate(total=Sum("amount"))
    }
    return {
        "booking_id": booking.pk,
        "booking_number": booking.number,
        "currency": booking.currency,
        "price": booking.price,
        "deposit_amount": booking.deposit_amount,
        "balance_amount": booking.balance_amount,
        "platform_fee": booking.platform_fee,
        "technician_share": booking.technician_share,
        "cancellation_fee": booking.cancellation_fee,
        "deposit_paid": paid.get("deposit", ZERO),
        "balance_paid": paid.get("balance", ZERO),
        "escrow_held": account_balance(escrow_code(booking.pk)),
        "released": moved.get(LedgerTransactionKind.RELEASE, ZERO),
        # Every refund of this booking, from escrow or taken back after release.
        "refunded": LedgerEntry.objects.filter(
            account__code="refunds_payable", side=EntrySide.DEBIT, transaction__booking=booking
        ).aggregate(total=Coalesce(Sum("amount"), Value(ZERO), output_field=_MONEY))["total"],
    }


@dataclass(frozen=True)
class MoneyMovements:
    """Where a booking's money went, from the ledger: what escrow still holds, what was released to the
    technician and kept as the platform fee (net of anything taken back after release), what is owed back to
    the customer and how much of that has been sent."""

    held: Decimal
    released_to_technician: Decimal
    platform_fee: Decimal
    refunded: Decimal
    refund_sent: Decimal
    refunded_payment_ids: frozenset[
        int
    ]  # payments refunded as a whole (paid twice, booking closed)

    @property
    def refund_on_its_way(self) -> Decimal:
        return max(self.refunded - self.refund_sent, ZERO)


def booking_money_movements(*, booking_id: int) -> MoneyMovements:
    """Two queries: the booking's ledger entries by account and transaction kind, and its paid refunds."""
    from payments.services.ledger import (
        PLATFORM_REVENUE,
        REFUNDS_PAYABLE,
        escrow_code,
    )

    rows = (
        LedgerEntry.objects.filter(transaction__booking_id=booking_id)
        .values("account__code", "side", "transaction__kind", "transaction__reference")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    held = technician = platform = refunded = ZERO
    refunded_payments = set()
    escrow = escrow_code(booking_id)
    for row in rows:
        code, side, kind, total = (
            row["account__code"],
            row["side"],
            row["transaction__kind"],
            row["total"],
        )
        signed = total if side == EntrySide.DEBIT else -total
        if code == escrow:
            held += signed
        elif kind in (LedgerTransactionKind.RELEASE, LedgerTransactionKind.REFUND):
            # Releases credit the technician and the platform; a clawback (a REFUND after release) takes
            # back from both. Payouts sent (PAYOUT_SENT) do not change what was released.
            if code.startswith("technician_payable:"):
                technician += signed
            elif code == PLATFORM_REVENUE:
                platform += signed
            elif code == REFUNDS_PAYABLE and side == EntrySide.DEBIT:
                refunded += total
                reference = row["transaction__reference"]
                if reference.startswith("payment:") and reference.endswith(":refund"):
                    refunded_payments.add(int(reference.split(":")[1]))
    sent = Payout.objects.filter(
        booking_id=booking_id, kind=PayoutKind.REFUND, status=PayoutStatus.PAID
    ).aggregate(total=Coalesce(Sum("amount"), Value(ZERO), output_field=_MONEY))["total"]
    return MoneyMovements(
        held=held,
        released_to_technician=technician,
        platform_fee=platform,
        refunded=refunded,
        refund_sent=sent,
        refunded_payment_ids=frozenset(refunded_payments),
    )


# --- Reconciliation -----------------------------------------------------------------------------------------------


@dataclass
class ReconciliationReport:
    unbalanced_transactions: list[dict] = field(default_factory=list)
    escrow_drift: list[dict] = field(default_factory=list)
    payout_drift: list[dict] = field(default_factory=list)
    recovery_drift: list[dict] = field(default_factory=list)
    total_balance: Decimal = ZERO

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced_transactions
            or self.escrow_drift
            or self.payout_drift
            or self.recovery_drift
            or self.total_balance != 0
        )


def ledger_reconciliation_check(*, booking_ids=None) -> ReconciliationReport:
    """Check the ledger against the payment and payout records.

    - every ledger transaction balances (Σdebit == Σcredit);
    - per booking: escrow balance == succeeded payments − releases − refunds (releases/refunds are the
      escrow credits of RELEASE/REFUND transactions; payments come from the Payment table, so a payment
      marked succeeded without its posting, or a posting without a payment, shows up as drift);
    - every paid payout has exactly its amount posted as sent, and nothing else was posted as sent;
    - per technician, the debts recorded (TechnicianRecovery) are the debts posted to technician_receivable,
      and no more was withheld than owed;
    - all balances together sum to zero.
    """
    from payments.services.ledger import escrow_code

    report = ReconciliationReport()
    unbalanced = (
        LedgerEntry.objects.values("transaction_id", "transaction__reference")
        .annotate(
            debits=Coalesce(
                Sum("amount", filter=Q(side=EntrySide.DEBIT)), Value(ZERO), output_field=_MONEY
            ),
            credits=Coalesce(
                Sum("amount", filter=Q(side=EntrySide.CREDIT)), Value(ZERO), output_field=_MONEY
            ),
        )
        .exclude(debits=F("credits"))
    )
    report.unbalanced_transactions = [
        {
            "transaction_id": row["transaction_id"],
            "reference": row["transaction__reference"],
            "debits": row["debits"],
            "credits": row["credits"],
        }
        for row in unbalanced
    ]
    empty = LedgerTransaction.objects.filter(entries__isnull=True)
    report.unbalanced_transactions += [
        {"transaction_id": t.pk, "reference": t.reference, "debits": ZERO, "credits": ZERO}
        for t in empty
    ]

    payments = Payment.objects.filter(status=PaymentStatus.SUCCEEDED)
    if booking_ids is not None:
        payments = payments.filter(booking_id__in=booking_ids)
    paid_in = {
        row["booking_id"]: row["total"]
        for row in payments.values("booking_id").annotate(total=Sum("amount"))
    }
    escrow_entries = LedgerEntry.objects.filter(account__code__startswith="escrow:booking:")
    if booking_ids is not None:
        escrow_entries = escrow_entries.filter(account__booking_id__in=booking_ids)
    per_booking = escrow_entries.values("account__booking_id").annotate(
        balance=Sum(_signed_amount()),
        released=Coalesce(
            Sum(
                "amount",
                filter=Q(side=EntrySide.CREDIT, transaction__kind=LedgerTransactionKind.RELEASE),
            ),
            Value(ZERO),
            output_field=_MONEY,
        ),
        refunded=Coalesce(
            Sum(
                "amount",
                filter=Q(side=EntrySide.CREDIT, transaction__kind=LedgerTransactionKind.REFUND),
            ),
            Value(ZERO),
            output_field=_MONEY,
        ),
    )
    seen = set()
    for row in per_booking:
        booking_id = row["account__booking_id"]
        seen.add(booking_id)
        expected = paid_in.get(booking_id, ZERO) - row["released"] - row["refunded"]
        if row["balance"] != expected or row["balance"] < 0:
            report.escrow_drift.append(
                {
                    "booking_id": booking_id,
                    "account": escrow_code(booking_id),
                    "actual": row["balance"],
                    "expected": expected,
                    "drift": row["balance"] - expected,
                }
            )
    for booking_id, total in paid_in.items():
        if booking_id not in seen and total:
            report.escrow_drift.append(
                {
                    "booking_id": booking_id,
                    "account": escrow_code(booking_id),
                    "actual": ZERO,
                    "expected": total,
                    "drift": -total,
                }
            )

    sent = {
        row["transaction__payout_id"]: row["total"]
        for row in LedgerEntry.objects.filter(
            transaction__kind=LedgerTransactionKind.PAYOUT_SENT, side=EntrySide.DEBIT
        )
        .values("transaction__payout_id")
        .annotate(total=Sum("amount"))
    }
    paid = dict(Payout.objects.filter(status=PayoutStatus.PAID).values_list("pk", "amount"))
    for payout_id in set(sent) | set(paid):
        if sent.get(payout_id) != paid.get(payout_id):
            report.payout_drift.append(
                {
                    "payout_id": payout_id,
                    "posted": sent.get(payout_id, ZERO),
                    "paid": paid.get(payout_id, ZERO),
                }
            )
    report.recovery_drift = _recovery_drift()
    if booking_ids is None:
        report.total_balance = LedgerEntry.objects.aggregate(
            total=Coalesce(Sum(_signed_amount()), Value(ZERO), output_field=_MONEY)
        )["total"]
    return report


def _recovery_drift() -> list[dict]:
    """Per debtor (technician or customer): the debts recorded (TechnicianRecovery) equal the debts posted
    (credits of its receivable account), and no more was repaid than owed (the balance is never positive).
    `technician_id` names the debtor (a customer for customer_receivable)."""
    rows = (
        LedgerEntry.objects.filter(
            Q(account__code__startswith="technician_receivable:")
            | Q(account__code__startswith="customer_receivable:")
        )
        .values("account__code", "account__user_id")
        .annotate(
            posted=Coalesce(
                Sum("amount", filter=Q(side=EntrySide.CREDIT)), Value(ZERO), output_field=_MONEY
            ),
            balance=Sum(_signed_amount()),
        )
    )
    recorded = {
        row["debtor_account"]: row["total"]
        for row in TechnicianRecovery.objects.annotate(debtor_account=_debtor_account())
        .order_by()
        .values("debtor_account")
        .annotate(total=Sum("amount"))
    }
    drift = []
    for row in rows:
        wanted = recorded.pop(row["account__code"], ZERO)
        if row["posted"] != wanted or row["balance"] > 0:
            drift.append(
                {
                    "technician_id": row["account__user_id"],
                    "account": row["account__code"],
                    "recorded": wanted,
                    "posted": row["posted"],
                    "balance": row["balance"],
                }
            )
    drift += [
        {
            "technician_id": int(code.rsplit(":", 1)[1]),
            "account": code,
            "recorded": total,
            "posted": ZERO,
            "balance": ZERO,
        }
        for code, total in recorded.items()
    ]
    return drift


# --- Money owed a step (payments/services/sweep.py completes them; `manage.py reconcile` reports aged ones) -------

ESCROW_CODE_PREFIX = "escrow:booking:"


class OwedStep(TextChoices):
    """The money step a booking waits for, derived from bookings, payments and the ledger only."""

    REQUEST_DEPOSIT = "request_deposit", "request the deposit (STK push)"
    REQUEST_BALANCE = "request_balance", "request the balance (STK push)"
    RELEASE = "release", "release escrow to the technician and the platform"
    SETTLE_CANCELLATION = "settle_cancellation", "refund escrow minus the cancellation fee"
    SETTLE_DISPUTE = "settle_dispute", "execute the resolved dispute's outcome"


@dataclass(frozen=True)
class OwedStepItem:
    booking_id: int
    step: str
    dispute_id: int | None


@dataclass(frozen=True)
class AgedEscrow:
    booking_id: int
    booking_number: str
    status: str
    held: Decimal
    currency: str
    last_status_change: datetime
    age: timedelta
    step: str  # an OwedStep value, or "" when no automatic step applies (staff look)


def _reference_posted(prefix: str, *suffixes: str) -> Exists:
    """A ledger transaction `<prefix>:<outer pk>:<suffix>` exists (looked up by the unique reference index)."""
    pk = Cast(OuterRef("pk"), CharField())
    wanted = Q()
    for suffix in suffixes:
        wanted |= Q(reference=Concat(Value(f"{prefix}:"), pk, Value(f":{suffix}")))
    return Exists(LedgerTransaction.objects.filter(wanted))


def _with_owed_step(bookings: QuerySet, *, now: datetime) -> QuerySet:
    """Annotate `escrow_held`, `dispute_to_settle` and `owed_step` ("" when none) on a Booking queryset.

    The conditions mirror what the services re-check under the booking lock (payments/services/escrow.py,
    payments/services/payments.py), so a booking listed here is one the service will act on:
    - settle_dispute: a resolved dispute refunding the customer (full or partial) with no `dispute:<id>:*`
      posting (a refund after release claws back, so escrow need not hold money);
    - release: the customer owes the full price (confirmed, or resolved `release_to_technician`: that
      outcome follows the confirmed rules), escrow holds exactly the price, no `booking:<id>:release`;
    - request_balance: owes the full price, deposit paid, a balance is due and no balance payment was ever
      attempted;
    - settle_cancellation: cancelled/expired, escrow holds money, no `booking:<id>:cancel-*` posting;
    - request_deposit: pending, unpaid, still inside its payment window, no deposit payment ever attempted.
    The two request steps need a verified customer phone: automatic prompts go only there
    (payments/services/payments.py `_stk_phone`); other customers pay from the app with `confirmPhone`.
    """
    from bookings.models import BookingStatus, Dispute, DisputeOutcome, DisputeStatus

    held = (
        LedgerEntry.objects.filter(
            account__booking_id=OuterRef("pk"), account__code__startswith=ESCROW_CODE_PREFIX
        )
        .values("account_id")
        .annotate(total=Sum(_signed_amount()))
        .values("total")[:1]
    )
    unsettled = (
        Dispute.objects.filter(booking_id=OuterRef("pk"), status=DisputeStatus.RESOLVED)
        .exclude(outcome="")
        .filter(~_reference_posted("dispute", "release", "refund", "clawback"))
        .order_by("pk")
    )
    attempted = Payment.objects.filter(booking_id=OuterRef("pk"))
    refund_outcomes = (DisputeOutcome.FULL_REFUND, DisputeOutcome.PARTIAL_REFUND)
    annotated = bookings.annotate(
        escrow_held=Coalesce(Subquery(held, output_field=_MONEY), Value(ZERO), output_field=_MONEY),
        release_posted=_reference_posted("booking", "release"),
        cancellation_settled=_reference_posted("booking", "cancel-refund", "cancel-fee"),
        deposit_attempted=Exists(attempted.filter(purpose=PaymentPurpose.DEPOSIT)),
        balance_attempted=Exists(attempted.filter(purpose=PaymentPurpose.BALANCE)),
        dispute_to_settle=Subquery(unsettled.values("pk")[:1]),
        dispute_outcome=Subquery(unsettled.values("outcome")[:1]),
        released_by_dispute=released_by_dispute_exists(),
    )
    owes_price = Q(status=BookingStatus.CONFIRMED) | Q(
        status=BookingStatus.RESOLVED, released_by_dispute=True
    )
    return annotated.annotate(
        owed_step=Case(
            When(
                dispute_to_settle__isnull=False,
                dispute_outcome__in=refund_outcomes,
                then=Value(OwedStep.SETTLE_DISPUTE),
            ),
            When(
                owes_price,
                technician__isnull=False,
                release_posted=False,
                escrow_held=F("price"),
                then=Value(OwedStep.RELEASE),
            ),
            When(
                owes_price,
                deposit_paid_at__isnull=False,
                balance_amount__gt=0,
                balance_attempted=False,
                escrow_held__lt=F("price"),
                customer__is_phone_verified=True,
                then=Value(OwedStep.REQUEST_BALANCE),
            ),
            When(
                status__in=(BookingStatus.CANCELLED, BookingStatus.EXPIRED),
                cancellation_settled=False,
                escrow_held__gt=0,
                then=Value(OwedStep.SETTLE_CANCELLATION),
            ),
            When(
                Q(payment_due_at__isnull=True) | Q(payment_due_at__gt=now),
                status=BookingStatus.PENDING,
                deposit_paid_at__isnull=True,
                deposit_amount__gt=0,
                deposit_attempted=False,
                customer__is_phone_verified=True,
                then=Value(OwedStep.REQUEST_DEPOSIT),
            ),
            default=Value(""),
            output_field=CharField(),
        )
    )


def owed_step_list(
    *,
    now: datetime,
    since: datetime,
    changed_before: datetime,
    booking_ids=None,
    limit: int = 500,
) -> list[OwedStepItem]:
    """Bookings whose money waits for a step an after-commit message should have started, oldest first.

    Candidates are the bookings whose status changed, whose money moved or whose dispute changed at or after
    `since` (each found through an indexed timestamp: status history, ledger transactions, dispute history),
    or exactly `booking_ids` when given; of those, only bookings last updated at or before `changed_before`
    (the normal after-commit path's grace). One query.
    """
    from bookings.models import Booking, BookingStatus, BookingStatusHistory, DisputeStatusHistory

    if booking_ids is not None:
        scope = Booking.objects.filter(pk__in=list(booking_ids))
    else:
        recent = (
            BookingStatusHistory.objects.filter(created_at__gte=since)
            .order_by()
            .values("booking_id")
            .union(
                LedgerTransaction.objects.filter(created_at__gte=since, booking_id__isnull=False)
                .order_by()
                .values("booking_id"),
                DisputeStatusHistory.objects.filter(created_at__gte=since)
                .order_by()
                .values("dispute__booking_id"),
            )
        )
        scope = Booking.objects.filter(pk__in=recent)
    # Cheap column tests first: running bookings (and pending ones already paid) owe no step. A resolved
    # dispute always leaves its booking `resolved`.
    could_owe = Q(status=BookingStatus.PENDING, deposit_paid_at__isnull=True) | Q(
        status__in=(
            BookingStatus.CONFIRMED,
            BookingStatus.CANCELLED,
            BookingStatus.EXPIRED,
            BookingStatus.RESOLVED,
        )
    )
    rows = (
        _with_owed_step(scope.filter(could_owe, updated_at__lte=changed_before), now=now)
        .exclude(owed_step="")
        .order_by("updated_at", "pk")
        .values_list("pk", "owed_step", "dispute_to_settle")[:limit]
    )
    return [OwedStepItem(booking_id=pk, step=step, dispute_id=d) for pk, step, d in rows]


def escrow_ageing_list(
    *, now: datetime, older_than: timedelta, booking_ids=None
) -> list[AgedEscrow]:
    """Money held in the escrow of a booking that is over (final status, no open dispute) and whose last
    status change is more than `older_than` ago, oldest first, with the step the sweep takes for it.

    Finds the non-zero escrows by summing every escrow entry (one query in all): an operator's check
    (`manage.py reconcile`), not for a request path or a frequent timer.
    """
    from bookings.models import (
        Booking,
        BookingStatus,
        BookingStatusHistory,
        Dispute,
        DisputeStatus,
    )

    # The booking is over: nothing but the sweep or staff moves the money still in its escrow.
    final = (
        BookingStatus.CONFIRMED,
        BookingStatus.CANCELLED,
        BookingStatus.EXPIRED,
        BookingStatus.RESOLVED,
    )
    non_zero = (
        LedgerEntry.objects.filter(account__code__startswith=ESCROW_CODE_PREFIX)
        .values("account__booking_id")
        .annotate(balance=Sum(_signed_amount()))
        .filter(balance__gt=0)
        .values("account__booking_id")
    )
    last_change = (
        BookingStatusHistory.objects.filter(booking_id=OuterRef("pk"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    open_dispute = Dispute.objects.filter(booking_id=OuterRef("pk")).exclude(
        status=DisputeStatus.RESOLVED
    )
    qs = (
        Booking.objects.filter(pk__in=non_zero, status__in=final)
        .filter(~Exists(open_dispute))
        .annotate(last_status_change=Coalesce(Subquery(last_change), F("updated_at")))
        .filter(last_status_change__lte=now - older_than)
    )
    if booking_ids is not None:
        qs = qs.filter(pk__in=list(booking_ids))
    rows = _with_owed_step(qs, now=now).order_by("last_status_change", "pk")
    return [
        AgedEscrow(
            booking_id=b.pk,
            booking_number=b.number,
            status=b.status,
            held=b.escrow_held,
            currency=b.currency,
            last_status_change=b.last_status_change,
            age=now - b.last_status_change,
            step=b.owed_step,
        )
        for b in rows
    ]


# --- Balance collection (payments/services/balance.py) -----------------------------------------------------------


def balance_collection_candidate_ids(
    *, due_before: datetime, due_after: datetime, limit: int
) -> list[int]:
    """Bookings that owe their full price (confirmed, or resolved `release_to_technician`) whose balance is
    unpaid, fell due (confirmation, else the release) in (`due_after`, `due_before`] and has not gone to
    support yet, longest due first. One query; the step re-checks each under its lock."""
    from bookings.models import Booking, BookingStatus

    paid = Payment.objects.filter(
        booking_id=OuterRef("pk"), purpose=PaymentPurpose.BALANCE, status=PaymentStatus.SUCCEEDED
    )
    return list(
        Booking.objects.filter(
            status__in=(BookingStatus.CONFIRMED, BookingStatus.RESOLVED),
            deposit_paid_at__isnull=False,
            balance_amount__gt=0,
        )
        .annotate(released_at=released_by_dispute_at())
        .filter(Q(status=BookingStatus.CONFIRMED) | Q(released_at__isnull=False))
        .annotate(due_at=Coalesce("confirmed_at", "released_at"))
        .filter(due_at__gt=due_after, due_at__lte=due_before)
        .filter(~Exists(paid))
        .exclude(balance_collection__overdue_at__isnull=False)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
