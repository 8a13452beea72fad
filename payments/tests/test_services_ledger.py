"""The ledger is append-only and balanced; the reconciliation check and command report drift."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from payments.errors import UnbalancedTransaction
from payments.models import (
    AppendOnlyError,
    EntrySide,
    LedgerEntry,
    LedgerTransaction,
    LedgerTransactionKind,
    Payment,
    PaymentStatus,
)
from payments.selectors.reconciliation import ledger_reconciliation_check
from payments.services.ledger import Line, ledger_account, ledger_post, transfer
from payments.tests.helpers import paid_payment

pytestmark = pytest.mark.django_db


def test_transfer_posts_a_balanced_pair_once(booking):
    lines = transfer(Decimal("100"), source="customer_clearing", to="platform_revenue")
    txn = ledger_post(kind=LedgerTransactionKind.RELEASE, reference="t-1", lines=lines)
    assert txn is not None
    assert ledger_post(kind=LedgerTransactionKind.RELEASE, reference="t-1", lines=lines) is None
    assert LedgerTransaction.objects.count() == 1
    assert LedgerEntry.objects.count() == 2
    assert ledger_reconciliation_check().ok


def test_unbalanced_posting_is_refused(booking):
    lines = [
        Line("customer_clearing", EntrySide.CREDIT, Decimal("100")),
        Line("platform_revenue", EntrySide.DEBIT, Decimal("99")),
    ]
    with pytest.raises(UnbalancedTransaction):
        ledger_post(kind=LedgerTransactionKind.RELEASE, reference="bad", lines=lines)
    assert LedgerTransaction.objects.count() == 0


def test_ledger_rows_cannot_be_changed_or_deleted(booking):
    paid_payment(booking)
    txn = LedgerTransaction.objects.get()
    entry = LedgerEntry.objects.first()
    entry.amount = Decimal("1")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.update(amount=Decimal("1"))
    with pytest.raises(AppendOnlyError):
        LedgerTransaction.objects.filter(pk=txn.pk).delete()
    # Even raw SQL is refused by the database trigger.
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE payments_ledgerentry SET amount = 1 WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM payments_ledgerentry WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("1000.00")


def test_non_positive_entry_amount_is_refused_by_the_database(booking):
    txn = LedgerTransaction.objects.create(kind=LedgerTransactionKind.RELEASE, reference="x")

    account = ledger_account("platform_revenue")
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.create(
            transaction=txn, account=account, side=EntrySide.DEBIT, amount=Decimal("0")
        )


def test_reconcile_command_is_clean_then_reports_drift(booking, capsys):
    paid_payment(booking)
    call_command("reconcile")
    assert "no drift" in capsys.readouterr().out

    # A payment marked succeeded without its ledger posting is drift.
    Payment.objects.create(
        booking=booking,
        payer=booking.customer,
        purpose="balance",
        amount=Decimal("4000.00"),
        status=PaymentStatus.SUCCEEDED,
    )
    with pytest.raises(SystemExit) as exit_info:
        call_command("reconcile")
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert f"ESCROW DRIFT booking {booking.pk}" in out
    report = ledger_reconciliation_check(booking_ids=[booking.pk])
    assert report.escrow_drift[0]["drift"] == Decimal("-4000.00")
