"""The append-only double-entry ledger: the only code that writes ledger rows.

Convention: a transfer of X from account A to account B credits A and debits B. An account's balance is
Σdebits − Σcredits, i.e. what it currently holds. Accounts:

| code                          | holds                                                                 |
|-------------------------------|-----------------------------------------------------------------------|
| `customer_clearing`           | money received from customers (M-Pesa paybill or card); goes negative: it is the outside world paying in |
| `escrow:booking:<id>`         | money a booking's customer paid that is not yet released or refunded  |
| `technician_payable:<user>`   | a technician's earned money not yet paid out                          |
| `tips_payable:<user>`         | tips customers gave a technician, not yet paid out or moved into a payout (100 % theirs, no fee) |
| `technician_receivable:<user>`| what a technician owes back (a refund after they were paid, a payout paid twice), as a negative balance: like customer_clearing it stands for money outside, in the technician's hands |
| `platform_revenue`            | the platform's 15 % fee and its part of cancellation fees             |
| `refunds_payable`             | money owed back to customers, not yet sent                            |
| `mpesa_b2c_disbursed`         | money sent out by M-Pesa B2C (payouts and refunds)                    |
| `card_refunds_disbursed`      | money returned to cards through Stripe refunds                        |
| `mpesa_suspense`              | M-Pesa money that arrived for no known payment, until matched or refunded |
| `customer_receivable:<user>`  | what a customer owes back (a refund paid twice), negative like technician_receivable |
| `recoveries_written_off`      | debts staff wrote off: the platform's loss (negative: money it will not get back) |
| `mpesa_repayments`            | debts repaid by M-Pesa to the paybill, as recorded by staff with the receipt (negative: money paid in) |

Every transaction balances (Σdebit == Σcredit, checked here before writing), so all balances always sum to 0.

Money flow (each row one ledger transaction, posted once under its unique `reference`):

| event                                   | posting (from → to)                                             | reference                       |
|-----------------------------------------|-----------------------------------------------------------------|---------------------------------|
| deposit / balance paid (M-Pesa or card) | customer_clearing → escrow:booking                              | payment:<id>:received           |
| confirmed booking, escrow == price      | escrow → technician_payable (technician_share) + platform_revenue (platform_fee) | booking:<id>:release |
| cancellation (fee part)                 | escrow → technician_payable + platform_revenue (fee split 85/15; all platform without technician) | booking:<id>:cancel-fee |
| cancellation / expiry (refund part)     | escrow → refunds_payable                                        | booking:<id>:cancel-refund      |
| money for a closed booking / paid twice | escrow → refunds_payable                                        | payment:<id>:refund             |
| dispute: refund part / release part     | escrow → refunds_payable; escrow → technician_payable + platform_revenue | dispute:<id>:refund / :release |
| dispute after release                   | platform_revenue (its 15 %) + technician_payable (unsent payouts) + technician_receivable (what was already paid: a recovery) → refunds_payable | dispute:<id>:clawback |
| payout paid twice / after cancellation  | technician_receivable → mpesa_b2c_disbursed (a recovery)        | payout:<id>:overpaid:<total>    |
| technician's debt withheld from a payout| technician_payable → technician_receivable                     | <posting that credited the payable>:recovery |
| payout in flight at a dispute refund fails definitively | technician_payable → technician_receivable (repays the debt recorded for it) | payout:<id>:failed:offset |
| payout or refund paid                   | technician_payable or refunds_payable → mpesa_b2c_disbursed / card_refunds_disbursed | payout:<id>:paid |
| refund paid twice / after cancellation  | customer_receivable → mpesa_b2c_disbursed (a recovery owed by the customer) | payout:<id>:overpaid:<total> |
| debt repaid by M-Pesa (staff, receipt)  | mpesa_repayments → technician/customer_receivable                | recovery:<id>:repaid:<receipt>  |
| debt written off (staff, reason)        | recoveries_written_off → technician/customer_receivable          | recovery:<id>:write-off         |
| tip paid (M-Pesa or card)               | customer_clearing → tips_payable (never escrow, no platform fee) | payment:<id>:received           |
| tip paid with the next payout           | tips_payable → technician_payable (when that payout includes it) | payout:<tip payout id>:carried  |
| tip paid at once (payout paid)          | tips_payable → mpesa_b2c_disbursed                               | payout:<id>:paid                |
| STK money matching no payment           | customer_clearing → mpesa_suspense                              | suspense:<id>:received          |
| suspense matched to a payment           | mpesa_suspense → customer_clearing (then payment:<id>:received) | suspense:<id>:matched           |
| suspense refunded by staff              | mpesa_suspense → refunds_payable (then the refund payout)       | suspense:<id>:refund            |
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from dumuwaks.core.money import DEFAULT_CURRENCY, to_decimal
from payments.errors import UnbalancedTransaction
from payments.models import EntrySide, LedgerAccount, LedgerEntry, LedgerTransaction

CUSTOMER_CLEARING = "customer_clearing"
PLATFORM_REVENUE = "platform_revenue"
REFUNDS_PAYABLE = "refunds_payable"
MPESA_B2C_DISBURSED = "mpesa_b2c_disbursed"
CARD_REFUNDS_DISBURSED = "card_refunds_disbursed"
MPESA_SUSPENSE = "mpesa_suspense"
RECOVERIES_WRITTEN_OFF = "recoveries_written_off"
MPESA_REPAYMENTS = "mpesa_repayments"

_NAMES = {
    CUSTOMER_CLEARING: "Customer payments clearing",
    PLATFORM_REVENUE: "Platform revenue",
    REFUNDS_PAYABLE: "Refunds payable to customers",
    MPESA_B2C_DISBURSED: "Sent by M-Pesa B2C",
    CARD_REFUNDS_DISBURSED: "Refunded to cards",
    MPESA_SUSPENSE: "M-Pesa money matching no payment (suspense)",
    RECOVERIES_WRITTEN_OFF: "Debts written off (loss)",
    MPESA_REPAYMENTS: "Debts repaid by M-Pesa to the paybill",
}


def escrow_code(booking_id: int) -> str:
    return f"escrow:booking:{booking_id}"


def technician_payable_code(user_id: int) -> str:
    return f"technician_payable:{user_id}"


def tips_payable_code(user_id: int) -> str:
    return f"tips_payable:{user_id}"


def technician_receivable_code(user_id: int) -> str:
    return f"technician_receivable:{user_id}"


def customer_receivable_code(user_id: int) -> str:
    return f"customer_receivable:{user_id}"


@dataclass(frozen=True)
class Line:
    account: str
    side: str
    amount: Decimal


def transfer(amount, *, source: str, to: str) -> list[Line]:
    """Move `amount` from `source` to `to` (credit source, debit destination)."""
    value = to_decimal(amount)
    return [Line(source, EntrySide.CREDIT, value), Line(to, EntrySide.DEBIT, value)]


def ledger_account(code: str, *, booking_id: int | None = None, user_id: int | None = None):
    account, _ = LedgerAccount.objects.get_or_create(
        code=code,
        defaults={"name": _NAMES.get(code, code), "booking_id": booking_id, "user_id": user_id},
    )
    return account


def _account_for(code: str) -> LedgerAccount:
    if code.startswith("escrow:booking:"):
        return ledger_account(code, booking_id=int(code.rsplit(":", 1)[1]))
    if code.startswith(
        ("technician_payable:", "tips_payable:", "technician_receivable:", "customer_receivable:")
    ):
        return ledger_account(code, user_id=int(code.rsplit(":", 1)[1]))
    return ledger_account(code)


def ledger_post(
    *,
    kind: str,
    reference: str,
    lines: list[Line],
    booking_id: int | None = None,
    payment_id: int | None = None,
    payout_id: int | None = None,
    memo: str = "",
    currency: str = DEFAULT_CURRENCY,
) -> LedgerTransaction | None:
    """Post one balanced transaction. Returns None when `reference` was already posted (idempotent).

    Zero-amount lines are dropped; a transaction left with fewer than two lines is not posted.
    """
    lines = [line for line in lines if to_decimal(line.amount) != 0]
    if any(to_decimal(line.amount) < 0 for line in lines):
        raise UnbalancedTransaction(f"{reference}: negative line amount")
    debits = sum((to_decimal(x.amount) for x in lines if x.side == EntrySide.DEBIT), Decimal(0))
    credits = sum((to_decimal(x.amount) for x in lines if x.side == EntrySide.CREDIT), Decimal(0))
    if debits != credits:
        raise UnbalancedTransaction(f"{reference}: debits {debits} != credits {credits}")
    if len(lines) < 2:
        return None
    accounts = {line.account: _account_for(line.account) for line in lines}
    try:
        with transaction.atomic():
            txn = LedgerTransaction.objects.create(
                kind=kind,
                reference=reference,
                memo=memo[:255],
                booking_id=booking_id,
                payment_id=payment_id,
                payout_id=payout_id,
            )
    except IntegrityError:
        return None
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            transaction=txn,
            account=accounts[line.account],
            side=line.side,
            amount=to_decimal(line.amount),
            currency=currency,
        )
        for line in lines
    )
    return txn


def ledger_reference_exists(reference: str) -> bool:
    return LedgerTransaction.objects.filter(reference=reference).exists()
