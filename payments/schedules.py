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
    # Deposit/balance requests, releases, cancellation and dispute settlements whose message was lost.
    "payments-sweep-owed-money": {
        "task": "payments.tasks.payments_sweep_task",
        "schedule": timedelta(minutes=5),
    },
}
