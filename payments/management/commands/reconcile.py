"""`manage.py reconcile`: check the ledger against payments and payouts; exit 1 when anything drifts."""

import sys

from django.core.management.base import BaseCommand

from payments.selectors import ledger_reconciliation_check


class Command(BaseCommand):
    help = (
        "Check that every ledger transaction balances, that each booking's escrow equals deposits + "
        "balance − releases − refunds, and that paid payouts match what was posted. Exit code 1 on drift."
    )

    def add_arguments(self, parser):
        parser.add_argument("--booking", type=int, action="append", help="only these booking ids")

    def handle(self, *args, **options):
        report = ledger_reconciliation_check(booking_ids=options.get("booking"))
        for row in report.unbalanced_transactions:
            self.stdout.write(
                f"UNBALANCED transaction {row['transaction_id']} ({row['reference']}): "
                f"debits {row['debits']} credits {row['credits']}"
            )
        for row in report.escrow_drift:
            self.stdout.write(
                f"ESCROW DRIFT booking {row['booking_id']}: ledger {row['actual']} expected "
                f"{row['expected']} (drift {row['drift']})"
            )
        for row in report.payout_drift:
            self.stdout.write(
                f"PAYOUT DRIFT payout {row['payout_id']}: posted {row['posted']} paid {row['paid']}"
            )
        if report.total_balance:
            self.stdout.write(f"LEDGER TOTAL is {report.total_balance}, expected 0")
        if not report.ok:
            self.stdout.write(self.style.ERROR("Reconciliation found drift."))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("Ledger reconciled: no drift."))
