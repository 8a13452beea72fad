from datetime import timedelta

BEAT_SCHEDULE = {
    "payments-resolve-stale-stk": {
        "task": "payments.tasks.payments_resolve_stale_task",
        "schedule": timedelta(minutes=1),
    },
    "payments-reconcile-stale-payouts": {
        "task": "payments.tasks.payouts_reconcile_stale_task",
        "schedule": timedelta(minutes=5),
    },
    # Balance reminders on their schedule (with a new STK prompt while allowed) and overdue balances to
    # support (payments/services/balance.py: BALANCE_REMINDER_SCHEDULE, BALANCE_OVERDUE_AFTER). Reminders are
    # days apart; a run every 30 min sends each within half an hour of its time.
    "payments-balance-collection": {
        "task": "payments.tasks.balance_collection_task",
        "schedule": timedelta(minutes=30),
    },
    # Deposit/balance requests, releases, cancellation and dispute settlements whose message was lost.
    "payments-sweep-owed-money": {
        "task": "payments.tasks.payments_sweep_task",
        "schedule": timedelta(minutes=5),
    },
}
