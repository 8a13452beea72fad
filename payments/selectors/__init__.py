"""Reads of the payments app, by concern: balances.py (ledger balances), recoveries.py (debts owed
back), transactions.py (payments and payouts as users see them), reconciliation.py (`reconcile`),
owed_steps.py (what the sweep completes, aged escrow, balance collection), tips.py (tips owed a payout)."""
