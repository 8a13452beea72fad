# B2C is never paid twice: one PayoutAttempt per request sent (its own OriginatorConversationID); shares below
# the B2C minimum are `deferred` and `carried` into the technician's next payout; `overpaid_amount` records
# money that went out twice.

import django.db.models.deletion
from django.db import migrations, models

import dumuwaks.core.money

PAYOUT_STATUSES = [
    ("pending_review", "Waiting for staff review"),
    ("deferred", "Below the M-Pesa minimum, carried to the next payout"),
    ("carried", "Included in a later payout"),
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("awaiting_result", "Sent, waiting for the result"),
    ("needs_reconciliation", "Outcome unknown, being checked"),
    ("paid", "Paid"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
ATTEMPT_OUTCOMES = [
    ("sending", "Being sent (the same attempt may be resent: Daraja refuses a duplicate)"),
    ("awaiting_result", "Accepted by Daraja, waiting for the result"),
    ("unknown", "Outcome unknown, checked with Transaction Status"),
    ("failed", "Failed definitively (nothing was paid)"),
    ("paid", "Paid"),
]

# Outcome of a payout's current attempt, from the payout's status before attempts were recorded.
_CURRENT_OUTCOME = {
    "sending": "sending",
    "awaiting_result": "awaiting_result",
    "needs_reconciliation": "unknown",
    "paid": "paid",
    "failed": "failed",
}
_BELOW_MINIMUM_REASON = "below the M-Pesa B2C minimum"


def backfill(apps, schema_editor):
    """Record the attempts of payouts sent before this migration, and defer held sub-minimum shares.

    The current attempt's outcome follows the payout's status. Earlier attempts were given up as "failed"
    under the old rules, which also failed timeouts: for a payout that may still send (not paid or
    cancelled) they are recorded `unknown`, so they are checked with Transaction Status before any new
    attempt; for a final payout they stay `failed` as recorded.
    """
    Payout = apps.get_model("payments", "Payout")
    PayoutAttempt = apps.get_model("payments", "PayoutAttempt")
    PayoutStatusHistory = apps.get_model("payments", "PayoutStatusHistory")
    sent = Payout.objects.exclude(originator_conversation_id__isnull=True).exclude(
        originator_conversation_id=""
    )
    for payout in sent.iterator():
        final = payout.status in ("paid", "cancelled")
        for number in range(1, payout.attempt + 1):
            current = number == payout.attempt
            if current:
                outcome = _CURRENT_OUTCOME.get(payout.status)
                if outcome is None:  # queued again after a failure: not sent yet
                    continue
            else:
                outcome = "failed" if final else "unknown"
            PayoutAttempt.objects.create(
                payout=payout,
                number=number,
                originator_conversation_id=f"DW-PO-{payout.pk}-{number}",
                conversation_id=payout.conversation_id if current else "",
                amount=payout.amount,
                outcome=outcome,
                result_code=payout.result_code if current else "",
                result_desc=payout.result_desc if current else "recorded before attempt tracking",
                receipt=payout.receipt if current and outcome == "paid" else "",
                resolved_at=payout.paid_at if current and outcome == "paid" else None,
            )
    held = Payout.objects.filter(
        status="pending_review",
        kind="technician_payout",
        channel="mpesa",
        review_reason__startswith=_BELOW_MINIMUM_REASON,
    )
    # Outside the state machine on purpose: a data migration works on the historical models Django gives it
    # (`apps.get_model`), and the live PAYOUT_MACHINE / `status_history_append` name today's models, which
    # may not match this schema. It writes what `transition()` would have: one audit row per change.
    for payout in held.iterator():
        PayoutStatusHistory.objects.create(
            payout=payout,
            from_status="pending_review",
            to_status="deferred",
            note="below the B2C minimum: carried to the next payout",
        )
    held.update(status="deferred")


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_ledger_append_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="PayoutAttempt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("number", models.PositiveIntegerField()),
                ("originator_conversation_id", models.CharField(max_length=64, unique=True)),
                ("conversation_id", models.CharField(blank=True, max_length=64)),
                ("amount", dumuwaks.core.money.MoneyField(decimal_places=2, max_digits=12)),
                (
                    "outcome",
                    models.CharField(choices=ATTEMPT_OUTCOMES, default="sending", max_length=16),
                ),
                ("result_code", models.CharField(blank=True, max_length=32)),
                ("result_desc", models.CharField(blank=True, max_length=255)),
                ("receipt", models.CharField(blank=True, max_length=64)),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                (
                    "last_checked_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="Last Transaction Status query about this attempt",
                        null=True,
                    ),
                ),
                (
                    "payout",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="attempts",
                        to="payments.payout",
                    ),
                ),
            ],
            options={
                "ordering": ["payout_id", "number"],
                "indexes": [
                    models.Index(
                        fields=["outcome", "updated_at"], name="payments_pa_outcome_45b752_idx"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("payout", "number"), name="payout_attempt_number_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "outcome__in",
                                ["sending", "awaiting_result", "unknown", "failed", "paid"],
                            )
                        ),
                        name="payout_attempt_outcome_valid",
                    ),
                ],
            },
        ),
        migrations.RemoveConstraint(model_name="payout", name="payout_status_valid"),
        migrations.AddField(
            model_name="payout",
            name="carried_into",
            field=models.ForeignKey(
                blank=True,
                help_text="Deferred (below the B2C minimum): the later payout that includes this amount",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="carried_from",
                to="payments.payout",
            ),
        ),
        migrations.AddField(
            model_name="payout",
            name="overpaid_amount",
            field=dumuwaks.core.money.MoneyField(
                decimal_places=2,
                default=0,
                help_text="Money that went out beyond this payout's amount (a second attempt was paid "
                "too, or an attempt was paid after the payout was cancelled). Staff must recover it.",
                max_digits=12,
            ),
        ),
        migrations.AlterField(
            model_name="payout",
            name="status",
            field=models.CharField(choices=PAYOUT_STATUSES, default="queued", max_length=24),
        ),
        migrations.AlterField(
            model_name="payoutstatushistory",
            name="from_status",
            field=models.CharField(blank=True, choices=PAYOUT_STATUSES, max_length=24),
        ),
        migrations.AlterField(
            model_name="payoutstatushistory",
            name="to_status",
            field=models.CharField(choices=PAYOUT_STATUSES, max_length=24),
        ),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", [value for value, _ in PAYOUT_STATUSES])),
                name="payout_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.CheckConstraint(
                condition=models.Q(("overpaid_amount__gte", 0)),
                name="payout_overpaid_not_negative",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
