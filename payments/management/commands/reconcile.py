"""`manage.py reconcile`: check the ledger against payments and payouts, and report escrow money left waiting;
exit 1 when anything drifts or waits."""

import sys

from django.core.management.base import BaseCommand
from django.utils import timezone

from payments.selectors.owed_steps import OwedStep, escrow_ageing_list
from payments.selectors.reconciliation import ledger_reconciliation_check, unmatched_callback_list
from payments.selectors.recoveries import technician_recovery_list
from payments.services.sweep import ESCROW_AGEING_THRESHOLD, SWEEP_LOOKBACK, payments_sweep


def _age(delta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"


class Command(BaseCommand):
    help = (
        "Check that every ledger transaction balances, that each booking's escrow equals deposits + "
        "balance − releases − refunds, that paid payouts match what was posted and that technician debts "
        "recorded match the ledger. List the debts technicians still owe back (not a failure: they are "
        "withheld from their next payouts). Also list money held "
        f"in the escrow of a booking that is over (confirmed, cancelled, expired, resolved; no open "
        f"dispute) more than {ESCROW_AGEING_THRESHOLD} after its last status change, with the step the "
        "sweep takes for it. Exit code 1 on drift or aged escrow."
    )

    def add_arguments(self, parser):
        parser.add_argument("--booking", type=int, action="append", help="only these booking ids")
        parser.add_argument(
            "--settle-aged",
            action="store_true",
            help="run the sweep's step for each aged escrow listed (idempotent), then list again",
        )

    def handle(self, *args, **options):
        booking_ids = options.get("booking")
        report = ledger_reconciliation_check(booking_ids=booking_ids)
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
        for row in report.recovery_drift:
            self.stdout.write(
                f"RECOVERY DRIFT {row['account']}: recorded {row['recorded']} "
                f"posted {row['posted']} receivable balance {row['balance']}"
            )
        if report.total_balance:
            self.stdout.write(f"LEDGER TOTAL is {report.total_balance}, expected 0")

        aged = self._aged(booking_ids)
        if aged and options["settle_aged"]:
            result = payments_sweep(booking_ids=[item.booking_id for item in aged])
            for booking_id, step, outcome in result.completed:
                self.stdout.write(f"SETTLED booking {booking_id}: {step} -> {outcome}")
            for booking_id in result.failed:
                self.stdout.write(f"SETTLE FAILED booking {booking_id} (see the log)")
            aged = self._aged(booking_ids)
        for item in aged:
            if not item.step:
                step = "none (no automatic step applies: staff settle it)"
            else:
                step = f"{item.step} ({OwedStep(item.step).label}; " + (
                    "older than the sweep's lookback: run with --settle-aged)"
                    if item.age > SWEEP_LOOKBACK
                    else "the sweep retries it every run: its log says why it has not succeeded)"
                )
            self.stdout.write(
                f"AGED ESCROW booking {item.booking_id} ({item.booking_number}, {item.status}): "
                f"{item.held} {item.currency} held {_age(item.age)} since its last status change; "
                f"sweep: {step}"
            )

        # Open recoveries are listed for staff; a technician's are repaid automatically from their next
        # payouts, a customer's are collected or written off by staff. Not a failure.
        for recovery in technician_recovery_list(open_only=True):
            if booking_ids is not None and recovery.booking_id not in booking_ids:
                continue
            how = (
                "withheld from their next payouts"
                if recovery.technician_id
                else "staff collect it (record the repayment) or write it off"
            )
            self.stdout.write(
                f"OPEN RECOVERY {recovery.pk}: {recovery.debtor_role} {recovery.debtor_id} "
                f"({recovery.debtor.email}) owes {recovery.outstanding} {recovery.currency} of "
                f"{recovery.amount} for booking {recovery.booking_id} ({recovery.booking.number}) "
                f"since {timezone.localtime(recovery.created_at):%Y-%m-%d %H:%M} "
                f"({recovery.get_reason_display()}); {how}"
            )

        # Callbacks waiting for the payment they answer (applied automatically once it is known, or
        # attached by staff): listed, not a failure; no money is held for them.
        if booking_ids is None:
            for event in unmatched_callback_list():
                self.stdout.write(
                    f"UNMATCHED CALLBACK {event.pk}: {event.kind} {event.provider_key} since "
                    f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M} ({event.outcome})"
                )

        if not report.ok or aged:
            self.stdout.write(self.style.ERROR("Reconciliation found drift or aged escrow."))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("Ledger reconciled: no drift, no aged escrow."))

    def _aged(self, booking_ids):
        return escrow_ageing_list(
            now=timezone.now(), older_than=ESCROW_AGEING_THRESHOLD, booking_ids=booking_ids
        )
