"""Money records: inbound payments, outbound payouts, provider callbacks and the double-entry ledger.

Money flow and ledger accounts are described in payments/services/ledger.py. Status changes of Payment and
Payout go only through their transition services (payments/services/payments.py, payouts.py).
"""

from payments.models.balance import BalanceCollection
from payments.models.callbacks import (
    CallbackEvent,
    CallbackKind,
    CallbackProvider,
    CallbackStatus,
)
from payments.models.ledger import (
    AppendOnlyError,
    AppendOnlyModel,
    AppendOnlyQuerySet,
    EntrySide,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    LedgerTransactionKind,
)
from payments.models.payments import (
    ACTIVE_PAYMENT_STATUSES,
    FINAL_PAYMENT_STATUSES,
    PAYMENT_ALLOWED_TRANSITIONS,
    SUSPENSE_ALLOWED_TRANSITIONS,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    PaymentStatusHistory,
    SuspenseItem,
    SuspenseStatus,
)
from payments.models.payouts import (
    PAYOUT_ALLOWED_TRANSITIONS,
    PAYOUT_ATTEMPT_ALLOWED_TRANSITIONS,
    PAYOUT_ATTEMPT_OPEN_OUTCOMES,
    PAYOUT_FINAL_STATUSES,
    Payout,
    PayoutAttempt,
    PayoutAttemptOutcome,
    PayoutChannel,
    PayoutKind,
    PayoutStatus,
    PayoutStatusHistory,
)
from payments.models.recoveries import (
    RecoveryReason,
    RecoverySettlement,
    RecoverySettlementKind,
    TechnicianRecovery,
)

__all__ = [
    "ACTIVE_PAYMENT_STATUSES",
    "FINAL_PAYMENT_STATUSES",
    "PAYMENT_ALLOWED_TRANSITIONS",
    "PAYOUT_ALLOWED_TRANSITIONS",
    "PAYOUT_ATTEMPT_ALLOWED_TRANSITIONS",
    "PAYOUT_ATTEMPT_OPEN_OUTCOMES",
    "PAYOUT_FINAL_STATUSES",
    "SUSPENSE_ALLOWED_TRANSITIONS",
    "AppendOnlyError",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "BalanceCollection",
    "CallbackEvent",
    "CallbackKind",
    "CallbackProvider",
    "CallbackStatus",
    "EntrySide",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "LedgerTransactionKind",
    "Payment",
    "PaymentMethod",
    "PaymentPurpose",
    "PaymentStatus",
    "PaymentStatusHistory",
    "Payout",
    "PayoutAttempt",
    "PayoutAttemptOutcome",
    "PayoutChannel",
    "PayoutKind",
    "PayoutStatus",
    "PayoutStatusHistory",
    "RecoveryReason",
    "RecoverySettlement",
    "RecoverySettlementKind",
    "SuspenseItem",
    "SuspenseStatus",
    "TechnicianRecovery",
]
